//! The task graph inside the scheduler: which tasks wait on which, which are
//! ready, where every result lives, and which worker runs what next.
//!
//! # Placement
//!
//! A ready task goes to the host that already holds the most bytes of its
//! inputs, and there to the worker holding the most (with every worker on
//! one host: the worker holding the most bytes); among equals, to the one
//! with the fewest outstanding tasks per thread, then the one used most
//! recently. That last rule differs from
//! ipyparallel's (least recently used) on purpose: a worker that just
//! finished a task still polls eagerly, while one idle for longer has backed
//! off to sleeping (`comm::backoff`), so a program that submits one task at
//! a time and waits for it gets a warm worker every time; at 3 workers on 2
//! shared cores LRU made such round trips about 4x slower. Load still
//! spreads, since the fewest outstanding tasks come first. Each
//! worker gets at most [`capacity`](TaskGraph::capacity) tasks at a time: its
//! thread count times a depth that grows as tasks get shorter, so that a
//! worker always has about [`SATURATION_MICROS`] of work queued per thread but
//! long tasks stay in the scheduler, where any worker that frees up can take
//! them.
//!
//! Each decision costs about O(log workers): the indexes that make it so
//! (workers ordered by load, queues for restricted tasks, the idle and
//! overloaded workers for stealing) are in `graph/placement.rs`. A task
//! taken back by stealing goes to another worker than the one it was taken
//! from, even if its (small) inputs are there.
//!
//! # Memory
//!
//! A result stays on the worker that made it while the client holds a future
//! for it or a task that needs it has not finished. When neither holds, the
//! scheduler tells the worker to free it and forgets the key. A failed (not
//! cancelled) task the client still holds keeps its inputs (results, and the failed tasks it
//! inherited its failure from), so that a retry can run it again; and a task
//! the client fired and forgot is kept until it has run.
//!
//! Retrying, cancelling and the questions about where results live are in
//! `graph/manage.rs`.

mod manage;
#[cfg(test)]
mod model;
mod paused;
mod placement;
mod replicas;
#[doc(hidden)]
pub mod sim;
mod steal;
mod summary;

pub use summary::{GraphSummary, StateCounts, WorkerLoadSummary};

use crate::protocol::{ComputeSpec, Input, Outcome, Placed, TaskSpec};
use crate::task::args::Part;
use crate::task::shipping::FnRef;
use crate::task::{FailureKind, Key, TaskFailure};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use crate::protocol::INLINE_LIMIT;

/// Queued work per executor thread that a worker is given, in microseconds.
pub const SATURATION_MICROS: f64 = 2000.0;

/// Most tasks queued per executor thread.
const MAX_DEPTH: usize = 256;

#[derive(Debug, Clone, PartialEq)]
enum State {
    Waiting,
    Ready,
    Processing(usize),
    Memory { worker: usize, nbytes: u64 },
    Failed(TaskFailure),
}

#[derive(Debug)]
struct Task {
    function: Option<FnRef>,
    parts: Vec<Slot>,
    deps: Vec<Key>,
    waiting: usize,
    /// Tasks that take this one's result, in the order they were submitted;
    /// those that have finished are dropped from the front as they are
    /// found (see `try_forget`).
    dependents: VecDeque<Key>,
    state: State,
    priority: i32,
    seq: u64,
    retries_left: u32,
    workers: Option<Vec<usize>>,
    allow_other: bool,
    wanted: bool,
    /// Other workers holding a copy of the result (a broadcast value).
    replicas: Vec<usize>,
    /// The client asked for this again while it ran: its worker may have
    /// pushed the result already, so say where it is when it finishes.
    locate_when_done: bool,
    /// Times it has run and failed (each retry counts).
    attempts: u32,
    /// The client cancelled it after it was handed to a worker: if the
    /// worker hands it back unstarted, it fails as cancelled.
    cancel_requested: bool,
    /// Fired and forgotten: run it even though the client released it.
    keep_until_done: bool,
    /// A steal of it was asked of its worker and not granted (it had
    /// started): asking again would only repeat the refusal.
    steal_refused: bool,
    /// Times its worker handed it back because an input was gone there
    /// (see `inputs_gone`).
    replans: u8,
}

