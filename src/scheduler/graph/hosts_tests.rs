//! Unit tests of placement with workers on several hosts.

use super::tests::{assigned, spec};
use super::*;

/// A graph with one-thread workers `(rank, hostname)`.
fn graph_on(workers: &[(usize, &str)]) -> TaskGraph {
    let mut g = TaskGraph::new();
    for &(rank, host) in workers {
        g.add_worker_on(rank, 1, host);
    }
    g
}

fn placed(key: u64, worker: usize, nbytes: u64) -> Placed {
    Placed {
        key: Key(key),
        worker,
        nbytes,
    }
}

#[test]
fn inputs_on_several_workers_go_to_the_host_holding_most_bytes() {
    let mut g = graph_on(&[(2, "a"), (3, "a"), (4, "b")]);
    let mut fx = Effects::default();
    // Worker 4 holds the most of any one worker, host a the most of any host.
    let data = vec![
        placed(50, 4, 600_000),
        placed(51, 2, 500_000),
        placed(52, 3, 500_000),
    ];
    g.submit(vec![spec(1, &[50, 51, 52])], data, &mut fx);
    assert_eq!(assigned(&fx), vec![(2, 1)], "on host a, not worker 4");
}

#[test]
fn on_one_host_the_worker_holding_most_bytes_wins() {
    let mut g = graph_on(&[(2, "a"), (3, "a"), (4, "a")]);
    let mut fx = Effects::default();
    let data = vec![
        placed(50, 4, 600_000),
        placed(51, 2, 500_000),
        placed(52, 3, 500_000),
    ];
    g.submit(vec![spec(1, &[50, 51, 52])], data, &mut fx);
    assert_eq!(assigned(&fx), vec![(4, 1)]);
}

#[test]
fn a_full_holder_hands_over_to_its_host_before_an_idler_elsewhere() {
    // Worker 3, on another host, is the least loaded and lowest rank.
    let mut g = graph_on(&[(2, "a"), (3, "b"), (4, "a")]);
    let mut fx = Effects::default();
    let data = vec![placed(50, 2, 1_000_000)];
    let tasks = vec![spec(1, &[50]), spec(2, &[50]), spec(3, &[50])];
    g.submit(tasks, data, &mut fx);
    let mut a = assigned(&fx);
    a.sort();
    assert_eq!(a, vec![(2, 1), (2, 2), (4, 3)], "2 holds 2 (its capacity)");
}

#[test]
fn an_input_held_twice_on_one_host_counts_once() {
    let mut g = graph_on(&[(2, "a"), (3, "a"), (4, "b"), (5, "c")]);
    let mut fx = Effects::default();
    // 50 is on both workers of host a (800 kB there), 51 on host b (1 MB).
    let data = vec![
        placed(50, 2, 400_000),
        placed(50, 3, 400_000),
        placed(51, 4, 1_000_000),
    ];
    g.submit(vec![spec(1, &[50, 51])], data, &mut fx);
    assert_eq!(assigned(&fx), vec![(4, 1)]);
}

#[test]
fn a_stolen_task_goes_to_an_idle_worker_on_its_victims_host() {
    // 3 (host b) would win on rank; 4 shares host a with the victim.
    let mut g = graph_on(&[(2, "a"), (3, "b"), (4, "a")]);
    let mut fx = Effects::default();
    let on_2 = |k| {
        let mut s = spec(k, &[]);
        s.workers = Some(vec![2]);
        s.allow_other_workers = true;
        s
    };
    g.submit(vec![on_2(10), on_2(11)], vec![], &mut fx);
    assert_eq!(assigned(&fx), vec![(2, 10), (2, 11)]);
    assert_eq!(fx.steal.get(&2), Some(&vec![Key(11)]), "3 and 4 are idle");
    let mut fx = Effects::default();
    g.stolen(2, &[Key(11)], &[Key(11)], &mut fx);
    assert_eq!(assigned(&fx), vec![(4, 11)]);
}

#[test]
fn a_stolen_task_goes_to_another_host_when_its_own_has_no_idle_thread() {
    let mut g = graph_on(&[(2, "a"), (3, "b"), (4, "a")]);
    let mut fx = Effects::default();
    let only = |k, w| {
        let mut s = spec(k, &[]);
        s.workers = Some(vec![w]);
        s.allow_other_workers = w == 2;
        s
    };
    g.submit(vec![only(20, 4)], vec![], &mut fx);
    g.submit(vec![only(10, 2), only(11, 2)], vec![], &mut fx);
    assert_eq!(fx.steal.get(&2), Some(&vec![Key(11)]));
    let mut fx = Effects::default();
    g.stolen(2, &[Key(11)], &[Key(11)], &mut fx);
    assert_eq!(assigned(&fx), vec![(3, 11)], "4 is busy");
}

#[test]
fn replicas_spread_over_hosts_and_copy_from_their_own_host() {
    let mut g = graph_on(&[(2, "a"), (3, "a"), (4, "b"), (5, "b"), (6, "c")]);
    let mut fx = Effects::default();
    g.submit(vec![], vec![placed(1, 2, 8)], &mut fx);
    let mut fx = Effects::default();
    g.replicate(7, Key(1), 3, &mut fx);
    let mut copies = fx.acquire.clone();
    copies.sort();
    assert_eq!(copies, vec![(4, Key(1), 2), (6, Key(1), 2)], "b and c");
    let mut fx = Effects::default();
    g.acquired(4, Key(1), &mut fx);
    g.acquired(6, Key(1), &mut fx);
    assert_eq!(fx.replicated, vec![(7, Ok(3))]);
    let mut fx = Effects::default();
    g.replicate(8, Key(1), 5, &mut fx);
    let mut copies = fx.acquire.clone();
    copies.sort();
    assert_eq!(
        copies,
        vec![(3, Key(1), 2), (5, Key(1), 4)],
        "from the same host"
    );
}

#[test]
fn a_rank_that_registers_again_moves_to_its_new_host() {
    let mut g = graph_on(&[(2, "a"), (3, "b"), (4, "b")]);
    g.add_worker_on(3, 1, "a");
    let mut fx = Effects::default();
    g.submit(
        vec![spec(1, &[50])],
        vec![placed(50, 2, 1_000_000)],
        &mut fx,
    );
    let mut fx = Effects::default();
    g.submit(vec![spec(2, &[50]), spec(3, &[50])], vec![], &mut fx);
    let mut a = assigned(&fx);
    a.sort();
    assert_eq!(a, vec![(2, 2), (3, 3)], "3 is on host a now");
}
