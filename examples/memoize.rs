//! Pure tasks are memoized: the same function and argument run once. Impure
//! ones (`TaskOptions::pure(false)`) run every time. A counter on the worker
//! records each real run.
//!
//! ```text
//! mpirun -n 4 target/release/examples/memoize
//! ```

use rankflow::{Config, Error, TaskOptions};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Runs of `slow_square` in this process (one worker under MPI, all of them
/// in the embedded cluster).
static RUNS: AtomicU64 = AtomicU64::new(0);

fn slow_square(x: u64) -> u64 {
    RUNS.fetch_add(1, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(300));
    x * x
}

fn runs(_: ()) -> u64 {
    RUNS.load(Ordering::SeqCst)
}

fn main() -> Result<(), Error> {
    let client = rankflow::initialize(Config::new())?;
    // Pin everything to the first worker so one counter sees every run.
    let first = client.workers()[0].rank;
    let on_first = TaskOptions::new().workers(&[first]);

    let count_runs = || {
        client
            .submit_with_options(runs, (), &on_first.clone().pure(false))?
            .result()
    };
    let a = client.submit_with_options(slow_square, 12, &on_first)?;
    assert_eq!(a.result()?, 144);
    let b = client.submit_with_options(slow_square, 12, &on_first)?;
    assert_eq!(b.result()?, 144);
    assert_eq!(a.key(), b.key(), "same function and argument, same key");
    assert_eq!(count_runs()?, 1, "the second pure submit did not run again");

    let impure = on_first.clone().pure(false);
    let c = client.submit_with_options(slow_square, 12, &impure)?;
    let d = client.submit_with_options(slow_square, 12, &impure)?;
    assert_ne!(c.key(), d.key());
    assert_eq!(client.gather(&[c, d])?, vec![144, 144]);

    let count = count_runs()?;
    println!("memoize: slow_square ran {count} times for 4 submits (2 pure, 2 impure)");
    assert_eq!(count, 3);
    client.shutdown()
}
