//! sleeping(secs) for secs 8..1 (tenths of a second) with map and
//! as_completed: all eight run at once across the workers (8 executor threads
//! each), so they finish shortest first whatever order they were submitted in.
//! Prints which worker ran each.
//!
//! ```text
//! mpirun -n 4 target/release/examples/sleeping_map
//! ```

use rankflow::{Config, Error};
use std::time::{Duration, Instant};

fn sleeping(tenths: u64) -> (u64, usize) {
    std::thread::sleep(Duration::from_millis(100 * tenths));
    (tenths, rankflow::current_worker().unwrap_or(0))
}

fn main() -> Result<(), Error> {
    let client = rankflow::initialize(Config::new().threads_per_worker(8))?;
    let start = Instant::now();
    let futures = client.map(sleeping, (1..=8).rev())?;
    let mut order = Vec::new();
    for done in client.as_completed(futures).with_results() {
        let (_future, result) = done?;
        let (tenths, worker) = result?;
        println!(
            "slept {:.1}s on worker {worker}, done at {:.2}s",
            tenths as f64 / 10.0,
            start.elapsed().as_secs_f64()
        );
        order.push(tenths);
    }
    assert_eq!(order, (1..=8).collect::<Vec<_>>(), "shortest first");
    client.shutdown()
}
