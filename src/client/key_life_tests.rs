//! The order in which the scheduler hears of a key's life: a client with a
//! recording outbox in place of a transport, and threads that race.

use super::state::Inner;
use super::Client;
use crate::comm::codec;
use crate::comm::transport::{Outbox, Rank, Tag};
use crate::protocol::ClientToScheduler;
use crate::protocol::SCHEDULER;
use crate::task::Key;
use std::marker::PhantomData;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// What the scheduler would hear, in order. A release waits inside `send`
/// (before it counts as sent) until another message is sent or a while has
/// passed: the widest window for another thread to overtake it.
#[derive(Default)]
struct Recorder {
    log: Mutex<Recorded>,
    changed: Condvar,
}

#[derive(Default)]
struct Recorded {
    sent: Vec<ClientToScheduler>,
    releasing: bool,
}

impl Outbox for Recorder {
    fn send(&self, dest: Rank, _tag: Tag, payload: Vec<u8>) -> crate::Result<()> {
        if dest != SCHEDULER {
            return Ok(());
        }
        let message: ClientToScheduler = codec::decode(&payload)?;
        let mut log = self.log.lock().unwrap();
        if matches!(message, ClientToScheduler::Release { .. }) {
            log.releasing = true;
            self.changed.notify_all();
            let before = log.sent.len();
            log = self
                .changed
                .wait_timeout_while(log, Duration::from_millis(300), |l| l.sent.len() == before)
                .unwrap()
                .0;
        }
        log.sent.push(message);
        self.changed.notify_all();
        Ok(())
    }
}

fn client(recorder: Arc<Recorder>) -> Client {
    let inner = Arc::new(Inner::new(None, recorder, 0, vec![2]));
    Client {
        inner,
        limit: None,
        finisher: None,
        members: None,
        workers: Vec::new(),
        dashboard: None,
        _not_send: PhantomData,
    }
}

fn ident(x: u64) -> u64 {
    x
}

/// The submits and releases of `key`, in the order sent.
fn life_of(recorder: &Recorder, key: Key) -> Vec<&'static str> {
    let log = recorder.log.lock().unwrap();
    log.sent
        .iter()
        .filter_map(|m| match m {
            ClientToScheduler::Submit { tasks, .. } if tasks.iter().any(|t| t.key == key) => {
                Some("submit")
            }
            ClientToScheduler::Release { keys } if keys.contains(&key) => Some("release"),
            _ => None,
        })
        .collect()
}

#[test]
fn a_release_taken_before_a_resubmit_reaches_the_scheduler_first() {
    let recorder = Arc::new(Recorder::default());
    let c = client(recorder.clone());
    let f = c.submit(ident, 7u64).unwrap();
    let key = f.key();
    drop(f);
    // One thread sends the queued release of `key`, and is slow about it ...
    let inner = c.inner.clone();
    let flusher = std::thread::spawn(move || inner.flush_releases());
    {
        let log = recorder.log.lock().unwrap();
        let _in_send = recorder.changed.wait_while(log, |l| !l.releasing).unwrap();
    }
    // ... while this one submits the same task again.
    let again = c.submit(ident, 7u64).unwrap();
    flusher.join().unwrap().unwrap();
    assert_eq!(again.key(), key);
    assert_eq!(
        life_of(&recorder, key),
        ["submit", "release", "submit"],
        "the scheduler would free the result the new future waits for"
    );
}

#[test]
fn releases_queued_before_a_submit_are_sent_before_it() {
    let recorder = Arc::new(Recorder::default());
    let c = client(recorder.clone());
    let f = c.submit(ident, 8u64).unwrap();
    let key = f.key();
    drop(f);
    let again = c.submit(ident, 8u64).unwrap();
    assert_eq!(again.key(), key);
    assert_eq!(life_of(&recorder, key), ["submit", "release", "submit"]);
}

#[test]
fn a_delayed_graph_goes_to_the_scheduler_in_one_submit() {
    let recorder = Arc::new(Recorder::default());
    let c = client(recorder.clone());
    let mut d = crate::delayed::delayed(ident, 1u64);
    for _ in 0..9 {
        d = crate::delayed::delayed(ident, d);
    }
    let _root = d.submit(&c).unwrap();
    // A plain submit afterwards goes out on its own, at once.
    let _after = c.submit(ident, 2u64).unwrap();
    let submits = submit_sizes(&recorder);
    assert_eq!(submits, vec![10, 1]);
}

#[test]
fn a_batch_interrupted_by_a_panic_is_still_sent_and_closed() {
    let recorder = Arc::new(Recorder::default());
    let c = client(recorder.clone());
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        c.in_one_message(|| -> crate::Result<()> {
            let _f = c.submit(ident, 1u64)?;
            panic!("a value's Serialize panicked");
        })
    }));
    assert!(caught.is_err());
    // Later submits of this thread go out at once, not into a dead batch.
    let _g = c.submit(ident, 2u64).unwrap();
    let submits = submit_sizes(&recorder);
    assert_eq!(submits, vec![1, 1]);
}

#[test]
fn a_release_inside_a_batch_goes_out_after_the_tasks_it_releases() {
    let recorder = Arc::new(Recorder::default());
    let c = client(recorder.clone());
    let first = c
        .in_one_message(|| {
            let f = c.submit(ident, 1u64)?;
            let key = f.key();
            drop(f);
            let _g = c.submit(ident, 2u64)?;
            Ok(key)
        })
        .unwrap();
    assert_eq!(life_of(&recorder, first), vec!["submit", "release"]);
}

/// How many tasks each Submit the scheduler would hear carried, in order.
fn submit_sizes(recorder: &Recorder) -> Vec<usize> {
    let log = recorder.log.lock().unwrap();
    log.sent
        .iter()
        .filter_map(|m| match m {
            ClientToScheduler::Submit { tasks, .. } => Some(tasks.len()),
            _ => None,
        })
        .collect()
}

fn twice(x: u64) -> u64 {
    x * 2
}

#[test]
fn each_function_is_named_once_just_before_its_first_submit() {
    let recorder = Arc::new(Recorder::default());
    let c = client(recorder.clone());
    let a = c.map(ident, 0..3u64).unwrap();
    let b = c.map(twice, 0..3u64).unwrap();
    let again = c.map(ident, 3..6u64).unwrap();
    let both = c
        .in_one_message(|| {
            let x = c.submit(twice, 9u64)?;
            let y = c.submit(ident, 9u64)?;
            Ok((x, y))
        })
        .unwrap();
    let log = recorder.log.lock().unwrap();
    let kinds: Vec<String> = log
        .sent
        .iter()
        .map(|m| match m {
            ClientToScheduler::Names { names } => {
                let short: Vec<String> = names
                    .iter()
                    .map(|(_, path)| crate::task::names::short_name(path))
                    .collect();
                format!("names {}", short.join(","))
            }
            ClientToScheduler::Submit { tasks, .. } => format!("submit {}", tasks.len()),
            _ => "other".to_string(),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "names ident",
            "submit 3",
            "names twice",
            "submit 3",
            "submit 3",
            "submit 2"
        ]
    );
    drop(log);
    drop((a, b, again, both));
}
