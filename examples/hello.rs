//! Every worker reports its rank, hostname and pid; the client pings the
//! scheduler and each worker directly, then shuts the cluster down.
//!
//! ```text
//! mpirun -n 4 target/release/examples/hello     # 2 workers
//! cargo run --release --example hello           # embedded cluster
//! ```

use rankflow::{Config, Error};
use std::collections::BTreeSet;

fn main() -> Result<(), Error> {
    let client = rankflow::initialize(Config::new())?;
    let workers = client.workers().to_vec();
    for w in &workers {
        println!(
            "worker rank {} on {} (pid {}, {} threads, memory limit {} MiB)",
            w.rank,
            w.hostname,
            w.pid,
            w.threads,
            w.memory_limit >> 20
        );
    }

    // Under mpirun every rank but the scheduler and the client is a worker;
    // with one rank (or none) the embedded cluster has `local_workers`.
    // Open MPI's launcher says OMPI_COMM_WORLD_SIZE, MPICH's (hydra) PMI_SIZE.
    let world: usize = std::env::var("OMPI_COMM_WORLD_SIZE")
        .or_else(|_| std::env::var("PMI_SIZE"))
        .map_or(1, |n| n.parse().expect("the world size is a number"));
    let expected = if world >= rankflow::MIN_RANKS {
        world - 2
    } else {
        Config::new().resolve()?.local_workers
    };
    assert_eq!(workers.len(), expected, "every worker registered");
    let ranks: BTreeSet<usize> = workers.iter().map(|w| w.rank).collect();
    assert_eq!(ranks, (2..2 + expected).collect(), "worker ranks are 2..N");
    assert!(workers.iter().all(|w| w.pid > 0 && !w.hostname.is_empty()));

    let to_scheduler = client.ping()?;
    println!("ping scheduler: {} us", to_scheduler.as_micros());
    for w in &workers {
        let rtt = client.ping_worker(w.rank)?;
        println!("ping worker {}: {} us", w.rank, rtt.as_micros());
    }
    assert!(
        client.ping_worker(999).is_err(),
        "a non-worker rank is refused"
    );

    client.shutdown()?;
    println!("hello: ok");
    Ok(())
}
