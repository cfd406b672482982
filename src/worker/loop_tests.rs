//! The worker loop driven message by message, with a recording outbox in
//! place of a transport and real executor threads.

use super::executor::{Executor, MemoryPolicy};
use super::{inputs, Worker};
use crate::client::Future;
use crate::comm::codec;
use crate::comm::transport::{Envelope, Outbox, Rank, Tag, TAG_CONTROL};
use crate::protocol::{
    ClientToWorker, ComputeSpec, Input, Outcome, SchedulerToWorker, WorkerToClient,
    WorkerToScheduler, WorkerToWorker,
};
use crate::protocol::{CLIENT, SCHEDULER};
use crate::task::{task_function_ref, Key};
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Every message the worker sends, in order, and the bodies sent beside
/// each (by the message's index in `sent`).
#[derive(Default)]
struct Recorder {
    /// The message limit it reports (`None`: unbounded).
    limit: Option<usize>,
    sent: Mutex<Vec<(Rank, Vec<u8>)>>,
    bodies: Mutex<HashMap<usize, Vec<Arc<Vec<u8>>>>>,
    changed: Condvar,
}

impl Outbox for Recorder {
    fn send(&self, dest: Rank, tag: Tag, payload: Vec<u8>) -> crate::Result<()> {
        self.send_with_bodies(dest, tag, payload, Vec::new())
    }

    fn send_with_bodies(
        &self,
        dest: Rank,
        tag: Tag,
        payload: Vec<u8>,
        bodies: Vec<Arc<Vec<u8>>>,
    ) -> crate::Result<()> {
        if tag == TAG_CONTROL {
            let mut sent = self.sent.lock().unwrap();
            if !bodies.is_empty() {
                self.bodies.lock().unwrap().insert(sent.len(), bodies);
            }
            sent.push((dest, payload));
            self.changed.notify_all();
        }
        Ok(())
    }

    fn max_message_bytes(&self) -> usize {
        self.limit.unwrap_or(usize::MAX)
    }
}

impl Recorder {
    /// The messages to the scheduler so far.
    fn to_scheduler(&self) -> Vec<WorkerToScheduler> {
        let sent = self.sent.lock().unwrap();
        sent.iter()
            .filter(|(dest, _)| *dest == SCHEDULER)
            .map(|(_, b)| codec::decode(b).unwrap())
            .collect()
    }

    /// Waits (at most 20 s) for the first outcome reported to the scheduler.
    fn first_outcome(&self) -> Option<Outcome> {
        self.outcomes(1).into_iter().next()
    }

    /// Waits (at most 20 s) for `n` outcomes; those reported by then.
    fn outcomes(&self, n: usize) -> Vec<Outcome> {
        let sent = self.sent.lock().unwrap();
        let (sent, _) = self
            .changed
            .wait_timeout_while(sent, Duration::from_secs(20), |s| outcomes(s).len() < n)
            .unwrap();
        outcomes(&sent)
    }
}

/// The outcomes among `sent`, in order.
fn outcomes(sent: &[(Rank, Vec<u8>)]) -> Vec<Outcome> {
    sent.iter()
        .filter(|(dest, _)| *dest == SCHEDULER)
        .filter_map(|(_, b)| match codec::decode(b) {
            Ok(WorkerToScheduler::Finished { outcomes }) => Some(outcomes),
            _ => None,
        })
        .flatten()
        .collect()
}

fn worker(recorder: Arc<Recorder>) -> Worker {
    worker_with(recorder, MemoryPolicy::unlimited())
}

fn worker_with(recorder: Arc<Recorder>, memory: MemoryPolicy) -> Worker {
    let executor = Executor::start(2, 1, 0, recorder.clone(), memory).unwrap();
    Worker {
        rank: 2,
        fingerprint: 0,
        group: None,
        members: None,
        executor,
        outbox: recorder.clone(),
        inputs: inputs::Inputs::default(),
        parked_fetches: HashMap::new(),
        acquiring: Default::default(),
        flush_at: None,
        memory_limit: u64::MAX,
        pause: Default::default(),
        freed: Default::default(),
        fetch_started: HashMap::new(),
        heart: super::busy::Heart::start(2, recorder),
    }
}

fn envelope<M: serde::Serialize>(source: Rank, message: &M) -> Envelope {
    Envelope::new(source, TAG_CONTROL, codec::encode(message).unwrap())
}

