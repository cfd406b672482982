//! A worker's executor threads and its object store.
//!
//! The worker loop puts tasks whose inputs are all here on a queue; each
//! executor thread takes one, calls it through its [`FnRef`], catches a panic,
//! keeps the result in the [`Store`], and queues two notices: the outcome for
//! the scheduler and, for a result under the inline limit, the value for the
//! client. Notices go out in batches: at once when the queue runs dry or a
//! batch is full, otherwise within [`FLUSH_AFTER`] (the executor nudges the
//! worker loop, which flushes on a timer), so a stream of short tasks costs
//! few messages and a lone task still answers at once.
//!
//! Task events, when recorded, wait longer: they go to the scheduler in
//! their own message once [`EVENT_BATCH`] are pending or the oldest has
//! waited [`EVENTS_AFTER`] (or at once when the scheduler asks, for a
//! report), so that recording adds few messages to the scheduler's load. A
//! recorded task reads the clock no more often than an unrecorded one (at
//! its start and stop); it adds about 13 bytes to a buffer allocated once
//! per batch, in the packed form the scheduler keeps
//! ([`packed`](crate::diagnostics::packed)).

pub use super::store::{MemoryPolicy, MemoryStats, Store};
use crate::comm::codec;
use crate::comm::transport::{Outbox, Rank, TAG_CONTROL, TAG_LOCAL};
use crate::diagnostics::events::{self, EventBatch, MemorySample};
use crate::diagnostics::packed::PackedTasks;
use crate::protocol::INLINE_LIMIT;
use crate::protocol::{Delivered, Outcome, WorkerToClient, WorkerToScheduler};
use crate::protocol::{CLIENT, SCHEDULER};
use crate::task::shipping::FnRef;
use crate::task::{FailureKind, Key, TaskFailure, RETURNED_ERR};
use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Longest a notice waits for company before it is sent.
pub const FLUSH_AFTER: Duration = Duration::from_micros(200);

/// Notices per batch.
const BATCH: usize = 512;

/// Task events per message to the scheduler, at most.
pub const EVENT_BATCH: usize = 4096;

/// Longest a recorded event waits for company before it is sent.
pub const EVENTS_AFTER: Duration = Duration::from_millis(100);

thread_local! {
    static CURRENT_WORKER: Cell<Option<usize>> = const { Cell::new(None) };
    static CURRENT_EXECUTOR: std::cell::RefCell<Option<Arc<Executor>>> =
        const { std::cell::RefCell::new(None) };
}

/// The rank of the worker running the calling task, or `None` outside a task.
pub fn current_worker() -> Option<usize> {
    CURRENT_WORKER.with(Cell::get)
}

/// The executable fingerprint of the worker running the calling task, or
/// `None` outside a task (for checking bag step references).
pub(crate) fn current_fingerprint() -> Option<u64> {
    CURRENT_EXECUTOR.with(|e| e.borrow().as_ref().map(|ex| ex.fingerprint))
}

/// Marks the calling thread as one of `executor`'s (its tasks, or the
/// worker loop running `run` functions and SPMD sections).
pub(crate) fn enter(executor: &Arc<Executor>) {
    CURRENT_WORKER.with(|c| c.set(Some(executor.rank)));
    CURRENT_EXECUTOR.with(|e| *e.borrow_mut() = Some(executor.clone()));
}

/// Inside a task, a `run` function or an SPMD section: sets the worker
/// variable `name` on this worker (as `Client::push` does from the client).
pub fn set_worker_var<T: serde::Serialize>(name: &str, value: &T) -> crate::Result<()> {
    set_var_bytes("set_worker_var", name, codec::encode(value)?)
}

/// Keeps `bytes` as worker variable `name`; `what` names the caller in errors.
pub(crate) fn set_var_bytes(what: &str, name: &str, bytes: Vec<u8>) -> crate::Result<()> {
    CURRENT_EXECUTOR.with(|e| match e.borrow().as_ref() {
        Some(ex) => {
            lock(&ex.vars).insert(name.to_string(), Arc::new(bytes));
            Ok(())
        }
        None => Err(crate::Error::invalid(format!(
            "{what}({name:?}) called outside a task"
        ))),
    })
}

