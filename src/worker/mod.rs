//! The worker loop: registers with the scheduler, takes tasks, gathers their
//! inputs (from its own store, from the client's `Put`s, or straight from
//! other workers, never through the scheduler), hands them to the executor
//! threads, serves its results to the client and to other workers, and leaves
//! on the scheduler's word.

pub mod arrays;
mod busy;
mod cpu;
pub mod executor;
mod freed;
mod inputs;
#[cfg(test)]
mod loop_tests;
mod pause;
pub mod store;
mod task_panics;

use crate::comm::bytes::Bytes;
use crate::comm::codec;
use crate::comm::transport::{Envelope, Rank, Transport, TAG_ABORT, TAG_CONTROL, TAG_LOCAL};
use crate::diagnostics::events::{self, CollectiveEvent, TransferEvent};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::{
    ClientToWorker, ComputeSpec, DataToClient, DataToWorker, Input, SchedulerToWorker, WorkerInfo,
    WorkerToClient, WorkerToScheduler, WorkerToWorker, BESIDE_BYTES,
};
use crate::protocol::{CLIENT, FIRST_WORKER, SCHEDULER};
use crate::task::shipping::FnRef;
use crate::task::{with_section_group, FailureKind, Key, TaskFailure, RETURNED_ERR};
use crate::Group;
use executor::{Executor, FLUSH_AFTER};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::MemoryPolicy;

/// How often a paused worker looks at its memory again.
const PAUSED_POLL: Duration = Duration::from_millis(5);

/// The workers group must hold world ranks 2.. in order, this one included.
pub fn check_workers_group(workers: &Group, rank: usize) -> Result<()> {
    let members = workers.allgather(&rank)?;
    let expected: Vec<usize> = (FIRST_WORKER..FIRST_WORKER + workers.size()).collect();
    if members != expected || members.get(workers.rank()) != Some(&rank) {
        return Err(Error::protocol(format!(
            "the workers group holds world ranks {members:?}, expected {expected:?}"
        )));
    }
    log::debug!(
        "workers group: rank {} of {}",
        workers.rank(),
        workers.size()
    );
    Ok(())
}

struct Worker {
    rank: Rank,
    fingerprint: u64,
    /// The workers-only group, lent to SPMD sections.
    group: Option<Group>,
    /// The client+workers group (the client is its rank 0), for broadcasts.
    members: Option<Group>,
    executor: Arc<Executor>,
    outbox: Arc<dyn crate::comm::transport::Outbox>,
    /// Tasks waiting for inputs.
    inputs: inputs::Inputs,
    /// Fetches of keys this worker is promised but does not hold yet.
    parked_fetches: HashMap<Key, Vec<Rank>>,
    /// Keys freed here lately: a fetch of one is answered `Gone`.
    freed: freed::Freed,
    /// Keys being copied here for `replicate`.
    acquiring: std::collections::HashSet<Key>,
    /// When the executors' finished tasks are sent on at the latest (a
    /// local notice starts the wait; see `FLUSH_AFTER`).
    flush_at: Option<Instant>,
    /// Bytes of data this worker may hold (`WorkerInfo::memory_limit`).
    memory_limit: u64,
    /// Tasks held back while memory is over the pause fraction.
    pause: pause::Pause,
    /// When each input fetched from a peer was asked for (µs since the Unix
    /// epoch), while task events are recorded.
    fetch_started: HashMap<Key, u64>,
    /// Says the worker is alive while its loop is in a collective.
    heart: busy::Heart,
}

