//! The worker's bookkeeping of tasks that wait for inputs: a small state
//! machine, driven by the worker loop and unit-tested on its own.
//!
//! A task the scheduler hands over has one slot per argument position. A
//! slot is filled by inline bytes, by a result this worker holds, or later
//! by data that arrives (a `Put` from the client, a fetch answered by another
//! worker, a broadcast). The task leaves for an executor only when every
//! slot is filled: the count kept is of EMPTY SLOTS, lowered by the slots an
//! arrival fills, never by the arrival itself, so an input that arrives twice
//! (or a task listed twice under one input) cannot start a task early.
//!
//! Each waiting task is listed under every key it still misses
//! (`needed_by`); stealing a task takes it out of both indexes, so a task
//! stolen and then handed back to this worker starts from a clean slate.
//! Keys already asked of other workers are remembered (`fetching`) so a
//! returning task does not ask again while the first answer is on its way.

use super::executor::Job;
use crate::comm::transport::Rank;
use crate::protocol::{ComputeSpec, Input};
use crate::task::shipping::FnRef;
use crate::task::Key;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One task waiting for inputs.
struct Pending {
    function: FnRef,
    /// Whether the client wants the result pushed (`ComputeSpec::push`).
    push: bool,
    /// Per argument position: the key that fills it (`None` for inline bytes).
    wants: Vec<Option<Key>>,
    /// Per argument position: its bytes, once here.
    slots: Vec<Option<Arc<Vec<u8>>>>,
    /// How many of `slots` are still empty.
    empty: usize,
}

impl Pending {
    /// Fills every empty slot that `key` fills; how many it filled.
    fn fill(&mut self, key: Key, bytes: &Arc<Vec<u8>>) -> usize {
        let mut filled = 0;
        for (slot, want) in self.slots.iter_mut().zip(&self.wants) {
            if *want == Some(key) && slot.is_none() {
                *slot = Some(bytes.clone());
                filled += 1;
            }
        }
        self.empty -= filled;
        filled
    }

    /// The keys this task still misses, each once.
    fn missing(&self) -> Vec<Key> {
        let mut keys: Vec<Key> = self
            .slots
            .iter()
            .zip(&self.wants)
            .filter(|(slot, _)| slot.is_none())
            .filter_map(|(_, want)| *want)
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// The job, if every slot is filled; the task back otherwise.
    fn into_job(self, key: Key) -> Result<Job, Self> {
        if self.empty != 0 || self.slots.iter().any(Option::is_none) {
            return Err(self);
        }
        Ok(Job {
            key,
            function: self.function,
            inputs: self.slots.into_iter().flatten().collect(),
            push: self.push,
        })
    }
}

/// What admitting a task gave: the job if it can start now, and the keys to
/// ask other workers for, by worker.
#[derive(Default)]
pub(crate) struct Admitted {
    /// The task, when every input is here.
    pub ready: Option<Job>,
    /// Inputs to fetch: (worker that holds it, key), each key once.
    pub fetch: Vec<(Rank, Key)>,
}

/// Tasks waiting for inputs on one worker.
#[derive(Default)]
pub(crate) struct Inputs {
    /// Tasks still missing some inputs, by task key.
    waiting: HashMap<Key, Pending>,
    /// For each missing key, the waiting tasks it fills (each task once).
    needed_by: HashMap<Key, Vec<Key>>,
    /// Keys asked of another worker whose answer has not come yet.
    fetching: HashSet<Key>,
}

impl Inputs {
    /// A task from the scheduler. `held` looks a key up in this worker's
    /// store. A task already waiting under the same key is replaced.
    pub fn admit(
        &mut self,
        spec: ComputeSpec,
        held: impl Fn(Key) -> Option<Arc<Vec<u8>>>,
    ) -> Admitted {
        self.steal(spec.key);
        let mut admitted = Admitted::default();
        let n = spec.inputs.len();
        let mut pending = Pending {
            function: spec.function,
            push: spec.push,
            wants: Vec::with_capacity(n),
            slots: Vec::with_capacity(n),
            empty: 0,
        };
        for input in spec.inputs {
            let (want, got) = match input {
                Input::Inline(b) => (None, Some(b)),
                Input::Local(k) => (Some(k), held(k)),
                Input::Remote { key, worker } => {
                    let got = held(key);
                    if got.is_none() && self.fetching.insert(key) {
                        admitted.fetch.push((worker, key));
                    }
                    (Some(key), got)
                }
            };
            if got.is_none() {
                pending.empty += 1;
            }
            pending.wants.push(want);
            pending.slots.push(got);
        }
        match pending.into_job(spec.key) {
            Ok(job) => admitted.ready = Some(job),
            Err(pending) => {
                for k in pending.missing() {
                    self.needed_by.entry(k).or_default().push(spec.key);
                }
                self.waiting.insert(spec.key, pending);
            }
        }
        admitted
    }

