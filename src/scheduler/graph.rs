//! The task graph inside the scheduler: which tasks wait on which, which are
//! ready, where every result lives, and which worker runs what next.
//!
//! # Placement
//!
//! A ready task goes to the worker that already holds the most bytes of its
//! inputs; among equals, to the one with the fewest outstanding tasks per
//! thread, then the one used least recently (ipyparallel's default). Each
//! worker gets at most [`capacity`](TaskGraph::capacity) tasks at a time: its
//! thread count times a depth that grows as tasks get shorter, so that a
//! worker always has about [`SATURATION_MICROS`] of work queued per thread but
//! long tasks stay in the scheduler, where any worker that frees up can take
//! them.
//!
//! # Memory
//!
//! A result stays on the worker that made it while the client holds a future
//! for it or a task that needs it has not finished. When neither holds, the
//! scheduler tells the worker to free it and forgets the key.

use crate::protocol::{ComputeSpec, Input, Outcome, Placed, TaskSpec};
use crate::task::args::Part;
use crate::task::shipping::FnRef;
use crate::task::{FailureKind, Key, TaskFailure};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

/// The largest inline argument position the scheduler accepts; the client
/// puts larger ones on a worker directly.
pub const INLINE_LIMIT: usize = 64 * 1024;

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
    dependents: Vec<Key>,
    state: State,
    priority: i32,
    seq: u64,
    retries_left: u32,
    workers: Option<Vec<usize>>,
    allow_other: bool,
    wanted: bool,
}

#[derive(Debug, Default)]
struct WorkerLoad {
    threads: usize,
    processing: usize,
    last_used: u64,
}

/// What the graph wants sent after an event.
#[derive(Debug, Default, PartialEq)]
pub struct Effects {
    /// Final failures to report to the client.
    pub failures: Vec<TaskFailure>,
    /// Tasks to start, by worker.
    pub compute: BTreeMap<usize, Vec<ComputeSpec>>,
    /// Results to drop, by worker.
    pub free: BTreeMap<usize, Vec<Key>>,
}

