//! Soak: N tasks of which 1% panic. Every other task's value must come back
//! right, every failure must name its cause and task, and none may be lost.
//!
//! ```text
//! mpirun -n 4 target/release/examples/soak_panics 10000
//! ```

use rankflow::{Config, Error, FailureKind};

fn maybe_panic(x: u64) -> u64 {
    if x % 100 == 37 {
        panic!("task {x} panics on purpose");
    }
    x + 1
}

fn main() -> Result<(), Error> {
    // The panics are expected: keep their messages out of the log.
    std::panic::set_hook(Box::new(|_| {}));
    let n: u64 = std::env::args()
        .nth(1)
        .map_or(Ok(10_000), |a| a.parse())
        .expect("the task count is a whole number");
    let client = rankflow::initialize(Config::new())?;
    let futures = client.map(maybe_panic, 0..n)?;
    let (mut ok, mut failed) = (0u64, 0u64);
    for (x, f) in (0..n).zip(&futures) {
        match f.result() {
            Ok(v) => {
                assert_ne!(x % 100, 37, "task {x} should have panicked");
                assert_eq!(v, x + 1, "task {x}");
                ok += 1;
            }
            Err(e) => {
                assert_eq!(x % 100, 37, "task {x} failed: {e}");
                let failure = e.task_failure().expect("a task failure");
                assert_eq!(failure.kind, FailureKind::Panicked, "{e}");
                let cause = format!("task {x} panics on purpose");
                assert!(failure.message.contains(&cause), "{e}");
                assert!(failure.worker.is_some(), "names the worker: {e}");
                failed += 1;
            }
        }
    }
    let expected_failed = (0..n).filter(|x| x % 100 == 37).count() as u64;
    assert_eq!((ok, failed), (n - expected_failed, expected_failed));
    println!("soak_panics: {ok} correct, {failed} failed with their cause, 0 lost");
    client.shutdown()
}
