//! Work stealing's answers: which queued tasks may move, and what to do when
//! a worker hands some back (`plan_steals`, which asks, is in
//! [`placement`](super::placement)).

use super::*;

impl TaskGraph {
    /// Whether task `key`, queued on `victim`, could as well run elsewhere.
    pub(super) fn movable(&self, key: Key, victim: usize) -> bool {
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

    /// `victim` handed back `keys` of the queued tasks `asked` for (the
    /// others had started). Those it kept are not asked for again.
    pub fn stolen(&mut self, victim: usize, asked: &[Key], keys: &[Key], fx: &mut Effects) {
        self.update_worker(victim, |w| w.steal_pending = false);
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
            self.hand_back(victim, k, fx);
        }
        self.schedule(fx);
    }

    /// `worker` handed back `tasks` unstarted: inputs they were to fetch
    /// (`keys`) were gone where this graph said they were. Each goes out
    /// again with where its inputs are now, or, when an input is no longer
    /// held anywhere (or this keeps happening), fails with kind `Lost`.
    pub fn inputs_gone(&mut self, worker: usize, tasks: &[Key], keys: &[Key], fx: &mut Effects) {
        for &k in tasks {
            let Some(t) = self.tasks.get_mut(&k) else {
                continue;
            };
            if t.state != State::Processing(worker) {
                continue;
            }
            t.replans = t.replans.saturating_add(1);
            let (replans, deps) = (t.replans, t.deps.clone());
            let lost = deps.into_iter().find(|d| {
                let held = self
                    .tasks
                    .get(d)
                    .is_some_and(|d| matches!(d.state, State::Memory { .. }));
                !held || (replans > MAX_REPLANS && keys.contains(d))
            });
            match lost {
                None => self.hand_back(worker, k, fx),
                Some(d) => {
                    let seq = self.tasks.get(&k).map_or(0, |t| t.seq);
                    self.update_worker(worker, |w| {
                        w.processing = w.processing.saturating_sub(1);
                        w.outstanding.remove(&(seq, k));
                    });
                    let failure = TaskFailure {
                        kind: FailureKind::Lost,
                        message: format!(
                            "input {d} was freed before worker {worker} could fetch it"
                        ),
                        key: k,
                        worker: Some(worker),
                        root: None,
                    };
                    self.fail(k, failure, fx);
                }
            }
        }
        self.schedule(fx);
    }

    /// Task `k`, processing on `victim`, came back unstarted: it goes to
    /// another worker (or waits for one), or fails if it was cancelled.
    fn hand_back(&mut self, victim: usize, k: Key, fx: &mut Effects) {
        let Some(t) = self.tasks.get(&k) else {
            return;
        };
        let (seq, cancelled) = (t.seq, t.cancel_requested);
        self.update_worker(victim, |w| {
            w.processing = w.processing.saturating_sub(1);
            w.outstanding.remove(&(seq, k));
        });
        if cancelled {
            self.fail(k, cancelled_failure(k), fx);
            return;
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
}

/// Hand-backs for gone inputs a task may have before one that is gone again
/// fails it (the graph and a worker disagree on where the input is).
pub(super) const MAX_REPLANS: u8 = 3;