fn sum(xs: Vec<u64>) -> u64 {
    xs.iter().sum()
}

#[test]
fn a_task_stolen_and_handed_back_waits_for_every_input() {
    let recorder = Arc::new(Recorder::default());
    let mut w = worker(recorder.clone());
    // sum(vec![x, y]) with x on worker 3 and y on worker 4.
    let (x, y, task) = (Key(1), Key(2), Key(100));
    let spec = ComputeSpec {
        key: task,
        function: task_function_ref::<_, _, Vec<Future<u64>>>(sum, 0),
        inputs: vec![
            Input::Inline(Arc::new(codec::encode(&2u64).unwrap())),
            Input::Remote { key: x, worker: 3 },
            Input::Remote { key: y, worker: 4 },
        ],
        push: true,
    };
    let compute = SchedulerToWorker::Compute {
        tasks: vec![spec.clone()],
    };
    assert!(!w.handle(envelope(SCHEDULER, &compute)).unwrap());
    // Stolen while its inputs are on their way, then handed back.
    let steal = SchedulerToWorker::Steal { keys: vec![task] };
    assert!(!w.handle(envelope(SCHEDULER, &steal)).unwrap());
    assert!(recorder
        .to_scheduler()
        .contains(&WorkerToScheduler::Stolen {
            asked: vec![task],
            keys: vec![task]
        }));
    assert!(!w.handle(envelope(SCHEDULER, &compute)).unwrap());
    let data = |key, value: u64| WorkerToWorker::Data {
        items: vec![(key, codec::encode(&value).unwrap())],
        beside: vec![],
    };
    assert!(!w.handle(envelope(3, &data(x, 5))).unwrap());
    assert!(!w.handle(envelope(4, &data(y, 2))).unwrap());
    let result = done_result(&recorder, &w, task);
    assert_eq!(codec::decode::<u64>(&result).unwrap(), 7, "5 + 2");
}

fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// A 1000-byte memory limit (spill at 500, pause at 800) and its directory.
fn thousand_bytes(name: &str) -> (std::path::PathBuf, MemoryPolicy) {
    let dir = std::env::temp_dir().join(format!("rankflow-{name}-{}", std::process::id()));
    let memory = MemoryPolicy {
        limit: 1000,
        spill_fraction: 0.5,
        pause_fraction: 0.8,
        directory: dir.clone(),
    };
    (dir, memory)
}

#[test]
fn a_paused_worker_tells_the_scheduler_holds_tasks_lets_one_through_when_idle_and_resumes() {
    let recorder = Arc::new(Recorder::default());
    let (dir, memory) = thousand_bytes("pause");
    let mut w = worker_with(recorder.clone(), memory);
    // 900 bytes held elsewhere too: nothing can be spilled, so over 800.
    let pinned: Vec<_> = (0..3).map(|_| Arc::new(vec![1u8; 300])).collect();
    for (k, v) in pinned.iter().enumerate() {
        w.executor.store.put(Key(1000 + k as u64), v.clone());
    }
    w.check_pause().unwrap();
    assert!(w.pause.paused());
    assert_eq!(w.executor.store.stats().pauses, 1);
    let spec = |k: u64| ComputeSpec {
        key: Key(k),
        function: task_function_ref::<_, _, u64>(nap, 0),
        inputs: vec![Input::Inline(Arc::new(codec::encode(&300u64).unwrap()))],
        push: false,
    };
    let compute = SchedulerToWorker::Compute {
        tasks: (1..=3).map(spec).collect(),
    };
    assert!(!w.handle(envelope(SCHEDULER, &compute)).unwrap());
    assert!(w.executor.idle(), "every task is held");
    // The scheduler can take held tasks elsewhere.
    let steal = SchedulerToWorker::Steal { keys: vec![Key(3)] };
    assert!(!w.handle(envelope(SCHEDULER, &steal)).unwrap());
    assert!(recorder
        .to_scheduler()
        .contains(&WorkerToScheduler::Stolen {
            asked: vec![Key(3)],
            keys: vec![Key(3)]
        }));
    // Nothing runs: one held task goes ahead, and only one.
    w.check_pause().unwrap();
    assert!(!w.executor.idle());
    w.check_pause().unwrap();
    assert_eq!(
        w.pause.steal(&[Key(1), Key(2)]),
        vec![Key(2)],
        "one still held"
    );
    assert!(w.pause.paused());
    // Its inputs released, the store spills, the worker resumes.
    assert!(!w.handle(envelope(SCHEDULER, &compute)).unwrap());
    drop(pinned);
    w.check_pause().unwrap();
    assert!(!w.pause.paused());
    assert!(w.executor.store.stats().spilled >= 1);
    // The scheduler heard of the pause and the resume, once each.
    let told: Vec<_> = recorder
        .to_scheduler()
        .into_iter()
        .filter(|m| matches!(m, WorkerToScheduler::Paused { .. }))
        .collect();
    assert_eq!(
        told,
        vec![
            WorkerToScheduler::Paused { paused: true },
            WorkerToScheduler::Paused { paused: false }
        ]
    );
    let done = recorder.outcomes(4);
    w.executor.stop();
    // Task 1 that went ahead, then 1, 2 and 3 handed over again.
    assert_eq!(done.len(), 4, "{done:?}");
    assert!(
        done.iter().all(|o| matches!(o, Outcome::Done { .. })),
        "{done:?}"
    );
    w.executor.store.close();
    assert!(!dir
        .join(format!("rankflow-{}-w2", std::process::id()))
        .exists());
}

