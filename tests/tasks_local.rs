//! The task API on the embedded cluster: graphs, memoization, large
//! arguments and results, waiting, cancelling, targeting, and the bad inputs
//! that must give clear errors without hanging.

use rankflow::{Config, ErrorKind, FailureKind, FutureStatus, Mode, TaskOptions, WaitFor};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

fn cluster(workers: usize) -> rankflow::Client {
    rankflow::initialize(Config::new().mode(Mode::Local).local_workers(workers)).unwrap()
}

/// One worker with one executor thread: tasks run one at a time, in the
/// order the scheduler hands them out.
fn one_thread() -> rankflow::Client {
    rankflow::initialize(
        Config::new()
            .mode(Mode::Local)
            .local_workers(1)
            .threads_per_worker(1),
    )
    .unwrap()
}

fn square(x: u64) -> u64 {
    x * x
}

fn add((a, b): (u64, u64)) -> u64 {
    a + b
}

fn sum(xs: Vec<u64>) -> u64 {
    xs.iter().sum()
}

fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn length(v: Vec<u8>) -> usize {
    v.len()
}

fn big(n: usize) -> Vec<u8> {
    (0..n).map(|i| i as u8).collect()
}

fn worker_of(_: u64) -> usize {
    rankflow::current_worker().expect("inside a task")
}

#[test]
fn map_gather_and_graphs() {
    let c = cluster(3);
    let squares = c.map(square, 0..1000u64).unwrap();
    let values = c.gather(&squares).unwrap();
    assert_eq!(values, (0..1000u64).map(|x| x * x).collect::<Vec<_>>());
    // A value and a future mixed, a vector of futures, a closure.
    let s = c.submit(add, (&squares[3], 1)).unwrap();
    assert_eq!(s.result().unwrap(), 10);
    let total = c.submit(sum, squares[..10].to_vec()).unwrap();
    assert_eq!(
        total.result().unwrap(),
        (0..10u64).map(|x| x * x).sum::<u64>()
    );
    let doubled = c.submit(|x: u64| x * 2, total).unwrap();
    assert_eq!(doubled.result().unwrap(), 570);
    c.shutdown().unwrap();
}

#[test]
fn pure_tasks_share_a_key_impure_ones_do_not() {
    let c = cluster(2);
    let a = c.submit(square, 7).unwrap();
    let b = c.submit(square, 7).unwrap();
    assert_eq!(a.key(), b.key());
    let impure = TaskOptions::new().pure(false);
    let x = c.submit_with_options(square, 7, &impure).unwrap();
    let y = c.submit_with_options(square, 7, &impure).unwrap();
    assert_ne!(x.key(), y.key());
    assert_eq!(c.gather(&[a, b, x, y]).unwrap(), vec![49; 4]);
}

#[test]
fn large_arguments_and_results_go_around_the_scheduler() {
    let c = cluster(2);
    let payload = vec![7u8; 300_000];
    let n = c.submit(length, payload.clone()).unwrap();
    assert_eq!(n.result().unwrap(), 300_000);
    // The same large argument twice: the same key (placement counts are
    // checked in `client_bookkeeping_local.rs`,
    // `a_large_argument_shared_by_three_batches_is_placed_once_and_freed_everywhere`).
    assert_eq!(c.submit(length, payload).unwrap().key(), n.key());
    let r = c.submit(big, 200_000usize).unwrap();
    // A `Vec<u8>` result is written and read as one byte string; every byte
    // must come back.
    let bytes = r.result().unwrap();
    assert_eq!(bytes, big(200_000));
    // A large result as the input of another task moves worker to worker.
    let again = c.submit(length, &r).unwrap();
    assert_eq!(again.result().unwrap(), 200_000);
}

fn checksum(v: Vec<u8>) -> (usize, u64) {
    let sum = v
        .iter()
        .enumerate()
        .map(|(i, b)| (i as u64 + 1) * u64::from(*b))
        .sum();
    (v.len(), sum)
}

