//! Soak: many tasks through `map` and `gather` in batches, with the resident
//! memory of every rank sampled at 20% and at the end. Prints one JSON line
//! per sample; with `--check-growth` fails if any rank grew by 5% or more
//! between the two (the soak script runs 1,000,000 tasks that way; CI runs
//! a short version without the check).
//!
//! ```text
//! mpirun -n 4 target/release/examples/soak_tasks 1000000 --check-growth
//! ```

use rankflow::{Config, Error};

fn triple(x: u64) -> u64 {
    3 * x
}

/// Resident set size of `pid` in KiB, from /proc.
fn rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Every rank of this MPI job with its resident memory (KiB), found through
/// Open MPI's job id in each process's environment; in the embedded cluster,
/// this one process as rank 0.
fn job_rss() -> Vec<(usize, u64)> {
    let Ok(job) = std::env::var("OMPI_MCA_ess_base_jobid") else {
        return vec![(0, rss_kib("self").unwrap_or(0))];
    };
    let mine = format!("OMPI_MCA_ess_base_jobid={job}");
    let mut ranks = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let vars: Vec<&[u8]> = env.split(|&b| b == 0).collect();
        if !vars.contains(&mine.as_bytes()) {
            continue;
        }
        let rank = vars.iter().find_map(|v| {
            std::str::from_utf8(v)
                .ok()?
                .strip_prefix("OMPI_COMM_WORLD_RANK=")?
                .parse()
                .ok()
        });
        if let (Some(rank), Some(kib)) = (rank, rss_kib(&pid)) {
            ranks.push((rank, kib));
        }
    }
    ranks.sort();
    ranks
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let total: u64 = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map_or(Ok(100_000), |a| a.parse())
        .expect("the task count is a whole number");
    let check = args.iter().any(|a| a == "--check-growth");
    let batch = 10_000u64.min(total.max(1));
    let client = rankflow::initialize(Config::new())?;
    let mut done = 0u64;
    let mut first: Option<Vec<(usize, u64)>> = None;
    while done < total {
        let n = batch.min(total - done);
        let futures = client.map(triple, done..done + n)?;
        let values = client.gather(&futures)?;
        for (i, v) in values.iter().enumerate() {
            assert_eq!(*v, 3 * (done + i as u64), "task {}", done + i as u64);
        }
        done += n;
        if first.is_none() && done * 5 >= total {
            let sample = job_rss();
            println!("{{\"soak\":\"tasks\",\"done\":{done},\"rss_kib\":{sample:?}}}");
            first = Some(sample);
        }
    }
    let last = job_rss();
    println!("{{\"soak\":\"tasks\",\"done\":{done},\"rss_kib\":{last:?}}}");
    let first = first.unwrap_or_default();
    for ((rank, a), (_, b)) in first.iter().zip(&last) {
        let growth = (*b as f64 - *a as f64) / *a as f64 * 100.0;
        println!("rank {rank}: {a} KiB at 20%, {b} KiB at the end: {growth:+.1}%");
        if check {
            assert!(
                growth < 5.0,
                "rank {rank} grew {growth:.1}% ({a} -> {b} KiB)"
            );
        }
    }
    println!("soak_tasks: {done} tasks, every value checked");
    client.shutdown()
}