/// One argument position as the graph keeps it: inline bytes are shared
/// with every `ComputeSpec` made from them (a task handed out again, stolen
/// or retried), never copied.
#[derive(Debug)]
enum Slot {
    Inline(Arc<Vec<u8>>),
    Future(Key),
}

impl Task {
    /// Data the client put on a worker: already in memory, nothing to run.
    fn data(p: &Placed, wanted: bool) -> Self {
        Task {
            function: None,
            parts: Vec::new(),
            deps: Vec::new(),
            waiting: 0,
            dependents: VecDeque::new(),
            state: State::Memory {
                worker: p.worker,
                nbytes: p.nbytes,
            },
            priority: 0,
            seq: 0,
            retries_left: 0,
            workers: None,
            allow_other: false,
            wanted,
            replicas: Vec::new(),
            locate_when_done: false,
            attempts: 0,
            cancel_requested: false,
            keep_until_done: false,
            steal_refused: false,
            replans: 0,
        }
    }
}

#[derive(Debug, Default)]
struct WorkerLoad {
    threads: usize,
    /// The id of its host (see `Placement::host_id`).
    host: usize,
    processing: usize,
    last_used: u64,
    /// Tasks handed to this worker and not yet finished, by hand-out order.
    outstanding: BTreeSet<(u64, Key)>,
    /// A steal request to this worker is unanswered.
    steal_pending: bool,
    /// Its memory is over the pause fraction: it gets no new tasks.
    paused: bool,
}

/// Keys and the worker ranks holding each (an answer to `who_has`).
pub type Holders = Vec<(Key, Vec<usize>)>;

/// What the graph wants sent after an event.
#[derive(Debug, Default, PartialEq)]
pub struct Effects {
    /// Final failures to report to the client.
    pub failures: Vec<TaskFailure>,
    /// Tasks to start, by worker.
    pub compute: BTreeMap<usize, Vec<ComputeSpec>>,
    /// Results to drop, by worker.
    pub free: BTreeMap<usize, Vec<Key>>,
    /// Queued tasks to take back, by worker (work stealing).
    pub steal: BTreeMap<usize, Vec<Key>>,
    /// Results to point the client to (see `SchedulerToClient::Located`).
    pub located: Vec<(Key, usize)>,
    /// Copies to make: (worker to copy to, key, worker to copy from).
    pub acquire: Vec<(usize, Key, usize)>,
    /// Finished `replicate` requests: id and copies held, or why not.
    pub replicated: Vec<(u64, std::result::Result<usize, String>)>,
    /// Failed tasks the client holds that run again.
    pub retried: Vec<Key>,
    /// Answers to `who_has`: id, and the workers holding each key.
    pub holders: Vec<(u64, Holders)>,
}

/// The scheduler's view of every task.
#[derive(Debug, Default)]
pub struct TaskGraph {
    tasks: HashMap<Key, Task>,
    /// Unanswered `replicate` requests, by key: (id, copies wanted).
    replications: HashMap<Key, Vec<(u64, usize)>>,
    /// Workers asked to copy each key in `replications` (each asked once).
    copy_targets: HashMap<Key, HashSet<usize>>,
    /// `replicate` requests for tasks not finished yet: (id, n).
    replicate_when_done: HashMap<Key, Vec<(u64, usize)>>,
    /// `who_has` requests waiting to hear that tasks finished.
    queries: Vec<manage::Query>,
    ready: BinaryHeap<placement::Queued>,
    workers: BTreeMap<usize, WorkerLoad>,
    /// Indexes of the workers by load (see `graph/placement.rs`).
    place: placement::Placement,
    seq: u64,
    tick: u64,
    avg_micros: Option<f64>,
}

impl TaskGraph {
    /// An empty graph with no workers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a worker with `threads` executor threads, on the same host as
    /// every other worker added this way.
    pub fn add_worker(&mut self, rank: usize, threads: usize) {
        self.add_worker_on(rank, threads, "");
    }