fn patterned(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn large_values_put_scattered_and_gathered_by_the_client_arrive_intact() {
    let c = cluster(2);
    // Sizes about the 64 KiB line where values start to travel beside
    // their messages.
    let sizes = [65_535usize, 65_536, 65_537, 1 << 20];
    let items: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, n)| patterned(*n, i as u8))
        .collect();
    let scattered = c.scatter(items.clone()).unwrap();
    let sums = c.map(checksum, scattered.iter()).unwrap();
    let expected: Vec<_> = items.iter().cloned().map(checksum).collect();
    assert_eq!(
        c.gather(&sums).unwrap(),
        expected,
        "put, then read by tasks"
    );
    assert_eq!(c.gather(&scattered).unwrap(), items, "put, then fetched");
    let put = c.submit(checksum, items[3].clone()).unwrap();
    assert_eq!(put.result().unwrap(), expected[3], "a large argument");
    let made: Vec<_> = sizes.iter().map(|n| c.submit(big, *n).unwrap()).collect();
    let results = c.gather(&made).unwrap();
    for (got, n) in results.iter().zip(sizes) {
        assert!(*got == big(n), "the result of {n} bytes arrived changed");
    }
}

#[test]
fn as_completed_and_wait() {
    let c = cluster(2);
    let opts = TaskOptions::new();
    let slow = c.submit_with_options(nap, 300, &opts).unwrap();
    let fast = c.submit_with_options(nap, 10, &opts).unwrap();
    let r = c
        .wait(
            vec![slow.clone(), fast.clone()],
            WaitFor::FirstCompleted,
            None,
        )
        .unwrap();
    assert_eq!(r.done.len(), 1);
    assert_eq!(r.done[0].key(), fast.key());
    let r = c
        .wait(
            vec![slow.clone()],
            WaitFor::AllCompleted,
            Some(Duration::from_millis(1)),
        )
        .unwrap();
    assert_eq!((r.done.len(), r.not_done.len()), (0, 1), "timed out first");
    let order: Vec<u64> = c
        .as_completed(vec![slow, fast])
        .map(|f| f.unwrap().result().unwrap())
        .collect();
    assert_eq!(order, vec![10, 300]);
}

#[test]
fn workers_targeting_and_priority() {
    let c = cluster(3);
    let only = TaskOptions::new().workers(&[3]).pure(false);
    let ranks = c
        .gather(&c.map_with_options(worker_of, 0..20u64, &only).unwrap())
        .unwrap();
    assert!(ranks.iter().all(|&r| r == 3), "{ranks:?}");
    let err = c
        .submit_with_options(worker_of, 1, &TaskOptions::new().workers(&[99]))
        .unwrap_err();
    assert!(err.to_string().contains("99"), "{err}");
}

/// Tasks run by `priority_orders_the_waiting_tasks`, in the order they ran.
static RAN: std::sync::Mutex<Vec<u64>> = std::sync::Mutex::new(Vec::new());

fn record(x: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(5));
    RAN.lock().unwrap().push(x);
    x
}

#[test]
fn priority_orders_the_waiting_tasks() {
    let c = one_thread();
    // One thread, busy for a while: everything below waits its turn.
    let busy = c.submit(nap, 400).unwrap();
    let low: Vec<_> = (0..10u64).map(|i| c.submit(record, i).unwrap()).collect();
    let urgent = c
        .submit_with_options(record, 100, &TaskOptions::new().priority(10))
        .unwrap();
    assert_eq!(urgent.result().unwrap(), 100);
    assert_eq!(c.gather(&low).unwrap(), (0..10).collect::<Vec<_>>());
    busy.result().unwrap();
    let ran = RAN.lock().unwrap().clone();
    assert_eq!(ran.len(), 11, "{ran:?}");
    // At most the tasks already queued on the worker when it arrived (its
    // queue is twice its threads deep) run before the urgent one.
    let at = ran.iter().position(|&x| x == 100).unwrap();
    assert!(at <= 1, "the priority-10 task ran {}th: {ran:?}", at + 1);
    // The others keep their submission order.
    let rest: Vec<u64> = ran.into_iter().filter(|&x| x != 100).collect();
    assert_eq!(rest, (0..10).collect::<Vec<_>>());
    c.shutdown().unwrap();
}