/// The scheduler's view of every task.
#[derive(Debug, Default)]
pub struct TaskGraph {
    tasks: HashMap<Key, Task>,
    ready: BinaryHeap<(i32, Reverse<u64>, Key)>,
    workers: BTreeMap<usize, WorkerLoad>,
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
        self.workers.insert(
            rank,
            WorkerLoad {
                threads: threads.max(1),
                ..WorkerLoad::default()
            },
        );
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
        let depth = match self.avg_micros {
            None => 1,
            Some(avg) => ((SATURATION_MICROS / avg.max(1.0)).ceil() as usize).clamp(1, MAX_DEPTH),
        };
        threads * (1 + depth)
    }

    /// New tasks from the client, and data it placed on workers.
    pub fn submit(&mut self, specs: Vec<TaskSpec>, placed: Vec<Placed>, fx: &mut Effects) {
        let placed_keys: Vec<Key> = placed.iter().map(|p| p.key).collect();
        for p in placed {
            self.tasks.entry(p.key).or_insert_with(|| Task {
                function: None,
                parts: Vec::new(),
                deps: Vec::new(),
                waiting: 0,
                dependents: Vec::new(),
                state: State::Memory {
                    worker: p.worker,
                    nbytes: p.nbytes,
                },
                priority: 0,
                seq: 0,
                retries_left: 0,
                workers: None,
                allow_other: false,
                wanted: false,
            });
        }
        for spec in specs {
            self.submit_one(spec, fx);
        }
        // Placed data that no new task uses (its task was memoized) is freed.
        for k in placed_keys {
            self.try_forget(k, fx);
        }
        self.schedule(fx);
    }

    fn submit_one(&mut self, spec: TaskSpec, fx: &mut Effects) {
        let key = spec.key;
        if let Some(t) = self.tasks.get_mut(&key) {
            // The same pure task again: one computation.
            t.wanted = true;
            if let State::Failed(f) = &t.state {
                fx.failures.push(f.clone());
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
            dependents: Vec::new(),
            state: State::Waiting,
            priority: spec.priority,
            seq: self.seq,
            retries_left: spec.retries,
            workers: spec.workers,
            allow_other: spec.allow_other_workers,
            wanted: true,
        };
        self.tasks.insert(key, task);
        for d in &deps {
            if let Some(dt) = self.tasks.get_mut(d) {
                dt.dependents.push(key);
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

    /// The client cancelled these; those not started will not run.
    pub fn cancel(&mut self, keys: &[Key], fx: &mut Effects) {
        for &k in keys {
            let not_started = self
                .tasks
                .get(&k)
                .is_some_and(|t| matches!(t.state, State::Waiting | State::Ready));
            if not_started {
                let f = TaskFailure {
                    kind: FailureKind::Cancelled,
                    message: "cancelled".into(),
                    key: k,
                    worker: None,
                    root: None,
                };
                self.fail(k, f, fx);
            }
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
                if let Some(w) = self.workers.get_mut(&worker) {
                    w.processing = w.processing.saturating_sub(1);
                }
            }
            match outcome {
                Outcome::Done { nbytes, micros, .. } => {
                    let m = micros.max(1) as f64;
                    self.avg_micros = Some(self.avg_micros.map_or(m, |a| 0.9 * a + 0.1 * m));
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
                    let retry = self.tasks.get_mut(&key).is_some_and(|t| {
                        let again = t.retries_left > 0;
                        t.retries_left = t.retries_left.saturating_sub(1);
                        again
                    });
                    if retry {
                        log::info!(
                            "task {key} failed on worker {worker}; retrying: {}",
                            f.message
                        );
                        self.make_ready(key);
                    } else {
                        self.fail(key, f, fx);
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
        for d in deps {
            self.try_forget(d, fx);
        }
        self.try_forget(key, fx);
    }

    /// Marks `key` failed, reports it if wanted, and fails every task waiting on it.
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
            if t.wanted {
                fx.failures.push(f.clone());
            }
            for d in t.dependents.clone() {
                stack.push((d, dependency_failure(d, &f)));
            }
            finished.push(k);
        }
        for k in finished {
            let deps = self
                .tasks
                .get(&k)
                .map(|t| t.deps.clone())
                .unwrap_or_default();
            for d in deps {
                self.try_forget(d, fx);
            }
            self.try_forget(k, fx);
        }
    }

    /// Forgets `key` (freeing its result) when nobody needs it any more.
    fn try_forget(&mut self, key: Key, fx: &mut Effects) {
        let Some(t) = self.tasks.get(&key) else {
            return;
        };
        if t.wanted {
            return;
        }
        let pending_dependent = t.dependents.iter().any(|d| {
            self.tasks.get(d).is_some_and(|dt| {
                matches!(
                    dt.state,
                    State::Waiting | State::Ready | State::Processing(_)
                )
            })
        });
        if pending_dependent {
            return;
        }
        match t.state {
            State::Processing(_) => return,
            State::Memory { worker, .. } => fx.free.entry(worker).or_default().push(key),
            State::Waiting | State::Ready | State::Failed(_) => {}
        }
        if let Some(t) = self.tasks.remove(&key) {
            if matches!(t.state, State::Waiting | State::Ready) {
                for d in t.deps {
                    self.try_forget(d, fx);
                }
            }
        }
    }

    fn allowed(&self, t: &Task, rank: usize, strict: bool) -> bool {
        match &t.workers {
            None => true,
            Some(list) => list.contains(&rank) || (!strict && t.allow_other),
        }
    }

    /// Hands ready tasks to workers with room for them.
    pub fn schedule(&mut self, fx: &mut Effects) {
        let mut deferred = Vec::new();
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
            match self.choose_worker(task) {
                Some(rank) => self.assign(key, rank, fx),
                None => deferred.push((prio, seq, key)),
            }
        }
        self.ready.extend(deferred);
    }

    fn has_room(&self) -> bool {
        self.workers
            .iter()
            .any(|(&r, w)| w.processing < self.capacity(r))
    }

    fn choose_worker(&self, task: &Task) -> Option<usize> {
        let mut bytes: HashMap<usize, u64> = HashMap::new();
        for d in &task.deps {
            if let Some(State::Memory { worker, nbytes }) = self.tasks.get(d).map(|t| &t.state) {
                *bytes.entry(*worker).or_default() += nbytes;
            }
        }
        let pick = |strict: bool| {
            self.workers
                .iter()
                .filter(|(&r, w)| w.processing < self.capacity(r) && self.allowed(task, r, strict))
                .min_by(|(ra, wa), (rb, wb)| {
                    let ba = bytes.get(ra).copied().unwrap_or(0);
                    let bb = bytes.get(rb).copied().unwrap_or(0);
                    bb.cmp(&ba)
                        .then((wa.processing * wb.threads).cmp(&(wb.processing * wa.threads)))
                        .then(wa.last_used.cmp(&wb.last_used))
                })
                .map(|(&r, _)| r)
        };
        pick(true).or_else(|| if task.allow_other { pick(false) } else { None })
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
                Part::Future(d) => match self.tasks.get(d).map(|t| &t.state) {
                    Some(State::Memory { worker, .. }) if *worker == rank => Input::Local(*d),
                    Some(State::Memory { worker, .. }) => Input::Remote {
                        key: *d,
                        worker: *worker,
                    },
                    _ => Input::Local(*d),
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
        });
        if let Some(t) = self.tasks.get_mut(&key) {
            t.state = State::Processing(rank);
        }
        if let Some(w) = self.workers.get_mut(&rank) {
            w.processing += 1;
            w.last_used = tick;
        }
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