    /// Adds a worker with `threads` executor threads on host `host` (its
    /// hostname: placement prefers the host holding a task's inputs).
    pub fn add_worker_on(&mut self, rank: usize, threads: usize, host: &str) {
        let host = self.place.host_id(host);
        if self.workers.contains_key(&rank) {
            self.update_worker(rank, |w| {
                w.threads = threads.max(1);
                w.host = host;
            });
            return;
        }
        self.workers.insert(
            rank,
            WorkerLoad {
                threads: threads.max(1),
                host,
                ..WorkerLoad::default()
            },
        );
        self.enter_worker(rank);
    }

    /// Tasks the scheduler knows of (any state).
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the graph holds no task.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// How many tasks a worker may have outstanding.
    pub fn capacity(&self, rank: usize) -> usize {
        let threads = self.workers.get(&rank).map_or(1, |w| w.threads);
        threads * (1 + self.depth())
    }

    /// New tasks from the client, and data it placed on workers for them.
    ///
    /// The client holds placed data (in its registry of placed keys, for
    /// later batches to share) until it releases the key, like a future. A
    /// key placed again on another worker while still known here is one
    /// more copy, freed with the others.
    pub fn submit(&mut self, specs: Vec<TaskSpec>, placed: Vec<Placed>, fx: &mut Effects) {
        for p in placed {
            match self.tasks.get_mut(&p.key) {
                None => {
                    self.tasks.insert(p.key, Task::data(&p, true));
                }
                Some(t) => {
                    t.wanted = true;
                    match t.state {
                        State::Memory { worker, .. } => {
                            if worker != p.worker && !t.replicas.contains(&p.worker) {
                                t.replicas.push(p.worker);
                            }
                        }
                        // Not data (cannot happen with the client's keys):
                        // the copy is of no use.
                        _ => fx.free.entry(p.worker).or_default().push(p.key),
                    }
                }
            }
        }
        for spec in specs {
            self.submit_one(spec, fx);
        }
        self.schedule(fx);
    }

    fn submit_one(&mut self, spec: TaskSpec, fx: &mut Effects) {
        let key = spec.key;
        if let Some(t) = self.tasks.get_mut(&key) {
            // The same pure task again: one computation. The client forgot
            // the key in between, so it may have missed the result's push.
            // A cancelled one runs after all.
            t.wanted = true;
            t.cancel_requested = false;
            match &t.state {
                State::Failed(f) if f.kind == FailureKind::Cancelled => {
                    self.retry(&[key], fx);
                }
                State::Failed(f) => fx.failures.push(f.clone()),
                State::Memory { worker, .. } => fx.located.push((key, *worker)),
                State::Processing(_) => t.locate_when_done = true,
                State::Waiting | State::Ready => {}
            }
            return;
        }
        let mut deps = Vec::new();
        let mut seen = HashSet::new();
        let mut problem = None;
        for part in &spec.parts {
            match part {
                Part::Future(d) => {
                    if seen.insert(*d) {
                        deps.push(*d);
                    }
                }
                Part::Inline(b) if b.len() > INLINE_LIMIT => {
                    problem = Some(format!(
                        "an inline argument of {} bytes is over the scheduler's {INLINE_LIMIT}-byte limit",
                        b.len()
                    ));
                }
                Part::Inline(_) => {}
            }
        }
        let mut inherited = None;
        let mut waiting = 0;
        for d in &deps {
            match self.tasks.get(d).map(|t| &t.state) {
                None => {
                    problem = Some(format!(
                        "it depends on task {d}, which the scheduler does not know \
                         (released, or never submitted)"
                    ))
                }
                Some(State::Failed(f)) => inherited = Some(f.clone()),
                Some(State::Memory { .. }) => {}
                Some(_) => waiting += 1,
            }
        }
        self.seq += 1;
        let task = Task {
            function: Some(spec.function),
            parts: spec
                .parts
                .into_iter()
                .map(|p| match p {
                    Part::Inline(b) => Slot::Inline(Arc::new(b)),
                    Part::Future(k) => Slot::Future(k),
                })
                .collect(),
            deps: deps.clone(),
            waiting,
            dependents: VecDeque::new(),
            state: State::Waiting,
            priority: spec.priority,
            seq: self.seq,
            retries_left: spec.retries,
            workers: spec.workers,
            allow_other: spec.allow_other_workers,
            wanted: true,
            replicas: Vec::new(),
            locate_when_done: false,
            attempts: 0,
            cancel_requested: false,
            keep_until_done: false,
            steal_refused: false,
            replans: 0,
        };
        self.tasks.insert(key, task);
        for d in &deps {
            if let Some(dt) = self.tasks.get_mut(d) {
                dt.dependents.push_back(key);
            }
        }
        if let Some(message) = problem {
            let f = TaskFailure {
                kind: FailureKind::Refused,
                message,
                key,
                worker: None,
                root: None,
            };
            self.fail(key, f, fx);
        } else if let Some(root) = inherited {
            self.fail(key, dependency_failure(key, &root), fx);
        } else if waiting == 0 {
            self.make_ready(key);
        }
    }

