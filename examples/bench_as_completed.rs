//! Waiting on many futures, printed as one JSON line: `as_completed` and
//! `wait(AllCompleted)` over `n` no-op tasks, beside `gather` of the same
//! number (which waits in order, the baseline) in the same run. Before the
//! completion queues, `as_completed` rescanned every remaining key on each
//! wake-up, O(n²).
//!
//! ```text
//! mpirun -n 4 target/release/examples/bench_as_completed [tasks]
//! cargo run --release --example bench_as_completed
//! ```

use rankflow::{Config, Error, WaitFor};
use std::collections::HashSet;
use std::time::Instant;

fn noop(x: u64) -> u64 {
    x
}

fn main() -> Result<(), Error> {
    let n: u64 = std::env::args()
        .nth(1)
        .map_or(100_000, |a| a.parse().expect("a number"));
    let client = rankflow::initialize(Config::new())?;
    client.gather(&client.map(noop, 0..1_000u64)?)?;

    let t = Instant::now();
    let futures = client.map(noop, 0..n)?;
    let values = client.gather(&futures)?;
    let gather_s = t.elapsed().as_secs_f64();
    assert!(values.iter().enumerate().all(|(i, &v)| v == i as u64));
    drop(futures);

    let t = Instant::now();
    let futures = client.map(noop, n..2 * n)?;
    let mut seen = HashSet::with_capacity(n as usize);
    for f in client.as_completed(futures) {
        let v = f?.result()?;
        assert!(
            (n..2 * n).contains(&v) && seen.insert(v),
            "{v} yielded twice"
        );
    }
    let as_completed_s = t.elapsed().as_secs_f64();
    assert_eq!(seen.len() as u64, n, "not every future was yielded");

    let t = Instant::now();
    let futures = client.map(noop, 2 * n..3 * n)?;
    let waited = client.wait(futures, WaitFor::AllCompleted, None)?;
    let wait_s = t.elapsed().as_secs_f64();
    assert_eq!((waited.done.len() as u64, waited.not_done.len()), (n, 0));

    println!(
        "{{\"bench\":\"as_completed\",\"workers\":{},\"tasks\":{n},\
         \"gather_s\":{gather_s:.4},\"as_completed_s\":{as_completed_s:.4},\
         \"wait_s\":{wait_s:.4}}}",
        client.workers().len()
    );
    client.shutdown()
}
