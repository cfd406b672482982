//! `Client::broadcast_slice` of 256 MiB to every worker against the same
//! broadcast done as bare MPI broadcasts over the same communicator (no
//! length check, nothing kept), alternating, 5 each; prints one JSON line with
//! the median GB/s of both and their ratio.
//!
//! ```text
//! mpirun -n 4 target/release/examples/bench_broadcast [MiB] [repetitions]
//! ```

use rankflow::{Config, Error};
use std::time::Instant;

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
                let raw_bytes: &[u8] = bytemuck::cast_slice(&data);
                let t = Instant::now();
                client.broadcast_baseline(raw_bytes)?;
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
