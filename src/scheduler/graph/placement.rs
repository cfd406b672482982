//! Placement that costs about O(log workers) per decision, however many
//! workers there are.
//!
//! The graph keeps every worker in one ordered set by load (outstanding
//! tasks per thread, then most recently used, then rank: the order the
//! placement rule of [`graph`](super) uses among workers holding no input).
//! Every worker's capacity is its thread count times the same depth, so the
//! first worker in that order has room exactly when any worker has, and it
//! is the best worker for a task none of whose inputs is in memory. A task
//! whose inputs are in memory also looks at the few workers holding them;
//! one restricted to some workers looks only at those.
//!
//! # Hosts
//!
//! Workers on one host share memory (a copy between them is a memory copy)
//! while a copy between hosts crosses the network, so a task goes first to
//! a host holding the most bytes of its inputs (an input held twice on one
//! host counts once), then to the worker there holding the most, then by
//! load. On one host this is the rule above. Each host keeps its own load
//! order, so that the least loaded worker of a host holding inputs is also
//! looked at, in O(log workers): a task whose inputs are on two workers of
//! one host goes to a third worker of that host when those two are full,
//! rather than to an idle worker on another host. A task taken back by
//! stealing goes preferably to an idle worker on the host it was taken
//! from, and `replicate` spreads copies over hosts (`graph/replicas.rs`).
//!
//! A restricted task whose workers are all full waits in a queue of each of
//! them, looked at again only when that worker gains room, rather than being
//! taken out and put back on every event. Work stealing keeps a running
//! count of idle threads and the set of workers with tasks queued behind
//! busy threads, so that it never scans every worker.

use super::{Effects, State, Task, TaskGraph, WorkerLoad};
use crate::task::Key;
use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::iter;
use std::ops::Bound;

/// A ready task in a queue: priority, then submission order.
pub(super) type Queued = (i32, Reverse<u64>, Key);

/// A worker's place in the load order: the fewest outstanding tasks per
/// thread first, then the most recently used, then the lowest rank.
#[derive(Debug, Clone, Copy)]
struct LoadKey {
    processing: usize,
    threads: usize,
    last_used: u64,
    rank: usize,
}

impl LoadKey {
    fn of(rank: usize, w: &WorkerLoad) -> Self {
        LoadKey {
            processing: w.processing,
            threads: w.threads,
            last_used: w.last_used,
            rank,
        }
    }
}

impl Ord for LoadKey {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.processing * other.threads)
            .cmp(&(other.processing * self.threads))
            // The warmest: its progress thread is still polling eagerly
            // (see `comm::backoff`).
            .then(other.last_used.cmp(&self.last_used))
            .then(self.rank.cmp(&other.rank))
    }
}

impl PartialOrd for LoadKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for LoadKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for LoadKey {}

/// The graph's indexes of its workers, kept up to date on every change of a
/// worker's load (see [`TaskGraph::update_worker`]).
#[derive(Debug, Default)]
pub(super) struct Placement {
    /// Every worker, least loaded first.
    by_load: BTreeSet<LoadKey>,
    /// The workers of each host, least loaded first, by host id.
    by_host: Vec<BTreeSet<LoadKey>>,
    /// Host ids by hostname (an id is an index of `by_host`).
    host_ids: HashMap<String, usize>,
    /// Ready tasks restricted to workers that were all full, by worker.
    restricted: HashMap<usize, BinaryHeap<Queued>>,
    /// Workers with restricted tasks waiting that gained room.
    woken: BTreeSet<usize>,
    /// Executor threads with nothing to run, over all workers.
    idle_threads: usize,
    /// Workers with tasks queued behind busy threads and no steal request
    /// unanswered.
    victims: BTreeSet<usize>,
    /// Reused by every decision, so that a decision allocates nothing.
    pub(super) scratch: Scratch,
}

/// Where a task's inputs are, as one placement decision counts them.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    /// Bytes of the inputs held per worker rank, by rank.
    workers: Vec<(usize, u64)>,
    /// Bytes of the inputs held per host id, by host (each input once).
    hosts: Vec<(usize, u64)>,
    /// The hosts holding one input.
    one: Vec<usize>,
}

/// Adds up the bytes of equal keys in `v`, sorted by key.
fn merge(v: &mut Vec<(usize, u64)>) {
    v.sort_unstable_by_key(|&(k, _)| k);
    v.dedup_by(|(k, b), (kept_k, kept_b)| {
        let same = k == kept_k;
        if same {
            *kept_b += *b;
        }
        same
    });
}

