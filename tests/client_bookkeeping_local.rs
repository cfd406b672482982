//! The client's bookkeeping on the embedded cluster: completion queues for
//! `as_completed` and `wait`, several threads waiting at once, large
//! arguments shared between batches, and which results are pushed to it.

use rankflow::{Config, FutureStatus, Mode, WaitFor};
use std::collections::HashSet;

fn cluster(workers: usize) -> rankflow::Client {
    rankflow::initialize(Config::new().mode(Mode::Local).local_workers(workers)).unwrap()
}

fn triple(x: u64) -> u64 {
    3 * x
}

fn panics_on_odd(x: u64) -> u64 {
    assert!(x % 2 == 0, "odd");
    x
}

#[test]
fn as_completed_yields_every_one_of_20000_futures_exactly_once() {
    let c = cluster(3);
    let futures = c.map(triple, 0..20_000u64).unwrap();
    let keys: HashSet<_> = futures.iter().map(|f| f.key()).collect();
    let mut seen = HashSet::new();
    let mut yielded = 0;
    let mut it = c.as_completed(futures);
    assert_eq!(it.remaining(), 20_000);
    for f in it.by_ref() {
        let f = f.unwrap();
        assert_ne!(f.status(), FutureStatus::Pending);
        assert!(seen.insert(f.key()), "key {} yielded twice", f.key());
        yielded += 1;
    }
    assert_eq!(it.remaining(), 0);
    assert_eq!(yielded, 20_000);
    assert_eq!(seen, keys);
    c.shutdown().unwrap();
}

#[test]
fn as_completed_yields_a_future_held_twice_twice() {
    let c = cluster(2);
    let a = c.submit(triple, 5).unwrap();
    let done: Vec<u64> = c
        .as_completed(vec![a.clone(), a])
        .map(|f| f.unwrap().result().unwrap())
        .collect();
    assert_eq!(done, vec![15, 15]);
    c.shutdown().unwrap();
}

#[test]
fn wait_splits_done_and_stops_at_the_first_exception() {
    let c = cluster(2);
    let futures = c.map(triple, 0..2_000u64).unwrap();
    let all = c.wait(futures, WaitFor::AllCompleted, None).unwrap();
    assert_eq!((all.done.len(), all.not_done.len()), (2_000, 0));
    let mixed = c.map(panics_on_odd, 0..100u64).unwrap();
    let first = c.wait(mixed, WaitFor::FirstException, None).unwrap();
    assert!(
        first
            .done
            .iter()
            .any(|f| f.status() == FutureStatus::Failed),
        "FirstException returned without a failure among the done"
    );
    assert_eq!(first.done.len() + first.not_done.len(), 100);
    let empty: Vec<rankflow::Future<u64>> = Vec::new();
    let none = c.wait(empty, WaitFor::FirstCompleted, None).unwrap();
    assert!(none.done.is_empty() && none.not_done.is_empty());
    c.shutdown().unwrap();
}

#[test]
fn many_threads_wait_at_once_and_all_get_their_results() {
    let c = cluster(3);
    let futures = c.map(triple, 0..4_000u64).unwrap();
    std::thread::scope(|s| {
        for (t, chunk) in futures.chunks(500).enumerate() {
            s.spawn(move || {
                for (i, f) in chunk.iter().enumerate() {
                    let x = (t * 500 + i) as u64;
                    assert_eq!(f.result().unwrap(), 3 * x);
                }
            });
        }
    });
    c.shutdown().unwrap();
}

fn length(v: Vec<u8>) -> u64 {
    v.len() as u64
}

fn first(v: Vec<u8>) -> u8 {
    v[0]
}

fn last(v: Vec<u8>) -> u8 {
    v[v.len() - 1]
}

fn held_here() -> (usize, u64) {
    rankflow::stored_results().unwrap()
}

/// Results and bytes held over all workers, as the workers themselves say.
fn held_everywhere(c: &rankflow::Client) -> (usize, u64) {
    // `has_what` flushes releases and waits for the scheduler, which has
    // sent its frees to the workers before it answers.
    c.has_what().unwrap();
    c.run(held_here, None)
        .unwrap()
        .into_iter()
        .fold((0, 0), |(n, b), (_, (wn, wb))| (n + wn, b + wb))
}

#[test]
fn a_large_argument_shared_by_three_batches_is_placed_once_and_freed_everywhere() {
    const N: usize = 200_000;
    let c = cluster(3);
    let mut big = vec![7u8; N];
    big[0] = 1;
    // Three batches (one submit each) passing the same bytes.
    let n = c.submit(length, big.clone()).unwrap();
    let a = c.submit(first, big.clone()).unwrap();
    let z = c.submit(last, big.clone()).unwrap();
    assert_eq!(n.result().unwrap(), N as u64);
    assert_eq!((a.result().unwrap(), z.result().unwrap()), (1, 7));
    // The same task again is memoized and places nothing.
    let again = c.submit(length, big.clone()).unwrap();
    assert_eq!(again.result().unwrap(), N as u64);
    let (items, bytes) = held_everywhere(&c);
    assert_eq!(items, 4, "three results and one copy of the argument");
    assert!(
        (N as u64..2 * N as u64).contains(&bytes),
        "{bytes} bytes held: the argument was placed more than once"
    );
    // Kept while any task using it is held.
    drop((n, again, a));
    let (items, bytes) = held_everywhere(&c);
    assert_eq!(items, 2, "one result and the argument");
    assert!(bytes >= N as u64);
    drop(z);
    assert_eq!(
        held_everywhere(&c),
        (0, 0),
        "data still held after every future was dropped"
    );
    // Placed anew once the last user is gone.
    let later = c.submit(length, big).unwrap();
    assert_eq!(later.result().unwrap(), N as u64);
    assert_eq!(held_everywhere(&c).0, 2);
    drop(later);
    assert_eq!(held_everywhere(&c), (0, 0));
    c.shutdown().unwrap();
}

/// Holds the chain below back until the test opens it.
static GATE: (std::sync::Mutex<bool>, std::sync::Condvar) =
    (std::sync::Mutex::new(false), std::sync::Condvar::new());

fn gate() -> u64 {
    let (open, changed) = &GATE;
    let mut o = open.lock().unwrap();
    while !*o {
        o = changed.wait(o).unwrap();
    }
    0
}

fn step(x: u64) -> u64 {
    x + 1
}

#[test]
fn only_results_the_client_holds_are_pushed_to_it() {
    let c = cluster(2);
    let before = c.pushed_results();
    let g = c.submit(gate, ()).unwrap();
    let mut last = c.submit(step, &g).unwrap();
    for _ in 0..50 {
        last = c.submit(step, &last).unwrap();
    }
    // The scheduler has heard of every release before the chain can start.
    c.has_what().unwrap();
    *GATE.0.lock().unwrap() = true;
    GATE.1.notify_all();
    assert_eq!(last.result().unwrap(), 51);
    // Every push was sent before the last task was handed out, so it has
    // arrived: the gate's (held when it was handed out) and the last one's.
    assert_eq!(c.pushed_results() - before, 2);
    assert_eq!(g.result().unwrap(), 0);
    c.shutdown().unwrap();
}
