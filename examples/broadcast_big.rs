//! Broadcasts a 1 GiB f64 array to every worker with one MPI broadcast over
//! the client+workers group, then runs a task on every worker that reads its
//! local copy; checks every checksum and prints the broadcast's GB/s.
//!
//! ```text
//! mpirun -n 4 target/release/examples/broadcast_big [MiB]
//! ```

use rankflow::{Config, Error, TaskOptions};
use std::time::Instant;

fn checksum(v: Vec<f64>) -> (usize, f64) {
    (v.len(), v.iter().step_by(1024).sum())
}

fn main() -> Result<(), Error> {
    let mib: usize = std::env::args()
        .nth(1)
        .map_or(Ok(1024), |a| a.parse())
        .expect("MiB is a number");
    let client = rankflow::initialize(Config::new())?;
    let n = mib * (1 << 20) / 8;
    let data: Vec<f64> = (0..n).map(|i| (i % 1000) as f64).collect();
    let expected = checksum(data.clone());

    let t = Instant::now();
    let shared = client.broadcast_slice(&data)?;
    let secs = t.elapsed().as_secs_f64();

    let mut checks = Vec::new();
    for w in client.workers() {
        let here = TaskOptions::new().workers(&[w.rank]).pure(false);
        checks.push(client.submit_with_options(checksum, &shared, &here)?);
    }
    for (w, c) in client.workers().iter().zip(client.gather(&checks)?) {
        assert_eq!(c, expected, "worker {}", w.rank);
    }
    println!(
        "{{\"bench\":\"broadcast_big\",\"workers\":{},\"mib\":{mib},\"seconds\":{secs:.3},\"gbps\":{:.3}}}",
        client.workers().len(),
        (n * 8) as f64 / secs / 1e9
    );
    client.shutdown()
}
