//! Managing submitted tasks on the embedded cluster: retry, cancel of many
//! (seen by the scheduler: a cancelled task never runs), fire_and_forget,
//! who_has and has_what. Counters are statics: the embedded cluster's
//! workers are threads of this process.

use rankflow::{Config, ErrorKind, FutureStatus, Mode, TaskOptions};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

fn cluster(workers: usize) -> rankflow::Client {
    rankflow::initialize(
        Config::new()
            .mode(Mode::Local)
            .local_workers(workers)
            .threads_per_worker(1),
    )
    .unwrap()
}

fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn times_ten(x: u64) -> u64 {
    10 * x
}

fn where_am_i(_: u64) -> usize {
    rankflow::current_worker().expect("inside a task")
}

static FIRST_FAILS: AtomicU32 = AtomicU32::new(0);

fn fails_the_first_time(x: u64) -> u64 {
    if FIRST_FAILS.fetch_add(1, Ordering::SeqCst) == 0 {
        panic!("first run fails");
    }
    x + 1
}

#[test]
fn retry_reruns_a_failed_task_and_the_same_future_gets_the_value() {
    let c = cluster(2);
    let f = c.submit(fails_the_first_time, 1).unwrap();
    let e = f.result().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Task);
    assert!(e.to_string().contains("first run fails"), "{e}");
    // Submitting it again is memoized: the same key, the same failure.
    let again = c.submit(fails_the_first_time, 1).unwrap();
    assert_eq!(again.key(), f.key());
    assert!(again.result().is_err());
    assert_eq!(FIRST_FAILS.load(Ordering::SeqCst), 1);

    f.retry().unwrap();
    assert_eq!(f.result().unwrap(), 2);
    assert_eq!(again.result().unwrap(), 2, "every handle on the key");
    assert_eq!(f.status(), FutureStatus::Finished);
    assert_eq!(FIRST_FAILS.load(Ordering::SeqCst), 2);

    // Retrying a finished future does nothing.
    f.retry().unwrap();
    c.retry(std::slice::from_ref(&f)).unwrap();
    assert_eq!(c.submit(times_ten, 3).unwrap().result().unwrap(), 30);
    assert_eq!(f.result().unwrap(), 2);
    assert_eq!(FIRST_FAILS.load(Ordering::SeqCst), 2, "not run again");
}

static SOURCE_RUNS: AtomicU32 = AtomicU32::new(0);

fn flaky_source(x: u64) -> u64 {
    if SOURCE_RUNS.fetch_add(1, Ordering::SeqCst) % 2 == 0 {
        panic!("source failed");
    }
    x
}

#[test]
fn retry_reruns_the_failed_dependencies_it_needs() {
    let c = cluster(2);
    // The client holds both: both futures report the new outcome.
    let a = c.submit(flaky_source, 5).unwrap();
    let b = c.submit(times_ten, &a).unwrap();
    let e = b.result().unwrap_err();
    assert_eq!(e.task_failure().unwrap().root, Some(a.key()));
    assert!(a.result().is_err());
    c.retry(std::slice::from_ref(&b)).unwrap();
    assert_eq!(b.result().unwrap(), 50);
    assert_eq!(a.result().unwrap(), 5, "the dependency ran again too");

    // The client dropped the dependency's future: the scheduler kept what
    // the failed task needs to run again.
    let d = c
        .submit(times_ten, c.submit(flaky_source, 7).unwrap())
        .unwrap();
    assert!(d.result().is_err());
    d.retry().unwrap();
    assert_eq!(d.result().unwrap(), 70);
    assert_eq!(SOURCE_RUNS.load(Ordering::SeqCst), 4);
}

static ALWAYS_FAILS: AtomicU32 = AtomicU32::new(0);

fn always_fails(_: u64) -> u64 {
    ALWAYS_FAILS.fetch_add(1, Ordering::SeqCst);
    panic!("never works");
}

#[test]
fn exhausted_retries_say_how_many_attempts_were_made() {
    let c = cluster(1);
    let f = c
        .submit_with_options(always_fails, 1, &TaskOptions::new().retries(2))
        .unwrap();
    let e = f.result().unwrap_err();
    assert_eq!(ALWAYS_FAILS.load(Ordering::SeqCst), 3);
    let failure = e.task_failure().unwrap();
    assert_eq!(failure.message, "failed after 3 attempts: never works");
    assert!(e.to_string().contains("failed after 3 attempts"), "{e}");
}