    fn make_ready(&mut self, key: Key) {
        if let Some(t) = self.tasks.get_mut(&key) {
            t.state = State::Ready;
            t.steal_refused = false;
            self.ready.push((t.priority, Reverse(t.seq), key));
        }
    }

    /// The client dropped its last future for these keys.
    pub fn release(&mut self, keys: &[Key], fx: &mut Effects) {
        for k in keys {
            if let Some(t) = self.tasks.get_mut(k) {
                t.wanted = false;
            }
            self.try_forget(*k, fx);
        }
        self.schedule(fx);
    }

    /// Tasks ended on `worker`.
    pub fn finished(&mut self, worker: usize, outcomes: Vec<Outcome>, fx: &mut Effects) {
        for outcome in outcomes {
            let key = match &outcome {
                Outcome::Done { key, .. } => *key,
                Outcome::Failed(f) => f.key,
            };
            let was_here = self
                .tasks
                .get(&key)
                .is_some_and(|t| t.state == State::Processing(worker));
            if was_here {
                let seq = self.tasks.get(&key).map_or(0, |t| t.seq);
                self.update_worker(worker, |w| {
                    w.processing = w.processing.saturating_sub(1);
                    w.outstanding.remove(&(seq, key));
                });
            }
            match outcome {
                Outcome::Done { nbytes, micros, .. } => {
                    let m = micros.max(1) as f64;
                    let depth = self.depth();
                    self.avg_micros = Some(self.avg_micros.map_or(m, |a| 0.9 * a + 0.1 * m));
                    if self.depth() > depth {
                        self.wake_all();
                    }
                    if !was_here {
                        // Forgotten or cancelled meanwhile: drop the result.
                        fx.free.entry(worker).or_default().push(key);
                        continue;
                    }
                    self.done(key, worker, nbytes, fx);
                }
                Outcome::Failed(f) => {
                    if !was_here {
                        continue;
                    }
                    let (retry, attempts) = match self.tasks.get_mut(&key) {
                        Some(t) => {
                            t.attempts += 1;
                            let again = t.retries_left > 0;
                            t.retries_left = t.retries_left.saturating_sub(1);
                            (again, t.attempts)
                        }
                        None => (false, 1),
                    };
                    if retry {
                        log::info!(
                            "task {key} failed on worker {worker}; retrying: {}",
                            f.message
                        );
                        self.make_ready(key);
                    } else {
                        self.fail(key, with_attempts(f, attempts), fx);
                    }
                }
            }
        }
        self.schedule(fx);
    }

