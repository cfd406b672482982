//! The task graph inside the scheduler: which tasks wait on which, which are
//! ready, where every result lives, and which worker runs what next.
//!
//! # Placement
//!
//! A ready task goes to the worker that already holds the most bytes of its
//! inputs; among equals, to the one with the fewest outstanding tasks per
//! thread, then the one used most recently. That last rule differs from
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
mod placement;
#[doc(hidden)]
pub mod sim;

use crate::protocol::{ComputeSpec, Input, Outcome, Placed, TaskSpec};
use crate::task::args::Part;
use crate::task::shipping::FnRef;
use crate::task::{FailureKind, Key, TaskFailure};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};

pub use crate::protocol::INLINE_LIMIT;

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
    parts: Vec<Part>,
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
        }
    }
}

#[derive(Debug, Default)]
struct WorkerLoad {
    threads: usize,
    processing: usize,
    last_used: u64,
    /// Tasks handed to this worker and not yet finished, by hand-out order.
    outstanding: BTreeSet<(u64, Key)>,
    /// A steal request to this worker is unanswered.
    steal_pending: bool,
    /// The keys that request asked for.
    steal_asked: Vec<Key>,
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

    /// Adds a worker with `threads` executor threads.
    pub fn add_worker(&mut self, rank: usize, threads: usize) {
        if self.workers.contains_key(&rank) {
            self.update_worker(rank, |w| w.threads = threads.max(1));
            return;
        }
        self.workers.insert(
            rank,
            WorkerLoad {
                threads: threads.max(1),
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

    /// Workers holding `key`'s result, if it is in memory.
    fn holders(&self, key: Key) -> Option<Vec<usize>> {
        let t = self.tasks.get(&key)?;
        match t.state {
            State::Memory { worker, .. } => Some(
                std::iter::once(worker)
                    .chain(t.replicas.iter().copied())
                    .collect(),
            ),
            _ => None,
        }
    }

    /// The client wants at least `n` workers to hold `key`: asks the least
    /// loaded workers without it to fetch a copy from a holder.
    pub fn replicate(&mut self, id: u64, key: Key, n: usize, fx: &mut Effects) {
        let running = self.tasks.get(&key).is_some_and(|t| {
            matches!(
                t.state,
                State::Waiting | State::Ready | State::Processing(_)
            )
        });
        if running {
            // The client can see a result before the scheduler hears the
            // task finished: copy it once it has.
            self.replicate_when_done
                .entry(key)
                .or_default()
                .push((id, n));
            return;
        }
        let Some(holders) = self.holders(key) else {
            fx.replicated.push((
                id,
                Err(format!("task {key} has no result in memory to replicate")),
            ));
            return;
        };
        let want = n.min(self.workers.len());
        if holders.len() >= want {
            fx.replicated.push((id, Ok(holders.len())));
            return;
        }
        let mut others: Vec<(usize, usize)> = self
            .workers
            .iter()
            .filter(|(r, _)| !holders.contains(r))
            .map(|(&r, w)| (w.processing, r))
            .collect();
        others.sort();
        for &(_, r) in others.iter().take(want - holders.len()) {
            fx.acquire.push((r, key, holders[0]));
        }
        self.replications.entry(key).or_default().push((id, want));
    }

    /// Worker `worker` now holds a copy of `key`.
    pub fn acquired(&mut self, worker: usize, key: Key, fx: &mut Effects) {
        match self.tasks.get_mut(&key) {
            Some(t) if matches!(t.state, State::Memory { .. }) => {
                if !t.replicas.contains(&worker) {
                    t.replicas.push(worker);
                }
            }
            // Forgotten meanwhile: the copy is not needed.
            _ => fx.free.entry(worker).or_default().push(key),
        }
        let held = self.holders(key).map_or(0, |h| h.len());
        if let Some(waiting) = self.replications.get_mut(&key) {
            waiting.retain(|&(id, want)| {
                let done = held >= want;
                if done {
                    fx.replicated.push((id, Ok(held)));
                }
                !done
            });
            if waiting.is_empty() {
                self.replications.remove(&key);
            }
        }
    }

    /// A value the client broadcast to `workers` and holds a future for.
    pub fn adopt_replicated(&mut self, key: Key, workers: Vec<usize>, nbytes: u64) {
        let Some((&first, rest)) = workers.split_first() else {
            return;
        };
        self.adopt(vec![Placed {
            key,
            worker: first,
            nbytes,
        }]);
        if let Some(t) = self.tasks.get_mut(&key) {
            t.replicas = rest.to_vec();
        }
    }

    /// Data the client scattered to workers and holds futures for.
    pub fn adopt(&mut self, placed: Vec<Placed>) {
        for p in placed {
            let t = self
                .tasks
                .entry(p.key)
                .or_insert_with(|| Task::data(&p, true));
            t.wanted = true;
        }
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
            parts: spec.parts,
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
        if self.ready.is_empty() {
            self.plan_steals(fx);
        }
        self.answer_queries(fx);
    }

    /// Whether task `key`, queued on `victim`, could as well run elsewhere.
    fn movable(&self, key: Key, victim: usize) -> bool {
        let Some(t) = self.tasks.get(&key) else {
            return false;
        };
        if t.steal_refused || (t.workers.is_some() && !t.allow_other) {
            return false;
        }
        let pinned: u64 = t
            .deps
            .iter()
            .filter_map(|d| match self.tasks.get(d).map(|t| &t.state) {
                Some(State::Memory { worker, nbytes }) if *worker == victim => Some(*nbytes),
                _ => None,
            })
            .sum();
        pinned <= INLINE_LIMIT as u64
    }

    /// `victim` handed back these queued tasks (the others had started).
    pub fn stolen(&mut self, victim: usize, keys: &[Key], fx: &mut Effects) {
        let mut asked = Vec::new();
        self.update_worker(victim, |w| {
            w.steal_pending = false;
            asked = std::mem::take(&mut w.steal_asked);
        });
        for k in asked.iter().filter(|k| !keys.contains(k)) {
            if let Some(t) = self.tasks.get_mut(k) {
                t.steal_refused = true;
            }
        }
        for &k in keys {
            let Some(t) = self.tasks.get(&k) else {
                continue;
            };
            if t.state != State::Processing(victim) {
                continue;
            }
            let (seq, cancelled) = (t.seq, t.cancel_requested);
            self.update_worker(victim, |w| {
                w.processing = w.processing.saturating_sub(1);
                w.outstanding.remove(&(seq, k));
            });
            if cancelled {
                self.fail(k, cancelled_failure(k), fx);
                continue;
            }
            // Taken back to run elsewhere: not on `victim` again, even if
            // its inputs are there, or it would be stolen back and forth.
            let mut scratch = std::mem::take(&mut self.place.scratch);
            let to = self
                .tasks
                .get(&k)
                .and_then(|t| self.choose_worker(t, &mut scratch, Some(victim)));
            self.place.scratch = scratch;
            match to {
                Some(r) => {
                    if let Some(t) = self.tasks.get_mut(&k) {
                        t.state = State::Ready;
                    }
                    self.assign(k, r, fx);
                }
                None => self.make_ready(k),
            }
        }
        self.schedule(fx);
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
                Part::Inline(b) => Input::Inline(b.clone()),
                Part::Future(d) => match self.tasks.get(d) {
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
mod tests {
    use super::*;

    fn noop(_: usize, _: &[&[u8]]) -> Result<Vec<u8>, String> {
        Ok(Vec::new())
    }

    pub(super) fn spec(key: u64, deps: &[u64]) -> TaskSpec {
        let mut parts: Vec<Part> = deps.iter().map(|&d| Part::Future(Key(d))).collect();
        parts.push(Part::Inline(vec![1]));
        TaskSpec {
            key: Key(key),
            function: FnRef::new(0, noop, 0),
            parts,
            priority: 0,
            retries: 0,
            workers: None,
            allow_other_workers: false,
        }
    }

    pub(super) fn graph(workers: &[usize]) -> TaskGraph {
        let mut g = TaskGraph::new();
        for &w in workers {
            g.add_worker(w, 1);
        }
        g
    }

    pub(super) fn assigned(fx: &Effects) -> Vec<(usize, u64)> {
        fx.compute
            .iter()
            .flat_map(|(w, specs)| specs.iter().map(move |s| (*w, s.key.0)))
            .collect()
    }

    pub(super) fn done(key: u64, nbytes: u64) -> Outcome {
        Outcome::Done {
            key: Key(key),
            nbytes,
            micros: 10,
        }
    }

    pub(super) fn failed(key: u64, worker: usize) -> Outcome {
        Outcome::Failed(TaskFailure {
            kind: FailureKind::Panicked,
            message: "boom".into(),
            key: Key(key),
            worker: Some(worker),
            root: None,
        })
    }

    #[test]
    fn dependents_wait_then_run_where_their_input_is() {
        let mut g = graph(&[2, 3]);
        let mut fx = Effects::default();
        g.submit(vec![spec(1, &[]), spec(2, &[1])], vec![], &mut fx);
        assert_eq!(assigned(&fx), vec![(2, 1)]);
        let mut fx = Effects::default();
        g.finished(2, vec![done(1, 1_000_000)], &mut fx);
        assert_eq!(assigned(&fx), vec![(2, 2)], "runs where its input is");
        assert_eq!(fx.compute[&2][0].inputs[0], Input::Local(Key(1)));
    }

    #[test]
    fn placed_data_attracts_its_task_and_remote_inputs_are_named() {
        let mut g = graph(&[2, 3]);
        let mut fx = Effects::default();
        let placed = vec![Placed {
            key: Key(50),
            worker: 3,
            nbytes: 500_000,
        }];
        g.submit(vec![spec(1, &[50]), spec(2, &[])], placed, &mut fx);
        let a = assigned(&fx);
        assert!(a.contains(&(3, 1)), "{a:?}");
        let mut fx = Effects::default();
        g.finished(3, vec![done(1, 8)], &mut fx);
        assert_eq!(fx.free.get(&3), None, "the client still holds it");
        g.release(&[Key(50)], &mut fx);
        assert_eq!(
            fx.free.get(&3),
            Some(&vec![Key(50)]),
            "placed data freed once released and used"
        );
        let mut fx = Effects::default();
        g.submit(vec![spec(3, &[1, 2])], vec![], &mut fx);
        g.finished(2, vec![done(2, 8)], &mut fx);
        let inputs = &fx.compute.values().next().unwrap()[0].inputs;
        assert!(inputs.iter().any(|i| matches!(i, Input::Remote { .. })));
    }

    #[test]
    fn placed_data_held_until_released_and_every_copy_freed() {
        let mut g = graph(&[2, 3]);
        let at = |worker| Placed {
            key: Key(50),
            worker,
            nbytes: 500_000,
        };
        let mut fx = Effects::default();
        g.submit(vec![spec(1, &[50])], vec![at(2)], &mut fx);
        g.finished(2, vec![done(1, 8)], &mut fx);
        // A later batch placed the same key again, on another worker.
        let mut fx = Effects::default();
        g.submit(vec![spec(2, &[50])], vec![at(3)], &mut fx);
        assert!(fx.free.is_empty(), "{fx:?}");
        let worker = fx.compute.keys().next().copied().unwrap();
        g.finished(worker, vec![done(2, 8)], &mut fx);
        let mut fx = Effects::default();
        g.release(&[Key(1), Key(2), Key(50)], &mut fx);
        let mut freed: Vec<(usize, Key)> = fx
            .free
            .iter()
            .flat_map(|(w, keys)| keys.iter().map(move |k| (*w, *k)))
            .filter(|(_, k)| *k == Key(50))
            .collect();
        freed.sort();
        assert_eq!(freed, vec![(2, Key(50)), (3, Key(50))], "every copy");
        assert!(g.is_empty());
    }

    #[test]
    fn finished_dependents_of_a_shared_input_are_dropped_as_they_end() {
        const SHARED: u64 = 1_000_000;
        let mut g = graph(&[2]);
        let mut fx = Effects::default();
        let placed = vec![Placed {
            key: Key(SHARED),
            worker: 2,
            nbytes: 500_000,
        }];
        let n = 2_000;
        let specs = (1..=n).map(|k| spec(k, &[SHARED])).collect();
        g.submit(specs, placed, &mut fx);
        g.release(&[Key(SHARED)], &mut fx);
        let mut queued: VecDeque<u64> = assigned(&fx).into_iter().map(|(_, k)| k).collect();
        let mut ended = 0;
        while let Some(k) = queued.pop_front() {
            if k == n {
                queued.push_back(k);
                if queued.len() == 1 {
                    break;
                }
                continue;
            }
            let mut fx = Effects::default();
            g.finished(2, vec![done(k, 8)], &mut fx);
            g.release(&[Key(k)], &mut fx);
            queued.extend(assigned(&fx).into_iter().map(|(_, k)| k));
            ended += 1;
        }
        assert_eq!(ended, n - 1);
        // Only the one still to run is left in the input's list, so each
        // end looked at one dependent, not at every one before it.
        assert_eq!(
            g.tasks[&Key(SHARED)].dependents.len(),
            1,
            "finished dependents are still listed"
        );
        let mut fx = Effects::default();
        g.finished(2, vec![done(n, 8)], &mut fx);
        assert_eq!(fx.free.get(&2), Some(&vec![Key(SHARED)]));
    }

    #[test]
    fn only_results_the_client_holds_are_pushed() {
        let mut g = graph(&[2]);
        let mut fx = Effects::default();
        g.submit(
            vec![spec(1, &[]), spec(2, &[1]), spec(3, &[2])],
            vec![],
            &mut fx,
        );
        assert!(fx.compute[&2][0].push, "held when handed out");
        g.release(&[Key(1), Key(2)], &mut fx);
        let mut fx = Effects::default();
        g.finished(2, vec![done(1, 8)], &mut fx);
        assert_eq!(assigned(&fx), vec![(2, 2)]);
        assert!(
            !fx.compute[&2][0].push,
            "released: the client will not read it"
        );
        let mut fx = Effects::default();
        g.finished(2, vec![done(2, 8)], &mut fx);
        assert!(fx.compute[&2][0].push);
    }

    #[test]
    fn release_frees_and_forgets() {
        let mut g = graph(&[2]);
        let mut fx = Effects::default();
        g.submit(vec![spec(1, &[])], vec![], &mut fx);
        g.finished(2, vec![done(1, 8)], &mut fx);
        let mut fx = Effects::default();
        g.release(&[Key(1)], &mut fx);
        assert_eq!(fx.free.get(&2), Some(&vec![Key(1)]));
        assert!(g.is_empty());
    }

    #[test]
    fn a_released_input_is_kept_until_its_dependent_finishes() {
        let mut g = graph(&[2]);
        let mut fx = Effects::default();
        g.submit(vec![spec(1, &[]), spec(2, &[1])], vec![], &mut fx);
        g.release(&[Key(1)], &mut fx);
        g.finished(2, vec![done(1, 8)], &mut fx);
        let mut fx = Effects::default();
        g.finished(2, vec![done(2, 8)], &mut fx);
        assert_eq!(fx.free.get(&2), Some(&vec![Key(1)]));
    }

    #[test]
    fn failures_reach_dependents_with_the_root_cause() {
        let mut g = graph(&[2]);
        let mut fx = Effects::default();
        g.submit(
            vec![spec(1, &[]), spec(2, &[1]), spec(3, &[2])],
            vec![],
            &mut fx,
        );
        let mut fx = Effects::default();
        g.finished(2, vec![failed(1, 2)], &mut fx);
        let mut keys: Vec<u64> = fx.failures.iter().map(|f| f.key.0).collect();
        keys.sort();
        assert_eq!(keys, vec![1, 2, 3]);
        assert!(fx
            .failures
            .iter()
            .filter(|f| f.key != Key(1))
            .all(|f| f.root == Some(Key(1)) && f.kind == FailureKind::Dependency));
        // A new task on a failed input fails at once.
        let mut fx = Effects::default();
        g.submit(vec![spec(4, &[1])], vec![], &mut fx);
        assert_eq!(fx.failures.len(), 1);
        assert_eq!(fx.failures[0].root, Some(Key(1)));
    }

    #[test]
    fn retries_requeue_a_failed_task() {
        let mut g = graph(&[2]);
        let mut s = spec(1, &[]);
        s.retries = 1;
        let mut fx = Effects::default();
        g.submit(vec![s], vec![], &mut fx);
        let mut fx = Effects::default();
        g.finished(2, vec![failed(1, 2)], &mut fx);
        assert!(fx.failures.is_empty());
        assert_eq!(assigned(&fx), vec![(2, 1)]);
        let mut fx = Effects::default();
        g.finished(2, vec![failed(1, 2)], &mut fx);
        assert_eq!(fx.failures.len(), 1);
    }

    #[test]
    fn cancel_stops_tasks_that_have_not_started() {
        let mut g = graph(&[2]);
        let mut fx = Effects::default();
        g.submit(vec![spec(1, &[]), spec(2, &[1])], vec![], &mut fx);
        let mut fx = Effects::default();
        g.cancel(&[Key(2), Key(1)], &mut fx);
        assert!(
            fx.failures.is_empty(),
            "the client marks its cancels itself"
        );
        assert!(
            matches!(&g.tasks[&Key(2)].state, State::Failed(f) if f.kind == FailureKind::Cancelled)
        );
        assert_eq!(
            fx.steal.get(&2),
            Some(&vec![Key(1)]),
            "the queued one is asked back"
        );
    }

    #[test]
    fn restrictions_and_unknown_workers() {
        let mut g = graph(&[2, 3]);
        let mut s = spec(1, &[]);
        s.workers = Some(vec![3]);
        let mut bad = spec(2, &[]);
        bad.workers = Some(vec![9]);
        let mut fx = Effects::default();
        g.submit(vec![s, bad], vec![], &mut fx);
        assert_eq!(assigned(&fx), vec![(3, 1)]);
        assert_eq!(fx.failures.len(), 1);
        assert_eq!(fx.failures[0].kind, FailureKind::Refused);
    }

    #[test]
    fn queue_depth_follows_task_length() {
        let mut g = graph(&[2]);
        assert_eq!(g.capacity(2), 2, "unknown length: threads x 2");
        let mut fx = Effects::default();
        g.submit((1..=10).map(|k| spec(k, &[])).collect(), vec![], &mut fx);
        assert_eq!(assigned(&fx).len(), 2);
        let mut fx = Effects::default();
        g.finished(2, vec![done(1, 8), done(2, 8)], &mut fx);
        assert!(g.capacity(2) > 100, "10 us tasks queue deep");
        assert_eq!(assigned(&fx).len(), 8, "the rest go at once");
    }

    #[test]
    fn least_loaded_then_most_recently_used() {
        let mut g = graph(&[2, 3, 4]);
        let mut fx = Effects::default();
        g.submit((1..=3).map(|k| spec(k, &[])).collect(), vec![], &mut fx);
        let mut workers: Vec<usize> = assigned(&fx).iter().map(|a| a.0).collect();
        workers.sort();
        assert_eq!(workers, vec![2, 3, 4], "spread over all workers");
        // One task at a time, each after the last finished: all go to the
        // worker used last, which is still warm.
        let mut last = None;
        for k in 10..16 {
            let mut fx = Effects::default();
            g.submit(vec![spec(k, &[])], vec![], &mut fx);
            let a = assigned(&fx);
            assert_eq!(a.len(), 1);
            if let Some(w) = last {
                assert_eq!(a[0].0, w, "task {k} went to a colder worker");
            }
            last = Some(a[0].0);
            let mut fx = Effects::default();
            g.finished(a[0].0, vec![done(k, 8)], &mut fx);
        }
    }

    #[test]
    fn an_idle_worker_steals_queued_tasks() {
        let mut g = graph(&[2, 3]);
        let mut fx = Effects::default();
        g.submit((1..=4).map(|k| spec(k, &[])).collect(), vec![], &mut fx);
        // Least loaded first, then the one used last.
        assert_eq!(assigned(&fx), vec![(2, 1), (2, 4), (3, 2), (3, 3)]);
        let mut fx = Effects::default();
        g.finished(3, vec![done(2, 8), done(3, 8)], &mut fx);
        assert_eq!(fx.steal.get(&2), Some(&vec![Key(4)]), "the queued one");
        // No second request while one is unanswered.
        let mut again = Effects::default();
        g.schedule(&mut again);
        assert!(again.steal.is_empty());
        let mut fx = Effects::default();
        g.stolen(2, &[Key(4)], &mut fx);
        assert_eq!(assigned(&fx), vec![(3, 4)]);
    }

    #[test]
    fn a_task_started_before_the_steal_stays_with_its_worker() {
        let mut g = graph(&[2, 3]);
        let mut fx = Effects::default();
        g.submit((1..=4).map(|k| spec(k, &[])).collect(), vec![], &mut fx);
        let mut fx = Effects::default();
        g.finished(3, vec![done(2, 8), done(3, 8)], &mut fx);
        assert_eq!(fx.steal.get(&2), Some(&vec![Key(4)]));
        // Worker 2 had started 4 already, so it hands back nothing.
        let mut fx = Effects::default();
        g.stolen(2, &[], &mut fx);
        assert!(fx.compute.is_empty(), "4 is not run a second time on 3");
        assert_eq!(g.tasks[&Key(4)].state, State::Processing(2));
        // A refused task is not asked for again (that would ping-pong steal
        // messages for as long as it runs); the other queued one may be.
        assert_eq!(fx.steal.get(&2), Some(&vec![Key(1)]));
        let mut fx = Effects::default();
        g.stolen(2, &[], &mut fx);
        assert!(fx.steal.is_empty() && fx.compute.is_empty(), "{fx:?}");
        // Their results come from worker 2 and are recorded there.
        let mut fx = Effects::default();
        g.finished(2, vec![done(1, 8), done(4, 8)], &mut fx);
        assert!(fx.failures.is_empty());
        assert_eq!(g.holders(Key(4)), Some(vec![2]));
    }

    #[test]
    fn a_result_asked_for_again_is_located_for_the_client() {
        let mut g = graph(&[2]);
        let mut fx = Effects::default();
        g.submit(vec![spec(1, &[])], vec![], &mut fx);
        // Released and submitted again while it runs.
        g.release(&[Key(1)], &mut fx);
        let mut fx = Effects::default();
        g.submit(vec![spec(1, &[])], vec![], &mut fx);
        assert!(fx.compute.is_empty(), "one computation");
        let mut fx = Effects::default();
        g.finished(2, vec![done(1, 8)], &mut fx);
        assert_eq!(fx.located, vec![(Key(1), 2)]);
        // Submitted again while in memory (another future still holds it).
        let mut fx = Effects::default();
        g.submit(vec![spec(1, &[])], vec![], &mut fx);
        assert_eq!(fx.located, vec![(Key(1), 2)]);
        assert!(fx.compute.is_empty());
    }

    #[test]
    fn replicate_copies_to_the_least_loaded_workers() {
        let mut g = graph(&[2, 3, 4]);
        let mut fx = Effects::default();
        g.submit(vec![spec(1, &[])], vec![], &mut fx);
        g.finished(2, vec![done(1, 8)], &mut fx);
        let mut fx = Effects::default();
        g.replicate(7, Key(1), 3, &mut fx);
        let mut targets: Vec<usize> = fx.acquire.iter().map(|a| a.0).collect();
        targets.sort();
        assert_eq!(targets, vec![3, 4]);
        assert!(fx.acquire.iter().all(|a| a.1 == Key(1) && a.2 == 2));
        let mut fx = Effects::default();
        g.acquired(3, Key(1), &mut fx);
        assert!(fx.replicated.is_empty());
        g.acquired(4, Key(1), &mut fx);
        assert_eq!(fx.replicated, vec![(7, Ok(3))]);
        // Freed everywhere once released.
        let mut fx = Effects::default();
        g.release(&[Key(1)], &mut fx);
        assert_eq!(fx.free.len(), 3);
        // Nothing to copy is an error.
        let mut fx = Effects::default();
        g.replicate(8, Key(99), 2, &mut fx);
        assert!(fx.replicated[0].1.is_err());
    }

    #[test]
    fn oversized_inline_arguments_are_refused() {
        let mut g = graph(&[2]);
        let mut s = spec(1, &[]);
        s.parts = vec![Part::Inline(vec![0; INLINE_LIMIT + 1])];
        let mut fx = Effects::default();
        g.submit(vec![s], vec![], &mut fx);
        assert_eq!(fx.failures.len(), 1);
        assert!(fx.failures[0].message.contains("limit"));
    }
}
