//! Memory management on the embedded cluster: results several times the
//! workers' memory limit are spilled and come back right, a result over the
//! limit fails its task with `FailureKind::MemoryLimit`, a worker whose
//! spills fail pauses without stalling the job, a paused worker gets no new
//! tasks while another has room, and the spill directories are gone after
//! shutdown.

use rankflow::{Config, ErrorKind, FailureKind, MemoryStats, Mode, TaskOptions};
use std::path::PathBuf;

const BLOCK: usize = 100 * 1024;

fn block(i: u64) -> Vec<u8> {
    (0..BLOCK as u64).map(|j| (j * 7 + i * 13) as u8).collect()
}

fn checksum(v: Vec<u8>) -> u64 {
    v.iter()
        .enumerate()
        .map(|(j, &b)| (j as u64 + 1) * b as u64)
        .sum()
}

fn bytes(n: usize) -> Vec<u8> {
    vec![7u8; n]
}

fn stats() -> MemoryStats {
    rankflow::memory_stats().unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rankflow-mem-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn cluster(workers: usize, threads: usize, limit: u64, dir: &std::path::Path) -> rankflow::Client {
    rankflow::initialize(
        Config::new()
            .mode(Mode::Local)
            .local_workers(workers)
            .threads_per_worker(threads)
            .memory_limit(limit)
            .local_directory(dir),
    )
    .unwrap()
}

#[test]
fn results_three_times_the_limit_are_spilled_and_all_come_back() {
    let dir = scratch("spill");
    let c = cluster(2, 2, 1 << 20, &dir);
    // 60 results of 100 KiB on 2 workers of 1 MiB: about 3 MiB each.
    let futures = c.map(block, 0..60u64).unwrap();
    let sums: Vec<u64> = c
        .gather(
            &futures
                .iter()
                .map(|f| c.submit(checksum, f).unwrap())
                .collect::<Vec<_>>(),
        )
        .unwrap();
    for (i, s) in sums.iter().enumerate() {
        assert_eq!(*s, checksum(block(i as u64)), "checksum of block {i}");
    }
    let values = c.gather(&futures).unwrap();
    for (i, v) in values.iter().enumerate() {
        assert!(*v == block(i as u64), "block {i} came back wrong");
    }
    let all = c.run(stats, None).unwrap();
    assert_eq!(all.len(), 2);
    for (rank, s) in &all {
        assert_eq!(s.limit, 1 << 20);
        assert!(s.spilled > 0 && s.reloaded > 0, "worker {rank}: {s:?}");
        assert!(
            s.in_memory + s.on_disk >= 10 * BLOCK as u64,
            "worker {rank}: {s:?}"
        );
        assert_eq!(s.spill_failures, 0, "worker {rank}: {s:?}");
    }
    let on_disk: u64 = all.iter().map(|(_, s)| s.on_disk).sum();
    assert!(on_disk > 2 << 20, "{all:?}");
    c.shutdown().unwrap();
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "spill directories left behind: {left:?}");
}

#[test]
fn a_result_over_the_limit_fails_its_task_and_the_worker_serves_on() {
    let dir = scratch("oversized");
    let c = cluster(1, 1, 1 << 20, &dir);
    let e = c.submit(bytes, 3 << 20).unwrap().result().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Task);
    let f = e.task_failure().unwrap();
    assert_eq!(f.kind, FailureKind::MemoryLimit);
    assert_eq!(f.worker, Some(2));
    // The size is the encoded result's: the bytes and a length prefix.
    for part in ["worker 2", "result of 31457", "(1048576 bytes)"] {
        assert!(f.message.contains(part), "{part:?} not in {:?}", f.message);
    }
    assert_eq!(
        c.submit(bytes, 1000).unwrap().result().unwrap(),
        vec![7u8; 1000]
    );
    let s = c.run(stats, None).unwrap()[0].1;
    assert_eq!(s.oversized, 1);
    c.shutdown().unwrap();
}

#[test]
fn a_worker_that_cannot_spill_pauses_and_still_finishes_every_task() {
    // A directory under a plain file cannot be made: every spill fails.
    let dir = scratch("nospill").join("a-file");
    std::fs::write(&dir, b"x").unwrap();
    let c = cluster(1, 2, 512 * 1024, &dir);
    let futures = c.map(block, 0..24u64).unwrap();
    let values = c.gather(&futures).unwrap();
    for (i, v) in values.iter().enumerate() {
        assert!(*v == block(i as u64), "block {i} came back wrong");
    }
    let s = c.run(stats, None).unwrap()[0].1;
    assert!(s.spill_failures > 0 && s.pauses > 0, "{s:?}");
    assert_eq!(s.spilled, 0, "{s:?}");
    assert!(s.in_memory >= 24 * BLOCK as u64, "{s:?}");
    // Released, the results leave memory and the worker resumes.
    drop(values);
    drop(futures);
    c.has_what().unwrap();
    let s = c.run(stats, None).unwrap()[0].1;
    assert!(s.in_memory < 256 * 1024, "{s:?}");
    assert_eq!(
        c.gather(&c.map(checksum, vec![vec![1u8; 3]]).unwrap())
            .unwrap(),
        vec![6]
    );
    c.shutdown().unwrap();
}

fn whose(_: u64) -> usize {
    std::thread::sleep(std::time::Duration::from_millis(2));
    rankflow::current_worker().unwrap()
}

#[test]
fn a_paused_worker_gets_no_new_tasks_while_another_has_room() {
    // Spills fail, so 900 KiB held on worker 2 keeps it over 80% of 1 MiB.
    let dir = scratch("paused").join("a-file");
    std::fs::write(&dir, b"x").unwrap();
    let c = cluster(2, 1, 1 << 20, &dir);
    let on_2 = TaskOptions::new().workers(&[2]);
    let big = c.submit_with_options(bytes, 900 * 1024, &on_2).unwrap();
    big.wait(None).unwrap();
    // The worker's loop looks at its memory after each message.
    let mut s = MemoryStats::default();
    for _ in 0..200 {
        s = c.run(stats, Some(&[2])).unwrap()[0].1;
        if s.pauses > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(s.pauses, 1, "{s:?}");
    let ranks = c.gather(&c.map(whose, 0..40u64).unwrap()).unwrap();
    assert!(
        ranks.iter().all(|&r| r == 3),
        "tasks went to the paused worker: {ranks:?}"
    );
    // Released, worker 2 resumes and takes tasks again.
    drop(big);
    c.has_what().unwrap();
    let s = c.run(stats, Some(&[2])).unwrap()[0].1;
    assert!(s.in_memory < 512 * 1024, "{s:?}");
    let ranks = c.gather(&c.map(whose, 100..140u64).unwrap()).unwrap();
    assert!(ranks.contains(&2), "worker 2 resumed: {ranks:?}");
    c.shutdown().unwrap();
}
