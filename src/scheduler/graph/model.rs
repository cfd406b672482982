//! A randomized model test of the task graph: random submits with
//! dependencies, completions and failures on simulated workers, steals,
//! releases, cancels, retries and new workers, with the graph's invariants
//! checked after every event, and at the end a drain after which nothing may
//! be left in the graph or on a worker.

use super::{Effects, State, TaskGraph};
use crate::protocol::{Input, Outcome, TaskSpec};
use crate::task::args::Part;
use crate::task::{FailureKind, Key, TaskFailure};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// xorshift64*: a small seeded generator, enough to pick events.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.below(items.len())])
    }
}

/// A simulated worker: its queue (the first `threads` run) and its store.
#[derive(Default)]
struct SimWorker {
    threads: usize,
    queue: Vec<Key>,
    inputs: HashMap<Key, Vec<Input>>,
    store: HashSet<Key>,
    /// Steal requests not answered yet, oldest first.
    steals: Vec<Vec<Key>>,
}

struct Model {
    graph: TaskGraph,
    rng: Rng,
    workers: BTreeMap<usize, SimWorker>,
    /// Keys the client holds futures for.
    held: BTreeSet<Key>,
    /// Every key ever submitted, with its dependencies.
    specs: BTreeMap<Key, Vec<Key>>,
    next_key: u64,
    events: usize,
}

impl Model {
    fn new(seed: u64) -> Self {
        let mut m = Model {
            graph: TaskGraph::new(),
            rng: Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
            workers: BTreeMap::new(),
            held: BTreeSet::new(),
            specs: BTreeMap::new(),
            next_key: 1,
            events: 0,
        };
        for _ in 0..1 + m.rng.below(3) {
            m.add_worker();
        }
        m
    }

    fn add_worker(&mut self) {
        let rank = self.workers.keys().next_back().map_or(2, |r| r + 1);
        let threads = 1 + self.rng.below(3);
        // Up to three hosts, so that the per-host indexes see joins too.
        let host = ["a", "b", "c"][self.rng.below(3)];
        self.graph.add_worker_on(rank, threads, host);
        self.workers.insert(
            rank,
            SimWorker {
                threads,
                ..SimWorker::default()
            },
        );
    }

    fn holds(&self, worker: usize, key: Key) -> bool {
        self.workers
            .get(&worker)
            .is_some_and(|w| w.store.contains(&key))
    }

    /// Applies the graph's effects to the simulated workers and client.
    fn apply(&mut self, fx: Effects) {
        for f in &fx.failures {
            assert!(
                self.held.contains(&f.key),
                "failure reported for {} that the client does not hold",
                f.key
            );
        }
        for (w, keys) in fx.free {
            for k in keys {
                assert!(
                    self.workers
                        .get_mut(&w)
                        .is_some_and(|sw| sw.store.remove(&k)),
                    "free of {k} on worker {w}, which does not hold it"
                );
            }
        }
        for (w, specs) in fx.compute {
            for s in specs {
                for (r, sw) in &self.workers {
                    assert!(
                        !sw.queue.contains(&s.key),
                        "{} handed to {w} while queued on {r}",
                        s.key
                    );
                }
                self.check_inputs(w, s.key, &s.inputs);
                let sw = self.workers.get_mut(&w).expect("compute on a live worker");
                sw.queue.push(s.key);
                sw.inputs.insert(s.key, s.inputs);
            }
        }
        for (w, keys) in fx.steal {
            self.workers
                .get_mut(&w)
                .expect("steal from a live worker")
                .steals
                .push(keys);
        }
    }

    /// Every input of a task handed to (or run on) `w` is where it says.
    fn check_inputs(&self, w: usize, key: Key, inputs: &[Input]) {
        for i in inputs {
            match i {
                Input::Local(d) => assert!(self.holds(w, *d), "{key} on {w}: {d} not local"),
                Input::Remote { key: d, worker } => {
                    assert!(*worker != w, "{key}: remote input {d} on its own worker");
                    assert!(self.holds(*worker, *d), "{key}: {d} not on {worker}");
                }
                Input::Inline(_) => {}
            }
        }
    }

