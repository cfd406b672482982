//! Spilling to disk: every worker makes results totalling three times its
//! memory limit. Each is checked twice, by a task that reads it back on its
//! worker and by the client fetching it, and every worker must have spilled
//! and reloaded. Prints each worker's memory counters and peak resident
//! memory (VmHWM from /proc).
//!
//! ```text
//! mpirun -n 4 target/release/examples/spill [limit MiB, default 64]
//! ```

use rankflow::{Config, Error, MemoryStats};

/// Bytes per result.
const BLOCK: usize = 1 << 20;

fn block(i: u64) -> Vec<u8> {
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..BLOCK)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn checksum(v: Vec<u8>) -> u64 {
    v.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// This process's peak resident memory in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?.to_string();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

fn worker_memory() -> (MemoryStats, u64) {
    (
        rankflow::memory_stats().expect("inside a worker"),
        peak_rss_kib(),
    )
}

fn main() -> Result<(), Error> {
    let limit_mib: u64 = std::env::args()
        .nth(1)
        .map_or(Ok(64), |a| a.parse())
        .expect("the memory limit is a whole number of MiB");
    let limit = limit_mib << 20;
    let client = rankflow::initialize(Config::new().memory_limit(limit))?;
    let workers = client.workers().len() as u64;
    let n = 3 * limit / BLOCK as u64 * workers;
    println!(
        "spill: {n} results of {} KiB on {workers} workers with a limit of {limit_mib} MiB each",
        BLOCK >> 10
    );
    let blocks = client.map(block, 0..n)?;
    // Checked where they live: each task reads its block back from disk if
    // it was spilled.
    let sums = blocks
        .iter()
        .map(|b| client.submit(checksum, b))
        .collect::<Result<Vec<_>, _>>()?;
    let sums = client.gather(&sums)?;
    // And at the client, one at a time, so the client never holds them all.
    for (i, (b, s)) in blocks.iter().zip(&sums).enumerate() {
        let expected = block(i as u64);
        assert_eq!(*s, checksum(expected.clone()), "checksum of block {i}");
        assert!(b.result()? == expected, "block {i} came back wrong");
    }
    let mut produced = 0;
    for (rank, (s, peak_kib)) in client.run(worker_memory, None)? {
        println!(
            "worker {rank}: peak RSS {} MiB, {} MiB held ({} MiB on disk), \
             peak {} MiB in memory, {} spilled ({} MiB written), {} reloaded, {} pauses",
            peak_kib >> 10,
            (s.in_memory + s.on_disk) >> 20,
            s.on_disk >> 20,
            s.peak_in_memory >> 20,
            s.spilled,
            s.written_bytes >> 20,
            s.reloaded,
            s.pauses
        );
        assert!(
            s.spilled > 0 && s.reloaded > 0,
            "worker {rank} never spilled: {s:?}"
        );
        assert_eq!(s.spill_failures, 0, "worker {rank}: {s:?}");
        assert!(
            s.peak_in_memory <= limit,
            "worker {rank} passed its limit: {s:?}"
        );
        produced += s.in_memory + s.on_disk;
    }
    assert!(
        produced >= n * BLOCK as u64,
        "{produced} bytes held, {n} blocks made"
    );
    println!(
        "spill: {n} results ({} MiB, {:.1} times the workers' limits) all correct",
        produced >> 20,
        produced as f64 / (limit * workers) as f64
    );
    client.shutdown()
}
