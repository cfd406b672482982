//! What the client knows about its futures, and how threads wait for news.
//!
//! Messages for the client (results from workers, failures and pongs from the
//! scheduler) are received by whichever waiting thread holds the transport
//! (leader/follower): a single-threaded program pays no thread switch, and
//! several threads can wait on futures at once, the others sleeping on a
//! condition variable until the receiver reports a change (or gives up the
//! transport, so that one of them takes over): no thread wakes on a timer.

use super::completion::Completions;
use super::placed::PlacedArgs;
use crate::comm::codec;
use crate::comm::transport::{Envelope, Outbox, Rank, Transport, TAG_ABORT, TAG_CONTROL};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::{
    ClientToScheduler, ClientToWorker, Delivered, SchedulerToClient, WorkerToClient,
};
use crate::protocol::{BESIDE_BYTES, SCHEDULER};
use crate::task::{Key, TaskFailure};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Releases are sent in batches of this many (or at the next client call).
const RELEASE_BATCH: usize = 1024;

/// Longest single wait for a message by the receiving thread, after which it
/// checks its own condition and deadline again.
const RECV_SLICE: Duration = Duration::from_millis(50);

/// A worker's answer to a direct request: the encoded result, or why not.
pub(crate) type Reply = std::result::Result<Vec<u8>, TaskFailure>;

/// Where a future's result stands.
#[derive(Debug, Clone)]
pub(crate) enum Status {
    Pending,
    Value(Arc<Vec<u8>>),
    Stored { worker: Rank, fetching: bool },
    Failed(TaskFailure),
    Cancelled,
}

#[derive(Debug)]
pub(crate) struct Entry {
    pub refs: usize,
    pub status: Status,
    /// Order in which results arrived, for `as_completed`.
    pub done_seq: u64,
    /// Content hashes of the placed arguments this task uses (one each time
    /// it uses one), released with it.
    pub placed: Vec<u64>,
    /// The function of a submitted task (`None` for data the client put on
    /// a worker), for progress per function.
    pub function: Option<crate::task::shipping::FnRef>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub entries: HashMap<Key, Entry>,
    pub completions: u64,
    /// Completion queues of the threads waiting in `as_completed`, `wait`
    /// and `gather`.
    pub queues: Completions,
    /// A thread holds the transport and receives for everyone; the others
    /// sleep on the condition variable until it reports or leaves.
    pub receiving: bool,
    /// Large arguments put on workers, shared between batches.
    pub placed: PlacedArgs,
    /// Results workers have pushed here (values and notices of stored ones).
    pub pushed: u64,
    pub pongs: HashSet<u64>,
    pub finished: bool,
    pub closed: Option<String>,
    pub releases: Vec<Key>,
    /// Answers to direct requests (`run`, `push`, `pull`, `spmd`), by id.
    pub replies: HashMap<u64, (Rank, Reply)>,
    /// Answers to `replicate`, by id.
    pub replicated: HashMap<u64, std::result::Result<usize, String>>,
    /// Answers to `who_has`, by id.
    pub holders: HashMap<u64, Vec<(Key, Vec<Rank>)>>,
    /// Answers to task-event requests, by id.
    pub events: HashMap<u64, crate::diagnostics::events::EventBatch>,
    /// Submits held back to go out as one message (see
    /// `Client::in_one_message`).
    pub batch: Option<Batch>,
    /// Functions whose names the scheduler has been sent.
    pub named: HashSet<crate::task::shipping::FnRef>,
    /// The watchdog time for the scheduler (see `watch_scheduler`).
    pub watchdog: Option<Duration>,
    /// When the scheduler was last heard from.
    pub heard_scheduler: Option<Instant>,
    /// When the unanswered watchdog ping to the scheduler went out.
    pub watch_ping: Option<Instant>,
    /// The watchdog found the scheduler stuck (`closed` says how).
    pub scheduler_stuck: bool,
}

/// The id of the client's watchdog pings to the scheduler.
const WATCH_PING: u64 = u64::MAX;