    fn event(&mut self, f: impl FnOnce(&mut TaskGraph, &mut Effects)) {
        let mut fx = Effects::default();
        f(&mut self.graph, &mut fx);
        self.apply(fx);
        self.events += 1;
        self.check();
    }

    fn submit(&mut self) {
        let mut specs = Vec::new();
        let held: Vec<Key> = self.held.iter().copied().collect();
        for _ in 0..1 + self.rng.below(5) {
            // Sometimes the same pure task again.
            if self.rng.chance(5) {
                if let Some(k) = self
                    .rng
                    .pick(&self.specs.keys().copied().collect::<Vec<_>>())
                {
                    let deps = self.specs[&k].clone();
                    if deps.iter().all(|d| self.held.contains(d)) {
                        specs.push(self.spec(k, &deps));
                        continue;
                    }
                }
            }
            let key = Key(self.next_key);
            self.next_key += 1;
            let mut deps = Vec::new();
            for _ in 0..self.rng.below(4) {
                if let Some(d) = self.rng.pick(&held) {
                    deps.push(d);
                }
            }
            if self.rng.chance(30) {
                if let Some(prev) = specs.last() {
                    deps.push(prev.key);
                }
            }
            self.specs.insert(key, deps.clone());
            specs.push(self.spec(key, &deps));
        }
        for s in &specs {
            self.held.insert(s.key);
        }
        self.event(|g, fx| g.submit(specs, vec![], fx));
    }

    fn spec(&mut self, key: Key, deps: &[Key]) -> TaskSpec {
        let mut s = super::sim::task(key, deps);
        if self.rng.chance(15) {
            let ranks: Vec<usize> = self.workers.keys().copied().collect();
            let mut list = vec![self.rng.pick(&ranks).unwrap_or(2)];
            if self.rng.chance(10) {
                list = vec![999];
            }
            s.workers = Some(list);
            s.allow_other_workers = self.rng.chance(50);
        }
        s.priority = self.rng.below(3) as i32;
        s.retries = self.rng.below(2) as u32;
        if let Some(Part::Inline(b)) = s.parts.last_mut() {
            b[0] = self.rng.below(256) as u8;
        }
        s
    }

    /// A busy worker ends one of its running tasks.
    fn finish(&mut self) -> bool {
        let busy: Vec<usize> = self
            .workers
            .iter()
            .filter(|(_, w)| !w.queue.is_empty())
            .map(|(&r, _)| r)
            .collect();
        let Some(w) = self.rng.pick(&busy) else {
            return false;
        };
        let fail = self.rng.chance(10);
        let nbytes = if self.rng.chance(20) { 100_000 } else { 8 };
        let sw = &self.workers[&w];
        let i = self.rng.below(sw.threads.min(sw.queue.len()));
        let key = sw.queue[i];
        let inputs = sw.inputs[&key].clone();
        self.check_inputs(w, key, &inputs);
        let sw = self.workers.get_mut(&w).expect("busy worker");
        sw.queue.remove(i);
        sw.inputs.remove(&key);
        let outcome = if fail {
            Outcome::Failed(TaskFailure {
                kind: FailureKind::Panicked,
                message: "boom".into(),
                key,
                worker: Some(w),
                root: None,
            })
        } else {
            sw.store.insert(key);
            Outcome::Done {
                key,
                nbytes,
                micros: 1 + self.rng.below(3000) as u64,
            }
        };
        self.event(|g, fx| g.finished(w, vec![outcome], fx));
        true
    }

