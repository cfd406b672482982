//! Task events, the performance report and its Chrome trace on the embedded
//! cluster.

use rankflow::{Config, ErrorKind, Group, Mode, TaskOptions};
use std::path::PathBuf;
use std::time::Duration;

fn cluster(config: Config) -> rankflow::Client {
    rankflow::initialize(
        config
            .mode(Mode::Local)
            .local_workers(2)
            .threads_per_worker(2),
    )
    .unwrap()
}

fn nap_or_fail(x: u64) -> u64 {
    std::thread::sleep(Duration::from_micros(200));
    assert!(x % 50 != 7, "task {x} fails on purpose");
    x
}

fn noop(x: u64) -> u64 {
    x
}

fn add(a: Vec<u8>, b: Vec<u8>) -> usize {
    a.len() + b.len()
}

fn block(n: usize) -> Vec<u8> {
    vec![1; n]
}

fn sum_section(g: &Group, x: u64) -> rankflow::Result<u64> {
    g.allreduce(x, |a, b| a + b)
}

/// Waits until every future has ended, failed or not.
fn finish(futures: &[rankflow::Future<u64>]) {
    for f in futures {
        let _ = f.result();
    }
}

/// A fresh scratch directory for this test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rankflow-report-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_task_is_recorded_once_with_its_worker_thread_and_function() {
    let c = cluster(Config::new().task_events(true));
    let since = rankflow::diagnostics::events::now_us();
    let futures = c.map(nap_or_fail, 0..200u64).unwrap();
    finish(&futures);
    let events = c.task_events(since).unwrap();
    assert_eq!(events.tasks.len(), 200);
    assert_eq!(events.tasks.iter().filter(|t| t.failed).count(), 4);
    let mut keys: Vec<_> = events.tasks.iter().map(|t| t.key).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 200);
    for t in &events.tasks {
        assert!([2, 3].contains(&t.worker), "{t:?}");
        assert!(t.thread < 2, "{t:?}");
        assert!(since <= t.start_us && t.start_us <= t.stop_us, "{t:?}");
        assert_eq!(t.function_name(), "nap_or_fail");
    }
    assert!(!events.memory.is_empty());
    // One thread runs one task at a time: its bars never overlap.
    let mut lanes = std::collections::BTreeMap::<_, Vec<_>>::new();
    for t in &events.tasks {
        lanes
            .entry((t.worker, t.thread))
            .or_default()
            .push((t.start_us, t.stop_us));
    }
    for (lane, mut spans) in lanes {
        spans.sort();
        for w in spans.windows(2) {
            assert!(
                w[1].0 + 1 >= w[0].1,
                "{lane:?}: {:?} overlaps {:?}",
                w[0],
                w[1]
            );
        }
    }
    c.shutdown().unwrap();
}

#[test]
fn recording_can_be_off_and_turned_on() {
    let c = cluster(Config::new().task_events(false));
    c.gather(&c.map(noop, 0..50u64).unwrap()).unwrap();
    assert!(c.task_events(0).unwrap().tasks.is_empty());
    c.record_task_events(true).unwrap();
    c.gather(&c.map(noop, 100..150u64).unwrap()).unwrap();
    assert_eq!(c.task_events(0).unwrap().tasks.len(), 50);
    c.record_task_events(false).unwrap();
    c.gather(&c.map(noop, 200..250u64).unwrap()).unwrap();
    assert_eq!(c.task_events(0).unwrap().tasks.len(), 50);
    c.shutdown().unwrap();
}

#[test]
fn the_history_keeps_the_newest_events() {
    let c = cluster(Config::new().task_events(true).event_history(30));
    c.gather(&c.map(noop, 0..100u64).unwrap()).unwrap();
    let events = c.task_events(0).unwrap();
    assert_eq!(events.tasks.len(), 30);
    assert!(events.dropped >= 70, "{}", events.dropped);
    c.shutdown().unwrap();
}

#[test]
fn a_history_of_zero_is_refused_with_a_clear_message() {
    let Err(err) = rankflow::initialize(Config::new().mode(Mode::Local).event_history(0)) else {
        panic!("a history of 0 was accepted");
    };
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        err.message().contains("event_history must be at least 1"),
        "{err}"
    );
    assert!(err.message().contains("RANKFLOW_TASK_EVENTS=off"), "{err}");
}

#[test]
fn transfers_and_sections_are_recorded() {
    let c = cluster(Config::new().task_events(true));
    let since = rankflow::diagnostics::events::now_us();
    let on = |w: usize| TaskOptions::new().workers(&[w]);
    let a = c.submit_with_options(block, 100_000usize, &on(2)).unwrap();
    let b = c.submit_with_options(block, 80_000usize, &on(3)).unwrap();
    let sum = c.submit_with_options(add, (&a, &b), &on(2)).unwrap();
    assert_eq!(sum.result().unwrap(), 180_000);
    assert_eq!(c.spmd(sum_section, 1u64).unwrap(), vec![2, 2]);
    let events = c.task_events(since).unwrap();
    let t = &events.transfers;
    assert_eq!(t.len(), 1, "{t:?}");
    assert_eq!((t[0].from, t[0].to, t[0].key), (3, 2, b.key()));
    assert!(t[0].bytes >= 80_000);
    let sections: Vec<_> = events
        .collectives
        .iter()
        .filter(|s| s.kind == "section")
        .collect();
    assert_eq!(sections.len(), 2, "{sections:?}");
    c.shutdown().unwrap();
}

fn warm_up() -> usize {
    rankflow::current_worker().unwrap_or(0)
}

