//! Unit tests of the task graph: placement, failures, stealing, memory.

use super::*;

fn noop(_: usize, _: Vec<std::sync::Arc<Vec<u8>>>) -> Result<Vec<u8>, String> {
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
    g.stolen(2, &[Key(4)], &[Key(4)], &mut fx);
    assert_eq!(assigned(&fx), vec![(3, 4)]);
}

/// Tasks 1-4 on workers 2 and 3 (two each, one thread each); 3 finishes
/// both of its own, so the scheduler asks 2 for its queued task 4.
fn steal_asked_of_2_for_4() -> TaskGraph {
    let mut g = graph(&[2, 3]);
    let mut fx = Effects::default();
    g.submit((1..=4).map(|k| spec(k, &[])).collect(), vec![], &mut fx);
    let mut fx = Effects::default();
    g.finished(3, vec![done(2, 8), done(3, 8)], &mut fx);
    assert_eq!(fx.steal.get(&2), Some(&vec![Key(4)]));
    g
}

#[test]
fn a_task_started_before_the_steal_stays_with_its_worker() {
    let mut g = steal_asked_of_2_for_4();
    // Worker 2 had started 4 already, so it hands back nothing.
    let mut fx = Effects::default();
    g.stolen(2, &[Key(4)], &[], &mut fx);
    assert!(fx.compute.is_empty(), "4 is not run a second time on 3");
    assert_eq!(g.tasks[&Key(4)].state, State::Processing(2));
    // A refused task is not asked for again (that would ping-pong steal
    // messages for as long as it runs); the other queued one may be.
    assert_eq!(fx.steal.get(&2), Some(&vec![Key(1)]));
    let mut fx = Effects::default();
    g.stolen(2, &[Key(1)], &[], &mut fx);
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
fn a_replicate_whose_source_lost_the_key_is_answered_with_an_error() {
    let mut g = graph(&[2, 3]);
    let mut fx = Effects::default();
    g.submit(vec![spec(1, &[])], vec![], &mut fx);
    g.finished(2, vec![done(1, 8)], &mut fx);
    let mut fx = Effects::default();
    g.replicate(7, Key(1), 2, &mut fx);
    assert_eq!(fx.acquire, vec![(3, Key(1), 2)]);
    let mut fx = Effects::default();
    g.acquire_failed(3, Key(1), 2, &mut fx);
    assert_eq!(fx.replicated.len(), 1);
    let (id, answer) = &fx.replicated[0];
    assert_eq!(*id, 7);
    let why = answer.as_ref().unwrap_err();
    assert!(why.contains("worker 3") && why.contains("rank 2"), "{why}");
    assert!(fx.acquire.is_empty(), "no other holder to copy from");
    // Answered once: a late `Acquired` does not answer it again.
    let mut fx = Effects::default();
    g.acquired(3, Key(1), &mut fx);
    assert!(fx.replicated.is_empty());
}

#[test]
fn a_failed_copy_is_made_on_another_worker_from_another_holder() {
    let mut g = graph(&[2, 3, 4, 5, 6]);
    let mut fx = Effects::default();
    g.submit(vec![spec(1, &[])], vec![], &mut fx);
    g.finished(2, vec![done(1, 8)], &mut fx);
    let mut fx = Effects::default();
    g.replicate(7, Key(1), 3, &mut fx);
    assert_eq!(fx.acquire.len(), 2, "{:?}", fx.acquire);
    let (a, b) = (fx.acquire[0].0, fx.acquire[1].0);
    let mut fx = Effects::default();
    g.acquired(a, Key(1), &mut fx);
    assert!(fx.replicated.is_empty());
    // 2 lost it before b copied it: b's copy comes from a instead, to a
    // worker not asked before.
    let mut fx = Effects::default();
    g.acquire_failed(b, Key(1), 2, &mut fx);
    assert!(fx.replicated.is_empty(), "{:?}", fx.replicated);
    assert_eq!(fx.acquire.len(), 1, "{:?}", fx.acquire);
    let (c, key, from) = fx.acquire[0];
    assert_eq!((key, from), (Key(1), a));
    assert!(![2, a, b].contains(&c), "{c}");
    let mut fx = Effects::default();
    g.acquired(c, Key(1), &mut fx);
    assert_eq!(fx.replicated, vec![(7, Ok(3))]);
    // Each worker is asked once: a copy to every worker, one fails and no
    // worker is left to ask: the request gets an error, once.
    let mut fx = Effects::default();
    g.replicate(8, Key(1), 5, &mut fx);
    assert_eq!(fx.acquire.len(), 2, "{:?}", fx.acquire);
    let (d, e) = (fx.acquire[0].0, fx.acquire[1].0);
    let mut fx = Effects::default();
    g.acquire_failed(d, Key(1), a, &mut fx);
    assert!(fx.acquire.is_empty(), "{:?}", fx.acquire);
    assert_eq!(fx.replicated.len(), 1, "{:?}", fx.replicated);
    assert!(fx.replicated[0].1.is_err());
    let mut fx = Effects::default();
    g.acquire_failed(e, Key(1), a, &mut fx);
    assert!(fx.replicated.is_empty() && fx.acquire.is_empty(), "{fx:?}");
}

#[test]
fn copies_go_to_paused_workers_only_when_no_other_is_left() {
    let mut g = graph(&[2, 3, 4]);
    let mut fx = Effects::default();
    g.submit(vec![spec(1, &[])], vec![], &mut fx);
    g.finished(2, vec![done(1, 8)], &mut fx);
    g.set_paused(3, true, &mut fx);
    let mut fx = Effects::default();
    g.replicate(7, Key(1), 2, &mut fx);
    assert_eq!(fx.acquire, vec![(4, Key(1), 2)]);
    let mut fx = Effects::default();
    g.replicate(8, Key(1), 3, &mut fx);
    assert_eq!(fx.acquire, vec![(3, Key(1), 2)], "the only one left");
}

#[test]
fn a_replicate_of_a_key_released_meanwhile_is_answered() {
    let mut g = graph(&[2, 3]);
    let mut fx = Effects::default();
    g.submit(vec![spec(1, &[])], vec![], &mut fx);
    g.finished(2, vec![done(1, 8)], &mut fx);
    g.replicate(7, Key(1), 2, &mut fx);
    let mut fx = Effects::default();
    g.release(&[Key(1)], &mut fx);
    assert_eq!(fx.replicated.len(), 1, "{:?}", fx.replicated);
    assert!(fx.replicated[0]
        .1
        .as_ref()
        .unwrap_err()
        .contains("released"));
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

#[test]
fn each_steal_answer_settles_only_the_keys_it_was_asked_for() {
    let mut g = steal_asked_of_2_for_4();
    // A cancel asks worker 2 for task 1 while the first request is out.
    let mut fx = Effects::default();
    g.cancel(&[Key(1)], &mut fx);
    assert_eq!(fx.steal.get(&2), Some(&vec![Key(1)]));
    // The cancel's answer comes first: 1 had started. Task 4, asked for
    // by the other request, is not settled by it.
    let mut fx = Effects::default();
    g.stolen(2, &[Key(1)], &[], &mut fx);
    assert!(!g.tasks[&Key(4)].steal_refused);
    assert!(g.tasks[&Key(1)].steal_refused);
    let mut fx = Effects::default();
    g.stolen(2, &[Key(4)], &[Key(4)], &mut fx);
    assert_eq!(assigned(&fx), vec![(3, 4)]);
}

#[test]
fn a_task_whose_input_is_gone_goes_out_again_then_fails_as_lost() {
    let mut g = graph(&[2, 3, 4]);
    let mut fx = Effects::default();
    g.submit(vec![spec(1, &[])], vec![], &mut fx);
    g.finished(2, vec![done(1, 1_000_000)], &mut fx);
    let mut fx = Effects::default();
    let mut t = spec(2, &[1]);
    t.workers = Some(vec![3, 4]);
    g.submit(vec![t], vec![], &mut fx);
    let (first, _) = assigned(&fx)[0];
    // Its worker found input 1 gone from worker 2: it goes out again, to
    // another worker, with where input 1 is now.
    let mut fx = Effects::default();
    g.inputs_gone(first, &[Key(2)], &[Key(1)], &mut fx);
    let again = assigned(&fx);
    assert_eq!(again.len(), 1, "{fx:?}");
    assert_ne!(again[0].0, first, "not the worker that handed it back");
    let inputs = &fx.compute[&again[0].0][0].inputs;
    assert_eq!(
        inputs[0],
        Input::Remote {
            key: Key(1),
            worker: 2
        }
    );
    assert!(fx.failures.is_empty());
    // A hand-back from a worker not running it changes nothing.
    let mut fx = Effects::default();
    g.inputs_gone(first, &[Key(2)], &[Key(1)], &mut fx);
    assert_eq!(fx, Effects::default());
    // The graph keeps pointing at a copy that workers keep finding gone:
    // after a few rounds the task fails instead of going round for ever.
    let mut at = again[0].0;
    let mut failures = Vec::new();
    for _ in 0..steal::MAX_REPLANS {
        let mut fx = Effects::default();
        g.inputs_gone(at, &[Key(2)], &[Key(1)], &mut fx);
        failures = std::mem::take(&mut fx.failures);
        match assigned(&fx).first() {
            Some(&(w, _)) => at = w,
            None => break,
        }
    }
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].kind, FailureKind::Lost);
    assert!(
        failures[0].message.contains("freed"),
        "{}",
        failures[0].message
    );
    assert_eq!(g.workers[&at].processing, 0);
}