    /// `key`'s value reached this worker: fills it into the tasks that need
    /// it and returns those that now have every input.
    pub fn arrived(&mut self, key: Key, bytes: &Arc<Vec<u8>>) -> Vec<Job> {
        self.fetching.remove(&key);
        let Some(tasks) = self.needed_by.remove(&key) else {
            return Vec::new();
        };
        let mut ready = Vec::new();
        for t in tasks {
            let Some(p) = self.waiting.get_mut(&t) else {
                continue;
            };
            if p.fill(key, bytes) == 0 || p.empty != 0 {
                continue;
            }
            if let Some(p) = self.waiting.remove(&t) {
                match p.into_job(t) {
                    Ok(job) => ready.push(job),
                    Err(p) => {
                        self.waiting.insert(t, p);
                    }
                }
            }
        }
        ready
    }

    /// Takes waiting task `key` away (the scheduler steals it, or sends it
    /// again): it leaves every index. `true` if it was waiting here.
    pub fn steal(&mut self, key: Key) -> bool {
        let Some(p) = self.waiting.remove(&key) else {
            return false;
        };
        for k in p.missing() {
            if let Some(tasks) = self.needed_by.get_mut(&k) {
                tasks.retain(|t| *t != key);
                if tasks.is_empty() {
                    self.needed_by.remove(&k);
                }
            }
        }
        true
    }

    /// `key` will not arrive (freed where it was to be fetched from): the
    /// tasks waiting for it leave, and are returned.
    pub fn gone(&mut self, key: Key) -> Vec<Key> {
        self.fetching.remove(&key);
        let tasks = self.needed_by.get(&key).cloned().unwrap_or_default();
        for t in &tasks {
            self.steal(*t);
        }
        tasks
    }

