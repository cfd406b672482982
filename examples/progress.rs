//! `progress`: 400 tasks of 10 ms each, 4 of which fail on purpose, watched
//! with a bar on a terminal or a plain line every half second in a log
//! (as under CI). Checks the counts it reports.
//!
//! ```text
//! mpirun -n 4 target/release/examples/progress
//! ```

use rankflow::diagnostics::Progress;
use rankflow::{Config, Error};
use std::time::Duration;

fn work(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(10));
    assert!(x % 100 != 99, "task {x} fails on purpose");
    x * x
}

fn main() -> Result<(), Error> {
    let client = rankflow::initialize(Config::new())?;
    let futures = client.map(work, 0..400u64)?;
    let summary = Progress::new()
        .interval(Duration::from_millis(500))
        .run(&client, &futures)?;
    println!("progress: {summary:?}");
    assert_eq!(summary.total, 400);
    assert_eq!(
        (summary.finished, summary.erred, summary.cancelled),
        (396, 4, 0)
    );
    assert_eq!(futures[5].result()?, 25);
    assert!(futures[99].result().is_err());
    client.shutdown()
}
