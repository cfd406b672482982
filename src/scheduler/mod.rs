//! The scheduler: a pure state machine (events in, commands out, no MPI
//! inside) and the loop that drives it over a transport.
//!
//! [`Scheduler`] covers the cluster's life (registration of every worker, the
//! executable check, pings, the shutdown handshake) and hands task events to
//! the [`graph::TaskGraph`], which decides what runs where.

pub mod graph;
pub mod monitor;
mod watchdog;

use crate::comm::codec;
use crate::comm::transport::{Rank, Transport, TAG_ABORT, TAG_CONTROL};
use crate::diagnostics::events::History;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::{
    ClientToScheduler, SchedulerToClient, SchedulerToWorker, WorkerInfo, WorkerToScheduler,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use watchdog::Watchdog;

use crate::protocol::{CLIENT, FIRST_WORKER, SCHEDULER};

/// A message arriving at the scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// From the client.
    Client(ClientToScheduler),
    /// From worker `rank`.
    Worker(Rank, WorkerToScheduler),
}

/// What the scheduler wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Send to the client.
    ToClient(SchedulerToClient),
    /// Send to worker `rank`.
    ToWorker(Rank, SchedulerToWorker),
    /// The scheduler is done: `Ok` after a clean shutdown, `Err` after an abort.
    Stop(std::result::Result<(), String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Starting,
    Running,
    ShuttingDown,
    Stopped,
}

/// The scheduler's state.
#[derive(Debug)]
pub struct Scheduler {
    world_size: usize,
    fingerprint: u64,
    workers: BTreeMap<Rank, WorkerInfo>,
    fingerprints: BTreeMap<Rank, u64>,
    client_fingerprint: Option<u64>,
    remaining: usize,
    phase: Phase,
    graph: graph::TaskGraph,
    dashboard: Option<String>,
    /// The task events the workers sent.
    history: History,
    /// `GetEvents` requests waiting for workers' `FlushedEvents`: by id, the
    /// workers still to answer and the request's start time.
    event_requests: BTreeMap<u64, (usize, u64)>,
}

impl Scheduler {
    /// A scheduler for a world of `world_size` ranks whose own executable has
    /// `fingerprint`.
    pub fn new(world_size: usize, fingerprint: u64) -> Self {
        Scheduler {
            world_size,
            fingerprint,
            workers: BTreeMap::new(),
            fingerprints: BTreeMap::new(),
            client_fingerprint: None,
            remaining: 0,
            phase: Phase::Starting,
            graph: graph::TaskGraph::new(),
            dashboard: None,
            history: History::default(),
            event_requests: BTreeMap::new(),
        }
    }

    /// The task events kept so far (a dashboard reads a
    /// [`snapshot`](History::snapshot)).
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Tells the client, in `Welcome`, where the live dashboard is.
    pub fn set_dashboard_link(&mut self, link: Option<String>) {
        self.dashboard = link;
    }

    /// Publishes to `monitor` if it is time (see [`monitor::Monitor::publish`]),
    /// and returns the heartbeats to send if it is time to ask every worker
    /// for its CPU time.
    fn publish(&self, monitor: &mut monitor::Monitor) -> Vec<Command> {
        monitor.publish(self.phase == Phase::Running, &self.workers, &self.graph);
        if self.phase != Phase::Running || !monitor.heartbeats_due() {
            return Vec::new();
        }
        self.workers
            .keys()
            .map(|&r| Command::ToWorker(r, SchedulerToWorker::Heartbeat))
            .collect()
    }

    fn worker_ranks(&self) -> std::ops::Range<Rank> {
        FIRST_WORKER..self.world_size
    }

    /// Whether every worker has registered and no shutdown has begun.
    pub fn running(&self) -> bool {
        self.phase == Phase::Running
    }

    /// Whether the scheduler has stopped.
    pub fn stopped(&self) -> bool {
        self.phase == Phase::Stopped
    }

