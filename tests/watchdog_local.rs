//! The scheduler's watchdog on the embedded cluster: a worker whose loop is
//! stuck ends the job with an error naming it; tasks longer than the
//! watchdog time (they run on executor threads) do not, nor do SPMD sections
//! and broadcasts (the worker says it is alive while its loop is in them).

use rankflow::{Config, ErrorKind, Group, Mode};
use std::time::{Duration, Instant};

fn cluster(watchdog: Duration) -> rankflow::Client {
    rankflow::initialize(
        Config::new()
            .mode(Mode::Local)
            .local_workers(2)
            .watchdog(Some(watchdog)),
    )
    .unwrap()
}

/// Holds up the worker loop it runs on (a `run` function).
fn stuck() -> u64 {
    std::thread::sleep(Duration::from_secs(4));
    1
}

fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[test]
fn a_stuck_worker_ends_the_job_naming_it() {
    let c = cluster(Duration::from_millis(500));
    let start = Instant::now();
    let e = c.run(stuck, Some(&[3])).unwrap_err();
    let took = start.elapsed();
    assert_eq!(e.kind(), ErrorKind::ShutDown, "{e}");
    assert!(e.message().contains("worker rank 3"), "{e}");
    assert!(e.message().contains("stuck"), "{e}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(c.submit(nap, 1).is_err(), "the job is over");
}

#[test]
fn tasks_longer_than_the_watchdog_time_are_not_a_stuck_worker() {
    let c = cluster(Duration::from_millis(1200));
    let futures = c.map(nap, vec![1500, 1600, 1700, 1800]).unwrap();
    assert_eq!(c.gather(&futures).unwrap(), vec![1500, 1600, 1700, 1800]);
    c.shutdown().unwrap();
}

/// A section longer than the watchdog time, ending in a collective.
fn long_section(g: &Group, ms: u64) -> rankflow::Result<u64> {
    std::thread::sleep(Duration::from_millis(ms));
    g.allreduce(1u64, |a, b| a + b)
}

#[test]
fn spmd_sections_and_broadcasts_longer_than_the_watchdog_time_are_not_a_stuck_worker() {
    let c = cluster(Duration::from_millis(300));
    assert_eq!(c.spmd(long_section, 1500).unwrap(), vec![2, 2]);
    let big = vec![7u8; 1 << 20];
    let f = c.broadcast_slice(&big).unwrap();
    assert_eq!(f.result().unwrap().len(), 1 << 20);
    // Tasks still run afterwards: the job was not ended.
    assert_eq!(c.submit(nap, 1).unwrap().result().unwrap(), 1);
    c.shutdown().unwrap();
}