/// The bytes of key `k` in `v` (as `merge` left it).
fn lookup(v: &[(usize, u64)], k: usize) -> u64 {
    v.binary_search_by_key(&k, |&(x, _)| x)
        .map_or(0, |i| v[i].1)
}

impl Placement {
    /// Takes worker `rank` out of the indexes (before its load changes).
    fn leave(&mut self, rank: usize, w: &WorkerLoad) {
        self.by_load.remove(&LoadKey::of(rank, w));
        if let Some(set) = self.by_host.get_mut(w.host) {
            set.remove(&LoadKey::of(rank, w));
        }
        self.victims.remove(&rank);
        self.idle_threads -= idle(w);
    }

    /// Puts worker `rank` into the indexes (after its load changed). A
    /// paused worker is left out of the load order (it takes nothing new)
    /// and its queued tasks may all be stolen.
    fn enter(&mut self, rank: usize, w: &WorkerLoad) {
        if !w.paused {
            self.by_load.insert(LoadKey::of(rank, w));
            if self.by_host.len() <= w.host {
                self.by_host.resize_with(w.host + 1, BTreeSet::new);
            }
            self.by_host[w.host].insert(LoadKey::of(rank, w));
        }
        let queued = if w.paused { 0 } else { w.threads };
        if w.processing > queued && !w.steal_pending {
            self.victims.insert(rank);
        }
        self.idle_threads += idle(w);
    }
}

/// Threads of `w` that could take a task now (none while it is paused).
fn idle(w: &WorkerLoad) -> usize {
    if w.paused {
        0
    } else {
        w.threads.saturating_sub(w.processing)
    }
}

impl Placement {
    /// The id of host `name`, a new one the first time it is seen.
    pub(super) fn host_id(&mut self, name: &str) -> usize {
        if let Some(&id) = self.host_ids.get(name) {
            return id;
        }
        let id = self.host_ids.len();
        self.host_ids.insert(name.to_string(), id);
        id
    }

    /// The least loaded worker of `host` other than `except`.
    fn least_loaded_on(&self, host: usize, except: Option<usize>) -> Option<usize> {
        let set = self.by_host.get(host)?;
        set.iter().map(|k| k.rank).find(|&r| Some(r) != except)
    }
}

impl TaskGraph {
    /// Adds worker `rank` to the placement indexes.
    pub(super) fn enter_worker(&mut self, rank: usize) {
        if let Some(w) = self.workers.get(&rank) {
            self.place.enter(rank, w);
        }
    }

    /// Changes worker `rank`'s load through `f`, keeping the indexes true.
    pub(super) fn update_worker(&mut self, rank: usize, f: impl FnOnce(&mut WorkerLoad)) {
        let Some(w) = self.workers.get_mut(&rank) else {
            return;
        };
        self.place.leave(rank, w);
        let before = w.processing;
        f(w);
        self.place.enter(rank, w);
        if w.processing < before && self.place.restricted.contains_key(&rank) {
            self.place.woken.insert(rank);
        }
    }

    /// Tasks per thread queued on a worker beyond the running one.
    pub(super) fn depth(&self) -> usize {
        match self.avg_micros {
            None => 1,
            Some(avg) => ((super::SATURATION_MICROS / avg.max(1.0)).ceil() as usize)
                .clamp(1, super::MAX_DEPTH),
        }
    }

    /// Worker `rank` resumed: the restricted tasks waiting for it look again.
    pub(super) fn wake(&mut self, rank: usize) {
        if self.place.restricted.contains_key(&rank) {
            self.place.woken.insert(rank);
        }
    }

    /// Every worker gained room (the queue depth grew).
    pub(super) fn wake_all(&mut self) {
        let waiting: Vec<usize> = self.place.restricted.keys().copied().collect();
        self.place.woken.extend(waiting);
    }

    fn room(&self, rank: usize) -> bool {
        self.workers
            .get(&rank)
            .is_some_and(|w| !w.paused && w.processing < w.threads * (1 + self.depth()))
    }

    /// Whether any worker has room: the least loaded one has.
    pub(super) fn has_room(&self) -> bool {
        self.place
            .by_load
            .first()
            .is_some_and(|k| self.room(k.rank))
    }

