//! The worker loop driven message by message, with a recording outbox in
//! place of a transport and real executor threads.

use super::executor::Executor;
use super::{inputs, Worker};
use crate::client::Future;
use crate::comm::codec;
use crate::comm::transport::{Envelope, Outbox, Rank, Tag, TAG_CONTROL};
use crate::protocol::SCHEDULER;
use crate::protocol::{
    ComputeSpec, Input, Outcome, SchedulerToWorker, WorkerToScheduler, WorkerToWorker,
};
use crate::task::{task_function_ref, Key};
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Every message the worker sends, in order.
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<(Rank, Vec<u8>)>>,
    changed: Condvar,
}

impl Outbox for Recorder {
    fn send(&self, dest: Rank, tag: Tag, payload: Vec<u8>) -> crate::Result<()> {
        if tag == TAG_CONTROL {
            self.sent.lock().unwrap().push((dest, payload));
            self.changed.notify_all();
        }
        Ok(())
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
        let sent = self.sent.lock().unwrap();
        let (sent, _) = self
            .changed
            .wait_timeout_while(sent, Duration::from_secs(20), |s| outcomes(s).is_empty())
            .unwrap();
        outcomes(&sent).into_iter().next()
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
    let executor = Executor::start(2, 1, 0, recorder.clone()).unwrap();
    Worker {
        rank: 2,
        fingerprint: 0,
        group: None,
        members: None,
        executor,
        outbox: recorder,
        inputs: inputs::Inputs::default(),
        parked_fetches: HashMap::new(),
        acquiring: Default::default(),
        flush_at: None,
        memory_limit: u64::MAX,
        fetch_started: HashMap::new(),
    }
}

fn envelope<M: serde::Serialize>(source: Rank, message: &M) -> Envelope {
    Envelope {
        source,
        tag: TAG_CONTROL,
        payload: codec::encode(message).unwrap(),
    }
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
            Input::Inline(codec::encode(&2u64).unwrap()),
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
    };
    assert!(!w.handle(envelope(3, &data(x, 5))).unwrap());
    assert!(!w.handle(envelope(4, &data(y, 2))).unwrap());
    let outcome = recorder.first_outcome();
    w.executor.stop();
    assert!(
        matches!(outcome, Some(Outcome::Done { key, .. }) if key == task),
        "{outcome:?}"
    );
    let result = w.executor.store.get(task).expect("the result is kept");
    assert_eq!(codec::decode::<u64>(&result).unwrap(), 7, "5 + 2");
}
