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

    /// Worker `worker` could not copy `key`: rank `from` answered that it
    /// no longer holds it (freed or lost meanwhile). The `replicate` calls
    /// waiting for `key` are answered with an error now rather than never;
    /// the client may call again.
    pub fn acquire_failed(&mut self, worker: usize, key: Key, from: usize, fx: &mut Effects) {
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