/// Serves until the scheduler says `Shutdown` (`Ok`) or `Abort` (`Err`).
/// `workers` is the workers-only group, for SPMD sections; `members` the
/// client+workers group, for broadcasts from the client; `memory` how the
/// store spills and when the worker pauses.
pub fn run(
    transport: &mut dyn Transport,
    info: WorkerInfo,
    fingerprint: u64,
    workers: Option<Group>,
    members: Option<Group>,
    memory: MemoryPolicy,
) -> Result<()> {
    let outbox = transport.outbox();
    let _cpu = cpu::register_thread(info.rank);
    log::info!(
        "worker up on {} (pid {}, {} threads)",
        info.hostname,
        info.pid,
        info.threads
    );
    let executor = Executor::start(info.rank, info.threads, fingerprint, outbox.clone(), memory)?;
    executor::enter(&executor);
    let mut w = Worker {
        rank: info.rank,
        fingerprint,
        group: workers,
        members,
        executor,
        outbox: outbox.clone(),
        inputs: inputs::Inputs::default(),
        parked_fetches: HashMap::new(),
        freed: Default::default(),
        acquiring: Default::default(),
        flush_at: None,
        memory_limit: info.memory_limit,
        pause: pause::Pause::default(),
        fetch_started: HashMap::new(),
        heart: busy::Heart::start(info.rank, outbox.clone()),
    };
    let hello = WorkerToScheduler::Register { info, fingerprint };
    outbox.send(SCHEDULER, TAG_CONTROL, codec::encode(&hello)?)?;
    let outcome = w.serve(transport);
    w.executor.stop();
    w.executor.store.close();
    outcome
}