    /// The worker for `task`: among those it may run on that have room, the
    /// one on the host holding the most bytes of its inputs, then the one
    /// holding the most itself, then (for a task taken back from `except`)
    /// an idle one on `except`'s host, then the least loaded (see
    /// [`LoadKey`]); never `except`. Looks only at the workers holding
    /// inputs, the task's own list, and the least loaded workers overall,
    /// of each host holding inputs and of `except`'s host.
    pub(super) fn choose_worker(
        &self,
        task: &Task,
        scratch: &mut Scratch,
        except: Option<usize>,
    ) -> Option<usize> {
        scratch.workers.clear();
        scratch.hosts.clear();
        for d in &task.deps {
            if let Some(t) = self.tasks.get(d) {
                if let State::Memory { worker, nbytes } = t.state {
                    scratch.one.clear();
                    for w in iter::once(worker).chain(t.replicas.iter().copied()) {
                        scratch.workers.push((w, nbytes));
                        if let Some(load) = self.workers.get(&w) {
                            scratch.one.push(load.host);
                        }
                    }
                    scratch.one.sort_unstable();
                    scratch.one.dedup();
                    scratch
                        .hosts
                        .extend(scratch.one.iter().map(|&h| (h, nbytes)));
                }
            }
        }
        merge(&mut scratch.workers);
        merge(&mut scratch.hosts);
        let near = except.and_then(|r| self.workers.get(&r)).map(|w| w.host);
        let scratch = &*scratch;
        type Score = (Reverse<u64>, Reverse<u64>, bool, LoadKey);
        let better = |best: Option<Score>, rank: usize| {
            let Some(w) = self.workers.get(&rank) else {
                return best;
            };
            if !self.room(rank) || Some(rank) == except {
                return best;
            }
            let idle_near = Some(w.host) == near && w.processing < w.threads;
            let key = (
                Reverse(lookup(&scratch.hosts, w.host)),
                Reverse(lookup(&scratch.workers, rank)),
                !idle_near,
                LoadKey::of(rank, w),
            );
            match best {
                Some(b) if b <= key => Some(b),
                _ => Some(key),
            }
        };
        let pick = |strict: bool| {
            let mut best = None;
            match (&task.workers, strict) {
                (Some(list), true) => {
                    for &r in list {
                        best = better(best, r);
                    }
                }
                _ => {
                    for &(r, _) in &scratch.workers {
                        best = better(best, r);
                    }
                    let hosts = scratch.hosts.iter().map(|&(h, _)| h).chain(near);
                    for h in hosts {
                        if let Some(r) = self.place.least_loaded_on(h, except) {
                            best = better(best, r);
                        }
                    }
                    let least = self.place.by_load.iter();
                    for k in least.filter(|k| Some(k.rank) != except).take(1) {
                        best = better(best, k.rank);
                    }
                }
            }
            best.map(|(_, _, _, k)| k.rank)
        };
        pick(true).or_else(|| if task.allow_other { pick(false) } else { None })
    }

    /// Queues ready `key`, restricted to workers that are all full, on each
    /// of them that exists.
    pub(super) fn defer(&mut self, queued: Queued) {
        let Some(list) = self.tasks.get(&queued.2).and_then(|t| t.workers.clone()) else {
            return;
        };
        for r in list {
            if self.workers.contains_key(&r) {
                self.place.restricted.entry(r).or_default().push(queued);
            }
        }
    }

    /// Whether tasks wait deferred to workers that were full.
    pub(super) fn any_deferred(&self) -> bool {
        !self.place.restricted.is_empty()
    }

    /// The next task deferred to worker `rank` that is still ready, taken
    /// off its queue (tasks no longer ready are dropped from it).
    pub(super) fn pop_restricted(&mut self, rank: usize) -> Option<Key> {
        let queue = self.place.restricted.get_mut(&rank)?;
        while let Some((_, _, key)) = queue.pop() {
            if self
                .tasks
                .get(&key)
                .is_some_and(|t| t.state == State::Ready)
            {
                return Some(key);
            }
        }
        self.place.restricted.remove(&rank);
        None
    }

    /// Hands restricted tasks to the workers that gained room for them.
    pub(super) fn serve_restricted(&mut self, scratch: &mut Scratch, fx: &mut Effects) {
        while let Some(rank) = self.place.woken.pop_first() {
            while self.room(rank) {
                let Some(queue) = self.place.restricted.get_mut(&rank) else {
                    break;
                };
                let Some((_, _, key)) = queue.pop() else {
                    self.place.restricted.remove(&rank);
                    break;
                };
                let Some(task) = self.tasks.get(&key) else {
                    continue;
                };
                if task.state != State::Ready {
                    continue;
                }
                if let Some(r) = self.choose_worker(task, scratch, None) {
                    self.assign(key, r, fx);
                }
            }
            if self
                .place
                .restricted
                .get(&rank)
                .is_some_and(|q| q.is_empty())
            {
                self.place.restricted.remove(&rank);
            }
        }
    }

