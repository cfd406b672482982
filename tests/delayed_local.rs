//! Delayed graphs on the embedded cluster: every argument form, shared
//! parts run once, failures reach dependents with their root cause, and
//! `visualize`.

use rankflow::delayed::{compute, delayed, Delayed};
use rankflow::{Config, ErrorKind, FailureKind, Mode};
use std::sync::atomic::{AtomicU64, Ordering};

fn cluster() -> rankflow::Client {
    rankflow::initialize(Config::new().mode(Mode::Local).local_workers(2)).unwrap()
}

/// Calls of `counted` in this process (the embedded workers are threads).
static CALLS: AtomicU64 = AtomicU64::new(0);

fn counted(x: i64) -> i64 {
    CALLS.fetch_add(1, Ordering::SeqCst);
    x * 10
}

fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn four(a: i64, b: String, c: i64, d: bool) -> String {
    format!("{a}{b}{c}{d}")
}

fn total(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

fn fails(x: i64) -> i64 {
    if x == 3 {
        panic!("three is right out");
    }
    x
}

#[test]
fn every_argument_form() {
    let c = cluster();
    let x = delayed(add, (1, 2));
    let y = delayed(add, (&x, 10));
    let z = delayed(add, (5, y.clone()));
    let s = delayed(four, (&x, "-".to_string(), z.clone(), true));
    assert_eq!(s.compute(&c).unwrap(), "3-18true");
    let list: Vec<Delayed<i64>> = (0..5).map(|i| delayed(add, (i, &x))).collect();
    assert_eq!(delayed(total, &list).compute(&c).unwrap(), 10 + 15);
    assert_eq!(delayed(total, list.as_slice()).compute(&c).unwrap(), 25);
    assert_eq!(delayed(total, list).compute(&c).unwrap(), 25);
    // A closure that captures nothing is a task function too.
    assert_eq!(delayed(|v: i64| v * 2, z).compute(&c).unwrap(), 36);
    c.shutdown().unwrap();
}

#[test]
fn shared_parts_run_once_and_results_come_back_in_shape() {
    let c = cluster();
    let base = delayed(counted, 7);
    let a = delayed(add, (&base, 1));
    let b = delayed(add, (&base, 2));
    let before = CALLS.load(Ordering::SeqCst);
    let (ra, rb, both) = compute(&c, (&a, &b, &vec![a.clone(), b.clone()])).unwrap();
    assert_eq!((ra, rb, both), (71, 72, vec![71, 72]));
    // `counted(7)` is shared by every root and runs once.
    assert_eq!(CALLS.load(Ordering::SeqCst) - before, 1);
    c.shutdown().unwrap();
}

#[test]
fn a_failure_reaches_dependents_with_its_root_cause() {
    let c = cluster();
    let parts: Vec<Delayed<i64>> = (0..6).map(|i| delayed(fails, i)).collect();
    let sum = delayed(total, &parts);
    let e = sum.compute(&c).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Task);
    let f = e.task_failure().unwrap();
    assert_eq!(f.kind, FailureKind::Dependency);
    assert!(f.message.contains("three is right out"), "{e}");
    // The parts that did not fail still compute.
    assert_eq!(parts[4].compute(&c).unwrap(), 4);
    c.shutdown().unwrap();
}

#[test]
fn visualize_writes_one_box_per_call_and_one_edge_per_input() {
    let x = delayed(add, (1, 2));
    let y = delayed(add, (&x, &x));
    let z = delayed(total, vec![x.clone(), y.clone()]);
    assert_eq!(z.len(), 3);
    let dir = std::env::temp_dir().join(format!("rankflow-visualize-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let v = z.visualize(dir.join("graph.svg")).unwrap();
    assert_eq!(v.dot, dir.join("graph.dot"));
    let text = std::fs::read_to_string(&v.dot).unwrap();
    assert!(text.starts_with("digraph"), "{text}");
    assert_eq!(text.matches("[label=\"add\"]").count(), 2, "{text}");
    assert_eq!(text.matches("[label=\"total\"]").count(), 1, "{text}");
    // y takes x twice, z takes x and y.
    assert_eq!(text.matches(" -> ").count(), 4, "{text}");
    match &v.svg {
        Some(svg) => assert!(std::fs::read_to_string(svg).unwrap().contains("<svg")),
        None => assert!(v.to_string().contains("dot -Tsvg"), "{v}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_deep_chain_computes() {
    let c = cluster();
    let mut d = delayed(add, (0, 1));
    for _ in 0..2_000 {
        d = delayed(add, (&d, 1));
    }
    assert_eq!(d.compute(&c).unwrap(), 2_001);
    c.shutdown().unwrap();
}