impl Recorder {
    /// The worker-to-worker messages sent to `peer` so far.
    fn to_peer(&self, peer: Rank) -> Vec<WorkerToWorker> {
        let sent = self.sent.lock().unwrap();
        sent.iter()
            .filter(|(dest, _)| *dest == peer)
            .map(|(_, b)| codec::decode(b).unwrap())
            .collect()
    }
}

#[test]
fn a_fetch_of_a_result_whose_spill_file_is_gone_is_answered_gone() {
    let recorder = Arc::new(Recorder::default());
    let (dir, memory) = thousand_bytes("lost");
    let mut w = worker_with(recorder.clone(), memory);
    w.executor.store.put(Key(9), Arc::new(vec![7u8; 600]));
    assert_eq!(w.executor.store.stats().spilled, 1);
    std::fs::remove_dir_all(w.executor.store.spill_dir()).unwrap();
    let fetch = WorkerToWorker::Fetch { keys: vec![Key(9)] };
    assert!(!w.handle(envelope(3, &fetch)).unwrap());
    w.executor.stop();
    assert_eq!(
        recorder.to_peer(3),
        vec![WorkerToWorker::Gone { keys: vec![Key(9)] }],
        "answered, not parked for ever"
    );
    assert!(w.parked_fetches.is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_fetch_of_a_freed_key_is_answered_gone_not_parked() {
    let recorder = Arc::new(Recorder::default());
    let mut w = worker(recorder.clone());
    let fetch = |k: u64| WorkerToWorker::Fetch { keys: vec![Key(k)] };
    // Parked (the client's Put may be on its way), then freed: answered.
    assert!(!w.handle(envelope(3, &fetch(7))).unwrap());
    assert!(recorder.to_peer(3).is_empty(), "parked until the put comes");
    let free = SchedulerToWorker::Free {
        keys: vec![Key(7), Key(8)],
    };
    assert!(!w.handle(envelope(SCHEDULER, &free)).unwrap());
    // Freed first, fetched after: answered at once.
    assert!(!w.handle(envelope(4, &fetch(8))).unwrap());
    w.executor.stop();
    let gone = |k| vec![WorkerToWorker::Gone { keys: vec![Key(k)] }];
    assert_eq!(recorder.to_peer(3), gone(7));
    assert_eq!(recorder.to_peer(4), gone(8));
    assert!(w.parked_fetches.is_empty(), "nothing left parked");
}

#[test]
fn a_task_whose_input_is_gone_goes_back_to_the_scheduler() {
    let recorder = Arc::new(Recorder::default());
    let mut w = worker(recorder.clone());
    let (x, task) = (Key(1), Key(100));
    let spec = ComputeSpec {
        key: task,
        function: task_function_ref::<_, _, Vec<Future<u64>>>(sum, 0),
        inputs: vec![
            Input::Inline(Arc::new(codec::encode(&1u64).unwrap())),
            Input::Remote { key: x, worker: 3 },
        ],
        push: true,
    };
    let compute = SchedulerToWorker::Compute { tasks: vec![spec] };
    assert!(!w.handle(envelope(SCHEDULER, &compute)).unwrap());
    assert_eq!(
        recorder.to_peer(3),
        vec![WorkerToWorker::Fetch { keys: vec![x] }]
    );
    let gone = WorkerToWorker::Gone { keys: vec![x] };
    assert!(!w.handle(envelope(3, &gone)).unwrap());
    w.executor.stop();
    assert!(recorder
        .to_scheduler()
        .contains(&WorkerToScheduler::InputsGone {
            tasks: vec![task],
            keys: vec![x]
        }));
    assert_eq!(w.inputs.len(), 0, "it no longer waits here");
}

#[test]
fn an_acquire_whose_source_answers_gone_is_reported_to_the_scheduler() {
    let recorder = Arc::new(Recorder::default());
    let mut w = worker(recorder.clone());
    let key = Key(5);
    let acquire = SchedulerToWorker::Acquire { key, from: 3 };
    assert!(!w.handle(envelope(SCHEDULER, &acquire)).unwrap());
    let gone = WorkerToWorker::Gone { keys: vec![key] };
    assert!(!w.handle(envelope(3, &gone)).unwrap());
    w.executor.stop();
    assert!(
        recorder
            .to_scheduler()
            .contains(&WorkerToScheduler::AcquireFailed { key, from: 3 }),
        "{:?}",
        recorder.to_scheduler()
    );
    assert!(w.acquiring.is_empty());
}

#[test]
fn an_abort_from_the_scheduler_is_an_aborted_job_with_its_reason() {
    let recorder = Arc::new(Recorder::default());
    let mut w = worker(recorder);
    let reason = "worker rank 3 has not answered the scheduler for 2.0 s".to_string();
    let abort = SchedulerToWorker::Abort {
        reason: reason.clone(),
    };
    let err = w.handle(envelope(SCHEDULER, &abort)).unwrap_err();
    w.executor.stop();
    assert_eq!(err.kind(), crate::error::ErrorKind::Aborted);
    assert!(err.to_string().contains(&reason), "{err}");
    assert!(!err.to_string().contains("different executables"), "{err}");
}

/// Bytes, their length and their sum: what `weigh` makes of a byte vector.
fn weigh((bytes, small): (Vec<u8>, u64)) -> (u64, u64) {
    let sum = bytes.iter().map(|b| u64::from(*b)).sum::<u64>();
    (bytes.len() as u64 + small, sum)
}

#[test]
fn a_large_value_is_fetched_beside_the_message_and_shared_not_copied() {
    let recorder = Arc::new(Recorder::default());
    let mut w = worker(recorder.clone());
    let big: Vec<u8> = (0..crate::protocol::BESIDE_BYTES * 3)
        .map(|i| i as u8)
        .collect();
    let big = Arc::new(codec::encode_value(&big).unwrap());
    let small = Arc::new(codec::encode(&9u64).unwrap());
    w.executor.store.put(Key(5), big.clone());
    w.executor.store.put(Key(6), small.clone());
    let fetch = WorkerToWorker::Fetch {
        keys: vec![Key(5), Key(6)],
    };
    assert!(!w.handle(envelope(3, &fetch)).unwrap());
    w.executor.stop();
    assert_eq!(
        recorder.to_peer(3),
        vec![WorkerToWorker::Data {
            items: vec![(Key(6), small.to_vec())],
            beside: vec![Key(5)],
        }]
    );
    let bodies = recorder.bodies.lock().unwrap();
    let sent = bodies.values().next().expect("a body beside the message");
    assert_eq!(sent.len(), 1);
    assert!(Arc::ptr_eq(&sent[0], &big), "the stored buffer itself");
}

#[test]
fn a_value_that_arrives_beside_its_message_fills_its_task() {
    let recorder = Arc::new(Recorder::default());
    let mut w = worker(recorder.clone());
    let (x, y, task) = (Key(1), Key(2), Key(100));
    let spec = ComputeSpec {
        key: task,
        function: task_function_ref::<_, _, (Future<Vec<u8>>, Future<u64>)>(weigh, 0),
        inputs: vec![
            Input::Remote { key: x, worker: 3 },
            Input::Remote { key: y, worker: 3 },
        ],
        push: true,
    };
    let compute = SchedulerToWorker::Compute { tasks: vec![spec] };
    assert!(!w.handle(envelope(SCHEDULER, &compute)).unwrap());
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 7) as u8).collect();
    let data = WorkerToWorker::Data {
        items: vec![(y, codec::encode(&4u64).unwrap())],
        beside: vec![x],
    };
    let mut e = envelope(3, &data);
    e.bodies = vec![Arc::new(codec::encode_value(&bytes).unwrap())];
    assert!(!w.handle(e).unwrap());
    let result = done_result(&recorder, &w, task);
    let sum = bytes.iter().map(|b| u64::from(*b)).sum::<u64>();
    assert_eq!(
        codec::decode::<(u64, u64)>(&result).unwrap(),
        (300_004, sum)
    );
}