impl Worker {
    fn serve(&mut self, transport: &mut dyn Transport) -> Result<()> {
        loop {
            // The next flush: of the notices, or of the task events.
            let next = match (self.flush_at, self.executor.events_due()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let mut timeout = next.map(|t| t.saturating_duration_since(Instant::now()));
            if self.pause.paused() {
                timeout = Some(timeout.map_or(PAUSED_POLL, |t| t.min(PAUSED_POLL)));
            }
            let Some(envelope) = transport.recv_timeout(timeout)? else {
                // Not paused, only a flush timer can have run out.
                let due = next.is_some_and(|t| Instant::now() >= t);
                if due || !self.pause.paused() {
                    self.flush_at = None;
                    self.executor.flush();
                }
                self.check_pause()?;
                continue;
            };
            if next.is_some_and(|t| Instant::now() >= t) {
                self.flush_at = None;
                self.executor.flush();
            }
            if self.handle(envelope)? {
                return Ok(());
            }
            self.check_pause()?;
        }
    }

    /// Pauses or resumes by memory, telling the scheduler of a change.
    fn check_pause(&mut self) -> Result<()> {
        match self.pause.check(&self.executor, self.rank) {
            Some(paused) => self.reply(SCHEDULER, &WorkerToScheduler::Paused { paused }),
            None => Ok(()),
        }
    }

    /// Handles one message; `true` when it is time to leave.
    fn handle(&mut self, envelope: Envelope) -> Result<bool> {
        match (envelope.tag, envelope.source) {
            (TAG_LOCAL, _) => {
                self.flush_at.get_or_insert(Instant::now() + FLUSH_AFTER);
            }
            (TAG_ABORT, source) => {
                let why = String::from_utf8_lossy(&envelope.payload).into_owned();
                return Err(Error::new(
                    ErrorKind::Transport,
                    format!("rank {source} failed: {why}"),
                ));
            }
            (_, SCHEDULER) => match codec::decode::<SchedulerToWorker>(&envelope.payload) {
                Ok(SchedulerToWorker::Shutdown) => {
                    // Nothing may be sent after the goodbye.
                    self.executor.finish();
                    let bye = codec::encode(&WorkerToScheduler::Goodbye)?;
                    self.outbox.send(SCHEDULER, TAG_CONTROL, bye)?;
                    log::info!("worker shutting down");
                    return Ok(true);
                }
                // The reason says why: different executables at start-up, or
                // a rank that died or stopped answering later.
                Ok(SchedulerToWorker::Abort { reason }) => {
                    return Err(Error::new(ErrorKind::Aborted, reason));
                }
                Ok(SchedulerToWorker::Compute { tasks }) => self.compute(tasks)?,
                Ok(SchedulerToWorker::Acquire { key, from }) => {
                    if self.executor.store.contains(key) {
                        self.reply(SCHEDULER, &WorkerToScheduler::Acquired { key })?;
                    } else if self.acquiring.insert(key) {
                        self.reply(from, &WorkerToWorker::Fetch { keys: vec![key] })?;
                    }
                }
                Ok(SchedulerToWorker::Steal { keys }) => {
                    let mut taken = self.executor.steal(&keys);
                    taken.extend(self.pause.steal(&keys));
                    // Tasks still waiting for inputs can go too.
                    for k in &keys {
                        if self.inputs.steal(*k) {
                            taken.push(*k);
                        }
                    }
                    let stolen = WorkerToScheduler::Stolen {
                        asked: keys,
                        keys: taken,
                    };
                    self.reply(SCHEDULER, &stolen)?;
                }
                Ok(SchedulerToWorker::Heartbeat) => {
                    let cpu_us = cpu::used_us(self.rank);
                    self.reply(SCHEDULER, &WorkerToScheduler::Alive { cpu_us })?;
                }
                Ok(SchedulerToWorker::Free { keys }) => self.free(keys)?,
                Ok(SchedulerToWorker::RecordEvents { on }) => {
                    self.executor.set_recording(on);
                    if !on {
                        self.fetch_started.clear();
                    }
                }
                Ok(SchedulerToWorker::FlushEvents { id }) => {
                    self.executor.flush_events();
                    self.reply(SCHEDULER, &WorkerToScheduler::FlushedEvents { id })?;
                }
                Err(e) => log::error!("dropping a malformed message from the scheduler: {e}"),
            },
            (_, CLIENT) => match codec::decode::<ClientToWorker>(&envelope.payload) {
                Ok(ClientToWorker::Ping { id }) => {
                    self.reply(CLIENT, &WorkerToClient::Pong { id })?;
                }
                Ok(ClientToWorker::Fetch { key }) => match self.executor.store.get(key) {
                    // A large value goes beside the answer, the stored
                    // buffer itself.
                    Some(held) if held.len() >= BESIDE_BYTES => {
                        let sent =
                            codec::encode(&WorkerToClient::DataBeside { key }).and_then(|m| {
                                self.outbox
                                    .send_with_bodies(CLIENT, TAG_CONTROL, m, vec![held])
                            });
                        left_is_fine(CLIENT, sent)?;
                    }
                    held => {
                        let bytes = held.as_deref().map(|b| Bytes(b));
                        self.answer(CLIENT, &DataToClient::Data { key, bytes })?;
                    }
                },
                Ok(ClientToWorker::Put { key, bytes }) => self.arrived(key, Arc::new(bytes))?,
                Ok(ClientToWorker::PutBeside { key }) => {
                    match <[_; 1]>::try_from(envelope.bodies) {
                        // The received buffer is kept as it is.
                        Ok([bytes]) => self.arrived(key, bytes)?,
                        Err(bodies) => log::error!(
                            "dropping the client's put of {key}: {} values beside it, 1 announced",
                            bodies.len()
                        ),
                    }
                }
                Ok(ClientToWorker::Run { id, function, arg }) => {
                    let start = events::now_us();
                    let outcome = self.call(&function, arg);
                    self.collective("run", Some(function), start);
                    self.reply(CLIENT, &WorkerToClient::Reply { id, outcome })?;
                }
                Ok(ClientToWorker::SetVar { id, name, bytes }) => {
                    self.executor
                        .vars
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(name, Arc::new(bytes));
                    let outcome = Ok(Vec::new());
                    self.reply(CLIENT, &WorkerToClient::Reply { id, outcome })?;
                }
                Ok(ClientToWorker::GetVar { id, name }) => {
                    let value = self
                        .executor
                        .vars
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(&name)
                        .map(|b| b.to_vec());
                    let outcome = value.ok_or_else(|| TaskFailure {
                        kind: FailureKind::Refused,
                        message: format!(
                            "worker {} has no variable named {name:?} (never pushed)",
                            self.rank
                        ),
                        key: Key(0),
                        worker: Some(self.rank),
                        root: None,
                    });
                    self.reply(CLIENT, &WorkerToClient::Reply { id, outcome })?;
                }
                Ok(ClientToWorker::Bcast {
                    id,
                    key,
                    prefix_len,
                    data_len,
                }) => {
                    let start = events::now_us();
                    let busy = self.heart.enter();
                    let outcome = self.receive_broadcast(key, prefix_len, data_len);
                    drop(busy);
                    self.collective("bcast", None, start);
                    self.reply(CLIENT, &WorkerToClient::Reply { id, outcome })?;
                }
                Ok(ClientToWorker::ScatterArray {
                    id,
                    name,
                    trailing,
                    elem_size,
                }) => {
                    let start = events::now_us();
                    let busy = self.heart.enter();
                    let outcome = self.receive_rows(&name, &trailing, elem_size);
                    drop(busy);
                    self.collective("scatter", None, start);
                    self.reply(CLIENT, &WorkerToClient::Reply { id, outcome })?;
                }
                Ok(ClientToWorker::ArrayShape { id, name }) => {
                    let outcome = self
                        .array_var(&name)
                        .and_then(|(shape, _)| codec::encode(&shape))
                        .map_err(|e| self.refusal(e.message().to_string()));
                    self.reply(CLIENT, &WorkerToClient::Reply { id, outcome })?;
                }
                Ok(ClientToWorker::GatherArray { id, name }) => {
                    let start = events::now_us();
                    let busy = self.heart.enter();
                    let outcome = self.send_rows(&name);
                    drop(busy);
                    self.collective("gather", None, start);
                    self.reply(CLIENT, &WorkerToClient::Reply { id, outcome })?;
                }
                Ok(ClientToWorker::Section { id, function, arg }) => {
                    let start = events::now_us();
                    let mut group = self.group.take();
                    let busy = self.heart.enter();
                    let outcome = with_section_group(&mut group, || self.call(&function, arg));
                    drop(busy);
                    self.group = group;
                    self.collective("section", Some(function), start);
                    if let Err(f) = &outcome {
                        if matches!(f.kind, FailureKind::Panicked | FailureKind::Returned) {
                            // The other members may wait in a collective for
                            // this one: fail the group so they do not hang.
                            let how = if f.kind == FailureKind::Panicked {
                                "panicked"
                            } else {
                                "returned an error"
                            };
                            if let Some(g) = &self.group {
                                g.fail(&format!(
                                    "an SPMD section {how} on worker {}: {}",
                                    self.rank, f.message
                                ));
                            }
                        }
                    }
                    self.reply(CLIENT, &WorkerToClient::Reply { id, outcome })?;
                }
                Ok(ClientToWorker::MembersSection { id, function, arg }) => {
                    let start = events::now_us();
                    let outcome = match self.members.take() {
                        Some(members) => {
                            let mut group = Some(members);
                            let busy = self.heart.enter();
                            let outcome =
                                with_section_group(&mut group, || self.call(&function, arg));
                            drop(busy);
                            self.members = group;
                            if let (Err(f), Some(g)) = (&outcome, &self.members) {
                                g.fail(&format!(
                                    "a section with the client failed on worker {}: {}",
                                    self.rank, f.message
                                ));
                            }
                            outcome
                        }
                        None => Err(self.refusal("this worker has no client+workers group".into())),
                    };
                    self.collective("section", Some(function), start);
                    self.reply(CLIENT, &WorkerToClient::Reply { id, outcome })?;
                }
                Err(e) => log::error!("dropping a malformed message from the client: {e}"),
            },
            (_, peer) => match codec::decode::<WorkerToWorker>(&envelope.payload) {
                Ok(WorkerToWorker::Fetch { keys }) => {
                    let (mut held, mut gone) = (Vec::new(), Vec::new());
                    for k in keys {
                        match self.executor.store.get(k) {
                            Some(b) => held.push((k, b)),
                            None if self.freed.contains(k) || self.executor.store.lost(k) => {
                                gone.push(k)
                            }
                            // On its way here (a client's `Put`).
                            None => self.parked_fetches.entry(k).or_default().push(peer),
                        }
                    }
                    if !held.is_empty() {
                        self.send_data(peer, &held)?;
                    }
                    if !gone.is_empty() {
                        self.answer(peer, &WorkerToWorker::Gone { keys: gone })?;
                    }
                }
                Ok(WorkerToWorker::Gone { keys }) => self.inputs_gone(peer, keys)?,
                Ok(WorkerToWorker::Data { items, beside })
                    if beside.len() != envelope.bodies.len() =>
                {
                    log::error!(
                        "dropping data from rank {peer}: {} values beside it, {} announced",
                        envelope.bodies.len(),
                        beside.len()
                    );
                    // Tasks waiting for these keys learn they will not come.
                    let keys = items.into_iter().map(|(k, _)| k).chain(beside).collect();
                    self.inputs_gone(peer, keys)?;
                }
                Ok(WorkerToWorker::Data { items, beside }) => {
                    let inside = items.into_iter().map(|(k, b)| (k, Arc::new(b)));
                    for (k, bytes) in inside.chain(beside.into_iter().zip(envelope.bodies)) {
                        self.transferred(k, peer, bytes.len() as u64);
                        if self.acquiring.remove(&k) {
                            self.executor.store.put(k, bytes.clone());
                            self.reply(SCHEDULER, &WorkerToScheduler::Acquired { key: k })?;
                        }
                        self.input_arrived(k, bytes);
                    }
                }
                Err(e) => log::error!("dropping a malformed message from rank {peer}: {e}"),
            },
        }
        Ok(false)
    }

    /// Records this worker's part in a collective, or a `run` call, that
    /// began at `start_us`; `function` is what a section or `run` called.
    fn collective(&self, kind: &str, function: Option<FnRef>, start_us: u64) {
        let worker = self.rank;
        self.executor.record_events(|b| {
            b.collectives.push(CollectiveEvent {
                kind: kind.to_string(),
                function,
                worker,
                start_us,
                stop_us: events::now_us(),
            })
        });
    }

    /// Records the arrival of `key` from `from`, if its fetch was timed.
    fn transferred(&mut self, key: Key, from: Rank, bytes: u64) {
        if let Some(start_us) = self.fetch_started.remove(&key) {
            let to = self.rank;
            self.executor.record_events(|b| {
                b.transfers.push(TransferEvent {
                    key,
                    from,
                    to,
                    bytes,
                    start_us,
                    stop_us: events::now_us(),
                })
            });
        }
    }

    fn refusal(&self, message: String) -> TaskFailure {
        TaskFailure {
            kind: FailureKind::Refused,
            message,
            key: Key(0),
            worker: Some(self.rank),
            root: None,
        }
    }

    /// The shape and bytes of array variable `name`.
    fn array_var(&self, name: &str) -> Result<(Vec<u64>, Arc<Vec<u8>>)> {
        let bytes = self
            .executor
            .vars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| {
                Error::invalid(format!(
                    "worker {} has no variable named {name:?} (never scattered)",
                    self.rank
                ))
            })?;
        let (shape, _) = arrays::split_rows(&bytes)?;
        Ok((shape, bytes))
    }

