//! Managing tasks the client already submitted: retrying failed ones,
//! cancelling, running fired-and-forgotten ones to the end, and answering
//! where results live (`who_has`, `has_what`).
//!
//! # Retry
//!
//! As in dask, retrying a failed task runs it once more together with every
//! failed task it inherited its failure from (its failed dependencies, and
//! theirs); inputs still in memory are used as they are. A failed task keeps
//! its inputs in the graph while the client holds it (see the module docs of
//! [`graph`](super)), so they are there to be used or re-run. Dependents that
//! failed because of it are not retried unless asked for too.
//!
//! # Cancel
//!
//! A task still in the scheduler fails as cancelled at once. One already
//! handed to a worker is asked back (the steal request); if the worker hands
//! it back unstarted it fails as cancelled, otherwise it runs to the end.
//! The client is not told: it marked the future cancelled when it asked,
//! and word of the cancel could reach it after it submitted the same key
//! again. A cancelled task submitted again runs after all.

use super::{cancelled_failure, Effects, Holders, State, TaskGraph};
use crate::task::{FailureKind, Key, TaskFailure};
use std::collections::{HashSet, VecDeque};

/// A `who_has` request: answered once none of `done` is still processing
/// (the client sees a result pushed by its worker before the scheduler hears
/// the task finished).
#[derive(Debug)]
pub(super) struct Query {
    id: u64,
    keys: Option<Vec<Key>>,
    done: Vec<Key>,
}

impl TaskGraph {
    /// The client asks to run these failed tasks again. A key in memory is
    /// located for the client again; one still to finish is left alone; one
    /// the scheduler no longer knows fails with a message that says so.
    pub fn retry(&mut self, keys: &[Key], fx: &mut Effects) {
        for &key in keys {
            match self.tasks.get(&key).map(|t| &t.state) {
                Some(State::Failed(_)) => self.rerun(key, fx),
                Some(State::Memory { worker, .. }) => fx.located.push((key, *worker)),
                Some(_) => {}
                None => fx.failures.push(TaskFailure {
                    kind: FailureKind::Refused,
                    message: format!(
                        "the scheduler no longer holds task {key} to retry it; submit it again"
                    ),
                    key,
                    worker: None,
                    root: None,
                }),
            }
        }
        self.schedule(fx);
    }

    /// Puts failed `key`, and the failed tasks it depends on, back to waiting.
    fn rerun(&mut self, key: Key, fx: &mut Effects) {
        // Every failed task reachable from `key` through failed dependencies.
        let mut again = Vec::new();
        let mut seen = HashSet::new();
        let mut queue = VecDeque::from([key]);
        while let Some(k) = queue.pop_front() {
            let Some(t) = self.tasks.get(&k) else {
                continue;
            };
            if !matches!(t.state, State::Failed(_)) || t.function.is_none() || !seen.insert(k) {
                continue;
            }
            again.push(k);
            queue.extend(t.deps.iter().copied());
        }
        for &k in &again {
            if let Some(t) = self.tasks.get_mut(&k) {
                t.state = State::Waiting;
                t.cancel_requested = false;
                if t.wanted {
                    fx.retried.push(k);
                }
            }
        }
        // Inputs first, so that a task whose inputs fail again inherits that.
        let mut problems = Vec::new();
        let mut ready = Vec::new();
        for &k in again.iter().rev() {
            let deps = self
                .tasks
                .get(&k)
                .map(|t| t.deps.clone())
                .unwrap_or_default();
            let mut waiting = 0;
            for d in &deps {
                // An input forgotten while `k` was cancelled and submitted
                // again since does not list `k` yet.
                if let Some(dt) = self.tasks.get_mut(d) {
                    if !dt.dependents.contains(&k) {
                        dt.dependents.push_back(k);
                    }
                }
                match self.tasks.get(d).map(|t| &t.state) {
                    Some(State::Memory { .. }) => {}
                    Some(_) => waiting += 1,
                    None => problems.push((k, *d)),
                }
            }
            if let Some(t) = self.tasks.get_mut(&k) {
                t.waiting = waiting;
                if waiting == 0 {
                    ready.push(k);
                }
            }
        }
        for (k, d) in problems {
            let f = TaskFailure {
                kind: FailureKind::Refused,
                message: format!("cannot run it again: task {d} it depends on is gone"),
                key: k,
                worker: None,
                root: None,
            };
            self.fail(k, f, fx);
        }
        for k in ready {
            if self
                .tasks
                .get(&k)
                .is_some_and(|t| t.state == State::Waiting)
            {
                self.make_ready(k);
            }
        }
    }