#[test]
fn a_task_whose_input_the_graph_no_longer_holds_fails_as_lost() {
    let mut g = graph(&[2, 3]);
    let mut fx = Effects::default();
    g.submit(vec![spec(1, &[])], vec![], &mut fx);
    g.finished(2, vec![done(1, 8)], &mut fx);
    let mut fx = Effects::default();
    g.submit(vec![spec(2, &[1])], vec![], &mut fx);
    let (w, _) = assigned(&fx)[0];
    g.tasks.get_mut(&Key(1)).unwrap().state = State::Waiting;
    let mut fx = Effects::default();
    g.inputs_gone(w, &[Key(2)], &[Key(1)], &mut fx);
    assert!(fx.compute.is_empty(), "{fx:?}");
    assert_eq!(fx.failures.len(), 1);
    assert_eq!(fx.failures[0].kind, FailureKind::Lost);
    assert_eq!(g.workers[&w].processing, 0);
}

#[test]
fn inline_arguments_are_shared_not_copied_when_handed_out_again() {
    let mut g = graph(&[2, 3]);
    let mut fx = Effects::default();
    g.submit(vec![spec(1, &[])], vec![], &mut fx);
    let (first, _) = assigned(&fx)[0];
    let Input::Inline(a) = &fx.compute[&first][0].inputs[0] else {
        panic!("{fx:?}");
    };
    let mut again = Effects::default();
    g.stolen(first, &[Key(1)], &[Key(1)], &mut again);
    let (second, _) = assigned(&again)[0];
    assert_ne!(second, first);
    let Input::Inline(b) = &again.compute[&second][0].inputs[0] else {
        panic!("{again:?}");
    };
    assert!(Arc::ptr_eq(a, b), "the same bytes, not a copy");
}