    /// How many tasks wait for inputs.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Checks that the indexes agree: every waiting task is listed under
    /// exactly the keys it misses, once each, and nothing else is listed.
    #[cfg(test)]
    fn check(&self) {
        let mut expected: HashMap<Key, Vec<Key>> = HashMap::new();
        for (t, p) in &self.waiting {
            assert_eq!(
                p.empty,
                p.slots.iter().filter(|s| s.is_none()).count(),
                "task {t}: the empty-slot count is off"
            );
            assert!(p.empty > 0, "task {t} waits with every input here");
            for k in p.missing() {
                expected.entry(k).or_default().push(*t);
            }
        }
        let mut actual = self.needed_by.clone();
        for list in expected.values_mut().chain(actual.values_mut()) {
            list.sort_unstable();
        }
        assert_eq!(
            actual, expected,
            "needed_by disagrees with the waiting tasks"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop(_: usize, _: Vec<std::sync::Arc<Vec<u8>>>) -> Result<Vec<u8>, String> {
        Ok(Vec::new())
    }

    fn spec(key: u64, inputs: Vec<Input>) -> ComputeSpec {
        ComputeSpec {
            key: Key(key),
            function: FnRef::new(0, noop, 0),
            inputs,
            push: false,
        }
    }

    fn remote(key: u64, worker: Rank) -> Input {
        Input::Remote {
            key: Key(key),
            worker,
        }
    }

    fn bytes(b: u8) -> Arc<Vec<u8>> {
        Arc::new(vec![b])
    }

    fn nothing(_: Key) -> Option<Arc<Vec<u8>>> {
        None
    }

    fn values(job: &Job) -> Vec<u8> {
        job.inputs.iter().map(|b| b[0]).collect()
    }

    #[test]
    fn a_task_with_every_input_here_starts_at_once() {
        let mut s = Inputs::default();
        let held = |k: Key| (k == Key(10)).then(|| bytes(1));
        let a = s.admit(
            spec(
                1,
                vec![Input::Inline(Arc::new(vec![0])), Input::Local(Key(10))],
            ),
            held,
        );
        assert_eq!(values(&a.ready.expect("ready")), vec![0, 1]);
        assert!(a.fetch.is_empty());
        assert_eq!(s.len(), 0);
        s.check();
    }

    #[test]
    fn a_task_starts_only_when_every_slot_is_filled() {
        let mut s = Inputs::default();
        let a = s.admit(spec(1, vec![remote(10, 3), remote(11, 4)]), nothing);
        assert!(a.ready.is_none());
        assert_eq!(a.fetch, vec![(3, Key(10)), (4, Key(11))]);
        s.check();
        assert!(s.arrived(Key(10), &bytes(10)).is_empty());
        s.check();
        let ready = s.arrived(Key(11), &bytes(11));
        assert_eq!(ready.len(), 1);
        assert_eq!(values(&ready[0]), vec![10, 11]);
        assert_eq!(s.len(), 0);
        s.check();
    }

    #[test]
    fn one_key_in_two_slots_fills_both() {
        let mut s = Inputs::default();
        let a = s.admit(spec(1, vec![remote(10, 3), remote(10, 3)]), nothing);
        assert_eq!(a.fetch, vec![(3, Key(10))], "asked once");
        let ready = s.arrived(Key(10), &bytes(7));
        assert_eq!(values(&ready[0]), vec![7, 7]);
        s.check();
    }

    #[test]
    fn a_duplicate_arrival_starts_nothing_early() {
        let mut s = Inputs::default();
        s.admit(spec(1, vec![Input::Local(Key(10)), remote(11, 3)]), nothing);
        assert!(s.arrived(Key(10), &bytes(1)).is_empty());
        assert!(s.arrived(Key(10), &bytes(1)).is_empty(), "second copy");
        assert_eq!(s.len(), 1);
        s.check();
        let ready = s.arrived(Key(11), &bytes(2));
        assert_eq!(values(&ready[0]), vec![1, 2]);
    }

    #[test]
    fn steal_then_return_to_the_same_worker_waits_for_every_input() {
        // The fault of issue 8: the stolen task stayed listed under its
        // missing inputs, so when it came back the first arrival counted
        // twice and it started with an input missing.
        let mut s = Inputs::default();
        let task = || spec(1, vec![remote(10, 3), remote(11, 4)]);
        let first = s.admit(task(), nothing);
        assert_eq!(first.fetch.len(), 2);
        assert!(s.steal(Key(1)));
        assert_eq!(s.len(), 0);
        s.check();
        let again = s.admit(task(), nothing);
        assert!(
            again.fetch.is_empty(),
            "the first fetches are still on their way"
        );
        s.check();
        assert!(
            s.arrived(Key(10), &bytes(10)).is_empty(),
            "one input is still missing"
        );
        let ready = s.arrived(Key(11), &bytes(11));
        assert_eq!(ready.len(), 1);
        assert_eq!(values(&ready[0]), vec![10, 11]);
        s.check();
    }

    #[test]
    fn an_input_arriving_after_the_steal_is_dropped() {
        let mut s = Inputs::default();
        s.admit(spec(1, vec![remote(10, 3)]), nothing);
        assert!(s.steal(Key(1)));
        assert!(!s.steal(Key(1)), "stolen once");
        assert!(s.arrived(Key(10), &bytes(1)).is_empty());
        s.check();
        // Handed back after the data came and went: asked for again.
        let a = s.admit(spec(1, vec![remote(10, 3)]), nothing);
        assert_eq!(a.fetch, vec![(3, Key(10))]);
        assert_eq!(s.arrived(Key(10), &bytes(1)).len(), 1);
        s.check();
    }

    #[test]
    fn a_task_sent_twice_is_held_once() {
        let mut s = Inputs::default();
        s.admit(spec(1, vec![remote(10, 3), remote(11, 3)]), nothing);
        s.admit(spec(1, vec![remote(10, 3), remote(11, 3)]), nothing);
        assert_eq!(s.len(), 1);
        s.check();
        assert!(s.arrived(Key(10), &bytes(1)).is_empty());
        assert_eq!(s.arrived(Key(11), &bytes(2)).len(), 1);
        assert!(s.arrived(Key(11), &bytes(2)).is_empty(), "and run once");
    }

    #[test]
    fn stealing_one_task_leaves_the_others_sharing_its_input() {
        let mut s = Inputs::default();
        s.admit(spec(1, vec![remote(10, 3)]), nothing);
        s.admit(
            spec(2, vec![remote(10, 3), Input::Inline(Arc::new(vec![5]))]),
            nothing,
        );
        assert!(s.steal(Key(1)));
        s.check();
        let ready = s.arrived(Key(10), &bytes(9));
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].key, Key(2));
        assert_eq!(values(&ready[0]), vec![9, 5]);
        s.check();
    }
}