#[test]
fn a_panicking_task_fails_its_future_and_dependents_only() {
    fn explode(x: u64) -> u64 {
        if x == 3 {
            panic!("three is right out");
        }
        x
    }
    let c = cluster(2);
    let fs = c.map(explode, 0..6u64).unwrap();
    let e = fs[3].result().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Task);
    let f = e.task_failure().unwrap();
    assert_eq!(f.kind, FailureKind::Panicked);
    assert!(f.message.contains("three is right out"));
    assert!(matches!(f.worker, Some(2) | Some(3)));
    let dep = c.submit(add, (&fs[3], &fs[4])).unwrap();
    let e = dep.result().unwrap_err();
    assert_eq!(e.task_failure().unwrap().root, Some(fs[3].key()));
    for (i, f) in fs.iter().enumerate().filter(|(i, _)| *i != 3) {
        assert_eq!(f.result().unwrap(), i as u64);
    }
    assert_eq!(fs[3].status(), FutureStatus::Failed);
    // gather reports the first failure.
    assert!(c.gather(&fs).is_err());
}

static NAPS_RUN: AtomicU32 = AtomicU32::new(0);

/// A nap that counts its runs, to see what the scheduler let run.
fn counted_nap(ms: u64) -> u64 {
    NAPS_RUN.fetch_add(1, Ordering::SeqCst);
    nap(ms)
}

#[test]
fn cancelled_futures_report_cancelled() {
    // One thread: `busy` runs, the others wait behind it.
    let c = one_thread();
    let busy = c.submit(nap, 300).unwrap();
    let queued = c.submit(nap, 301).unwrap();
    let later = c.submit(counted_nap, 302).unwrap();
    later.cancel().unwrap();
    let e = later.result().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Cancelled);
    assert_eq!(later.status(), FutureStatus::Cancelled);
    assert!(c.gather(std::slice::from_ref(&later)).is_err());
    assert_eq!(busy.result().unwrap(), 300);
    assert_eq!(queued.result().unwrap(), 301);
    // The scheduler agreed: a task after it on the same thread has run, the
    // cancelled one never did, and nobody holds a result for it.
    assert_eq!(c.submit(nap, 1).unwrap().result().unwrap(), 1);
    assert_eq!(NAPS_RUN.load(Ordering::SeqCst), 0, "the cancelled task ran");
    let holders = c.who_has(std::slice::from_ref(&later)).unwrap();
    assert!(holders.values().all(Vec::is_empty), "{holders:?}");
}

#[test]
fn a_cancelled_task_submitted_again_runs() {
    let c = cluster(1);
    for round in 0..10u64 {
        // Waiting in the scheduler for `busy`, or queued on the worker.
        let busy = c.submit(nap, 20).unwrap();
        let waits = c.submit(add, (&busy, round)).unwrap();
        let queued = c.submit(add, (round, 1)).unwrap();
        c.cancel(&[waits.clone(), queued.clone()]).unwrap();
        // The same pure tasks again, right after: the scheduler hears the
        // cancel, then the submit, and must run them, not answer them with
        // the cancel that came before.
        let waits_again = c.submit(add, (&busy, round)).unwrap();
        let queued_again = c.submit(add, (round, 1)).unwrap();
        assert_eq!(waits_again.key(), waits.key());
        assert_eq!(queued_again.key(), queued.key());
        assert_eq!(waits_again.result().unwrap(), 20 + round, "round {round}");
        assert_eq!(queued_again.result().unwrap(), round + 1, "round {round}");
    }
}

#[test]
fn futures_outliving_the_client_report_shutdown() {
    let c = cluster(1);
    let pending = c.submit(nap, 2000).unwrap();
    let start = Instant::now();
    c.shutdown().unwrap();
    let e = pending.result().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ShutDown, "{e}");
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn result_as_the_wrong_type_is_a_codec_error() {
    let c = cluster(1);
    let f = c.submit(|x: u64| format!("{x}"), 5).unwrap();
    assert_eq!(f.result().unwrap(), "5");
    assert_eq!(
        f.result_as::<Vec<f64>>().unwrap_err().kind(),
        ErrorKind::Codec
    );
}

#[test]
fn retries_rerun_a_failing_task() {
    use std::sync::atomic::{AtomicU32, Ordering};
    static TRIES: AtomicU32 = AtomicU32::new(0);
    fn flaky(x: u32) -> u32 {
        if TRIES.fetch_add(1, Ordering::SeqCst) < 2 {
            panic!("not yet");
        }
        x
    }
    let c = cluster(1);
    let f = c
        .submit_with_options(flaky, 9, &TaskOptions::new().retries(2))
        .unwrap();
    assert_eq!(f.result().unwrap(), 9);
    assert_eq!(TRIES.load(Ordering::SeqCst), 3);
}