static CANCELLED_RAN: AtomicU32 = AtomicU32::new(0);

fn side_effect(x: u64) -> u64 {
    CANCELLED_RAN.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn cancelled_tasks_never_run_even_when_queued_on_the_worker() {
    // One worker, one thread: the long task runs, the first marker waits in
    // the worker's queue (it is handed two tasks), the others in the scheduler.
    let c = cluster(1);
    let impure = TaskOptions::new().pure(false);
    let busy = c.submit_with_options(nap, 400, &impure).unwrap();
    let queued = c.map_with_options(side_effect, 0..3u64, &impure).unwrap();
    c.cancel(&queued).unwrap();
    assert!(queued.iter().all(|f| f.status() == FutureStatus::Cancelled));
    assert_eq!(busy.result().unwrap(), 400);
    // This one runs on the same thread after anything left in the queue.
    assert_eq!(
        c.submit_with_options(nap, 1, &impure)
            .unwrap()
            .result()
            .unwrap(),
        1
    );
    assert_eq!(
        CANCELLED_RAN.load(Ordering::SeqCst),
        0,
        "a cancelled task ran"
    );
    let holders = c.who_has(&queued).unwrap();
    assert!(holders.values().all(Vec::is_empty), "{holders:?}");
    for f in &queued {
        assert_eq!(f.result().unwrap_err().kind(), ErrorKind::Cancelled);
    }
}

static FORGOTTEN_RAN: AtomicU32 = AtomicU32::new(0);

fn remember(x: u64) -> u64 {
    FORGOTTEN_RAN.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn fire_and_forget_runs_a_task_whose_future_was_dropped() {
    let c = cluster(1);
    let impure = TaskOptions::new().pure(false);
    // It waits for `first` (so it has not started) when both are dropped.
    let first = c.submit_with_options(nap, 300, &impure).unwrap();
    let then = c.submit(remember, &first).unwrap();
    c.fire_and_forget(then).unwrap();
    drop(first);
    // A dropped future that was not fired and forgotten does not run.
    let gate = c.submit_with_options(nap, 200, &impure).unwrap();
    let dropped = c.submit(remember, &gate).unwrap();
    drop(dropped);
    drop(gate);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // has_what sends the releases and shows what is still held.
        let held: usize = c.has_what().unwrap().values().map(Vec::len).sum();
        if FORGOTTEN_RAN.load(Ordering::SeqCst) == 1 && held == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "still holding {held} results");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        FORGOTTEN_RAN.load(Ordering::SeqCst),
        1,
        "only the one fired"
    );
}

#[test]
fn who_has_and_has_what_say_where_results_live() {
    let c = cluster(2);
    let fs = c.map(where_am_i, 0..8u64).unwrap();
    let ran_on = c.gather(&fs).unwrap();
    let holders = c.who_has(&fs).unwrap();
    for (f, rank) in fs.iter().zip(&ran_on) {
        assert_eq!(holders[&f.key()], vec![*rank]);
    }
    let by_worker = c.has_what().unwrap();
    assert_eq!(by_worker.keys().copied().collect::<Vec<_>>(), vec![2, 3]);
    for (f, rank) in fs.iter().zip(&ran_on) {
        assert!(by_worker[rank].contains(&f.key()));
    }
    // A copy shows up; a pending task is held nowhere.
    assert_eq!(c.replicate(&fs[0], 2).unwrap(), 2);
    assert_eq!(c.who_has(&fs[..1]).unwrap()[&fs[0].key()], vec![2, 3]);
    let slow = c
        .submit_with_options(nap, 300, &TaskOptions::new().pure(false))
        .unwrap();
    assert_eq!(
        c.who_has(std::slice::from_ref(&slow)).unwrap()[&slow.key()],
        Vec::<usize>::new()
    );
    // Released results are gone from has_what.
    drop(fs);
    slow.result().unwrap();
    let left: Vec<_> = c.has_what().unwrap().into_values().flatten().collect();
    assert_eq!(left, vec![slow.key()]);
}
