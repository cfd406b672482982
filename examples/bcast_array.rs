//! Broadcasts 256 MiB of f64 to every rank with `Group::bcast_into` and with a
//! raw rsmpi `broadcast_into` of the same buffer, alternating, and prints one
//! JSON line with the median GB/s of each and their ratio. Every rank checks
//! every value it received.
//!
//! ```text
//! mpirun -n 4 target/release/examples/bcast_array [MiB] [repetitions]
//! ```

use rankflow::{Config, Error, Group};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn fill(buf: &mut [f64], rep: usize) {
    for (i, x) in buf.iter_mut().enumerate() {
        *x = (i + rep) as f64;
    }
}

fn check(buf: &[f64], rep: usize) {
    assert!(
        buf.iter().enumerate().all(|(i, &x)| x == (i + rep) as f64),
        "broadcast data differs from the root's"
    );
}

/// Raw rsmpi on the world communicator, when running under MPI.
#[cfg(feature = "mpi")]
fn raw_bcast(buf: &mut [f64]) -> Option<f64> {
    use mpi::topology::{Communicator, SimpleCommunicator};
    use mpi::traits::{CommunicatorCollectives, Root};
    // Under mpirun only: Open MPI says OMPI_COMM_WORLD_SIZE, MPICH PMI_SIZE.
    std::env::var_os("OMPI_COMM_WORLD_SIZE").or(std::env::var_os("PMI_SIZE"))?;
    let world = SimpleCommunicator::world();
    world.barrier();
    let t = Instant::now();
    world.process_at_rank(0).broadcast_into(buf);
    world.barrier();
    Some(t.elapsed().as_secs_f64())
}

#[cfg(not(feature = "mpi"))]
fn raw_bcast(_buf: &mut [f64]) -> Option<f64> {
    None
}

fn run(world: &Group, mib: usize, reps: usize) -> Result<(), Error> {
    let n = mib * (1 << 20) / 8;
    let bytes = (n * 8) as f64;
    let mut buf = vec![0.0f64; n];
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        if world.rank() == 0 {
            fill(&mut buf, rep);
        }
        world.barrier()?;
        let t = Instant::now();
        world.bcast_into(&mut buf, 0)?;
        world.barrier()?;
        ours.push(bytes / t.elapsed().as_secs_f64() / 1e9);
        check(&buf, rep);

        if world.rank() == 0 {
            fill(&mut buf, rep + 1);
        }
        if let Some(secs) = raw_bcast(&mut buf) {
            raw.push(bytes / secs / 1e9);
            check(&buf, rep + 1);
        }
    }
    if world.rank() == 0 {
        let ours = median(ours);
        let (raw_s, ratio) = if raw.is_empty() {
            ("null".to_string(), "null".to_string())
        } else {
            let r = median(raw);
            (format!("{r:.3}"), format!("{:.3}", ours / r))
        };
        println!(
            "{{\"bench\":\"bcast_array\",\"ranks\":{},\"mib\":{mib},\"reps\":{reps},\
             \"rankflow_gbps\":{ours:.3},\"raw_rsmpi_gbps\":{raw_s},\"ratio\":{ratio}}}",
            world.size()
        );
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let mib = args
        .next()
        .map_or(Ok(256), |a| a.parse())
        .expect("MiB is a number");
    let reps = args
        .next()
        .map_or(Ok(5), |a| a.parse())
        .expect("repetitions is a number");
    assert!(mib > 0 && reps > 0, "MiB and repetitions must be positive");
    rankflow::spmd(Config::new(), |world| run(world, mib, reps))
}