    /// A worker answers its oldest steal request.
    fn answer_steal(&mut self) -> bool {
        let asked: Vec<usize> = self
            .workers
            .iter()
            .filter(|(_, w)| !w.steals.is_empty())
            .map(|(&r, _)| r)
            .collect();
        let Some(w) = self.rng.pick(&asked) else {
            return false;
        };
        let started_too = self.rng.chance(20);
        let sw = self.workers.get_mut(&w).expect("asked worker");
        let keys = sw.steals.remove(0);
        let mut back = Vec::new();
        for &k in &keys {
            let pos = sw.queue.iter().position(|q| *q == k);
            // Those not started (behind the running ones) go back; now and
            // then the worker has started one meanwhile.
            if let Some(i) = pos.filter(|&i| i >= sw.threads && !started_too) {
                sw.queue.remove(i);
                sw.inputs.remove(&k);
                back.push(k);
            }
        }
        self.event(|g, fx| g.stolen(w, &keys, &back, fx));
        true
    }

    fn some_held(&mut self) -> Vec<Key> {
        let held: Vec<Key> = self.held.iter().copied().collect();
        let mut keys = Vec::new();
        for _ in 0..1 + self.rng.below(3) {
            if let Some(k) = self.rng.pick(&held) {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        keys
    }

    fn step(&mut self) {
        match self.rng.below(100) {
            0..=24 => self.submit(),
            25..=59 => {
                self.finish();
            }
            60..=69 => {
                self.answer_steal();
            }
            70..=81 => {
                let keys = self.some_held();
                for k in &keys {
                    self.held.remove(k);
                }
                self.event(|g, fx| g.release(&keys, fx));
            }
            82..=87 => {
                let keys = self.some_held();
                self.event(|g, fx| g.cancel(&keys, fx));
            }
            88..=92 => {
                let keys = self.some_held();
                self.event(|g, fx| g.retry(&keys, fx));
            }
            93..=95 => {
                let keys = self.some_held();
                self.graph.fire_and_forget(&keys);
                for k in &keys {
                    self.held.remove(k);
                }
                self.event(|g, fx| g.release(&keys, fx));
            }
            96 => {
                if self.workers.len() < 8 {
                    self.add_worker();
                    self.event(|g, fx| g.schedule(fx));
                }
            }
            _ => self.event(|g, fx| g.schedule(fx)),
        }
    }

    /// Runs everything to the end, releases every key, and checks that the
    /// graph and the workers are empty.
    fn drain(&mut self) {
        for step in 0.. {
            assert!(
                step < 100_000,
                "no end in sight: tasks stolen back and forth?"
            );
            let first_steal = self.rng.chance(50);
            if (first_steal && self.answer_steal()) || self.finish() || self.answer_steal() {
                continue;
            }
            let pending = self.graph.tasks.iter().find(|(_, t)| {
                matches!(
                    t.state,
                    State::Waiting | State::Ready | State::Processing(_)
                )
            });
            assert!(
                pending.is_none(),
                "quiescent, yet {:?} is pending",
                pending.map(|(k, t)| (k, &t.state))
            );
            break;
        }
        let keys: Vec<Key> = std::mem::take(&mut self.held).into_iter().collect();
        self.event(|g, fx| g.release(&keys, fx));
        assert!(self.graph.is_empty(), "{} tasks left", self.graph.len());
        for (r, w) in &self.workers {
            assert!(w.store.is_empty(), "worker {r} still holds {:?}", w.store);
        }
    }

    /// The graph's invariants.
    fn check(&self) {
        let g = &self.graph;
        let queued = g.queued_keys();
        let mut processing: HashMap<usize, usize> = HashMap::new();
        for (&k, t) in &g.tasks {
            let pending = matches!(
                t.state,
                State::Waiting | State::Ready | State::Processing(_)
            );
            if pending || t.state == State::Waiting {
                for d in &t.deps {
                    assert!(g.tasks.contains_key(d), "{k} is pending but {d} is gone");
                }
            }
            // A finished, cancelled or refused task needs nothing from its
            // inputs, which may have been forgotten and submitted again
            // since (a retry links them again).
            let done = match &t.state {
                State::Memory { .. } => true,
                State::Failed(f) => matches!(f.kind, FailureKind::Cancelled | FailureKind::Refused),
                _ => false,
            };
            for d in t.deps.iter().filter(|_| !done) {
                if let Some(dt) = g.tasks.get(d) {
                    assert!(
                        dt.dependents.contains(&k),
                        "{d} does not list {k}: {t:?} {dt:?}"
                    );
                }
            }
            let in_memory = |d: &Key| {
                g.tasks
                    .get(d)
                    .is_some_and(|dt| matches!(dt.state, State::Memory { .. }))
            };
            match &t.state {
                State::Waiting => {
                    let missing = t.deps.iter().filter(|d| !in_memory(d)).count();
                    assert_eq!(t.waiting, missing, "{k}: waiting count");
                    assert!(missing > 0, "{k} waits on nothing");
                }
                State::Ready => {
                    assert!(
                        t.deps.iter().all(in_memory),
                        "{k} ready with inputs missing"
                    );
                    assert!(queued.contains(&k), "{k} is ready but queued nowhere");
                }
                State::Processing(w) => {
                    assert!(g.workers.contains_key(w), "{k} on unknown worker {w}");
                    assert!(
                        self.workers[w].queue.contains(&k),
                        "{k} processing on {w} but not queued there"
                    );
                    *processing.entry(*w).or_default() += 1;
                }
                State::Memory { worker, .. } => {
                    assert!(self.holds(*worker, k), "{k} in memory but not on {worker}");
                }
                State::Failed(f) => {
                    assert_eq!(f.key, k);
                    for d in &t.dependents {
                        if let Some(dt) = g.tasks.get(d) {
                            assert!(
                                matches!(dt.state, State::Failed(_)),
                                "{d} depends on failed {k} but is {:?}",
                                dt.state
                            );
                        }
                    }
                }
            }
            assert_eq!(t.wanted, self.held.contains(&k), "{k}: wanted vs held");
            if !t.wanted {
                // Kept for a dependent that may still use it (a cancelled
                // dependent lets its inputs go only once it is released).
                let needed = t.dependents.iter().any(|d| {
                    g.tasks
                        .get(d)
                        .is_some_and(|dt| !matches!(dt.state, State::Memory { .. }))
                });
                let running = matches!(t.state, State::Processing(_));
                let kept = t.keep_until_done && pending;
                assert!(needed || running || kept, "{k} is nobody's yet kept: {t:?}");
            }
        }
        for k in &self.held {
            assert!(
                g.tasks.contains_key(k),
                "the client holds {k}, the graph forgot it"
            );
        }
        for (&r, w) in &g.workers {
            let n = processing.get(&r).copied().unwrap_or(0);
            assert_eq!(w.processing, n, "worker {r}: processing count");
            assert_eq!(w.outstanding.len(), n, "worker {r}: outstanding");
            for (seq, k) in &w.outstanding {
                let t = &g.tasks[k];
                assert_eq!((t.seq, &t.state), (*seq, &State::Processing(r)));
            }
            if w.steal_pending {
                assert!(
                    !self.workers[&r].steals.is_empty(),
                    "{r}: steal pending, none asked"
                );
            }
        }
        for (r, sw) in &self.workers {
            for k in &sw.queue {
                let state = g.tasks.get(k).map(|t| &t.state);
                let here = state == Some(&State::Processing(*r));
                // A task the scheduler took back or forgot may still sit on
                // the worker until it answers the steal or finishes it.
                assert!(
                    here || !sw.steals.is_empty() || !matches!(state, Some(State::Processing(_))),
                    "{k} queued on {r} but the graph says {state:?}"
                );
            }
        }
    }
}

#[test]
fn random_events_keep_the_graph_consistent() {
    let mut total = 0;
    for seed in 1..=12 {
        let mut m = Model::new(seed);
        for _ in 0..600 {
            m.step();
        }
        m.drain();
        total += m.events;
    }
    assert!(total > 5_000, "only {total} events");
}