/// Inside a task, a `run` function or an SPMD section: the value of the
/// worker variable `name` (see `Client::push`). An error names the variable
/// if this worker has none by that name, or if it does not decode as `T`.
pub fn worker_var<T: serde::de::DeserializeOwned>(name: &str) -> crate::Result<T> {
    let bytes = var_bytes("worker_var", name)?;
    codec::decode(&bytes).map_err(|e| {
        crate::Error::new(
            crate::ErrorKind::Codec,
            format!("worker variable {name:?}: {}", e.message()),
        )
    })
}

/// The bytes of worker variable `name`; `what` names the caller in errors.
pub(crate) fn var_bytes(what: &str, name: &str) -> crate::Result<Arc<Vec<u8>>> {
    let bytes = CURRENT_EXECUTOR.with(|e| {
        e.borrow()
            .as_ref()
            .map(|ex| lock(&ex.vars).get(name).cloned())
    });
    match bytes {
        None => Err(crate::Error::invalid(format!(
            "{what}({name:?}) called outside a task"
        ))),
        Some(None) => Err(crate::Error::invalid(format!(
            "worker {} has no variable named {name:?} (never pushed)",
            current_worker().unwrap_or(0)
        ))),
        Some(Some(b)) => Ok(b),
    }
}

/// Calls `f` with the store of the worker running the calling task or SPMD
/// section; `what` names the caller in errors.
fn with_store<R>(what: &str, f: impl FnOnce(&Store) -> R) -> crate::Result<R> {
    CURRENT_EXECUTOR.with(|e| match e.borrow().as_ref() {
        Some(ex) => Ok(f(&ex.store)),
        None => Err(crate::Error::invalid(format!(
            "{what} called outside a task"
        ))),
    })
}

/// Inside a task or an SPMD section: keeps `bytes` in this worker's store
/// under `key`, a key no task has (a bag shuffle's buckets), so that they
/// count against the memory limit and may be spilled like results. The
/// caller frees them with [`take_private`] or [`free_private`].
pub(crate) fn keep_private(key: Key, bytes: Vec<u8>) -> crate::Result<()> {
    with_store("keep_private", |s| s.put(key, Arc::new(bytes)))
}

/// Inside a task or an SPMD section: removes `key` (kept by
/// [`keep_private`]) from this worker's store and returns its bytes, `None`
/// when it is not there; an error when it was spilled and cannot be read
/// back.
pub(crate) fn take_private(key: Key) -> crate::Result<Option<Arc<Vec<u8>>>> {
    with_store("take_private", |s| {
        let bytes = s.get(key);
        let lost = bytes.is_none() && s.lost(key);
        s.free(key);
        if lost {
            return Err(crate::Error::invalid(format!(
                "worker {}: kept bytes {key} were spilled and cannot be read back",
                current_worker().unwrap_or(0)
            )));
        }
        Ok(bytes)
    })?
}

/// Inside a task or an SPMD section: the length of `key`'s bytes if this
/// worker's store holds it (in memory or on disk).
pub(crate) fn private_len(key: Key) -> crate::Result<Option<u64>> {
    with_store("private_len", |s| s.len_of(key))
}

/// Inside a task or an SPMD section: drops `key` from this worker's store.
pub(crate) fn free_private(key: Key) -> crate::Result<()> {
    with_store("free_private", |s| s.free(key))
}

/// Inside a task, a `run` function or an SPMD section: how many results (and
/// placed arguments) this worker's store holds, and their bytes (what dask
/// users read from `dask_worker.data`). For checking that data is freed.
pub fn stored_results() -> crate::Result<(usize, u64)> {
    CURRENT_EXECUTOR.with(|e| match e.borrow().as_ref() {
        Some(ex) => Ok(ex.store.summary()),
        None => Err(crate::Error::invalid(
            "stored_results() called outside a task",
        )),
    })
}

