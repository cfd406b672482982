//! Workers paused for memory: a worker whose store is over its pause
//! fraction says so (`WorkerToScheduler::Paused`), and until it resumes it
//! is out of the load order, so no new task goes to it; its queued tasks may
//! be stolen for workers with idle threads. A paused worker still finishes
//! the tasks it runs and serves fetches, so nothing waits on it for ever.
//!
//! When every worker is paused, ready tasks wait in the scheduler, but a
//! paused worker with nothing to do gets them one at a time (as a paused
//! worker's loop lets one held task run when nothing runs): its memory may
//! not come down until the client has the results it waits for (every
//! value in use, or a disk that refuses spills), and waiting for that would
//! stall the job for ever.

use super::{Effects, State, TaskGraph};

impl TaskGraph {
    /// Worker `rank` paused (`true`) or resumed (`false`).
    pub fn set_paused(&mut self, rank: usize, paused: bool, fx: &mut Effects) {
        if !self.workers.contains_key(&rank) {
            log::warn!("a pause notice from rank {rank}, which is not a worker");
            return;
        }
        self.update_worker(rank, |w| w.paused = paused);
        if !paused {
            self.wake(rank);
        }
        self.schedule(fx);
    }

    /// Whether there are workers and every one is paused.
    pub fn all_paused(&self) -> bool {
        !self.workers.is_empty() && self.workers.values().all(|w| w.paused)
    }

    /// Ready tasks waiting in the scheduler for a worker with room.
    pub fn ready_waiting(&self) -> usize {
        self.ready.len()
    }

    /// With every worker paused, one ready task to each worker that has
    /// nothing outstanding (see the module docs): first one deferred to it
    /// (pinned to workers that were full), else one from the ready queue.
    pub(super) fn trickle(&mut self, fx: &mut Effects) {
        if (self.ready.is_empty() && !self.any_deferred()) || !self.all_paused() {
            return;
        }
        let idle: Vec<usize> = self
            .workers
            .iter()
            .filter(|(_, w)| w.processing == 0)
            .map(|(&r, _)| r)
            .collect();
        for rank in idle {
            if let Some(key) = self.pop_restricted(rank) {
                self.assign(key, rank, fx);
                continue;
            }
            let mut aside = Vec::new();
            while let Some(queued) = self.ready.pop() {
                let Some(task) = self.tasks.get(&queued.2) else {
                    continue;
                };
                if task.state != State::Ready {
                    continue;
                }
                let allowed = task.allow_other
                    || task
                        .workers
                        .as_ref()
                        .is_none_or(|list| list.contains(&rank));
                if allowed {
                    self.assign(queued.2, rank, fx);
                    break;
                }
                aside.push(queued);
            }
            self.ready.extend(aside);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assigned, done, graph, spec};
    use super::*;
    use crate::task::Key;

    #[test]
    fn a_paused_worker_gets_no_new_tasks_and_its_queued_ones_may_be_stolen() {
        let mut g = graph(&[2, 3]);
        let mut fx = Effects::default();
        g.submit((1..=4).map(|k| spec(k, &[])).collect(), vec![], &mut fx);
        assert_eq!(assigned(&fx), vec![(2, 1), (2, 4), (3, 2), (3, 3)]);
        let mut fx = Effects::default();
        g.set_paused(2, true, &mut fx);
        assert_eq!(fx, Effects::default(), "3 is busy: nothing to do yet");
        // New tasks go to 3 only.
        let mut fx = Effects::default();
        g.submit((5..=6).map(|k| spec(k, &[])).collect(), vec![], &mut fx);
        let mut fx = Effects::default();
        g.finished(3, vec![done(2, 8), done(3, 8)], &mut fx);
        assert_eq!(assigned(&fx), vec![(3, 5), (3, 6)]);
        // 3 idle: it takes 2's queued task, then the one 2 holds at its
        // only thread too (a worker not paused would keep that one).
        let mut fx = Effects::default();
        g.finished(3, vec![done(5, 8), done(6, 8)], &mut fx);
        assert_eq!(fx.steal.get(&2), Some(&vec![Key(4)]));
        let mut fx = Effects::default();
        g.stolen(2, &[Key(4)], &[Key(4)], &mut fx);
        assert_eq!(assigned(&fx), vec![(3, 4)]);
        let mut fx = Effects::default();
        g.finished(3, vec![done(4, 8)], &mut fx);
        assert_eq!(fx.steal.get(&2), Some(&vec![Key(1)]));
        let mut fx = Effects::default();
        g.stolen(2, &[Key(1)], &[], &mut fx);
        assert!(fx.steal.is_empty() && fx.compute.is_empty(), "{fx:?}");
    }

    #[test]
    fn with_every_worker_paused_tasks_wait_but_an_idle_one_gets_one_at_a_time() {
        let mut g = graph(&[2, 3]);
        let mut fx = Effects::default();
        g.submit((1..=2).map(|k| spec(k, &[])).collect(), vec![], &mut fx);
        assert_eq!(assigned(&fx), vec![(2, 1), (3, 2)]);
        let mut fx = Effects::default();
        g.set_paused(2, true, &mut fx);
        assert!(!g.all_paused());
        g.set_paused(3, true, &mut fx);
        assert!(g.all_paused());
        let mut restricted = spec(8, &[]);
        restricted.workers = Some(vec![3]);
        let mut fx = Effects::default();
        g.submit(
            vec![spec(7, &[]), restricted, spec(9, &[])],
            vec![],
            &mut fx,
        );
        assert!(fx.compute.is_empty(), "{fx:?}");
        assert_eq!(g.ready_waiting(), 3, "all wait in the ready queue");
        // 2 has nothing left to run: one task, and not 8, which is 3's.
        let mut fx = Effects::default();
        g.finished(2, vec![done(1, 8)], &mut fx);
        assert_eq!(assigned(&fx), vec![(2, 7)]);
        let mut fx = Effects::default();
        g.set_paused(2, false, &mut fx);
        assert_eq!(assigned(&fx), vec![(2, 9)], "8 may run on 3 only");
        let mut fx = Effects::default();
        g.set_paused(3, false, &mut fx);
        assert_eq!(assigned(&fx), vec![(3, 8)]);
        // A notice from a rank that is not a worker changes nothing.
        let mut fx = Effects::default();
        g.set_paused(9, true, &mut fx);
        assert!(!g.all_paused());
    }

    #[test]
    fn with_every_worker_paused_an_idle_one_gets_a_task_deferred_to_it() {
        let mut g = graph(&[2, 3]);
        let pinned = |k| {
            let mut s = spec(k, &[]);
            s.workers = Some(vec![2]);
            s
        };
        let mut fx = Effects::default();
        g.submit((1..=3).map(pinned).collect(), vec![], &mut fx);
        assert_eq!(assigned(&fx), vec![(2, 1), (2, 2)], "3 waits for 2");
        assert_eq!(g.ready_waiting(), 0, "deferred to 2, not in the queue");
        let mut fx = Effects::default();
        g.set_paused(2, true, &mut fx);
        g.set_paused(3, true, &mut fx);
        assert!(fx.compute.is_empty(), "{fx:?}");
        let mut fx = Effects::default();
        g.finished(2, vec![done(1, 8)], &mut fx);
        assert!(fx.compute.is_empty(), "2 is not idle yet: {fx:?}");
        let mut fx = Effects::default();
        g.finished(2, vec![done(2, 8)], &mut fx);
        assert_eq!(assigned(&fx), vec![(2, 3)]);
    }
}
