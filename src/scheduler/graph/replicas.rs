//! Where results live beyond their first copy: `replicate` (copies made on
//! request, as dask's `client.replicate`), copies adopted after a broadcast,
//! and data the client placed on workers itself.

use super::*;

impl TaskGraph {
    /// Workers holding `key`'s result, if it is in memory.
    pub(super) fn holders(&self, key: Key) -> Option<Vec<usize>> {
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

    /// The client wants at least `n` workers to hold `key`: asks workers
    /// without it to fetch a copy from a holder (see `spread`).
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
        let mut asked = self.copy_targets.remove(&key).unwrap_or_default();
        for (to, from) in self.spread(&holders, &asked, want - holders.len()) {
            asked.insert(to);
            fx.acquire.push((to, key, from));
        }
        self.copy_targets.insert(key, asked);
        self.replications.entry(key).or_default().push((id, want));
    }

    /// `n` workers in neither `holders` nor `asked` to copy to, each with
    /// the holder to copy from: each copy goes to a worker not paused while
    /// there is one, to the host with the fewest copies so far, to its least
    /// loaded worker, and comes from a holder on that host where there is
    /// one. O(workers log workers).
    fn spread(&self, holders: &[usize], asked: &HashSet<usize>, n: usize) -> Vec<(usize, usize)> {
        // Per host: copies held, and a holder there.
        let mut copies: HashMap<usize, (usize, usize)> = HashMap::new();
        for &h in holders {
            if let Some(w) = self.workers.get(&h) {
                copies.entry(w.host).or_insert((0, h)).0 += 1;
            }
        }
        let holding: HashSet<usize> = holders.iter().copied().collect();
        // Each host's candidates, paused and most loaded first (popped from
        // the end).
        let mut by_host: HashMap<usize, Vec<(bool, usize, usize)>> = HashMap::new();
        let candidates = self
            .workers
            .iter()
            .filter(|(r, _)| !holding.contains(r) && !asked.contains(r));
        for (&r, w) in candidates {
            by_host
                .entry(w.host)
                .or_default()
                .push((w.paused, w.processing, r));
        }
        let mut next = BinaryHeap::new();
        for (&host, list) in by_host.iter_mut() {
            list.sort_unstable_by(|a, b| b.cmp(a));
            if let Some(&(paused, load, r)) = list.last() {
                let held = copies.get(&host).map_or(0, |c| c.0);
                next.push(Reverse((paused, held, load, r, host)));
            }
        }
        let mut chosen = Vec::with_capacity(n);
        while chosen.len() < n {
            let Some(Reverse((_, held, _, r, host))) = next.pop() else {
                break;
            };
            let from = copies.get(&host).map_or(holders[0], |c| c.1);
            chosen.push((r, from));
            let list = by_host.get_mut(&host).expect("a host with candidates");
            list.pop();
            if let Some(&(paused, load, r)) = list.last() {
                next.push(Reverse((paused, held + 1, load, r, host)));
            }
        }
        chosen
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
                self.copy_targets.remove(&key);
            }
        }
    }

    /// Worker `worker` could not copy `key`: rank `from` answered that it
    /// no longer holds it (freed or lost meanwhile). Another worker not yet
    /// asked copies it from another holder instead; when none is left, the
    /// `replicate` calls waiting for `key` are answered with an error now
    /// rather than never (the client may call again).
    pub fn acquire_failed(&mut self, worker: usize, key: Key, from: usize, fx: &mut Effects) {
        if !self.replications.contains_key(&key) {
            return;
        }
        let sources: Vec<usize> = self
            .holders(key)
            .unwrap_or_default()
            .into_iter()
            .filter(|&h| h != from)
            .collect();
        if !sources.is_empty() {
            let mut asked = self.copy_targets.remove(&key).unwrap_or_default();
            asked.insert(worker);
            asked.insert(from);
            let retry = self.spread(&sources, &asked, 1);
            for &(to, source) in &retry {
                asked.insert(to);
                fx.acquire.push((to, key, source));
            }
            self.copy_targets.insert(key, asked);
            if !retry.is_empty() {
                return;
            }
        }
        self.fail_replications(
            key,
            format!(
                "worker {worker} could not copy task {key} from rank {from}: it no longer holds it"
            ),
            fx,
        );
    }

    /// Answers every `replicate` waiting for `key` with `why`.
    pub(super) fn fail_replications(&mut self, key: Key, why: String, fx: &mut Effects) {
        self.copy_targets.remove(&key);
        for (id, _) in self.replications.remove(&key).unwrap_or_default() {
            fx.replicated.push((id, Err(why.clone())));
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
}