#[test]
fn an_idle_worker_steals_a_task_queued_behind_a_long_one() {
    fn timed((ms, _tag): (u64, u64)) -> usize {
        std::thread::sleep(Duration::from_millis(ms));
        rankflow::current_worker().expect("inside a task")
    }
    let c = cluster(2);
    // Hand-out order: 1 -> worker 2, 2 -> 3, 3 -> 2 (behind the long one), 4 -> 3.
    let fs = c.map(timed, [(600, 1), (20, 2), (50, 3), (20, 4)]).unwrap();
    let ran_on = fs[2].result().unwrap();
    assert_eq!(ran_on, 3, "the queued task moved to the idle worker");
    assert_eq!(c.gather(&fs).unwrap().len(), 4);
}

#[test]
fn resubmitting_a_pure_task_right_after_dropping_it_still_answers() {
    // The worker pushes the result before the scheduler hears the task
    // finished; a release and a resubmit in between must not lose it.
    let c = cluster(2);
    for _ in 0..300 {
        let f = c.submit(square, 11).unwrap();
        assert_eq!(
            f.result_timeout(Some(Duration::from_secs(10))).unwrap(),
            121
        );
    }
}

fn none() -> u64 {
    42
}

fn sub(a: u64, b: u64) -> u64 {
    a - b
}

fn mix(a: u64, b: String, c: u64) -> String {
    format!("{a}{b}{c}")
}

fn four(a: u64, b: u64, c: u64, d: u64) -> u64 {
    1000 * a + 100 * b + 10 * c + d
}

/// Functions of 0 to 4 parameters, futures in any position.
#[test]
fn functions_of_several_parameters() {
    let c = cluster(2);
    assert_eq!(c.submit(none, ()).unwrap().result().unwrap(), 42);
    let nine = c.submit(square, 3).unwrap();
    let four_ = c.submit(square, 2).unwrap();
    assert_eq!(c.submit(sub, (9, 4)).unwrap().result().unwrap(), 5);
    assert_eq!(c.submit(sub, (&nine, 4)).unwrap().result().unwrap(), 5);
    assert_eq!(c.submit(sub, (9, &four_)).unwrap().result().unwrap(), 5);
    assert_eq!(c.submit(sub, (&nine, &four_)).unwrap().result().unwrap(), 5);
    let s = c.submit(mix, (&nine, "-".to_string(), &four_)).unwrap();
    assert_eq!(s.result().unwrap(), "9-4");
    let f = c.submit(four, (1, &four_, 3, &nine)).unwrap();
    assert_eq!(f.result().unwrap(), 1000 + 400 + 30 + 9);
    // A two-parameter closure, and `map` over pairs.
    let p = c.submit(|a: u64, b: u64| a * b, (&nine, 2)).unwrap();
    assert_eq!(p.result().unwrap(), 18);
    let diffs = c.map(sub, (0..100u64).map(|i| (i + 10, i))).unwrap();
    assert!(c.gather(&diffs).unwrap().iter().all(|&d| d == 10));
    // The tuple-taking form still works and names the same computation
    // only when the function is the same.
    assert_eq!(c.submit(add, (&nine, 1)).unwrap().result().unwrap(), 10);
    c.shutdown().unwrap();
}

/// `map` over borrowed items: `&Vec<T>`, a slice, and `&futures`.
#[test]
fn map_over_borrowed_items() {
    let c = cluster(2);
    let v: Vec<u64> = (0..50).collect();
    let squares = c.map(square, &v).unwrap();
    let values = c.gather(&squares).unwrap();
    assert_eq!(values, v.iter().map(|x| x * x).collect::<Vec<_>>());
    let again = c.map(square, &v[..10]).unwrap();
    assert_eq!(c.gather(&again).unwrap(), values[..10].to_vec());
    let plus = c.map(|x: u64| x + 1, &squares).unwrap();
    assert_eq!(c.gather(&plus).unwrap()[7], 50);
    c.shutdown().unwrap();
}