/// Tasks and placed arguments one thread registered inside
/// `Client::in_one_message`, not sent yet.
#[derive(Debug)]
pub(crate) struct Batch {
    /// The thread whose submits are held back; other threads' go out at once.
    pub thread: std::thread::ThreadId,
    pub tasks: Vec<crate::protocol::TaskSpec>,
    pub placed: Vec<crate::protocol::Placed>,
}

impl State {
    fn complete(&mut self, key: Key, status: Status) {
        if let Some(e) = self.entries.get_mut(&key) {
            let open = match (&e.status, &status) {
                (Status::Pending | Status::Stored { .. }, _) => true,
                // A failed task that a retry of another one re-ran, before
                // the scheduler's word that it runs again arrived.
                (Status::Failed(_), Status::Value(_) | Status::Stored { .. }) => true,
                _ => false,
            };
            if open {
                self.completions += 1;
                let ends = !matches!(e.status, Status::Stored { .. });
                if ends {
                    e.done_seq = self.completions;
                }
                e.status = status;
                if ends {
                    self.queues.ended(key);
                }
            }
        }
    }

    /// Marks `key` cancelled here (the scheduler is told separately).
    pub fn cancel(&mut self, key: Key) {
        if let Some(e) = self.entries.get_mut(&key) {
            let was_pending = matches!(e.status, Status::Pending);
            e.status = Status::Cancelled;
            if was_pending {
                self.completions += 1;
                e.done_seq = self.completions;
                self.queues.ended(key);
            }
        }
    }

    /// Whether `key` has ended (finished, failed or cancelled) and, if so,
    /// its place in the order of ends. A key the client no longer knows
    /// counts as ended, so that nobody waits for it forever.
    pub fn ended_at(&self, key: Key) -> Option<u64> {
        match self.entries.get(&key) {
            Some(e) if matches!(e.status, Status::Pending) => None,
            Some(e) => Some(e.done_seq),
            None => Some(0),
        }
    }
}

/// The state shared by the client handle and its futures.
pub(crate) struct Inner {
    pub transport: Mutex<Option<Box<dyn Transport>>>,
    pub outbox: Arc<dyn Outbox>,
    pub state: Mutex<State>,
    pub changed: Condvar,
    pub fingerprint: u64,
    pub worker_ranks: Vec<Rank>,
    pub next_worker: AtomicUsize,
    pub nonce: AtomicU64,
    pub next_id: AtomicU64,
    /// Whether workers were last told to record task events.
    pub recording: std::sync::atomic::AtomicBool,
}

