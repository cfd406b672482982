//! Runs every collective check of `tests/checks/collectives.rs` on this
//! world, so the MPI backend answers to the same specification as the
//! in-process one. Panics (non-zero exit) on a wrong answer.
//!
//! `mpirun -n 4 target/release/examples/collectives_check`

#[path = "../tests/checks/collectives.rs"]
mod checks;

fn main() -> Result<(), rankflow::Error> {
    rankflow::spmd(rankflow::Config::new(), |world| {
        for (name, check) in checks::ALL {
            check(world);
            world.barrier()?;
            if world.rank() == 0 {
                println!("{name}: ok");
            }
        }
        if world.rank() == 0 {
            println!("collectives_check: ok on {} ranks", world.size());
        }
        Ok(())
    })
}