    /// The keys waiting in the queues of ready tasks (for the model test).
    #[cfg(test)]
    pub(super) fn queued_keys(&self) -> std::collections::HashSet<Key> {
        self.ready
            .iter()
            .chain(self.place.restricted.values().flat_map(|q| q.iter()))
            .map(|&(_, _, k)| k)
            .collect()
    }

    /// Work stealing: when nothing waits in the scheduler but a worker has
    /// idle threads while another has tasks queued behind busy ones, ask the
    /// busy worker to hand back some that have not started and whose inputs
    /// do not pin them there (at most [`INLINE_LIMIT`](super::INLINE_LIMIT)
    /// bytes held on it).
    pub(super) fn plan_steals(&mut self, fx: &mut Effects) {
        let mut budget = self.place.idle_threads;
        let mut after = Bound::Unbounded;
        while budget > 0 {
            let Some(&victim) = self.place.victims.range((after, Bound::Unbounded)).next() else {
                break;
            };
            after = Bound::Excluded(victim);
            let w = &self.workers[&victim];
            // A paused worker may hand back every task it has not started.
            let take = if w.paused {
                w.processing
            } else {
                (w.processing - w.threads).div_ceil(2)
            };
            let take = take.min(budget);
            let keys: Vec<Key> = w
                .outstanding
                .iter()
                .rev()
                .map(|&(_, k)| k)
                .filter(|k| self.movable(*k, victim))
                .take(take)
                .collect();
            if keys.is_empty() {
                continue;
            }
            budget -= keys.len();
            self.update_worker(victim, |w| w.steal_pending = true);
            fx.steal.entry(victim).or_default().extend(keys);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assigned, graph, spec};
    use super::*;
    use crate::protocol::Outcome;

    /// Done after 2 ms, so that queues stay one task deep per thread.
    fn done(key: u64) -> Outcome {
        Outcome::Done {
            key: Key(key),
            nbytes: 8,
            micros: 2000,
        }
    }

    #[test]
    fn load_order_is_tasks_per_thread_then_warmth_then_rank() {
        let key = |processing, threads, last_used, rank| LoadKey {
            processing,
            threads,
            last_used,
            rank,
        };
        assert!(
            key(1, 2, 0, 5) < key(1, 1, 9, 2),
            "half busy before fully busy"
        );
        assert!(
            key(2, 4, 0, 5) > key(1, 2, 3, 6),
            "equal ratio: warmer first"
        );
        assert!(key(0, 1, 0, 2) < key(0, 3, 0, 3), "then the lower rank");
    }

    #[test]
    fn a_restricted_task_waits_for_its_worker_without_blocking_others() {
        let mut g = graph(&[2, 3]);
        let mut fx = Effects::default();
        let only_on_2 = |k| {
            let mut s = spec(k, &[]);
            s.workers = Some(vec![2]);
            s
        };
        g.submit(
            vec![only_on_2(1), only_on_2(2), only_on_2(3)],
            vec![],
            &mut fx,
        );
        assert_eq!(assigned(&fx), vec![(2, 1), (2, 2)], "2 is full");
        // Others still go to 3 while 3 waits for 2.
        let mut fx = Effects::default();
        g.submit(vec![spec(4, &[])], vec![], &mut fx);
        assert_eq!(assigned(&fx), vec![(3, 4)]);
        assert_eq!(
            g.ready.len(),
            0,
            "the restricted one is not in the ready queue"
        );
        let mut fx = Effects::default();
        g.finished(3, vec![done(4)], &mut fx);
        assert!(fx.compute.is_empty(), "room on 3 does not help 3");
        let mut fx = Effects::default();
        g.finished(2, vec![done(1)], &mut fx);
        assert_eq!(assigned(&fx), vec![(2, 3)]);
    }

    #[test]
    fn a_stolen_task_goes_elsewhere_even_if_its_input_is_on_the_victim() {
        let mut g = graph(&[2, 3]);
        let mut fx = Effects::default();
        g.submit(vec![spec(1, &[])], vec![], &mut fx);
        g.finished(2, vec![done(1)], &mut fx);
        let mut fx = Effects::default();
        g.submit(vec![spec(10, &[1]), spec(11, &[1])], vec![], &mut fx);
        assert_eq!(assigned(&fx), vec![(2, 10), (2, 11)], "where the input is");
        assert_eq!(fx.steal.get(&2), Some(&vec![Key(11)]), "3 is idle");
        let mut fx = Effects::default();
        g.stolen(2, &[Key(11)], &[Key(11)], &mut fx);
        assert_eq!(assigned(&fx), vec![(3, 11)], "not back to 2");
        assert!(fx.steal.is_empty(), "and not stolen again");
    }
}