    /// Takes part in the client's scatterv of rows and keeps them as `name`.
    fn receive_rows(
        &mut self,
        name: &str,
        trailing: &[u64],
        elem_size: u64,
    ) -> std::result::Result<Vec<u8>, TaskFailure> {
        let Some(members) = &self.members else {
            return Err(self.refusal("this worker has no client+workers group".into()));
        };
        let row_bytes = (trailing.iter().product::<u64>() * elem_size).max(1);
        // The rows land right after the variable's (shape, length) prefix.
        let bytes = members
            .scatterv_bytes_after(0, |count| {
                let mut shape = vec![count as u64 / row_bytes];
                shape.extend_from_slice(trailing);
                arrays::encode_rows(&shape, count as u64 / elem_size.max(1), &[])
            })
            .map_err(|e| self.refusal(e.to_string()))?;
        self.executor
            .vars
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), Arc::new(bytes));
        Ok(Vec::new())
    }

    /// Takes part in the client's gatherv of array variable `name`. The
    /// client asked every worker for the shape first, so the variable is here.
    fn send_rows(&self, name: &str) -> std::result::Result<Vec<u8>, TaskFailure> {
        let Some(members) = &self.members else {
            return Err(self.refusal("this worker has no client+workers group".into()));
        };
        let (held, bytes) = match self.array_var(name) {
            Ok((_, bytes)) => (true, bytes),
            Err(_) => (false, Arc::new(Vec::new())),
        };
        let rows = if held {
            arrays::split_rows(&bytes).map(|(_, r)| r).unwrap_or(&[])
        } else {
            &[]
        };
        members
            .gather_into::<u8>(rows, None, 0)
            .map_err(|e| self.refusal(e.to_string()))?;
        Ok(Vec::new())
    }

    /// Takes part in the client's broadcast and keeps the bytes under `key`.
    fn receive_broadcast(
        &mut self,
        key: Option<Key>,
        prefix_len: u64,
        data_len: u64,
    ) -> std::result::Result<Vec<u8>, TaskFailure> {
        let failure = |message: String| TaskFailure {
            kind: FailureKind::Refused,
            message,
            key: key.unwrap_or(Key(0)),
            worker: Some(self.rank),
            root: None,
        };
        let Some(members) = &self.members else {
            return Err(failure("this worker has no client+workers group".into()));
        };
        let (p, d) = (prefix_len as usize, data_len as usize);
        let limit = self.memory_limit;
        if (p as u64).saturating_add(d as u64) > limit {
            return Err(failure(format!(
                "a broadcast of {} bytes is over this worker's memory limit of {limit} bytes",
                p.saturating_add(d)
            )));
        }
        let mut buf = zeroed_bytes(p + d);
        let (prefix, data) = buf.split_at_mut(p);
        let received = members
            .bcast_into(prefix, 0)
            .and_then(|()| members.bcast_into(data, 0));
        received.map_err(|e| failure(e.to_string()))?;
        if let Some(key) = key {
            let bytes = Arc::new(buf);
            self.executor.store.put(key, bytes.clone());
            self.input_arrived(key, bytes);
        }
        Ok(Vec::new())
    }

    /// Calls a function shipped for `run` or a section, on this thread,
    /// catching a panic.
    fn call(
        &self,
        function: &crate::task::shipping::FnRef,
        arg: Vec<u8>,
    ) -> std::result::Result<Vec<u8>, TaskFailure> {
        let failure = |kind, message| TaskFailure {
            kind,
            message,
            key: Key(0),
            worker: Some(self.rank),
            root: None,
        };
        match task_panics::catching(|| function.call(self.fingerprint, vec![Arc::new(arg)])) {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(message)) => Err(match message.strip_prefix(RETURNED_ERR) {
                Some(text) => failure(FailureKind::Returned, text.to_string()),
                None => failure(FailureKind::Refused, message),
            }),
            Err(p) => Err(failure(
                FailureKind::Panicked,
                crate::error::panic_text(p.as_ref()),
            )),
        }
    }

    fn reply<M: serde::Serialize>(&self, to: Rank, message: &M) -> Result<()> {
        self.outbox.send(to, TAG_CONTROL, codec::encode(message)?)
    }

    /// Sends the data a peer fetched. A peer that has left since it asked
    /// (the client or a worker on its way out at shutdown) needs it no more:
    /// that is not this worker's failure. Under MPI such a send succeeds
    /// (the peer drains until every rank has closed); in-process the peer's
    /// channel is gone, and the error is dropped here.
    fn answer<M: serde::Serialize>(&self, to: Rank, message: &M) -> Result<()> {
        left_is_fine(to, self.reply(to, message))
    }

    /// Sends `peer` the values it fetched: the small ones inside one
    /// `Data` message, those of [`BESIDE_BYTES`] or more beside it, shared
    /// with the store, never copied.
    fn send_data(&self, peer: Rank, held: &[(Key, Arc<Vec<u8>>)]) -> Result<()> {
        let (big, small): (Vec<_>, Vec<_>) =
            held.iter().partition(|(_, b)| b.len() >= BESIDE_BYTES);
        let mut items: Vec<(Key, Bytes)> = small.iter().map(|(k, b)| (*k, Bytes(b))).collect();
        let limit = self.outbox.max_message_bytes();
        let mut size = DATA_HEADER_BYTES
            + small
                .iter()
                .map(|(_, b)| b.len() + DATA_ITEM_BYTES)
                .sum::<usize>();
        let mut rest = &big[..];
        // At least one message (the small values). Beside each at most
        // BESIDE_PER_MESSAGE bodies, and no more bytes than the ranks accept
        // in one message, unless a single value is larger on its own (the
        // receiver then refuses it with an error naming the limit).
        loop {
            let mut n = 0;
            while n < rest.len() && n < BESIDE_PER_MESSAGE {
                let len = rest[n].1.len() + DATA_ITEM_BYTES;
                let alone = n == 0 && items.is_empty();
                if !alone && size.saturating_add(len) > limit {
                    break;
                }
                size = size.saturating_add(len);
                n += 1;
            }
            let (chunk, tail) = rest.split_at(n);
            let message = DataToWorker::Data {
                items: std::mem::take(&mut items),
                beside: chunk.iter().map(|(k, _)| *k).collect(),
            };
            let bodies = chunk.iter().map(|(_, b)| b.clone()).collect();
            let sent = codec::encode(&message)
                .and_then(|m| self.outbox.send_with_bodies(peer, TAG_CONTROL, m, bodies));
            left_is_fine(peer, sent)?;
            rest = tail;
            size = DATA_HEADER_BYTES;
            if rest.is_empty() {
                return Ok(());
            }
        }
    }

    /// New tasks: those with every input here start; the rest wait for data.
    fn compute(&mut self, tasks: Vec<ComputeSpec>) -> Result<()> {
        let mut ready = Vec::new();
        let mut fetch: BTreeMap<Rank, Vec<Key>> = BTreeMap::new();
        let mut lost = Vec::new();
        for spec in tasks {
            let store = &self.executor.store;
            lost.extend(spec.inputs.iter().filter_map(|i| match i {
                Input::Local(k) if store.lost(*k) => Some(*k),
                _ => None,
            }));
            let admitted = self.inputs.admit(spec, |k| store.get(k));
            ready.extend(admitted.ready);
            for (peer, key) in admitted.fetch {
                fetch.entry(peer).or_default().push(key);
            }
        }
        self.pause.start(&self.executor, ready);
        if self.executor.recording() && !fetch.is_empty() {
            let now = events::now_us();
            for k in fetch.values().flatten() {
                self.fetch_started.insert(*k, now);
            }
        }
        for (peer, keys) in fetch {
            self.reply(peer, &WorkerToWorker::Fetch { keys })?;
        }
        // A local input whose spill file could not be read back will not
        // come: those tasks go back to the scheduler (placed again, or
        // failed as Lost), rather than waiting for ever.
        if !lost.is_empty() {
            lost.sort_unstable();
            lost.dedup();
            self.inputs_gone(self.rank, lost)?;
        }
        Ok(())
    }

    /// The scheduler freed `keys`: drop them, and answer the fetches parked
    /// for them (their data will never come) with `Gone`.
    fn free(&mut self, keys: Vec<Key>) -> Result<()> {
        let mut gone: BTreeMap<Rank, Vec<Key>> = BTreeMap::new();
        for k in keys {
            self.executor.store.free(k);
            self.freed.insert(k);
            for p in self.parked_fetches.remove(&k).unwrap_or_default() {
                gone.entry(p).or_default().push(k);
            }
        }
        for (peer, keys) in gone {
            self.answer(peer, &WorkerToWorker::Gone { keys })?;
        }
        Ok(())
    }

    /// `peer` says `keys` are gone from it: the tasks waiting for them go
    /// back to the scheduler, which places them again or fails them.
    fn inputs_gone(&mut self, peer: Rank, keys: Vec<Key>) -> Result<()> {
        log::debug!("rank {peer} no longer holds {keys:?}");
        let mut tasks = Vec::new();
        for k in &keys {
            if self.acquiring.remove(k) {
                log::debug!("cannot copy {k} for replicate: rank {peer} no longer holds it");
                let failed = WorkerToScheduler::AcquireFailed {
                    key: *k,
                    from: peer,
                };
                self.reply(SCHEDULER, &failed)?;
            }
            self.fetch_started.remove(k);
            tasks.extend(self.inputs.gone(*k));
        }
        if tasks.is_empty() {
            return Ok(());
        }
        self.reply(SCHEDULER, &WorkerToScheduler::InputsGone { tasks, keys })
    }

    /// Data the client put here: keep it, answer parked fetches, feed tasks.
    fn arrived(&mut self, key: Key, bytes: Arc<Vec<u8>>) -> Result<()> {
        self.freed.remove(key);
        self.executor.store.put(key, bytes.clone());
        if let Some(peers) = self.parked_fetches.remove(&key) {
            let held = [(key, bytes.clone())];
            for p in peers {
                self.send_data(p, &held)?;
            }
        }
        self.input_arrived(key, bytes);
        Ok(())
    }

    /// An input reached this worker: fill it into the tasks that need it.
    fn input_arrived(&mut self, key: Key, bytes: Arc<Vec<u8>>) {
        let ready = self.inputs.arrived(key, &bytes);
        // Let go of this count before the tasks start: an input held by its
        // task alone becomes the argument without a copy.
        drop(bytes);
        self.pause.start(&self.executor, ready);
    }
}