#[test]
fn data_whose_bodies_do_not_match_its_message_is_dropped_and_its_keys_reported_gone() {
    let recorder = Arc::new(Recorder::default());
    let (mut w, x, task) = waiting_for_one(
        &recorder,
        task_function_ref::<_, _, Future<Vec<u8>>>(weigh_one, 0),
    );
    // One value announced beside the message, none sent: not misread, and
    // the task waiting for it does not wait forever.
    let data = WorkerToWorker::Data {
        items: vec![],
        beside: vec![x],
    };
    assert!(!w.handle(envelope(3, &data)).unwrap());
    w.executor.stop();
    assert!(w.executor.store.get(x).is_none(), "nothing stored");
    assert!(recorder
        .to_scheduler()
        .contains(&WorkerToScheduler::InputsGone {
            tasks: vec![task],
            keys: vec![x]
        }));
    assert_eq!(w.inputs.len(), 0, "it no longer waits here");
}

/// Waits for `task`'s outcome, stops the executor, checks the task is done
/// and gives its stored result.
fn done_result(recorder: &Recorder, w: &Worker, task: Key) -> Arc<Vec<u8>> {
    let outcome = recorder.first_outcome();
    w.executor.stop();
    assert!(
        matches!(outcome, Some(Outcome::Done { key, .. }) if key == task),
        "{outcome:?}"
    );
    w.executor.store.get(task).expect("the result is kept")
}