    fn done(&mut self, key: Key, worker: usize, nbytes: u64, fx: &mut Effects) {
        let (dependents, deps) = match self.tasks.get_mut(&key) {
            Some(t) => {
                t.state = State::Memory { worker, nbytes };
                if std::mem::take(&mut t.locate_when_done) {
                    fx.located.push((key, worker));
                }
                (t.dependents.clone(), t.deps.clone())
            }
            None => return,
        };
        for d in dependents {
            if let Some(dt) = self.tasks.get_mut(&d) {
                if dt.state == State::Waiting {
                    dt.waiting = dt.waiting.saturating_sub(1);
                    if dt.waiting == 0 {
                        self.make_ready(d);
                    }
                }
            }
        }
        for (id, n) in self.replicate_when_done.remove(&key).unwrap_or_default() {
            self.replicate(id, key, n, fx);
        }
        for d in deps {
            self.try_forget(d, fx);
        }
        self.try_forget(key, fx);
    }

    /// Marks `key` failed, reports it if wanted (and not cancelled), and
    /// fails every task waiting on it.
    fn fail(&mut self, key: Key, failure: TaskFailure, fx: &mut Effects) {
        let mut stack = vec![(key, failure)];
        let mut finished = Vec::new();
        while let Some((k, f)) = stack.pop() {
            let Some(t) = self.tasks.get_mut(&k) else {
                continue;
            };
            if matches!(t.state, State::Failed(_) | State::Memory { .. }) {
                continue;
            }
            t.state = State::Failed(f.clone());
            // A cancel is not reported: the client marked the future itself
            // when it asked, and word sent now could reach it after it
            // submitted the same key again, and cancel that.
            if t.wanted && f.kind != FailureKind::Cancelled {
                fx.failures.push(f.clone());
            }
            for (id, _) in self.replicate_when_done.remove(&k).unwrap_or_default() {
                fx.replicated.push((id, Err(f.to_string())));
            }
            for d in t.dependents.clone() {
                stack.push((d, dependency_failure(d, &f)));
            }
            finished.push(k);
        }
        // A failed task the client holds keeps its inputs for a retry;
        // forgetting one that nobody holds lets its inputs go too.
        for k in finished {
            self.try_forget(k, fx);
        }
    }

    /// Forgets `key` (freeing its result) when nobody needs it any more.
    fn try_forget(&mut self, key: Key, fx: &mut Effects) {
        let Some(t) = self.tasks.get(&key) else {
            return;
        };
        let pending = matches!(t.state, State::Waiting | State::Ready);
        if t.wanted || (t.keep_until_done && pending) {
            return;
        }
        if self.pending_dependent(key) {
            return;
        }
        let Some(t) = self.tasks.get(&key) else {
            return;
        };
        match t.state {
            State::Processing(_) => return,
            State::Memory { worker, .. } => {
                for w in std::iter::once(worker).chain(t.replicas.iter().copied()) {
                    fx.free.entry(w).or_default().push(key);
                }
            }
            State::Waiting | State::Ready | State::Failed(_) => {}
        }
        self.fail_replications(
            key,
            format!("task {key} was released while being copied"),
            fx,
        );
        if let Some(t) = self.tasks.remove(&key) {
            if matches!(t.state, State::Waiting | State::Ready | State::Failed(_)) {
                for d in t.deps {
                    self.try_forget(d, fx);
                }
            }
        }
    }

    /// Whether a dependent of `key` will still run, or failed and may be
    /// retried (a cancelled one keeps nothing). Dependents that finished or
    /// were forgotten are dropped from the front of the list on the way, so
    /// a key with D dependents finishing in about the order they were
    /// submitted costs O(D) over all their ends, not O(D²).
    fn pending_dependent(&mut self, key: Key) -> bool {
        let Some(mut dependents) = self
            .tasks
            .get_mut(&key)
            .map(|t| std::mem::take(&mut t.dependents))
        else {
            return false;
        };
        let mut finished_prefix = 0;
        let mut pending = false;
        for (i, d) in dependents.iter().enumerate() {
            match self.tasks.get(d).map(|dt| &dt.state) {
                None | Some(State::Memory { .. }) => {
                    if i == finished_prefix {
                        finished_prefix += 1;
                    }
                }
                Some(State::Waiting | State::Ready | State::Processing(_)) => {
                    pending = true;
                    break;
                }
                Some(State::Failed(f)) if f.kind != FailureKind::Cancelled => {
                    pending = true;
                    break;
                }
                Some(State::Failed(_)) => {}
            }
        }
        dependents.drain(..finished_prefix);
        if let Some(t) = self.tasks.get_mut(&key) {
            t.dependents = dependents;
        }
        pending
    }