/// Most values beside one `Data` message (a transport carries at most
/// `comm::pieces::MAX_SEGMENTS - 1`); a fetch of more is answered in several.
const BESIDE_PER_MESSAGE: usize = 1024;
/// A bound on a `Data` message's encoding apart from its values: its tag
/// and lengths.
const DATA_HEADER_BYTES: usize = 64;
/// A bound on the bytes a value adds to a `Data` message besides its own:
/// its key and length.
const DATA_ITEM_BYTES: usize = 32;

/// What a send to `to` that it may have left before came to: a transport
/// error (it has left) is logged and dropped (see `Worker::answer`).
fn left_is_fine(to: Rank, sent: Result<()>) -> Result<()> {
    match sent {
        Err(e) if e.kind() == ErrorKind::Transport => {
            log::debug!("rank {to} left before its data was sent: {e}");
            Ok(())
        }
        other => other,
    }
}

/// `n` zero bytes as fresh zeroed pages from the allocator, none written:
/// `resize` would write every byte first, and for a 256 MiB broadcast that
/// memset cost as much as the broadcast itself (0.61-0.70 of raw rsmpi's
/// speed with it, 1.03-1.06 without, `mpirun -n 4 bench_broadcast 256 5`).
/// No fallible reservation first: freeing a probe of that size makes glibc
/// serve the next one from the heap, written again (0.80-0.94). Callers
/// check the size against the memory limit.
fn zeroed_bytes(n: usize) -> Vec<u8> {
    vec![0u8; n]
}