/// A worker whose task 100 calls `function` on key 1, to be fetched from worker 3.
fn waiting_for_one(
    recorder: &Arc<Recorder>,
    function: crate::task::shipping::FnRef,
) -> (Worker, Key, Key) {
    let mut w = worker(recorder.clone());
    let (x, task) = (Key(1), Key(100));
    let spec = ComputeSpec {
        key: task,
        function,
        inputs: vec![Input::Remote { key: x, worker: 3 }],
        push: true,
    };
    let compute = SchedulerToWorker::Compute { tasks: vec![spec] };
    assert!(!w.handle(envelope(SCHEDULER, &compute)).unwrap());
    (w, x, task)
}

fn weigh_one(bytes: Vec<u8>) -> u64 {
    bytes.len() as u64
}

/// Where the argument's bytes are.
fn address(bytes: Vec<u8>) -> u64 {
    bytes.as_ptr() as usize as u64
}

#[test]
fn a_value_fetched_for_one_task_is_its_argument_without_a_copy() {
    let recorder = Arc::new(Recorder::default());
    let (mut w, x, task) = waiting_for_one(
        &recorder,
        task_function_ref::<_, _, Future<Vec<u8>>>(address, 0),
    );
    let body = codec::encode_value(&vec![9u8; 200_000]).unwrap();
    let received_at = body.as_ptr() as usize as u64;
    let mut e = envelope(
        3,
        &WorkerToWorker::Data {
            items: vec![],
            beside: vec![x],
        },
    );
    e.bodies = vec![Arc::new(body)];
    assert!(!w.handle(e).unwrap());
    let result = done_result(&recorder, &w, task);
    assert_eq!(
        codec::decode::<u64>(&result).unwrap(),
        received_at,
        "the argument is the received buffer"
    );
}

#[test]
fn a_fetch_of_more_large_values_than_one_message_carries_is_answered_in_several() {
    let recorder = Arc::new(Recorder::default());
    let mut w = worker(recorder.clone());
    let big = Arc::new(vec![1u8; crate::protocol::BESIDE_BYTES]);
    let keys: Vec<Key> = (0..super::BESIDE_PER_MESSAGE as u64 + 1)
        .map(|k| Key(1000 + k))
        .collect();
    for k in &keys {
        w.executor.store.put(*k, big.clone());
    }
    w.executor.store.put(Key(7), Arc::new(vec![2u8; 10]));
    let mut asked = keys.clone();
    asked.push(Key(7));
    assert!(!w
        .handle(envelope(3, &WorkerToWorker::Fetch { keys: asked }))
        .unwrap());
    w.executor.stop();
    let (first, last) = keys.split_at(super::BESIDE_PER_MESSAGE);
    assert_eq!(
        recorder.to_peer(3),
        vec![
            WorkerToWorker::Data {
                items: vec![(Key(7), vec![2u8; 10])],
                beside: first.to_vec(),
            },
            WorkerToWorker::Data {
                items: vec![],
                beside: last.to_vec(),
            },
        ]
    );
    let bodies = recorder.bodies.lock().unwrap();
    let mut counts: Vec<usize> = bodies.values().map(Vec::len).collect();
    counts.sort_unstable();
    assert_eq!(counts, vec![1, super::BESIDE_PER_MESSAGE]);
}