    /// Handles one event; returns what to send, in order.
    pub fn handle(&mut self, event: Event) -> Vec<Command> {
        match event {
            Event::Worker(rank, WorkerToScheduler::Register { info, fingerprint }) => {
                if !self.worker_ranks().contains(&rank) || self.phase != Phase::Starting {
                    log::warn!("ignoring registration from rank {rank}");
                    return Vec::new();
                }
                self.graph.add_worker_on(rank, info.threads, &info.hostname);
                self.workers.insert(rank, info);
                self.fingerprints.insert(rank, fingerprint);
                self.try_start()
            }
            Event::Client(ClientToScheduler::Hello { fingerprint }) => {
                self.client_fingerprint = Some(fingerprint);
                self.try_start()
            }
            Event::Client(ClientToScheduler::Ping { id }) => {
                vec![Command::ToClient(SchedulerToClient::Pong { id })]
            }
            Event::Client(ClientToScheduler::Shutdown) => self.begin_shutdown(),
            Event::Client(ClientToScheduler::Submit { tasks, placed }) => {
                self.with_graph(|g, fx| g.submit(tasks, placed, fx))
            }
            Event::Client(ClientToScheduler::Release { keys }) => {
                self.with_graph(|g, fx| g.release(&keys, fx))
            }
            Event::Client(ClientToScheduler::Replicate { id, key, n }) => {
                self.with_graph(|g, fx| g.replicate(id, key, n, fx))
            }
            Event::Worker(rank, WorkerToScheduler::Acquired { key }) => {
                self.with_graph(|g, fx| g.acquired(rank, key, fx))
            }
            Event::Worker(rank, WorkerToScheduler::AcquireFailed { key, from }) => {
                self.with_graph(|g, fx| g.acquire_failed(rank, key, from, fx))
            }
            Event::Client(ClientToScheduler::AdoptReplicated {
                key,
                workers,
                nbytes,
            }) => self.with_graph(|g, _| g.adopt_replicated(key, workers, nbytes)),
            Event::Client(ClientToScheduler::Adopt { placed }) => {
                self.with_graph(|g, _| g.adopt(placed))
            }
            Event::Client(ClientToScheduler::Cancel { keys }) => {
                self.with_graph(|g, fx| g.cancel(&keys, fx))
            }
            Event::Client(ClientToScheduler::Retry { keys }) => {
                self.with_graph(|g, fx| g.retry(&keys, fx))
            }
            Event::Client(ClientToScheduler::FireAndForget { keys }) => {
                self.with_graph(|g, _| g.fire_and_forget(&keys))
            }
            Event::Client(ClientToScheduler::WhoHas { id, keys, done }) => {
                self.with_graph(|g, fx| g.who_has(id, keys, done, fx))
            }
            Event::Worker(rank, WorkerToScheduler::Finished { outcomes }) => {
                self.with_graph(|g, fx| g.finished(rank, outcomes, fx))
            }
            Event::Worker(rank, WorkerToScheduler::Stolen { asked, keys }) => {
                self.with_graph(|g, fx| g.stolen(rank, &asked, &keys, fx))
            }
            // The loop notes when each worker was last heard from.
            Event::Worker(_, WorkerToScheduler::Alive { .. }) => Vec::new(),
            Event::Worker(rank, WorkerToScheduler::Paused { paused }) => {
                log::debug!(
                    "worker {rank} {} for memory",
                    if paused { "paused" } else { "resumed" }
                );
                let out = self.with_graph(|g, fx| g.set_paused(rank, paused, fx));
                if paused && self.graph.all_paused() {
                    log::warn!(
                        "every worker is paused for memory (over its pause fraction): \
                         {} ready tasks wait, going one at a time to a worker with \
                         nothing to run, until one resumes",
                        self.graph.ready_waiting()
                    );
                }
                out
            }
            // The dashboard's monitor keeps the names (see `run_watched`).
            Event::Client(ClientToScheduler::Names { .. }) => Vec::new(),
            Event::Worker(rank, WorkerToScheduler::InputsGone { tasks, keys }) => {
                self.with_graph(|g, fx| g.inputs_gone(rank, &tasks, &keys, fx))
            }
            Event::Worker(_, WorkerToScheduler::Events { tasks, batch }) => {
                self.history.add_worker(tasks, batch);
                Vec::new()
            }
            Event::Client(ClientToScheduler::EventSettings { record, history }) => {
                if let Some(limit) = history {
                    self.history.set_limit(limit);
                }
                let Some(on) = record else {
                    return Vec::new();
                };
                self.workers
                    .keys()
                    .map(|&r| Command::ToWorker(r, SchedulerToWorker::RecordEvents { on }))
                    .collect()
            }
            Event::Client(ClientToScheduler::GetEvents { id, since_us }) => {
                if self.workers.is_empty() {
                    let batch = self.history.snapshot(since_us);
                    return vec![Command::ToClient(SchedulerToClient::Events { id, batch })];
                }
                self.event_requests
                    .insert(id, (self.workers.len(), since_us));
                self.workers
                    .keys()
                    .map(|&r| Command::ToWorker(r, SchedulerToWorker::FlushEvents { id }))
                    .collect()
            }
            Event::Worker(_, WorkerToScheduler::FlushedEvents { id }) => {
                let Some((left, since_us)) = self.event_requests.get_mut(&id) else {
                    log::warn!("an answer to an unknown events request {id}");
                    return Vec::new();
                };
                *left -= 1;
                if *left > 0 {
                    return Vec::new();
                }
                let since_us = *since_us;
                self.event_requests.remove(&id);
                let batch = self.history.snapshot(since_us);
                vec![Command::ToClient(SchedulerToClient::Events { id, batch })]
            }
            Event::Worker(rank, WorkerToScheduler::Goodbye) => {
                if self.phase != Phase::ShuttingDown || self.workers.remove(&rank).is_none() {
                    log::warn!("unexpected goodbye from rank {rank}");
                    return Vec::new();
                }
                self.remaining -= 1;
                if self.remaining == 0 {
                    self.phase = Phase::Stopped;
                    vec![
                        Command::ToClient(SchedulerToClient::Finished),
                        Command::Stop(Ok(())),
                    ]
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// Runs a task event through the graph while the cluster runs, and turns
    /// its effects into messages.
    fn with_graph(
        &mut self,
        f: impl FnOnce(&mut graph::TaskGraph, &mut graph::Effects),
    ) -> Vec<Command> {
        if self.phase != Phase::Running {
            log::debug!("ignoring a task event outside the running phase");
            return Vec::new();
        }
        let mut fx = graph::Effects::default();
        f(&mut self.graph, &mut fx);
        let mut out = Vec::new();
        for (rank, tasks) in fx.compute {
            out.push(Command::ToWorker(
                rank,
                SchedulerToWorker::Compute { tasks },
            ));
        }
        for (rank, keys) in fx.free {
            out.push(Command::ToWorker(rank, SchedulerToWorker::Free { keys }));
        }
        for (rank, keys) in fx.steal {
            out.push(Command::ToWorker(rank, SchedulerToWorker::Steal { keys }));
        }
        for (rank, key, from) in fx.acquire {
            out.push(Command::ToWorker(
                rank,
                SchedulerToWorker::Acquire { key, from },
            ));
        }
        if !fx.retried.is_empty() {
            out.push(Command::ToClient(SchedulerToClient::Retried {
                keys: fx.retried,
            }));
        }
        for (id, holders) in fx.holders {
            out.push(Command::ToClient(SchedulerToClient::Holders {
                id,
                holders,
            }));
        }
        for (id, outcome) in fx.replicated {
            out.push(Command::ToClient(SchedulerToClient::Replicated {
                id,
                outcome,
            }));
        }
        if !fx.located.is_empty() {
            out.push(Command::ToClient(SchedulerToClient::Located {
                items: fx.located,
            }));
        }
        if !fx.failures.is_empty() {
            out.push(Command::ToClient(SchedulerToClient::Failed {
                failures: fx.failures,
            }));
        }
        out
    }

    fn try_start(&mut self) -> Vec<Command> {
        let expected = self.worker_ranks().len();
        let Some(client_fp) = self.client_fingerprint else {
            return Vec::new();
        };
        if self.phase != Phase::Starting || self.workers.len() < expected {
            return Vec::new();
        }
        let mut differing: Vec<Rank> = self
            .fingerprints
            .iter()
            .filter(|(_, &fp)| fp != self.fingerprint)
            .map(|(&r, _)| r)
            .collect();
        if client_fp != self.fingerprint {
            differing.insert(0, CLIENT);
        }
        if !differing.is_empty() {
            let reason = format!(
                "ranks {differing:?} run a different executable than the scheduler (rank 0); \
                 every rank must run the same build of the same program"
            );
            self.phase = Phase::Stopped;
            let mut out: Vec<Command> = self
                .worker_ranks()
                .map(|r| {
                    Command::ToWorker(
                        r,
                        SchedulerToWorker::Abort {
                            reason: reason.clone(),
                        },
                    )
                })
                .collect();
            out.push(Command::ToClient(SchedulerToClient::Abort {
                reason: reason.clone(),
            }));
            out.push(Command::Stop(Err(reason)));
            return out;
        }
        self.phase = Phase::Running;
        vec![Command::ToClient(SchedulerToClient::Welcome {
            workers: self.workers.values().cloned().collect(),
            dashboard: self.dashboard.clone(),
        })]
    }

    fn begin_shutdown(&mut self) -> Vec<Command> {
        if self.phase == Phase::ShuttingDown || self.phase == Phase::Stopped {
            return Vec::new();
        }
        self.phase = Phase::ShuttingDown;
        self.remaining = self.workers.len();
        if self.remaining == 0 {
            self.phase = Phase::Stopped;
            return vec![
                Command::ToClient(SchedulerToClient::Finished),
                Command::Stop(Ok(())),
            ];
        }
        self.workers
            .keys()
            .map(|&r| Command::ToWorker(r, SchedulerToWorker::Shutdown))
            .collect()
    }
}

/// Runs the scheduler over `transport` until shutdown or abort.
pub fn run(transport: &mut dyn Transport, fingerprint: u64) -> Result<()> {
    run_watched(transport, fingerprint, None, None)
}

/// [`run`], ending the job with an error naming any worker that leaves the
/// scheduler's heartbeats unanswered for `watchdog` (see `Config::watchdog`).
pub fn run_with_watchdog(
    transport: &mut dyn Transport,
    fingerprint: u64,
    watchdog: Option<std::time::Duration>,
) -> Result<()> {
    run_watched(transport, fingerprint, None, watchdog)
}

/// Where the scheduler publishes its state for the live dashboard.
#[derive(Debug, Clone)]
pub struct Watch {
    /// Snapshots and the task stream, read by the dashboard's thread.
    pub shared: Arc<monitor::Shared>,
    /// The dashboard's link, for the client and the start-up log line.
    pub link: String,
}

/// [`run`], publishing snapshots into `watch` as it goes (see
/// [`monitor`]): the loop then wakes at most every
/// [`PUBLISH_EVERY`](monitor::PUBLISH_EVERY) while it has news nobody has
/// seen, and never waits for a reader; and with a `watchdog`, as
/// [`run_with_watchdog`].
pub fn run_watched(
    transport: &mut dyn Transport,
    fingerprint: u64,
    watch: Option<Watch>,
    watchdog: Option<std::time::Duration>,
) -> Result<()> {
    let mut state = Scheduler::new(transport.size(), fingerprint);
    let outbox = transport.outbox();
    let workers = transport.size().saturating_sub(FIRST_WORKER);
    let mut monitor = match watch {
        Some(w) => {
            log::info!(
                "scheduler up, waiting for {workers} workers; dashboard at {}",
                w.link
            );
            state.set_dashboard_link(Some(w.link));
            Some(monitor::Monitor::new(w.shared))
        }
        None => {
            log::info!("scheduler up, waiting for {workers} workers");
            None
        }
    };
    let mut dog = watchdog.map(|after| Watchdog::new(after, FIRST_WORKER..transport.size()));
    let mut stall = stall_hook();
    loop {
        let dog_wait = dog.as_ref().filter(|_| state.running()).map(|d| d.every);
        let monitor_wait = monitor.as_ref().and_then(|m| m.wait());
        let timeout = match (dog_wait, monitor_wait) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(envelope) = transport.recv_timeout(timeout)? else {
            if let Some(m) = monitor.as_mut() {
                for command in state.publish(m) {
                    if let Command::ToWorker(r, m) = command {
                        outbox.send(r, TAG_CONTROL, codec::encode(&m)?)?;
                    }
                }
            }
            if let Some(d) = dog.as_mut().filter(|_| state.running()) {
                if let Some(reason) = d.tick(&*outbox)? {
                    return abort_all(&*outbox, transport.size(), None, reason);
                }
            }
            continue;
        };
        if envelope.tag == TAG_ABORT {
            let reason = format!(
                "rank {} failed: {}",
                envelope.source,
                String::from_utf8_lossy(&envelope.payload)
            );
            return abort_all(&*outbox, transport.size(), Some(envelope.source), reason);
        }
        if let Some(d) = dog.as_mut() {
            d.heard(envelope.source);
            if state.running() {
                if let Some(reason) = d.tick(&*outbox)? {
                    return abort_all(&*outbox, transport.size(), None, reason);
                }
            }
        }
        let event = match decode_event(envelope.source, &envelope.payload) {
            Ok(e) => e,
            Err(e) => {
                log::error!("dropping a malformed message: {e}");
                continue;
            }
        };
        log::debug!("event {event:?}");
        if let (Event::Client(ClientToScheduler::Ping { .. }), Some(t)) = (&event, stall) {
            stall = None;
            log::warn!("test hook: the scheduler's loop stops for {t:?}");
            std::thread::sleep(t);
        }
        if let Some(m) = monitor.as_mut() {
            match &event {
                Event::Worker(rank, WorkerToScheduler::Finished { outcomes }) => {
                    m.record_finished(*rank, outcomes, &state.graph);
                }
                Event::Worker(_, WorkerToScheduler::Events { tasks, .. }) => m.record_events(tasks),
                Event::Worker(rank, WorkerToScheduler::Alive { cpu_us }) => {
                    m.record_cpu(*rank, *cpu_us);
                }
                Event::Client(ClientToScheduler::Names { names }) => m.learn_names(names),
                _ => {}
            }
            m.touch();
        }
        let mut commands = state.handle(event);
        if let Some(m) = monitor.as_mut() {
            commands.extend(state.publish(m));
        }
        for command in commands {
            match command {
                Command::ToClient(m) => outbox.send(CLIENT, TAG_CONTROL, codec::encode(&m)?)?,
                Command::ToWorker(r, m) => outbox.send(r, TAG_CONTROL, codec::encode(&m)?)?,
                Command::Stop(Ok(())) => {
                    log::info!("every worker has stopped; scheduler exits");
                    return Ok(());
                }
                Command::Stop(Err(reason)) => {
                    return Err(Error::new(ErrorKind::BinaryMismatch, reason));
                }
            }
        }
    }
}

/// A test hook for the client's watchdog of the scheduler:
/// `RANKFLOW_TEST_STALL_SCHEDULER` (seconds) makes the scheduler's loop stop
/// that long at the first ping from the client, as a stuck scheduler would.
fn stall_hook() -> Option<std::time::Duration> {
    let v = std::env::var("RANKFLOW_TEST_STALL_SCHEDULER").ok()?;
    match v.trim().parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 600.0 => Some(std::time::Duration::from_secs_f64(s)),
        _ => {
            log::warn!("ignoring RANKFLOW_TEST_STALL_SCHEDULER={v:?} (seconds, at most 600)");
            None
        }
    }
}

/// Tells every rank but `failed` that the job is over, and fails.
fn abort_all(
    outbox: &dyn crate::comm::transport::Outbox,
    size: usize,
    failed: Option<Rank>,
    reason: String,
) -> Result<()> {
    // Nobody waits for the failed rank: tell every other rank.
    for r in FIRST_WORKER..size {
        if Some(r) != failed {
            let m = SchedulerToWorker::Abort {
                reason: reason.clone(),
            };
            let _ = outbox.send(r, TAG_CONTROL, codec::encode(&m)?);
        }
    }
    let m = SchedulerToClient::Abort {
        reason: reason.clone(),
    };
    let _ = outbox.send(CLIENT, TAG_CONTROL, codec::encode(&m)?);
    Err(Error::new(ErrorKind::Transport, reason))
}

fn decode_event(source: Rank, payload: &[u8]) -> Result<Event> {
    match source {
        CLIENT => Ok(Event::Client(codec::decode(payload)?)),
        SCHEDULER => Err(Error::protocol("a message from the scheduler to itself")),
        r => {
            let m = codec::decode(payload)?;
            if let WorkerToScheduler::Events { tasks, .. } = &m {
                // Checked once here, so that readers of the history and the
                // monitor can trust the packing.
                tasks.check().map_err(Error::protocol)?;
                if !tasks.is_empty() && tasks.worker() != r {
                    return Err(Error::protocol(format!(
                        "rank {r} sent the task events of worker {}",
                        tasks.worker()
                    )));
                }
            }
            Ok(Event::Worker(r, m))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(rank: Rank) -> WorkerInfo {
        WorkerInfo {
            rank,
            hostname: "h".into(),
            pid: 1,
            threads: 1,
            memory_limit: 1 << 30,
        }
    }

    fn register(s: &mut Scheduler, rank: Rank, fp: u64) -> Vec<Command> {
        s.handle(Event::Worker(
            rank,
            WorkerToScheduler::Register {
                info: info(rank),
                fingerprint: fp,
            },
        ))
    }

    fn noop(x: u64) -> u64 {
        x
    }

    #[test]
    fn packed_task_events_must_be_the_senders_own() {
        use crate::diagnostics::packed::PackedTasks;
        let f = crate::task::task_function_ref::<_, _, u64>(noop, 0);
        let mut tasks = PackedTasks::with_capacity(3, 1);
        tasks.push(crate::task::Key(1), f, 0, 10, 20, false);
        let m = codec::encode(&WorkerToScheduler::Events {
            tasks,
            batch: Default::default(),
        })
        .unwrap();
        assert!(matches!(
            decode_event(3, &m),
            Ok(Event::Worker(3, WorkerToScheduler::Events { .. }))
        ));
        let e = decode_event(2, &m).unwrap_err().to_string();
        assert!(e.contains("rank 2 sent the task events of worker 3"), "{e}");
        // Cut inside the packed events: refused, not half-read.
        assert!(decode_event(3, &m[..m.len() - 8]).is_err());
    }

    #[test]
    fn welcome_only_after_every_worker_and_the_client() {
        let mut s = Scheduler::new(5, 7);
        assert!(register(&mut s, 2, 7).is_empty());
        assert!(s
            .handle(Event::Client(ClientToScheduler::Hello { fingerprint: 7 }))
            .is_empty());
        assert!(register(&mut s, 4, 7).is_empty());
        let out = register(&mut s, 3, 7);
        assert_eq!(
            out,
            vec![Command::ToClient(SchedulerToClient::Welcome {
                workers: vec![info(2), info(3), info(4)],
                dashboard: None,
            })]
        );
    }

    #[test]
    fn mismatched_executable_aborts_everyone() {
        let mut s = Scheduler::new(4, 7);
        register(&mut s, 2, 7);
        register(&mut s, 3, 8);
        let out = s.handle(Event::Client(ClientToScheduler::Hello { fingerprint: 7 }));
        assert_eq!(out.len(), 4);
        assert!(
            matches!(&out[0], Command::ToWorker(2, SchedulerToWorker::Abort { reason }) if reason.contains("[3]"))
        );
        assert!(matches!(
            &out[2],
            Command::ToClient(SchedulerToClient::Abort { .. })
        ));
        assert!(matches!(&out[3], Command::Stop(Err(_))));
        assert!(s.stopped());
    }

    #[test]
    fn shutdown_waits_for_every_goodbye() {
        let mut s = Scheduler::new(4, 1);
        register(&mut s, 2, 1);
        register(&mut s, 3, 1);
        s.handle(Event::Client(ClientToScheduler::Hello { fingerprint: 1 }));
        let out = s.handle(Event::Client(ClientToScheduler::Shutdown));
        assert_eq!(
            out,
            vec![
                Command::ToWorker(2, SchedulerToWorker::Shutdown),
                Command::ToWorker(3, SchedulerToWorker::Shutdown)
            ]
        );
        assert!(s
            .handle(Event::Client(ClientToScheduler::Shutdown))
            .is_empty());
        assert!(s
            .handle(Event::Worker(3, WorkerToScheduler::Goodbye))
            .is_empty());
        assert!(s
            .handle(Event::Worker(3, WorkerToScheduler::Goodbye))
            .is_empty());
        let out = s.handle(Event::Worker(2, WorkerToScheduler::Goodbye));
        assert_eq!(
            out,
            vec![
                Command::ToClient(SchedulerToClient::Finished),
                Command::Stop(Ok(()))
            ]
        );
        assert!(s.stopped());
    }

    #[test]
    fn function_names_need_no_answer() {
        fn noop(_: usize, _: Vec<std::sync::Arc<Vec<u8>>>) -> std::result::Result<Vec<u8>, String> {
            Ok(Vec::new())
        }
        let mut s = Scheduler::new(3, 1);
        let f = crate::task::shipping::FnRef::new(9, noop, 1);
        let names = vec![(f, "demo::simulate".to_string())];
        assert!(s
            .handle(Event::Client(ClientToScheduler::Names { names }))
            .is_empty());
    }

    #[test]
    fn ping_is_answered_and_strangers_ignored() {
        let mut s = Scheduler::new(3, 1);
        assert_eq!(
            s.handle(Event::Client(ClientToScheduler::Ping { id: 9 })),
            vec![Command::ToClient(SchedulerToClient::Pong { id: 9 })]
        );
        assert!(register(&mut s, 7, 1).is_empty());
    }
}
