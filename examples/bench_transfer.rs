//! A large task result moved worker to worker: a task on one worker makes
//! `MB` MiB, a task pinned to another worker takes it as input (the bytes go
//! straight between the two workers, never through the scheduler or the
//! client). Baseline in the same run: a bare MPI send of the same bytes
//! between the same two workers, inside an SPMD section. Prints one JSON line
//! with the median of `REPS` repetitions. Needs two workers.
//!
//! ```text
//! mpirun -n 4 target/release/examples/bench_transfer 256 3
//! ```

use rankflow::{Config, Error, ErrorKind, Group, TaskOptions};
use std::time::Instant;

fn make(mib: usize) -> Vec<u8> {
    (0..mib << 20).map(|i| i as u8).collect()
}

/// Checks the input arrived whole; returns its length.
fn check((data, _rep): (Vec<u8>, u32)) -> usize {
    let step = (data.len() / 4096).max(1);
    for i in (0..data.len()).step_by(step) {
        assert_eq!(data[i], i as u8, "byte {i} arrived wrong");
    }
    data.len()
}

/// Workers-group member 0 sends `mib` MiB to member 1, which returns the
/// seconds from its receive call to the data being in place.
fn bare_send(group: &Group, mib: usize) -> Result<f64, Error> {
    group.barrier()?;
    match group.rank() {
        0 => {
            let data = vec![7u8; mib << 20];
            group.send_slice(&data, 1, 5)?;
            Ok(0.0)
        }
        1 => {
            let start = Instant::now();
            let (data, _) = group.recv_vec::<u8>(Some(0), Some(5))?;
            let secs = start.elapsed().as_secs_f64();
            assert_eq!(data.len(), mib << 20);
            Ok(secs)
        }
        _ => Ok(0.0),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Error> {
    let arg = |i: usize, default: usize| -> Result<usize, Error> {
        std::env::args().nth(i).map_or(Ok(default), |a| {
            a.parse().map_err(|_| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("usage: bench_transfer [MiB] [reps], not {a:?}"),
                )
            })
        })
    };
    let (mib, reps) = (arg(1, 256)?, arg(2, 3)?.max(1));
    let client = rankflow::initialize(Config::new())?;
    let ranks: Vec<usize> = client.workers().iter().map(|w| w.rank).collect();
    if ranks.len() < 2 {
        println!("bench_transfer: needs two workers, skipped");
        return client.shutdown();
    }
    let on = |r: usize| TaskOptions::new().workers(&[r]).pure(false);
    let source = client.submit_with_options(make, mib, &on(ranks[0]))?;
    source.wait(None)?;
    let mut task_secs = Vec::new();
    for rep in 0..reps as u32 {
        let start = Instant::now();
        let got = client.submit_with_options(check, (&source, rep), &on(ranks[1]))?;
        assert_eq!(got.result()?, mib << 20);
        task_secs.push(start.elapsed().as_secs_f64());
    }
    let mut bare_secs = Vec::new();
    for _ in 0..reps {
        let secs = client.spmd(bare_send, mib)?;
        bare_secs.push(secs[1]);
    }
    let mb = (mib << 20) as f64 / 1e6;
    let (task, bare) = (median(task_secs), median(bare_secs));
    // The target: the task's speed at least 0.85 of the bare send's.
    println!(
        "{{\"bench\":\"transfer\",\"mib\":{mib},\"reps\":{reps},\"task_s\":{task:.4},\
         \"task_mb_per_s\":{:.0},\"bare_mpi_s\":{bare:.4},\"bare_mpi_mb_per_s\":{:.0},\
         \"task_over_bare\":{:.2}}}",
        mb / task,
        mb / bare,
        bare / task
    );
    client.shutdown()
}
