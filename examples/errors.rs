//! One task in 100 panics. The other 99 come back; the failed one reports its
//! message, key and worker; a task that depends on it reports the root cause;
//! a task returning `Err` fails with the error's text; retries re-run a flaky
//! task, and say how many attempts were made when they run out; `retry()`
//! re-runs a failed task and the same future then holds its value; a `run`
//! that panics on every worker names each; a result read as the wrong type
//! is an error, not a crash.
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

static FIRST_RUNS: AtomicU32 = AtomicU32::new(0);

/// Fails on its first run in this process only.
fn fails_once(x: u32) -> u32 {
    if FIRST_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        panic!("first run fails");
    }
    x + 1
}

fn never_works(_: u32) -> u32 {
    panic!("never works")
}

fn panics_everywhere() -> u32 {
    panic!("boom on {}", rankflow::current_worker().unwrap_or(0))
}

fn main() -> Result<(), Error> {
    // Keep the expected panics' reports short.
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

    // Out of retries: the error says how many attempts were made.
    let options = TaskOptions::new().retries(2);
    let e = client
        .submit_with_options(never_works, 1, &options)?
        .result()
        .unwrap_err();
    let failure = e.task_failure().expect("task details");
    assert_eq!(
        failure.message, "failed after 3 attempts: never works",
        "{e}"
    );
    println!("retries exhausted: {e}");

    // retry(): a failed future runs again and then holds the value. Pinned
    // to one worker, whose counter sees both runs.
    let pinned = TaskOptions::new().workers(&[first]);
    let once = client.submit_with_options(fails_once, 1, &pinned)?;
    assert!(once.result().is_err(), "the first run fails");
    once.retry()?;
    assert_eq!(once.result()?, 2);
    once.retry()?;
    assert_eq!(once.result()?, 2, "retrying a finished future does nothing");

    // A run that panics on every worker names each one.
    let e = client.run(panics_everywhere, None).unwrap_err();
    let ranks: Vec<usize> = client.workers().iter().map(|w| w.rank).collect();
    let expected = match ranks.as_slice() {
        [only] => format!("run failed on worker {only}: boom on {only}"),
        _ => format!(
            "run failed on workers {}: {}",
            ranks
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            ranks
                .iter()
                .map(|r| format!("worker {r}: boom on {r}"))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    };
    assert_eq!(e.message(), expected);
    println!("run: {e}");

    // Reading a result as the wrong type is an error, not a crash.
    let text = client.submit(|n: u32| format!("{n} apples"), 3)?;
    assert_eq!(text.result()?, "3 apples");
    let e = text.result_as::<Vec<f64>>().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Codec, "{e}");
    println!("wrong type: {e}");

    println!("errors: ok");
    client.shutdown()
}
