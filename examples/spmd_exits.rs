//! How an mpi4py-style program can end when one rank fails, for the tests
//! that watch a whole job from outside. Every failing mode must end every
//! rank with a message naming rank 1, the same way with and without mpirun.
//!
//! ```text
//! mpirun -n 3 target/release/examples/spmd_exits ok          # exit 0
//! mpirun -n 3 target/release/examples/spmd_exits err-on-one  # rank 1 returns Err, the others Ok: non-zero
//! mpirun -n 3 target/release/examples/spmd_exits err-early   # rank 1 returns Err while the others wait in a barrier: non-zero, no hang
//! mpirun -n 3 target/release/examples/spmd_exits panic-early # rank 1 panics while the others wait: non-zero, no hang
//! target/release/examples/spmd_exits err-early               # the same, in-process
//! ```

use rankflow::{Config, Error, ErrorKind};

fn main() -> Result<(), Error> {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "ok".to_string());
    let failure = || Error::new(ErrorKind::InvalidArgument, "rank 1 found bad input");
    let rank = rankflow::spmd(Config::new(), |world| match mode.as_str() {
        "ok" => {
            world.barrier()?;
            Ok(world.rank())
        }
        "err-on-one" if world.rank() == 1 => Err(failure()),
        "err-on-one" => Ok(world.rank()),
        "err-early" if world.rank() == 1 => Err(failure()),
        "err-early" => {
            world.barrier()?;
            Ok(world.rank())
        }
        "panic-early" if world.rank() == 1 => panic!("rank 1 gave up"),
        "panic-early" => {
            world.barrier()?;
            Ok(world.rank())
        }
        other => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("unknown mode {other:?}; use ok, err-on-one, err-early or panic-early"),
        )),
    })?;
    println!("spmd_exits: rank {rank} finished");
    Ok(())
}
