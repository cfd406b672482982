//! One task in 100 panics. The other 99 come back; the failed one reports its
//! message, key and worker; a task that depends on it reports the root cause;
//! a task returning `Err` fails with the error's text; retries re-run a flaky
//! task; a result read as the wrong type is an error, not a crash.
//!
//! ```text
//! mpirun -n 4 target/release/examples/errors
//! ```

use rankflow::{Config, Error, ErrorKind, FailureKind, TaskOptions};
use std::sync::atomic::{AtomicU32, Ordering};

fn check(x: u32) -> u32 {
    if x == 42 {
        panic!("bad input {x}");
    }
    x * 2
}

fn plus_one(x: u32) -> u32 {
    x + 1
}

fn parse(s: String) -> Result<u32, std::num::ParseIntError> {
    s.parse()
}

static ATTEMPTS: AtomicU32 = AtomicU32::new(0);

/// Fails on its first two runs in this process, then succeeds.
fn flaky(x: u32) -> u32 {
    if ATTEMPTS.fetch_add(1, Ordering::SeqCst) < 2 {
        panic!("flaky failure");
    }
    x
}

fn main() -> Result<(), Error> {
    // Keep the 1 expected panic's report short.
    std::panic::set_hook(Box::new(|info| eprintln!("(task panic, expected) {info}")));
    let client = rankflow::initialize(Config::new())?;

    let futures = client.map(check, 0..100u32)?;
    let mut ok = 0;
    for (x, f) in futures.iter().enumerate() {
        match f.result() {
            Ok(v) => {
                assert_eq!(v, 2 * x as u32);
                ok += 1;
            }
            Err(e) => {
                assert_eq!(x, 42, "only task 42 fails");
                assert_eq!(e.kind(), ErrorKind::Task);
                let failure = e.task_failure().expect("task details");
                assert_eq!(failure.kind, FailureKind::Panicked);
                assert!(failure.message.contains("bad input 42"), "{failure}");
                assert_eq!(failure.key, f.key());
                let worker = failure.worker.expect("the worker's rank");
                assert!(client.workers().iter().any(|w| w.rank == worker));
                println!("failed as expected: {e}");
            }
        }
    }
    assert_eq!(ok, 99, "the other 99 came back");

    // A dependent names the root cause.
    let dependent = client.submit(plus_one, &futures[42])?;
    let e = dependent.result().unwrap_err();
    let failure = e.task_failure().expect("task details");
    assert_eq!(failure.kind, FailureKind::Dependency);
    assert_eq!(failure.root, Some(futures[42].key()));
    assert!(failure.message.contains("bad input 42"));
    println!("dependent: {e}");

    // The workers keep serving.
    assert_eq!(client.submit(plus_one, 1)?.result()?, 2);

    // An Err from a task fails its future with the error's text.
    let bad = client.submit_fallible(parse, "seven".to_string(), &TaskOptions::new())?;
    let e = bad.result().unwrap_err();
    assert_eq!(
        e.task_failure().map(|f| f.kind.clone()),
        Some(FailureKind::Returned)
    );
    assert!(e.to_string().contains("invalid digit"), "{e}");
    let good = client.submit_fallible(parse, "7".to_string(), &TaskOptions::new())?;
    assert_eq!(good.result()?, 7);

    // Retries: a task that fails twice succeeds on its third run. Pinned to
    // one worker so one counter sees every attempt.
    let first = client.workers()[0].rank;
    let options = TaskOptions::new().retries(2).workers(&[first]);
    assert_eq!(client.submit_with_options(flaky, 5, &options)?.result()?, 5);

    // Reading a result as the wrong type is an error, not a crash.
    let text = client.submit(|n: u32| format!("{n} apples"), 3)?;
    assert_eq!(text.result()?, "3 apples");
    let e = text.result_as::<Vec<f64>>().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Codec, "{e}");
    println!("wrong type: {e}");

    println!("errors: ok");
    client.shutdown()
}