    /// Hands ready tasks to workers with room for them.
    pub fn schedule(&mut self, fx: &mut Effects) {
        let mut scratch = std::mem::take(&mut self.place.scratch);
        self.serve_restricted(&mut scratch, fx);
        while self.has_room() {
            let Some((prio, seq, key)) = self.ready.pop() else {
                break;
            };
            let Some(task) = self.tasks.get(&key) else {
                continue;
            };
            if task.state != State::Ready {
                continue;
            }
            if let Some(list) = &task.workers {
                if !task.allow_other && !list.iter().any(|r| self.workers.contains_key(r)) {
                    let f = TaskFailure {
                        kind: FailureKind::Refused,
                        message: format!("none of the workers {list:?} exists"),
                        key,
                        worker: None,
                        root: None,
                    };
                    self.fail(key, f, fx);
                    continue;
                }
            }
            match self.choose_worker(task, &mut scratch, None) {
                Some(rank) => self.assign(key, rank, fx),
                // Its workers are all full: it waits for one of them.
                None => self.defer((prio, seq, key)),
            }
        }
        self.place.scratch = scratch;
        self.trickle(fx);
        if self.ready.is_empty() {
            self.plan_steals(fx);
        }
        self.answer_queries(fx);
    }

    fn assign(&mut self, key: Key, rank: usize, fx: &mut Effects) {
        self.tick += 1;
        let tick = self.tick;
        let Some(task) = self.tasks.get(&key) else {
            return;
        };
        let inputs = task
            .parts
            .iter()
            .map(|p| match p {
                Slot::Inline(b) => Input::Inline(b.clone()),
                Slot::Future(d) => match self.tasks.get(d) {
                    Some(t) => match t.state {
                        State::Memory { worker, .. }
                            if worker == rank || t.replicas.contains(&rank) =>
                        {
                            Input::Local(*d)
                        }
                        State::Memory { worker, .. } => Input::Remote { key: *d, worker },
                        _ => Input::Local(*d),
                    },
                    None => Input::Local(*d),
                },
            })
            .collect();
        let Some(function) = task.function else {
            return;
        };
        fx.compute.entry(rank).or_default().push(ComputeSpec {
            key,
            function,
            inputs,
            push: task.wanted,
        });
        let seq = match self.tasks.get_mut(&key) {
            Some(t) => {
                t.state = State::Processing(rank);
                t.seq
            }
            None => return,
        };
        self.update_worker(rank, |w| {
            w.processing += 1;
            w.last_used = tick;
            w.outstanding.insert((seq, key));
        });
    }
}

/// A final failure after `attempts` runs: the message says how many.
fn with_attempts(mut failure: TaskFailure, attempts: u32) -> TaskFailure {
    if attempts > 1 {
        failure.message = format!("failed after {attempts} attempts: {}", failure.message);
    }
    failure
}

/// Why a cancelled task has no result.
fn cancelled_failure(key: Key) -> TaskFailure {
    TaskFailure {
        kind: FailureKind::Cancelled,
        message: "cancelled".into(),
        key,
        worker: None,
        root: None,
    }
}

fn dependency_failure(key: Key, cause: &TaskFailure) -> TaskFailure {
    let root = match cause.kind {
        FailureKind::Dependency => cause.root.unwrap_or(cause.key),
        _ => cause.key,
    };
    TaskFailure {
        kind: FailureKind::Dependency,
        message: cause.message.clone(),
        key,
        worker: cause.worker,
        root: Some(root),
    }
}

#[cfg(test)]
mod hosts_tests;
#[cfg(test)]
mod tests;
