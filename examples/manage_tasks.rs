//! Managing tasks after submitting them: cancel many at once (a cancelled
//! task queued behind a long one never runs), fire and forget (a task whose
//! future was dropped still runs), who_has and has_what (where each result
//! lives), and run_with/apply (a function with an argument on every worker).
//! Side effects are counted on the workers and read back with `run`.
//!
//! ```text
//! mpirun -n 4 target/release/examples/manage_tasks
//! ```

use rankflow::{Config, Error, ErrorKind, FutureStatus, TaskOptions};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static CANCELLED_RAN: AtomicU32 = AtomicU32::new(0);
static FORGOTTEN_RAN: AtomicU32 = AtomicU32::new(0);

fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn must_not_run(x: u64) -> u64 {
    CANCELLED_RAN.fetch_add(1, Ordering::SeqCst);
    x
}

fn remember(x: u64) -> u64 {
    FORGOTTEN_RAN.fetch_add(1, Ordering::SeqCst);
    x
}

/// Each worker's counters (the same statics for every worker of the
/// embedded cluster, which are threads of one process).
fn counters() -> (u32, u32) {
    (
        CANCELLED_RAN.load(Ordering::SeqCst),
        FORGOTTEN_RAN.load(Ordering::SeqCst),
    )
}

fn where_am_i(_: u64) -> usize {
    rankflow::current_worker().expect("inside a task")
}

fn scaled_rank(factor: usize) -> usize {
    factor * rankflow::current_worker().expect("on a worker")
}

fn main() -> Result<(), Error> {
    let client = rankflow::initialize(Config::new().threads_per_worker(1))?;
    let first = client.workers()[0].rank;
    let on_first = TaskOptions::new().pure(false).workers(&[first]);

    // Cancel many: one long task runs on the first worker, one marker waits
    // in that worker's queue, the rest in the scheduler. None of them runs.
    let busy = client.submit_with_options(nap, 400, &on_first)?;
    let queued = client.map_with_options(must_not_run, 0..4u64, &on_first)?;
    client.cancel(&queued)?;
    assert_eq!(busy.result()?, 400);
    // Runs on the same thread after whatever was left in the queue.
    client.submit_with_options(nap, 1, &on_first)?.result()?;
    for f in &queued {
        assert_eq!(f.status(), FutureStatus::Cancelled);
        assert_eq!(f.result().unwrap_err().kind(), ErrorKind::Cancelled);
    }
    let ran: u32 = client.run(counters, None)?.iter().map(|(_, c)| c.0).sum();
    assert_eq!(ran, 0, "a cancelled task ran");
    assert!(client.who_has(&queued)?.values().all(Vec::is_empty));
    println!("cancel: {} tasks, none ran", queued.len());

    // Fire and forget: the task waits for a long one when both futures go.
    let long = client.submit_with_options(nap, 300, &on_first)?;
    let then = client.submit_with_options(remember, &long, &on_first)?;
    let keys = [long.key(), then.key()];
    client.fire_and_forget(then)?;
    drop(long);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ran = client.run(counters, None)?.iter().any(|(_, c)| c.1 == 1);
        let held = client
            .has_what()?
            .into_values()
            .flatten()
            .collect::<Vec<_>>();
        if ran && !keys.iter().any(|k| held.contains(k)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the fired task never ran ({ran}), or is still held"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("fire_and_forget: ran, then its result and input were freed");

    // who_has / has_what: each result is where its task ran.
    let fs = client.map(where_am_i, 0..16u64)?;
    let ran_on = client.gather(&fs)?;
    let holders = client.who_has(&fs)?;
    let by_worker = client.has_what()?;
    for (f, rank) in fs.iter().zip(&ran_on) {
        assert_eq!(holders[&f.key()], vec![*rank]);
        assert!(by_worker[rank].contains(&f.key()));
    }
    assert_eq!(by_worker.len(), client.workers().len());
    println!(
        "has_what: {:?}",
        by_worker
            .iter()
            .map(|(r, keys)| (*r, keys.len()))
            .collect::<Vec<_>>()
    );

    // run_with / apply: a function with an argument on every worker.
    let scaled = client.run_with(scaled_rank, 10, None)?;
    let expected: Vec<(usize, usize)> = client
        .workers()
        .iter()
        .map(|w| (w.rank, 10 * w.rank))
        .collect();
    assert_eq!(scaled, expected);
    assert_eq!(
        client.apply(scaled_rank, 2, Some(&[first]))?,
        vec![(first, 2 * first)]
    );
    println!("run_with: {scaled:?}");

    println!("manage_tasks: ok");
    client.shutdown()
}
