//! `Client::broadcast_slice` of 256 MiB to every worker against the same
//! bytes broadcast by raw rsmpi (`broadcast_into`) over the same
//! client+workers communicator inside `Client::with_workers` (no length
//! check, nothing kept), alternating, 5 each; prints one JSON line with the
//! median GB/s of both and their ratio. In the embedded cluster the baseline
//! is the in-process group's own broadcast.
//!
//! ```text
//! mpirun -n 4 target/release/examples/bench_broadcast [MiB] [repetitions]
//! ```

use rankflow::{Config, Error, Group};
use std::time::Instant;

/// The baseline's broadcast from member 0: raw rsmpi under MPI.
fn raw_bcast(group: &Group, buf: &mut [u8]) -> Result<(), Error> {
    #[cfg(feature = "mpi")]
    if let Some(comm) = group.as_mpi() {
        use mpi::traits::{Communicator, Root};
        comm.process_at_rank(0).broadcast_into(buf);
        return Ok(());
    }
    group.bcast_into(buf, 0)
}

/// A worker's side of the baseline: receive `n` bytes, keep nothing.
fn raw_receive(group: &Group, n: u64) -> Result<(), Error> {
    let mut buf = vec![0u8; n as usize];
    raw_bcast(group, &mut buf)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().map_or(Ok(256), |a| a.parse()).expect("MiB");
    let reps: usize = args
        .next()
        .map_or(Ok(5), |a| a.parse())
        .expect("repetitions");
    let client = rankflow::initialize(Config::new())?;
    let n = mib * (1 << 20) / 8;
    let data: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let bytes = (n * 8) as f64;
    let mut source: Vec<u8> = bytemuck::cast_slice(&data).to_vec();
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    // Kept until the end, so no worker frees 256 MiB during a measurement.
    let mut kept = Vec::new();
    for rep in 0..reps {
        // Alternate which goes first, so neither always follows the other.
        for turn in 0..2 {
            if (rep + turn) % 2 == 0 {
                let t = Instant::now();
                kept.push(client.broadcast_slice(&data)?);
                ours.push(bytes / t.elapsed().as_secs_f64() / 1e9);
            } else {
                let t = Instant::now();
                let n = source.len() as u64;
                client.with_workers(raw_receive, n, |g| raw_bcast(g, &mut source))?;
                raw.push(bytes / t.elapsed().as_secs_f64() / 1e9);
            }
        }
    }
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        eprintln!("ours {ours:?}\nraw {raw:?}");
    }
    drop(kept);
    let (ours, raw) = (median(ours), median(raw));
    println!(
        "{{\"bench\":\"broadcast\",\"workers\":{},\"mib\":{mib},\"reps\":{reps},\
         \"rankflow_gbps\":{ours:.3},\"raw_bcast_gbps\":{raw:.3},\"ratio\":{:.3}}}",
        client.workers().len(),
        ours / raw
    );
    client.shutdown()
}
