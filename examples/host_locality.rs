//! Placement by host: a task whose inputs are on several workers runs on the
//! host holding the most of its input bytes, even when one worker on another
//! host holds more than any single worker there.
//!
//! Three inputs are made on chosen workers: 600 kB on worker C, 500 kB each
//! on workers A and B, where A and B share a host and C is on another. The
//! dependent that takes all three must run on A and B's host (1 MB there,
//! 600 kB crossing hosts) rather than on C (1 MB would cross). With every
//! worker on one host it must run on C, the worker holding the most. Prints
//! where it ran; `ci/hosts/test.sh` runs it across three hosts.
//!
//! ```text
//! mpirun -n 5 target/release/examples/host_locality   # 3 workers, one host
//! cargo run --release --example host_locality         # embedded cluster
//! ```

use rankflow::{Config, Error, TaskOptions, WorkerInfo};

/// `n` bytes, made on the worker that runs it (`tag` keeps equal sizes apart).
fn bytes(tag: u64, n: usize) -> Vec<u8> {
    vec![tag as u8; n]
}

/// Where this task ran: hostname and process id.
fn where_ran(a: Vec<u8>, b: Vec<u8>, c: Vec<u8>) -> (String, u32, usize) {
    (hostname(), std::process::id(), a.len() + b.len() + c.len())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Workers A and B sharing a host and C on another, if there are such.
fn pick(workers: &[WorkerInfo]) -> Option<(usize, usize, usize)> {
    for a in workers {
        for b in workers.iter().filter(|b| b.rank > a.rank) {
            if a.hostname != b.hostname {
                continue;
            }
            if let Some(c) = workers.iter().find(|c| c.hostname != a.hostname) {
                return Some((a.rank, b.rank, c.rank));
            }
        }
    }
    None
}

fn main() -> Result<(), Error> {
    let client = rankflow::initialize(Config::new())?;
    let workers = client.workers().to_vec();
    let info = |rank: usize| {
        workers
            .iter()
            .find(|w| w.rank == rank)
            .expect("a registered worker")
    };
    let ranks: Vec<usize> = workers.iter().map(|w| w.rank).collect();
    let across_hosts = pick(&workers);
    // One host: A, B and C are three workers of it (or fewer, repeated).
    let (a, b, c) =
        across_hosts.unwrap_or((ranks[0], ranks[1 % ranks.len()], ranks[2 % ranks.len()]));
    let on = |r: usize| TaskOptions::new().workers(&[r]);
    let x = client.submit_with_options(bytes, (1_u64, 600_000_usize), &on(c))?;
    let y = client.submit_with_options(bytes, (2_u64, 500_000_usize), &on(a))?;
    let z = client.submit_with_options(bytes, (3_u64, 500_000_usize), &on(b))?;
    let (host, pid, len) = client.submit(where_ran, (&x, &y, &z))?.result()?;
    assert_eq!(len, 1_600_000);
    let ran_on: Vec<usize> = workers
        .iter()
        .filter(|w| w.hostname == host && w.pid == pid)
        .map(|w| w.rank)
        .collect();
    println!(
        "inputs: 600 kB on worker {c} ({}), 500 kB on workers {a} and {b} ({}, {}); \
         the dependent ran on {host} (worker {ran_on:?})",
        info(c).hostname,
        info(a).hostname,
        info(b).hostname
    );
    if across_hosts.is_some() {
        assert_eq!(
            host,
            info(a).hostname,
            "the host holding 1 MB of the inputs, not worker {c}'s"
        );
    } else {
        assert_eq!(host, info(c).hostname);
        // Under mpirun each worker has its own pid; the embedded cluster's
        // workers share one.
        let distinct_pids = workers.iter().all(|w| w.pid != info(c).pid || w.rank == c);
        if distinct_pids {
            assert_eq!(ran_on, vec![c], "the worker holding the most bytes");
        }
    }
    client.shutdown()?;
    println!("host_locality: ok");
    Ok(())
}