    /// The client cancelled these. Those still in the scheduler fail as
    /// cancelled now; those handed to a worker are asked back.
    pub fn cancel(&mut self, keys: &[Key], fx: &mut Effects) {
        for &k in keys {
            match self.tasks.get(&k).map(|t| t.state.clone()) {
                Some(State::Waiting | State::Ready) => self.fail(k, cancelled_failure(k), fx),
                Some(State::Processing(worker)) => {
                    if let Some(t) = self.tasks.get_mut(&k) {
                        t.cancel_requested = true;
                    }
                    self.update_worker(worker, |w| w.steal_pending = true);
                    fx.steal.entry(worker).or_default().push(k);
                }
                _ => {}
            }
        }
        self.schedule(fx);
    }

    /// The client will release these without waiting for them: keep each
    /// (and what it needs) until it has run, then forget it.
    pub fn fire_and_forget(&mut self, keys: &[Key]) {
        for k in keys {
            if let Some(t) = self.tasks.get_mut(k) {
                if matches!(
                    t.state,
                    State::Waiting | State::Ready | State::Processing(_)
                ) {
                    t.keep_until_done = true;
                }
            }
        }
    }

    /// Which workers hold `keys` (every result in memory when `None`); the
    /// answer waits until none of `done` is still processing.
    pub fn who_has(&mut self, id: u64, keys: Option<Vec<Key>>, done: Vec<Key>, fx: &mut Effects) {
        self.queries.push(Query { id, keys, done });
        self.answer_queries(fx);
    }