/// Inside a task, a `run` function or an SPMD section: this worker's memory
/// counters (bytes in memory and on disk, spills, reloads, pauses; see
/// [`MemoryStats`]).
pub fn memory_stats() -> crate::Result<MemoryStats> {
    CURRENT_EXECUTOR.with(|e| match e.borrow().as_ref() {
        Some(ex) => Ok(ex.store.stats()),
        None => Err(crate::Error::invalid(
            "memory_stats() called outside a task",
        )),
    })
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A task with every input at hand.
pub struct Job {
    /// Its key.
    pub key: Key,
    /// What to run.
    pub function: FnRef,
    /// The encoded argument positions.
    pub inputs: Vec<Arc<Vec<u8>>>,
    /// Tell the client when it ends (see `ComputeSpec::push`).
    pub push: bool,
}

#[derive(Default)]
struct Notices {
    outcomes: Vec<Outcome>,
    results: Vec<(Key, Delivered)>,
    /// Task events, packed as they are recorded.
    tasks: PackedTasks,
    /// Other events (transfers, collective sections, memory samples).
    events: EventBatch,
    /// When the oldest event in `tasks` or `events` was added.
    events_since: Option<Instant>,
}

impl Notices {
    /// Events to send now (`force`, or a full or old enough batch), leaving
    /// an empty batch with room for as many task events as were taken.
    fn take_events(&mut self, force: bool, now: Instant) -> Option<(PackedTasks, EventBatch)> {
        let due = self
            .events_since
            .is_some_and(|t| now.saturating_duration_since(t) >= EVENTS_AFTER);
        if !(force || due || self.tasks.len() >= EVENT_BATCH)
            || (self.tasks.is_empty() && self.events.is_empty())
        {
            return None;
        }
        self.events_since = None;
        Some((self.tasks.take(), std::mem::take(&mut self.events)))
    }

    /// Notes that an event was added now (starting the wait of a batch).
    /// `true` for the first of a batch.
    fn event_added(&mut self, now: Instant) -> bool {
        let first = self.events_since.is_none();
        self.events_since.get_or_insert(now);
        first
    }
}

/// Least time between two memory samples of a worker.
const MEMORY_SAMPLE_EVERY_US: u64 = 100_000;

/// The executor threads of one worker, and what they share with its loop.
pub struct Executor {
    rank: Rank,
    fingerprint: u64,
    queue: Mutex<VecDeque<Job>>,
    work: Condvar,
    stopping: AtomicBool,
    /// Tasks being executed now.
    running: AtomicUsize,
    /// The worker's results.
    pub store: Store,
    /// Named variables pushed by the client.
    pub vars: Mutex<HashMap<String, Arc<Vec<u8>>>>,
    notices: Mutex<Notices>,
    /// Task events are recorded (see `SchedulerToWorker::RecordEvents`).
    record: AtomicBool,
    /// When memory was last sampled, µs since the Unix epoch.
    sampled_at: AtomicU64,
    outbox: Arc<dyn Outbox>,
    /// The executor threads, joined by [`finish`](Self::finish).
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

impl Executor {
    /// Starts `threads` executor threads for worker `rank`, whose store
    /// manages memory by `memory`.
    pub fn start(
        rank: Rank,
        threads: usize,
        fingerprint: u64,
        outbox: Arc<dyn Outbox>,
        memory: MemoryPolicy,
    ) -> std::io::Result<Arc<Self>> {
        super::task_panics::install();
        let ex = Arc::new(Executor {
            rank,
            fingerprint,
            queue: Mutex::new(VecDeque::new()),
            work: Condvar::new(),
            stopping: AtomicBool::new(false),
            running: AtomicUsize::new(0),
            store: Store::new(rank, memory),
            vars: Mutex::new(HashMap::new()),
            notices: Mutex::new(Notices {
                tasks: PackedTasks::with_capacity(rank, 0),
                ..Notices::default()
            }),
            record: AtomicBool::new(false),
            sampled_at: AtomicU64::new(0),
            outbox,
            threads: Mutex::new(Vec::new()),
        });
        for i in 0..threads.max(1) {
            let me = ex.clone();
            let handle = std::thread::Builder::new()
                .name(format!("rankflow-exec-{rank}-{i}"))
                .spawn(move || me.run(i as u32))?;
            lock(&ex.threads).push(handle);
        }
        Ok(ex)
    }

    /// Queues jobs in order.
    pub fn push(&self, jobs: impl IntoIterator<Item = Job>) {
        let mut q = lock(&self.queue);
        q.extend(jobs);
        drop(q);
        self.work.notify_all();
    }

    /// Takes the jobs with these keys off the queue if none has started;
    /// returns the keys taken.
    pub fn steal(&self, keys: &[Key]) -> Vec<Key> {
        let wanted: std::collections::HashSet<Key> = keys.iter().copied().collect();
        let mut taken = Vec::new();
        lock(&self.queue).retain(|j| {
            let steal = wanted.contains(&j.key);
            if steal {
                taken.push(j.key);
            }
            !steal
        });
        taken
    }

    /// Whether no task is queued or running.
    pub fn idle(&self) -> bool {
        let q = lock(&self.queue);
        q.is_empty() && self.running.load(Ordering::SeqCst) == 0
    }

    /// Lets the threads finish their current task and stop, without waiting
    /// for them: for a worker that fails, where the job ends anyway.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.work.notify_all();
    }

    /// For shutdown: stops the threads, waits until each has finished its
    /// current task (queued tasks are dropped), and drops the notices not yet
    /// sent: the client has shut down, and its futures report that instead
    /// of a result. After this no executor thread sends anything, so the
    /// worker can say goodbye and close its transport. A task that never
    /// returns holds up shutdown. Must not be called from an executor thread.
    pub fn finish(&self) {
        self.stop();
        let threads = std::mem::take(&mut *lock(&self.threads));
        for t in threads {
            if t.join().is_err() {
                log::error!("an executor thread of worker {} panicked", self.rank);
            }
        }
        *lock(&self.notices) = Notices::default();
    }

    /// Records task events from now on, or stops.
    pub fn set_recording(&self, on: bool) {
        self.record.store(on, Ordering::Relaxed);
    }

    /// Whether task events are recorded.
    pub fn recording(&self) -> bool {
        self.record.load(Ordering::Relaxed)
    }

    /// Adds events recorded outside the executor threads (transfers and
    /// sections, by the worker loop) to the next batch.
    pub fn record_events(&self, f: impl FnOnce(&mut EventBatch)) {
        if self.recording() {
            let mut n = lock(&self.notices);
            f(&mut n.events);
            n.event_added(Instant::now());
        }
    }

    /// When the pending task events are due to be sent (the worker loop
    /// waits no longer than that, then calls [`flush`](Self::flush));
    /// `None` when none is pending.
    pub fn events_due(&self) -> Option<Instant> {
        lock(&self.notices).events_since.map(|t| t + EVENTS_AFTER)
    }

    fn run(self: Arc<Self>, thread: u32) {
        let _cpu = super::cpu::register_thread(self.rank);
        enter(&self);
        crate::logging::set_thread_role(self.rank, crate::logging::Role::Worker);
        loop {
            let job = {
                let mut q = lock(&self.queue);
                loop {
                    if self.stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    if let Some(j) = q.pop_front() {
                        self.running.fetch_add(1, Ordering::SeqCst);
                        break j;
                    }
                    q = self
                        .work
                        .wait_timeout(q, Duration::from_millis(100))
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            };
            self.execute(job, thread);
            self.running.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn execute(&self, mut job: Job, thread: u32) {
        let record = self.recording();
        let start = Instant::now();
        // The inputs go to the task: one held nowhere else (data fetched
        // for this task alone) becomes its argument without a copy.
        let parts = std::mem::take(&mut job.inputs);
        let called = super::task_panics::catching(|| job.function.call(self.fingerprint, parts));
        let stop = Instant::now();
        let micros = stop.saturating_duration_since(start).as_micros() as u64;
        let event = record.then(|| {
            let start_us = events::us_of(start);
            let failed = !matches!(&called, Ok(Ok(b)) if b.len() as u64 <= self.store.limit());
            (start_us, failed)
        });
        let failure = |kind, message: String| TaskFailure {
            kind,
            message,
            key: job.key,
            worker: Some(self.rank),
            root: None,
        };
        let (outcome, result) = match called {
            Ok(Ok(bytes)) if bytes.len() as u64 > self.store.limit() => {
                // Kept, it would push the worker past its limit; dropped here,
                // before it is stored, sent or copied.
                let (nbytes, limit) = (bytes.len() as u64, self.store.limit());
                drop(bytes);
                self.store.note_oversized();
                let message = format!(
                    "its result of {nbytes} bytes is over the memory limit of worker {} \
                     ({limit} bytes)",
                    self.rank
                );
                (
                    Outcome::Failed(failure(FailureKind::MemoryLimit, message)),
                    None,
                )
            }
            Ok(Ok(bytes)) => {
                let nbytes = bytes.len() as u64;
                // Only a result the client holds a future for is pushed.
                let delivered = job.push.then(|| {
                    let d = if bytes.len() <= INLINE_LIMIT {
                        Delivered::Value(bytes.clone())
                    } else {
                        Delivered::Stored { nbytes }
                    };
                    (job.key, d)
                });
                self.store.put(job.key, Arc::new(bytes));
                (
                    Outcome::Done {
                        key: job.key,
                        nbytes,
                        micros,
                    },
                    delivered,
                )
            }
            Ok(Err(message)) => {
                let f = if let Some(text) = message.strip_prefix(RETURNED_ERR) {
                    failure(FailureKind::Returned, text.to_string())
                } else if message.starts_with("refused") {
                    failure(FailureKind::Refused, message)
                } else {
                    failure(FailureKind::Codec, message)
                };
                (Outcome::Failed(f), None)
            }
            Err(payload) => {
                let text = crate::error::panic_text(payload.as_ref());
                (Outcome::Failed(failure(FailureKind::Panicked, text)), None)
            }
        };
        if self.stopping.load(Ordering::SeqCst) {
            // Shutting down: nobody waits for this outcome (see `finish`).
            return;
        }
        let queue_empty = lock(&self.queue).is_empty();
        let (flush, first) = {
            let mut n = lock(&self.notices);
            let mut first = n.outcomes.is_empty();
            n.outcomes.push(outcome);
            n.results.extend(result);
            if let Some((start_us, failed)) = event {
                let (key, function) = (job.key, job.function);
                n.tasks
                    .push(key, function, thread, start_us, start_us + micros, failed);
                // The worker loop learns that events wait (see `events_due`).
                first |= n.event_added(stop);
            }
            (queue_empty || n.outcomes.len() >= BATCH, first)
        };
        if flush {
            self.flush();
        } else if first {
            // Ask the worker loop to flush soon, in case the next task is long.
            let _ = self.outbox.send(self.rank, TAG_LOCAL, Vec::new());
        }
    }

    /// Sends the notices collected so far, and the task events if they are
    /// due (see [`EVENTS_AFTER`]).
    pub fn flush(&self) {
        self.send(false);
    }

    /// Sends the notices and every task event collected so far (for the
    /// scheduler's `FlushEvents`).
    pub fn flush_events(&self) {
        self.send(true);
    }

    fn send(&self, all_events: bool) {
        let now = Instant::now();
        let (outcomes, results, events) = {
            let mut n = lock(&self.notices);
            if self.recording() && self.sample_memory(&mut n.events, events::us_of(now), all_events)
            {
                n.event_added(now);
            }
            (
                std::mem::take(&mut n.outcomes),
                std::mem::take(&mut n.results),
                n.take_events(all_events, now),
            )
        };
        if let Some((tasks, batch)) = events {
            // First: once the client has a result (or the scheduler an
            // outcome), its event has been sent, so an events request made
            // after it finds it at the scheduler. (Packed, the events delay
            // what follows them by little.)
            let m = WorkerToScheduler::Events { tasks, batch };
            match codec::encode(&m) {
                Ok(b) => {
                    if let Err(e) = self.outbox.send(SCHEDULER, TAG_CONTROL, b) {
                        log::error!("cannot send task events to the scheduler: {e}");
                    }
                }
                Err(e) => log::error!("cannot encode task events: {e}"),
            }
        }
        if !results.is_empty() {
            let m = WorkerToClient::Results { results };
            match codec::encode(&m) {
                Ok(b) => {
                    if let Err(e) = self.outbox.send(CLIENT, TAG_CONTROL, b) {
                        log::error!("cannot send results to the client: {e}");
                    }
                }
                Err(e) => log::error!("cannot encode results: {e}"),
            }
        }
        if !outcomes.is_empty() {
            let m = WorkerToScheduler::Finished { outcomes };
            match codec::encode(&m) {
                Ok(b) => {
                    if let Err(e) = self.outbox.send(SCHEDULER, TAG_CONTROL, b) {
                        log::error!("cannot send outcomes to the scheduler: {e}");
                    }
                }
                Err(e) => log::error!("cannot encode outcomes: {e}"),
            }
        }
    }

    /// Adds a sample of the store's bytes at `now` (µs since the Unix
    /// epoch) to `events`, at most every [`MEMORY_SAMPLE_EVERY_US`] unless
    /// `always` (the flush the scheduler asks for, so that a report's block
    /// ends with a sample however short it was); `true` if it did.
    fn sample_memory(&self, events: &mut EventBatch, now: u64, always: bool) -> bool {
        let last = self.sampled_at.load(Ordering::Relaxed);
        if (!always && now.saturating_sub(last) < MEMORY_SAMPLE_EVERY_US)
            || self
                .sampled_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        let bytes = self.store.stats().in_memory;
        events.memory.push(MemorySample {
            worker: self.rank,
            at_us: now,
            bytes,
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(x: u64) -> u64 {
        2 * x
    }

    fn push(n: &mut Notices, i: u64) {
        let f = crate::task::task_function_ref::<_, _, u64>(double, 0);
        n.tasks.push(Key(i), f, 0, i, i + 1, false);
    }

    fn keys(p: &PackedTasks) -> Vec<u64> {
        p.iter().map(|e| e.key.0).collect()
    }

    #[test]
    fn events_wait_for_a_full_batch_their_time_or_a_forced_flush() {
        let t0 = Instant::now();
        let mut n = Notices {
            tasks: PackedTasks::with_capacity(2, 0),
            ..Notices::default()
        };
        assert!(n.take_events(true, t0).is_none(), "nothing to send");
        push(&mut n, 0);
        assert!(n.event_added(t0));
        push(&mut n, 1);
        assert!(!n.event_added(t0 + Duration::from_millis(1)));
        assert!(n.take_events(false, t0 + EVENTS_AFTER / 2).is_none());
        let (tasks, rest) = n.take_events(false, t0 + EVENTS_AFTER).expect("due");
        assert_eq!(keys(&tasks), [0, 1]);
        assert_eq!(tasks.iter().next().map(|e| e.worker), Some(2));
        assert!(rest.is_empty());
        assert!(n.tasks.is_empty() && n.events_since.is_none());
        assert_eq!(n.tasks.worker(), 2, "the next batch is the same worker's");

        for i in 0..EVENT_BATCH as u64 {
            push(&mut n, i);
            n.event_added(t0);
        }
        assert_eq!(
            n.take_events(false, t0).map(|b| b.0.len()),
            Some(EVENT_BATCH)
        );
        push(&mut n, 7);
        n.event_added(t0);
        assert_eq!(n.take_events(true, t0).map(|b| keys(&b.0)), Some(vec![7]));
        // Other events alone are sent too.
        n.events.memory.push(MemorySample {
            worker: 2,
            at_us: 1,
            bytes: 1,
        });
        n.event_added(t0);
        let (tasks, rest) = n.take_events(true, t0).expect("memory");
        assert!(tasks.is_empty() && rest.memory.len() == 1);
    }
}