impl Inner {
    /// A client's shared state: sending through `outbox`, receiving through
    /// `transport` (`None` in tests that feed messages by hand), with no
    /// key tracked yet.
    pub fn new(
        transport: Option<Box<dyn Transport>>,
        outbox: Arc<dyn Outbox>,
        fingerprint: u64,
        worker_ranks: Vec<Rank>,
    ) -> Inner {
        Inner {
            transport: Mutex::new(transport),
            outbox,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            fingerprint,
            worker_ranks,
            next_worker: AtomicUsize::new(0),
            nonce: AtomicU64::new(0),
            next_id: AtomicU64::new(0),
            recording: Default::default(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn send_scheduler(&self, message: &ClientToScheduler) -> Result<()> {
        self.outbox
            .send(SCHEDULER, TAG_CONTROL, codec::encode(message)?)
    }

    pub fn send_worker(&self, rank: Rank, message: &ClientToWorker) -> Result<()> {
        self.outbox.send(rank, TAG_CONTROL, codec::encode(message)?)
    }

    /// Starts tracking `key`, already in `status`, with one handle on it.
    pub fn hold(&self, key: Key, status: Status) {
        self.lock().entries.insert(
            key,
            Entry {
                refs: 1,
                status,
                done_seq: 0,
                placed: Vec::new(),
                function: None,
            },
        );
    }

    /// Puts `bytes` on `worker` under `key` (client to worker, never through
    /// the scheduler) and says where it is, for the scheduler. A value of
    /// [`BESIDE_BYTES`] or more travels beside its message, never copied
    /// into it.
    pub fn put_on(
        &self,
        worker: Rank,
        key: Key,
        bytes: Vec<u8>,
    ) -> Result<crate::protocol::Placed> {
        let nbytes = bytes.len() as u64;
        if bytes.len() >= BESIDE_BYTES {
            let message = codec::encode(&ClientToWorker::PutBeside { key })?;
            self.outbox
                .send_with_bodies(worker, TAG_CONTROL, message, vec![Arc::new(bytes)])?;
        } else {
            self.send_worker(worker, &ClientToWorker::Put { key, bytes })?;
        }
        Ok(crate::protocol::Placed {
            key,
            worker,
            nbytes,
        })
    }

    /// Sends the releases collected so far.
    pub fn flush_releases(&self) -> Result<()> {
        let mut st = self.lock();
        self.flush_releases_locked(&mut st)
    }

    /// Sends the releases collected so far, with the state lock held (`st`)
    /// until they are sent: a key's release then reaches the scheduler
    /// before any new submit of that key, which another thread can only
    /// register, and send, once it holds the lock.
    pub fn flush_releases_locked(&self, st: &mut State) -> Result<()> {
        if st.releases.is_empty() {
            return Ok(());
        }
        self.send_batch_locked(st)?;
        let keys = std::mem::take(&mut st.releases);
        self.send_scheduler(&ClientToScheduler::Release { keys })
    }

    /// Sends what a thread's `Client::in_one_message` batch holds so far (the
    /// batch stays open, empty). Called before any other Submit, Release or
    /// Cancel goes out: the keys a batch registered are visible to every
    /// thread at once, so a message about them must not reach the scheduler
    /// before the tasks themselves.
    pub fn send_batch_locked(&self, st: &mut State) -> Result<()> {
        let Some(batch) = st.batch.as_mut() else {
            return Ok(());
        };
        if batch.tasks.is_empty() && batch.placed.is_empty() {
            return Ok(());
        }
        let tasks = std::mem::take(&mut batch.tasks);
        let placed = std::mem::take(&mut batch.placed);
        self.submit_locked(st, tasks, placed)
    }

    /// Sends `tasks` and `placed` as one `Submit`, preceded by the names of
    /// the functions the scheduler has not heard of yet (once per function,
    /// so tasks carry no name on the wire).
    pub fn submit_locked(
        &self,
        st: &mut State,
        tasks: Vec<crate::protocol::TaskSpec>,
        placed: Vec<crate::protocol::Placed>,
    ) -> Result<()> {
        let mut names = Vec::new();
        let mut last = None;
        for t in &tasks {
            if last == Some(t.function) {
                continue;
            }
            last = Some(t.function);
            if st.named.insert(t.function) {
                if let Some(path) = crate::task::names::function_path(&t.function) {
                    names.push((t.function, path.to_string()));
                }
            }
        }
        if !names.is_empty() {
            self.send_scheduler(&ClientToScheduler::Names { names })?;
        }
        self.send_scheduler(&ClientToScheduler::Submit { tasks, placed })
    }

    /// One fewer handle on `key`; the last one releases it.
    pub fn drop_ref(&self, key: Key) {
        let mut st = self.lock();
        let Some(e) = st.entries.get_mut(&key) else {
            return;
        };
        e.refs = e.refs.saturating_sub(1);
        if e.refs > 0 {
            return;
        }
        let placed = st
            .entries
            .remove(&key)
            .map(|e| e.placed)
            .unwrap_or_default();
        if st.closed.is_some() {
            return;
        }
        st.releases.push(key);
        for content in placed {
            if let Some(k) = st.placed.release(content) {
                st.releases.push(k);
            }
        }
        if st.releases.len() >= RELEASE_BATCH {
            if let Err(e) = self.flush_releases_locked(&mut st) {
                log::warn!("could not send releases: {e}");
            }
        }
    }

    /// Applies one message to the state.
    pub(super) fn handle(&self, st: &mut State, envelope: Envelope) {
        if envelope.tag == TAG_ABORT {
            st.closed = Some(format!(
                "rank {} failed: {}",
                envelope.source,
                String::from_utf8_lossy(&envelope.payload)
            ));
            return;
        }
        if envelope.source == SCHEDULER {
            st.heard_scheduler = Some(Instant::now());
            match codec::decode::<SchedulerToClient>(&envelope.payload) {
                Ok(SchedulerToClient::Pong { id }) => {
                    st.pongs.insert(id);
                }
                Ok(SchedulerToClient::Finished) => st.finished = true,
                Ok(SchedulerToClient::Failed { failures }) => {
                    for f in failures {
                        let status = match f.kind {
                            crate::task::FailureKind::Cancelled => Status::Cancelled,
                            _ => Status::Failed(f.clone()),
                        };
                        st.complete(f.key, status);
                    }
                }
                Ok(SchedulerToClient::Abort { reason }) => st.closed = Some(reason),
                Ok(SchedulerToClient::Replicated { id, outcome }) => {
                    st.replicated.insert(id, outcome);
                }
                Ok(SchedulerToClient::Located { items }) => {
                    for (key, worker) in items {
                        let pending = st
                            .entries
                            .get(&key)
                            .is_some_and(|e| matches!(e.status, Status::Pending));
                        if pending {
                            st.complete(
                                key,
                                Status::Stored {
                                    worker,
                                    fetching: false,
                                },
                            );
                        }
                    }
                }
                Ok(SchedulerToClient::Retried { keys }) => {
                    for key in keys {
                        if let Some(e) = st.entries.get_mut(&key) {
                            if matches!(e.status, Status::Failed(_)) {
                                e.status = Status::Pending;
                            }
                        }
                    }
                }
                Ok(SchedulerToClient::Holders { id, holders }) => {
                    st.holders.insert(id, holders);
                }
                Ok(SchedulerToClient::Events { id, batch }) => {
                    st.events.insert(id, batch);
                }
                Ok(SchedulerToClient::Welcome { .. }) => {}
                Err(e) => log::error!("dropping a malformed message from the scheduler: {e}"),
            }
            return;
        }
        match codec::decode::<WorkerToClient>(&envelope.payload) {
            Ok(WorkerToClient::Pong { id }) => {
                st.pongs.insert(id);
            }
            Ok(WorkerToClient::Results { results }) => {
                st.pushed += results.len() as u64;
                for (key, delivered) in results {
                    let status = match delivered {
                        Delivered::Value(bytes) => Status::Value(Arc::new(bytes)),
                        Delivered::Stored { .. } => Status::Stored {
                            worker: envelope.source,
                            fetching: false,
                        },
                    };
                    st.complete(key, status);
                }
            }
            Ok(WorkerToClient::Reply { id, outcome }) => {
                st.replies.insert(id, (envelope.source, outcome));
            }
            Ok(WorkerToClient::DataBeside { key }) => {
                if let Some(e) = st.entries.get_mut(&key) {
                    e.status = match <[_; 1]>::try_from(envelope.bodies) {
                        // The received buffer is the value, as it is.
                        Ok([b]) => Status::Value(b),
                        Err(bodies) => Status::Failed(TaskFailure {
                            kind: crate::task::FailureKind::Refused,
                            message: format!(
                                "worker {} sent {} values beside the result, 1 announced",
                                envelope.source,
                                bodies.len()
                            ),
                            key,
                            worker: Some(envelope.source),
                            root: None,
                        }),
                    };
                }
            }
            Ok(WorkerToClient::Data { key, bytes }) => {
                if let Some(e) = st.entries.get_mut(&key) {
                    e.status = match bytes {
                        Some(b) => Status::Value(Arc::new(b)),
                        None => Status::Failed(TaskFailure {
                            kind: crate::task::FailureKind::Refused,
                            message: format!(
                                "worker {} no longer holds the result",
                                envelope.source
                            ),
                            key,
                            worker: Some(envelope.source),
                            root: None,
                        }),
                    };
                }
            }
            Err(e) => log::error!(
                "dropping a malformed message from rank {}: {e}",
                envelope.source
            ),
        }
    }

    /// Waits until `ready` holds, receiving messages meanwhile. Returns
    /// `Ok(false)` if `deadline` passes first, an error if the cluster is gone.
    ///
    /// One waiting thread at a time receives (it holds `receiving`); the
    /// others block on the condition variable, which the receiver signals
    /// after each batch of messages and when it stops receiving.
    pub fn wait_until(
        &self,
        deadline: Option<Instant>,
        mut ready: impl FnMut(&mut State) -> bool,
    ) -> Result<bool> {
        loop {
            let slice = {
                let mut st = self.lock();
                loop {
                    if ready(&mut st) {
                        return Ok(true);
                    }
                    if let Some(why) = &st.closed {
                        return Err(Error::new(ErrorKind::ShutDown, why.clone()));
                    }
                    let left = match deadline {
                        Some(d) => match d.checked_duration_since(Instant::now()) {
                            Some(left) if !left.is_zero() => Some(left),
                            _ => return Ok(false),
                        },
                        None => None,
                    };
                    if !st.receiving {
                        st.receiving = true;
                        break left.map_or(RECV_SLICE, |l| l.min(RECV_SLICE));
                    }
                    st = match left {
                        Some(l) => {
                            self.changed
                                .wait_timeout(st, l)
                                .unwrap_or_else(|e| e.into_inner())
                                .0
                        }
                        None => self.changed.wait(st).unwrap_or_else(|e| e.into_inner()),
                    };
                }
            };
            let received = self.receive(slice);
            self.lock().receiving = false;
            self.changed.notify_all();
            received?;
        }
    }

    /// As the receiving thread: waits up to `slice` for a message and applies
    /// it and whatever else has arrived.
    fn receive(&self, slice: Duration) -> Result<()> {
        let mut guard = self.transport.lock().unwrap_or_else(|e| e.into_inner());
        let Some(t) = guard.as_mut() else {
            return Err(Error::new(
                ErrorKind::ShutDown,
                "the client has been shut down",
            ));
        };
        match t.recv_timeout(Some(slice)) {
            Ok(Some(envelope)) => {
                let mut st = self.lock();
                self.handle(&mut st, envelope);
                // Take whatever else has arrived, without waiting.
                while let Ok(Some(more)) = t.recv_timeout(Some(Duration::ZERO)) {
                    self.handle(&mut st, more);
                }
            }
            Ok(None) => {}
            Err(e) => {
                self.lock().closed = Some(e.to_string());
                return Err(e);
            }
        }
        self.watch_scheduler()
    }

    /// The client's watchdog for a stuck scheduler, while a thread waits
    /// for the cluster: when the scheduler has been silent for a quarter of
    /// the watchdog time, ping it; when a ping has gone unanswered (nothing
    /// at all from the scheduler) for the whole watchdog time, the cluster
    /// is closed with an error naming rank 0. Silence while nobody waits
    /// does not count: the clock starts with the ping.
    fn watch_scheduler(&self) -> Result<()> {
        let mut st = self.lock();
        let Some(after) = st.watchdog else {
            return Ok(());
        };
        let now = Instant::now();
        let heard = st.heard_scheduler;
        match st.watch_ping {
            Some(p) if heard.is_some_and(|h| h >= p) => st.watch_ping = None,
            Some(p) if now.duration_since(p) > after => {
                let why = format!(
                    "the scheduler (rank 0) has not answered the client for {:.1} s \
                     (watchdog {:.1} s): it is alive but stuck",
                    now.duration_since(p).as_secs_f64(),
                    after.as_secs_f64()
                );
                log::error!("{why}");
                st.closed = Some(why.clone());
                st.scheduler_stuck = true;
                return Err(Error::new(ErrorKind::ShutDown, why));
            }
            Some(_) => {}
            None if heard.is_none_or(|h| now.duration_since(h) > after / 4) => {
                st.watch_ping = Some(now);
                drop(st);
                self.send_scheduler(&ClientToScheduler::Ping { id: WATCH_PING })?;
            }
            None => {}
        }
        Ok(())
    }

    /// Receives whatever has already arrived, without waiting.
    pub fn poll(&self) {
        if let Ok(mut guard) = self.transport.try_lock() {
            if let Some(t) = guard.as_mut() {
                let mut st = self.lock();
                let mut any = false;
                while let Ok(Some(e)) = t.recv_timeout(Some(Duration::ZERO)) {
                    self.handle(&mut st, e);
                    any = true;
                }
                drop(st);
                if any {
                    self.changed.notify_all();
                }
            }
        }
    }
}
