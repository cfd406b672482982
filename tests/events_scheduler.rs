//! The scheduler's side of task events, driven as a state machine: it keeps
//! the workers' batches within its limit, and answers an events request only
//! once every worker has sent what it had.

use rankflow::diagnostics::events::{EventBatch, MemorySample};
use rankflow::diagnostics::packed::PackedTasks;
use rankflow::protocol::{
    ClientToScheduler, SchedulerToClient, SchedulerToWorker, WorkerInfo, WorkerToScheduler,
};
use rankflow::scheduler::{Command, Event, Scheduler};

fn running(workers: &[usize]) -> Scheduler {
    let mut s = Scheduler::new(workers.len() + 2, 7);
    for &rank in workers {
        let info = WorkerInfo {
            rank,
            hostname: "h".into(),
            pid: 1,
            threads: 1,
            memory_limit: 1 << 30,
        };
        s.handle(Event::Worker(
            rank,
            WorkerToScheduler::Register {
                info,
                fingerprint: 7,
            },
        ));
    }
    s.handle(Event::Client(ClientToScheduler::Hello { fingerprint: 7 }));
    s
}

fn samples(worker: usize, times: std::ops::Range<u64>) -> WorkerToScheduler {
    let memory = times
        .map(|at_us| MemorySample {
            worker,
            at_us,
            bytes: 1,
        })
        .collect();
    WorkerToScheduler::Events {
        tasks: PackedTasks::default(),
        batch: EventBatch {
            memory,
            ..EventBatch::default()
        },
    }
}

#[test]
fn an_events_request_waits_for_every_worker() {
    let mut s = running(&[2, 3]);
    s.handle(Event::Worker(2, samples(2, 10..15)));
    let out = s.handle(Event::Client(ClientToScheduler::GetEvents {
        id: 4,
        since_us: 12,
    }));
    assert_eq!(
        out,
        vec![
            Command::ToWorker(2, SchedulerToWorker::FlushEvents { id: 4 }),
            Command::ToWorker(3, SchedulerToWorker::FlushEvents { id: 4 }),
        ]
    );
    s.handle(Event::Worker(3, samples(3, 20..22)));
    assert!(s
        .handle(Event::Worker(3, WorkerToScheduler::FlushedEvents { id: 4 }))
        .is_empty());
    let out = s.handle(Event::Worker(2, WorkerToScheduler::FlushedEvents { id: 4 }));
    let [Command::ToClient(SchedulerToClient::Events { id: 4, batch })] = out.as_slice() else {
        panic!("{out:?}");
    };
    let times: Vec<u64> = batch.memory.iter().map(|m| m.at_us).collect();
    assert_eq!(times, vec![12, 13, 14, 20, 21]);
}

#[test]
fn settings_reach_every_worker_and_bound_the_history() {
    let mut s = running(&[2, 3]);
    s.handle(Event::Worker(2, samples(2, 0..10)));
    let out = s.handle(Event::Client(ClientToScheduler::EventSettings {
        record: Some(false),
        history: Some(4),
    }));
    assert_eq!(
        out,
        vec![
            Command::ToWorker(2, SchedulerToWorker::RecordEvents { on: false }),
            Command::ToWorker(3, SchedulerToWorker::RecordEvents { on: false }),
        ]
    );
    assert_eq!(s.history().len(), 4);
    assert_eq!(s.history().dropped(), 6);
    let out = s.handle(Event::Client(ClientToScheduler::EventSettings {
        record: None,
        history: Some(2),
    }));
    assert!(out.is_empty());
    assert_eq!(s.history().snapshot(0).memory.len(), 2);
}