    /// Answers the `who_has` requests that can be answered now.
    pub(super) fn answer_queries(&mut self, fx: &mut Effects) {
        if self.queries.is_empty() {
            return;
        }
        let processing = |g: &TaskGraph, k: &Key| {
            g.tasks
                .get(k)
                .is_some_and(|t| matches!(t.state, State::Processing(_)))
        };
        let (later, now): (Vec<Query>, Vec<Query>) = std::mem::take(&mut self.queries)
            .into_iter()
            .partition(|q| q.done.iter().any(|k| processing(self, k)));
        self.queries = later;
        for q in now {
            let mut holders: Holders = match q.keys {
                Some(keys) => keys
                    .into_iter()
                    .map(|k| (k, self.holders(k).unwrap_or_default()))
                    .collect(),
                None => self
                    .tasks
                    .keys()
                    .filter_map(|&k| self.holders(k).map(|h| (k, h)))
                    .collect(),
            };
            for (_, h) in holders.iter_mut() {
                h.sort_unstable();
            }
            holders.sort();
            fx.holders.push((q.id, holders));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assigned, done, failed, graph, spec};
    use super::*;

    #[test]
    fn retry_reruns_a_failed_task_and_says_so() {
        let mut g = graph(&[2]);
        let mut fx = Effects::default();
        g.submit(vec![spec(1, &[])], vec![], &mut fx);
        g.finished(2, vec![failed(1, 2)], &mut fx);
        let mut fx = Effects::default();
        g.retry(&[Key(1)], &mut fx);
        assert_eq!(fx.retried, vec![Key(1)]);
        assert_eq!(assigned(&fx), vec![(2, 1)]);
        let mut fx = Effects::default();
        g.finished(2, vec![done(1, 8)], &mut fx);
        assert!(fx.failures.is_empty());
        // Retrying a result in memory only points the client to it again.
        let mut fx = Effects::default();
        g.retry(&[Key(1)], &mut fx);
        assert!(fx.compute.is_empty() && fx.retried.is_empty());
        assert_eq!(fx.located, vec![(Key(1), 2)]);
    }

    #[test]
    fn retry_reruns_failed_dependencies_and_keeps_good_inputs() {
        let mut g = graph(&[2]);
        let mut fx = Effects::default();
        // 3 = f(1, 2); 1 succeeds, 2 fails, so 3 fails through it.
        g.submit(
            vec![spec(1, &[]), spec(2, &[]), spec(3, &[1, 2])],
            vec![],
            &mut fx,
        );
        // The client holds only 3.
        g.release(&[Key(1), Key(2)], &mut fx);
        g.finished(2, vec![done(1, 8), failed(2, 2)], &mut fx);
        assert_eq!(fx.failures.len(), 1, "only the held one is reported");
        assert_eq!(fx.failures[0].root, Some(Key(2)));
        assert!(fx.free.is_empty(), "the failed task keeps its inputs");
        let mut fx = Effects::default();
        g.retry(&[Key(3)], &mut fx);
        assert_eq!(fx.retried, vec![Key(3)], "2 runs again but is not held");
        assert_eq!(assigned(&fx), vec![(2, 2)], "only the failed input runs");
        let mut fx = Effects::default();
        g.finished(2, vec![done(2, 8)], &mut fx);
        assert_eq!(assigned(&fx), vec![(2, 3)]);
        let mut fx = Effects::default();
        g.finished(2, vec![done(3, 8)], &mut fx);
        let mut freed = fx.free[&2].clone();
        freed.sort();
        assert_eq!(freed, vec![Key(1), Key(2)], "inputs go once it succeeds");
        // Dropping the failed task's last holder frees what it kept.
        let mut g2 = graph(&[2]);
        let mut fx = Effects::default();
        g2.submit(vec![spec(1, &[]), spec(3, &[1])], vec![], &mut fx);
        g2.release(&[Key(1)], &mut fx);
        g2.finished(2, vec![done(1, 8)], &mut fx);
        g2.finished(2, vec![failed(3, 2)], &mut fx);
        let mut fx = Effects::default();
        g2.release(&[Key(3)], &mut fx);
        assert_eq!(fx.free.get(&2), Some(&vec![Key(1)]));
        assert!(g2.is_empty());
    }

    #[test]
    fn a_retried_task_that_fails_again_reports_its_attempts() {
        let mut g = graph(&[2]);
        let mut s = spec(1, &[]);
        s.retries = 2;
        let mut fx = Effects::default();
        g.submit(vec![s], vec![], &mut fx);
        for _ in 0..3 {
            g.finished(2, vec![failed(1, 2)], &mut fx);
        }
        assert_eq!(fx.failures.len(), 1);
        assert!(
            fx.failures[0]
                .message
                .starts_with("failed after 3 attempts: boom"),
            "{}",
            fx.failures[0].message
        );
        let mut fx = Effects::default();
        g.retry(&[Key(1)], &mut fx);
        g.finished(2, vec![failed(1, 2)], &mut fx);
        assert!(fx.failures[0].message.contains("after 4 attempts"));
        // A single attempt keeps the plain message.
        let mut fx = Effects::default();
        g.submit(vec![spec(5, &[])], vec![], &mut fx);
        g.finished(2, vec![failed(5, 2)], &mut fx);
        assert_eq!(fx.failures[0].message, "boom");
    }

    #[test]
    fn retrying_an_unknown_key_fails_instead_of_hanging() {
        let mut g = graph(&[2]);
        let mut fx = Effects::default();
        g.retry(&[Key(9)], &mut fx);
        assert_eq!(fx.failures.len(), 1);
        assert!(fx.failures[0].message.contains("submit it again"));
    }

    #[test]
    fn cancel_asks_a_worker_for_a_queued_task_back() {
        let mut g = graph(&[2]);
        let mut fx = Effects::default();
        g.submit(
            vec![spec(1, &[]), spec(2, &[]), spec(3, &[])],
            vec![],
            &mut fx,
        );
        assert_eq!(assigned(&fx), vec![(2, 1), (2, 2)], "2 queued behind 1");
        let mut fx = Effects::default();
        g.cancel(&[Key(2), Key(3)], &mut fx);
        assert!(cancelled(&g, 3), "3 never left the scheduler");
        assert!(!cancelled(&g, 2));
        assert_eq!(fx.steal.get(&2), Some(&vec![Key(2)]));
        // Handed back unstarted: cancelled, never run.
        let mut fx = Effects::default();
        g.stolen(2, &[Key(2)], &[Key(2)], &mut fx);
        assert!(cancelled(&g, 2));
        assert!(
            fx.failures.is_empty(),
            "the client marks its cancels itself"
        );
        assert!(fx.compute.is_empty(), "not handed out again");
        // One that had started runs to the end.
        let mut fx = Effects::default();
        g.cancel(&[Key(1)], &mut fx);
        g.stolen(2, &[Key(1)], &[], &mut fx);
        g.finished(2, vec![done(1, 8)], &mut fx);
        assert!(fx.failures.is_empty());
        // A cancelled task submitted again runs after all.
        let mut fx = Effects::default();
        g.submit(vec![spec(3, &[])], vec![], &mut fx);
        assert_eq!(fx.retried, vec![Key(3)]);
        assert_eq!(assigned(&fx), vec![(2, 3)]);
    }

    /// Whether `key` failed as cancelled.
    fn cancelled(g: &TaskGraph, key: u64) -> bool {
        g.tasks.get(&Key(key)).is_some_and(
            |t| matches!(&t.state, State::Failed(f) if f.kind == FailureKind::Cancelled),
        )
    }

    #[test]
    fn a_cancel_then_a_submit_of_the_same_key_runs_it_and_reports_no_cancel() {
        // Waiting in the scheduler (3 on 1), and queued on the worker (2).
        let mut g = graph(&[2]);
        let mut fx = Effects::default();
        g.submit(
            vec![spec(1, &[]), spec(2, &[]), spec(3, &[1])],
            vec![],
            &mut fx,
        );
        assert_eq!(assigned(&fx), vec![(2, 1), (2, 2)]);
        let mut fx = Effects::default();
        g.cancel(&[Key(2), Key(3)], &mut fx);
        g.submit(vec![spec(2, &[]), spec(3, &[1])], vec![], &mut fx);
        g.stolen(2, &[Key(2)], &[Key(2)], &mut fx);
        g.finished(2, vec![done(1, 8)], &mut fx);
        assert!(fx.failures.is_empty(), "{:?}", fx.failures);
        assert!(!cancelled(&g, 2) && !cancelled(&g, 3));
        let mut later = assigned(&fx);
        later.sort_unstable();
        assert_eq!(later, vec![(2, 2), (2, 3)], "both run after all");
    }

    #[test]
    fn a_cancelled_task_keeps_no_inputs() {
        let mut g = graph(&[2]);
        let mut fx = Effects::default();
        g.submit(vec![spec(1, &[]), spec(2, &[1])], vec![], &mut fx);
        g.release(&[Key(1)], &mut fx);
        g.cancel(&[Key(2)], &mut fx);
        let mut fx = Effects::default();
        g.finished(2, vec![done(1, 8)], &mut fx);
        assert_eq!(fx.free.get(&2), Some(&vec![Key(1)]));
        assert_eq!(g.len(), 1, "only the cancelled task the client holds");
    }

    #[test]
    fn a_fired_and_forgotten_task_runs_after_its_release() {
        let mut g = graph(&[2]);
        let mut fx = Effects::default();
        g.submit(vec![spec(1, &[]), spec(2, &[1])], vec![], &mut fx);
        g.fire_and_forget(&[Key(2)]);
        g.release(&[Key(1), Key(2)], &mut fx);
        assert_eq!(g.len(), 2, "both kept");
        let mut fx = Effects::default();
        g.finished(2, vec![done(1, 8)], &mut fx);
        assert_eq!(assigned(&fx), vec![(2, 2)]);
        let mut fx = Effects::default();
        g.finished(2, vec![done(2, 8)], &mut fx);
        assert!(g.is_empty(), "forgotten once it ran");
        // Without it, a released waiting task is dropped.
        let mut g = graph(&[2]);
        let mut fx = Effects::default();
        g.submit(vec![spec(1, &[]), spec(2, &[1])], vec![], &mut fx);
        g.release(&[Key(2)], &mut fx);
        assert_eq!(g.len(), 1);
    }

    #[test]
    fn who_has_waits_for_results_the_client_already_saw() {
        let mut g = graph(&[2, 3]);
        let mut fx = Effects::default();
        g.submit(vec![spec(1, &[]), spec(2, &[])], vec![], &mut fx);
        g.finished(2, vec![done(1, 8)], &mut fx);
        let mut fx = Effects::default();
        // 2 is pending as far as the client knows: answered at once.
        g.who_has(7, Some(vec![Key(1), Key(2)]), vec![Key(1)], &mut fx);
        assert_eq!(
            fx.holders,
            vec![(7, vec![(Key(1), vec![2]), (Key(2), vec![])])]
        );
        // The client saw 2's result before the scheduler heard.
        let mut fx = Effects::default();
        g.who_has(8, None, vec![Key(2)], &mut fx);
        assert!(fx.holders.is_empty());
        g.finished(3, vec![done(2, 8)], &mut fx);
        assert_eq!(
            fx.holders,
            vec![(8, vec![(Key(1), vec![2]), (Key(2), vec![3])])]
        );
        // Copies count.
        let mut fx = Effects::default();
        g.replicate(1, Key(1), 2, &mut fx);
        g.acquired(3, Key(1), &mut fx);
        g.who_has(9, Some(vec![Key(1)]), vec![], &mut fx);
        assert_eq!(fx.holders, vec![(9, vec![(Key(1), vec![2, 3])])]);
    }
}
