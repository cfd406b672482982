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