#[test]
fn a_fetch_of_more_bytes_than_one_message_may_hold_is_answered_in_several() {
    let mib = 1 << 20;
    let recorder = Arc::new(Recorder {
        limit: Some(3 * mib),
        ..Recorder::default()
    });
    let mut w = worker(recorder.clone());
    // Five values of 1 MiB go two by two under a 3 MiB limit; one of 4 MiB
    // goes alone (the receiver refuses it, naming the limit).
    let keys: Vec<Key> = (0..6).map(Key).collect();
    for k in &keys {
        let len = if k.0 == 5 { 4 * mib } else { mib };
        w.executor.store.put(*k, Arc::new(vec![k.0 as u8; len]));
    }
    assert!(!w
        .handle(envelope(3, &WorkerToWorker::Fetch { keys: keys.clone() }))
        .unwrap());
    w.executor.stop();
    let beside: Vec<Vec<Key>> = recorder
        .to_peer(3)
        .into_iter()
        .map(|m| match m {
            WorkerToWorker::Data { beside, .. } => beside,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        beside,
        vec![
            vec![Key(0), Key(1)],
            vec![Key(2), Key(3)],
            vec![Key(4)],
            vec![Key(5)]
        ]
    );
}

#[test]
fn a_large_value_put_by_the_client_beside_its_message_is_kept_as_received() {
    let recorder = Arc::new(Recorder::default());
    let mut w = worker(recorder.clone());
    let put = ClientToWorker::PutBeside { key: Key(7) };
    // A body count that does not match is dropped, not misread.
    assert!(!w.handle(envelope(CLIENT, &put)).unwrap());
    assert!(w.executor.store.get(Key(7)).is_none());
    let big: Vec<u8> = (0..crate::protocol::BESIDE_BYTES * 2)
        .map(|i| (i % 251) as u8)
        .collect();
    let body = Arc::new(codec::encode_value(&big).unwrap());
    let mut e = envelope(CLIENT, &put);
    e.bodies = vec![body.clone()];
    assert!(!w.handle(e).unwrap());
    let stored = w.executor.store.get(Key(7)).expect("the value is kept");
    w.executor.stop();
    assert!(Arc::ptr_eq(&stored, &body), "the received buffer itself");
}

#[test]
fn a_large_value_fetched_by_the_client_goes_beside_small_ones_inside() {
    let recorder = Arc::new(Recorder::default());
    let mut w = worker(recorder.clone());
    let big = Arc::new(vec![9u8; crate::protocol::BESIDE_BYTES]);
    let small = Arc::new(vec![1u8; crate::protocol::BESIDE_BYTES - 1]);
    w.executor.store.put(Key(5), big.clone());
    w.executor.store.put(Key(6), small.clone());
    for key in [Key(5), Key(6), Key(8)] {
        let fetch = ClientToWorker::Fetch { key };
        assert!(!w.handle(envelope(CLIENT, &fetch)).unwrap());
    }
    w.executor.stop();
    let answers: Vec<WorkerToClient> = recorder
        .sent
        .lock()
        .unwrap()
        .iter()
        .filter(|(dest, _)| *dest == CLIENT)
        .map(|(_, b)| codec::decode(b).unwrap())
        .collect();
    assert_eq!(
        answers,
        vec![
            WorkerToClient::DataBeside { key: Key(5) },
            WorkerToClient::Data {
                key: Key(6),
                bytes: Some(small.to_vec())
            },
            WorkerToClient::Data {
                key: Key(8),
                bytes: None
            },
        ]
    );
    let bodies = recorder.bodies.lock().unwrap();
    assert_eq!(bodies.len(), 1, "one message with a body");
    let sent = bodies.values().next().unwrap();
    assert_eq!(sent.len(), 1);
    assert!(Arc::ptr_eq(&sent[0], &big), "the stored buffer itself");
}
