//! `progress` on the embedded cluster: it returns once every future has
//! ended and counts how they ended.

use rankflow::diagnostics::{progress, Progress};
use rankflow::{Config, ErrorKind, Mode};
use std::time::Duration;

fn cluster() -> rankflow::Client {
    rankflow::initialize(Config::new().mode(Mode::Local).local_workers(2)).unwrap()
}

fn nap_or_fail(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(2));
    assert!(x % 50 != 7, "task {x} fails on purpose");
    x
}

#[test]
fn every_future_is_counted_once_with_how_it_ended() {
    let c = cluster();
    let futures = c.map(nap_or_fail, 0..200u64).unwrap();
    let s = Progress::new()
        .plain(true)
        .interval(Duration::from_millis(50))
        .run(&c, &futures)
        .unwrap();
    assert_eq!(
        (s.total, s.finished, s.erred, s.cancelled),
        (200, 196, 4, 0)
    );
    assert!(futures.iter().all(|f| f.done()));
    // Already ended: returns at once with the same counts.
    let again = progress(&c, &futures).unwrap();
    assert_eq!((again.finished, again.erred), (196, 4));
    c.shutdown().unwrap();
}

fn double(x: u64) -> u64 {
    2 * x
}

#[test]
fn each_function_is_counted_apart_in_order_of_first_appearance() {
    let c = cluster();
    let mut futures = c.map(double, 0..30u64).unwrap();
    futures.extend(c.map(nap_or_fail, 0..60u64).unwrap());
    futures.extend(c.scatter(vec![5u64]).unwrap());
    let s = Progress::new().plain(true).run(&c, &futures).unwrap();
    let per: Vec<(&str, usize, usize, usize)> = s
        .functions
        .iter()
        .map(|f| (f.name.as_str(), f.total, f.done, f.erred))
        .collect();
    assert_eq!(
        per,
        [
            ("double", 30, 30, 0),
            ("nap_or_fail", 60, 60, 2),
            ("data", 1, 1, 0)
        ]
    );
    assert_eq!((s.total, s.finished, s.erred), (91, 89, 2));
    c.shutdown().unwrap();
}

#[test]
fn a_zero_interval_is_refused() {
    let c = cluster();
    let futures = c.map(nap_or_fail, 0..3u64).unwrap();
    let e = Progress::new()
        .interval(Duration::ZERO)
        .run(&c, &futures)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    c.shutdown().unwrap();
}

/// Set in the child run of the test below.
const CHILD: &str = "RANKFLOW_TEST_PROGRESS_CHILD";

/// A task's panic is not printed to stderr by its worker (it would land in
/// the middle of progress bars): progress shows each failure once, and the
/// worker logs it at info. Watched from outside: the test runs itself again
/// as a child process and reads the child's stderr.
#[test]
fn a_task_panic_is_shown_once_by_progress_and_not_printed_by_the_worker() {
    let name = "a_task_panic_is_shown_once_by_progress_and_not_printed_by_the_worker";
    if std::env::var_os(CHILD).is_some() {
        let c = cluster();
        let futures = c.map(nap_or_fail, 0..60u64).unwrap();
        let s = Progress::new()
            .plain(true)
            .interval(Duration::from_secs(60))
            .run(&c, &futures)
            .unwrap();
        assert_eq!(s.erred, 2);
        c.shutdown().unwrap();
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("RANKFLOW_LOG", "info")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the child failed:\n{err}");
    for x in [7, 57] {
        let failure = format!("(Panicked): task {x} fails on purpose");
        let shown = err
            .lines()
            .filter(|l| l.starts_with("nap_or_fail: task ") && l.ends_with(&failure))
            .count();
        assert_eq!(shown, 1, "the failure of task {x}, once:\n{err}");
        let logged = err
            .lines()
            .filter(|l| {
                l.contains("INFO rankflow::worker::task_panics: a task panicked (at tests/progress_local.rs:")
                    && l.ends_with(&format!("task {x} fails on purpose"))
            })
            .count();
        assert_eq!(logged, 1, "the log line of task {x}'s panic:\n{err}");
    }
    assert!(!err.contains("panicked at"), "panic text on stderr:\n{err}");
}