#[test]
fn sections_and_run_calls_are_named_in_the_events_the_report_and_the_trace() {
    let c = cluster(Config::new());
    let dir = scratch("named");
    let path = dir.join("named.html");
    let since = rankflow::diagnostics::events::now_us();
    c.performance_report(&path, || -> rankflow::Result<()> {
        assert_eq!(c.spmd(sum_section, 1u64)?, vec![2, 2]);
        assert_eq!(c.run(warm_up, None)?, vec![(2, 2), (3, 3)]);
        Ok(())
    })
    .unwrap()
    .unwrap();
    let events = c.task_events(since).unwrap();
    let mut named: Vec<(String, Option<String>, String)> = events
        .collectives
        .iter()
        .map(|e| (e.kind.clone(), e.function_name(), e.label()))
        .collect();
    named.sort();
    let part = |kind: &str, name: &str| {
        (
            kind.to_string(),
            Some(name.to_string()),
            format!("{kind} {name}"),
        )
    };
    assert_eq!(
        named,
        [
            part("run", "warm_up"),
            part("run", "warm_up"),
            part("section", "sum_section"),
            part("section", "sum_section")
        ]
    );
    let html = std::fs::read_to_string(&path).unwrap();
    for row in [
        "<tr><td>run warm_up</td><td>2</td>",
        "<tr><td>section sum_section</td><td>2</td>",
    ] {
        assert!(html.contains(row), "no {row} in the report");
    }
    assert!(!html.contains("fn +0x"));
    let trace = std::fs::read_to_string(dir.join("named.json")).unwrap();
    assert_eq!(trace.matches("\"name\":\"section sum_section\"").count(), 2);
    assert_eq!(trace.matches("\"name\":\"run warm_up\"").count(), 2);
    c.shutdown().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_report_is_one_self_contained_page_and_a_chrome_trace() {
    let c = cluster(Config::new());
    let dir = scratch("page");
    let path = dir.join("report.html");
    let total = c
        .performance_report(&path, || -> rankflow::Result<u64> {
            let f = c.map(nap_or_fail, 0..100u64)?;
            finish(&f);
            Ok(f.iter().filter_map(|f| f.result().ok()).sum())
        })
        .unwrap()
        .unwrap();
    assert_eq!(total, (0..100u64).filter(|x| x % 50 != 7).sum::<u64>());
    // Recording is off by default: the report turned it on for its block
    // only (every task is in the page below) and off again after.
    assert!(!c.recording_task_events());
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<rect class=\"task\"").count(), 100);
    assert!(html.contains("nap_or_fail"));
    assert!(html.contains("id=\"task-stream\""));
    assert!(html.contains("id=\"progress\""));
    assert!(html.contains("id=\"memory\""));
    assert!(html.contains("id=\"workers\""));
    assert!(!html.contains("id=\"aggregated\""));
    // Nothing loaded from elsewhere.
    for outside in ["<script src", "<link", "http://", "https://", "@import"] {
        let rest = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        assert!(!rest.contains(outside), "{outside}");
    }
    let trace = std::fs::read_to_string(dir.join("report.json")).unwrap();
    assert!(trace.starts_with("{\"displayTimeUnit\""));
    assert_eq!(trace.matches("\"cat\":\"task\"").count(), 100);
    assert!(trace.trim_end().ends_with("]}"));
    c.shutdown().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn many_tasks_are_drawn_aggregated_and_the_page_says_so() {
    let c = cluster(Config::new());
    let dir = scratch("many");
    let path = dir.join("many.html");
    let n = rankflow::diagnostics::BAR_LIMIT as u64 + 5_000;
    c.performance_report(&path, || c.gather(&c.map(noop, 0..n).unwrap()).unwrap())
        .unwrap();
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.contains("id=\"aggregated\""));
    let bars = html.matches("<rect class=").count();
    assert!(
        bars > 0 && bars < rankflow::diagnostics::BAR_LIMIT,
        "{bars}"
    );
    assert!(html.contains(&format!("<td id=\"task-count\">{n}</td>")));
    c.shutdown().unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_unwritable_report_path_is_an_error_before_the_work_starts() {
    let c = cluster(Config::new());
    let path = scratch("unwritable")
        .join("no-such-dir")
        .join("report.html");
    let mut ran = false;
    let err = c.performance_report(&path, || ran = true).unwrap_err();
    assert!(!ran);
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.message().contains("no-such-dir"), "{err}");
    c.shutdown().unwrap();
}

#[test]
fn event_settings_come_from_the_environment_and_bad_values_are_named() {
    let resolve = |k: &'static str, v: &'static str| {
        Config::new().resolve_with(&move |name: &str| (name == k).then(|| v.to_string()))
    };
    let s = resolve("RANKFLOW_EVENT_HISTORY", "500").unwrap();
    assert_eq!((s.task_events, s.event_history), (false, 500));
    assert!(resolve("RANKFLOW_TASK_EVENTS", "on").unwrap().task_events);
    assert!(!resolve("RANKFLOW_TASK_EVENTS", "off").unwrap().task_events);
    let err = resolve("RANKFLOW_EVENT_HISTORY", "0").unwrap_err();
    assert!(
        err.message().contains("RANKFLOW_EVENT_HISTORY=0") && err.message().contains("at least 1"),
        "{err}"
    );
    let err = resolve("RANKFLOW_TASK_EVENTS", "maybe").unwrap_err();
    assert!(err.message().contains("RANKFLOW_TASK_EVENTS"), "{err}");
    let err = resolve("RANKFLOW_EVENT_HISTORY", "lots").unwrap_err();
    assert!(err.message().contains("RANKFLOW_EVENT_HISTORY"), "{err}");
}
