//! The dashboard's JSON, written by hand (a few flat objects do not need a
//! JSON library).

use crate::scheduler::graph::StateCounts;
use crate::scheduler::monitor::{Names, Shared, Snapshot, StreamBar, WorkerView};
use std::fmt::Write;

/// `s` as a JSON string literal (`<` escaped, for pages that inline it).
pub(super) fn string(s: &str) -> String {
    crate::diagnostics::trace::json_string(s)
}

fn states(s: &StateCounts) -> String {
    format!(
        "{{\"waiting\":{},\"ready\":{},\"processing\":{},\"memory\":{},\"erred\":{}}}",
        s.waiting, s.ready, s.processing, s.memory, s.erred
    )
}

/// A CPU figure, or `null` before one is known.
fn cpu(percent: Option<f64>) -> String {
    percent.map_or_else(|| "null".to_string(), |p| format!("{p:.1}"))
}

/// The workers of each host added up, as the `hosts` array of
/// `/api/snapshot`: one object per host in order of its lowest worker rank,
/// with its worker ranks, threads, memory (limit and used), tasks (running,
/// queued, done, erred) and CPU (the sum of its workers' known figures;
/// `null` while none is known).
fn hosts(workers: &[WorkerView]) -> String {
    let mut order: Vec<&str> = Vec::new();
    let mut by_host: std::collections::HashMap<&str, Vec<&WorkerView>> = Default::default();
    for w in workers {
        let host = w.info.hostname.as_str();
        by_host
            .entry(host)
            .or_insert_with(|| {
                order.push(host);
                Vec::new()
            })
            .push(w);
    }
    let mut out = String::from("[");
    for (i, host) in order.iter().enumerate() {
        let ws = &by_host[host];
        let sum = |f: &dyn Fn(&WorkerView) -> u64| ws.iter().map(|w| f(w)).sum::<u64>();
        let ranks: Vec<String> = ws.iter().map(|w| w.info.rank.to_string()).collect();
        let running = sum(&|w| w.processing.min(w.info.threads) as u64);
        let known: Vec<f64> = ws.iter().filter_map(|w| w.cpu_percent).collect();
        let _ = write!(
            out,
            "{}{{\"host\":{},\"ranks\":[{}],\"threads\":{},\"memory_limit\":{},\
             \"memory_used\":{},\"held\":{},\"running\":{},\"queued\":{},\"done\":{},\
             \"erred\":{},\"cpu_percent\":{}}}",
            if i > 0 { "," } else { "" },
            string(host),
            ranks.join(","),
            sum(&|w| w.info.threads as u64),
            sum(&|w| w.info.memory_limit),
            sum(&|w| w.held_bytes),
            sum(&|w| w.held as u64),
            running,
            sum(&|w| w.processing as u64) - running,
            sum(&|w| w.done),
            sum(&|w| w.erred),
            cpu((!known.is_empty()).then(|| known.iter().sum()))
        );
    }
    out.push(']');
    out
}

/// The snapshot, as `/api/snapshot` serves it. Each worker's `running` is
/// an estimate (its tasks in hand up to its thread count): the scheduler
/// knows what it handed out, not what has started. `hosts` adds up the
/// workers of each host (see [`hosts`]); `scheduler_host` is where the
/// scheduler (and so the dashboard) runs.
pub(super) fn snapshot(s: &Snapshot, scheduler_host: &str) -> String {
    let mut out = String::with_capacity(512 + 256 * s.workers.len());
    let _ = write!(
        out,
        "{{\"at_ms\":{:.1},\"running\":{},\"states\":{},\"done_total\":{},\"erred_total\":{},\
         \"scheduler_host\":{},\"workers\":[",
        s.at_ms,
        s.running,
        states(&s.states),
        s.done_total,
        s.erred_total,
        string(scheduler_host)
    );
    for (i, w) in s.workers.iter().enumerate() {
        let running = w.processing.min(w.info.threads);
        let _ = write!(
            out,
            "{}{{\"rank\":{},\"host\":{},\"pid\":{},\"threads\":{},\"memory_limit\":{},\
             \"memory_used\":{},\"held\":{},\"processing\":{},\"running\":{},\"queued\":{},\
             \"done\":{},\"erred\":{},\"cpu_percent\":{}}}",
            if i > 0 { "," } else { "" },
            w.info.rank,
            string(&w.info.hostname),
            w.info.pid,
            w.info.threads,
            w.info.memory_limit,
            w.held_bytes,
            w.held,
            w.processing,
            running,
            w.processing - running,
            w.done,
            w.erred,
            cpu(w.cpu_percent)
        );
    }
    out.push_str("],\"hosts\":");
    out.push_str(&hosts(&s.workers));
    out.push_str(",\"functions\":[");
    for (i, f) in s.functions.iter().enumerate() {
        let _ = write!(
            out,
            "{}{{\"label\":{},\"states\":{}}}",
            if i > 0 { "," } else { "" },
            string(&f.label),
            states(&f.states)
        );
    }
    let _ = write!(out, "],\"edges_counted\":{},\"edges\":[", s.edges_counted);
    for (i, e) in s.edges.iter().enumerate() {
        let _ = write!(
            out,
            "{}{{\"from\":{},\"to\":{},\"count\":{}}}",
            if i > 0 { "," } else { "" },
            string(&e.from),
            string(&e.to),
            e.count
        );
    }
    out.push_str("]}");
    out
}

/// Task-stream bars, as `/api/stream` serves them, their functions
/// labelled from `names`. `thread` is the executor thread when the bar comes
/// from task events, else `null` (the page then packs bars into lanes).
pub(super) fn stream(bars: &[StreamBar], names: &Names) -> String {
    let mut out = String::with_capacity(32 + 128 * bars.len());
    out.push_str("{\"bars\":[");
    for (i, b) in bars.iter().enumerate() {
        let _ = write!(
            out,
            "{}{{\"seq\":{},\"key\":\"{}\",\"function\":{},\"worker\":{},\"thread\":{},\
             \"start_ms\":{:.3},\"stop_ms\":{:.3},\"erred\":{}}}",
            if i > 0 { "," } else { "" },
            b.seq,
            b.key,
            string(&Shared::label(names, b.function.as_ref())),
            b.worker,
            b.thread
                .map_or_else(|| "null".to_string(), |t| t.to_string()),
            b.start_ms,
            b.stop_ms,
            b.erred
        );
    }
    out.push_str("]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(
            string("a\"b\\c\n</script>"),
            "\"a\\\"b\\\\c\\n\\u003c/script>\""
        );
    }

    fn worker(rank: usize, host: &str, processing: usize, cpu: Option<f64>) -> WorkerView {
        WorkerView {
            info: crate::protocol::WorkerInfo {
                rank,
                hostname: host.to_string(),
                pid: 100 + rank as u32,
                threads: 2,
                memory_limit: 1000,
            },
            processing,
            done: 10 * rank as u64,
            erred: 1,
            held: 3,
            held_bytes: 100 * rank as u64,
            cpu_percent: cpu,
        }
    }

    #[test]
    fn workers_add_up_by_host_in_order_of_their_lowest_rank() {
        let workers = [
            worker(2, "node2", 5, Some(150.0)),
            worker(3, "node1", 1, None),
            worker(4, "node2", 0, Some(50.5)),
        ];
        assert_eq!(
            hosts(&workers),
            "[{\"host\":\"node2\",\"ranks\":[2,4],\"threads\":4,\"memory_limit\":2000,\
             \"memory_used\":600,\"held\":6,\"running\":2,\"queued\":3,\"done\":60,\
             \"erred\":2,\"cpu_percent\":200.5},\
             {\"host\":\"node1\",\"ranks\":[3],\"threads\":2,\"memory_limit\":1000,\
             \"memory_used\":300,\"held\":3,\"running\":1,\"queued\":0,\"done\":30,\
             \"erred\":1,\"cpu_percent\":null}]"
        );
        let s = Snapshot {
            workers: workers.to_vec(),
            ..Snapshot::default()
        };
        assert!(
            snapshot(&s, "node1").contains(
                "\"scheduler_host\":\"node1\",\"workers\":[{\"rank\":2,\"host\":\"node2\""
            ) && snapshot(&s, "node1")
                .contains("],\"hosts\":[{\"host\":\"node2\",\"ranks\":[2,4],"),
            "{}",
            snapshot(&s, "node1")
        );
    }

    #[test]
    fn empty_snapshot_is_valid_shape() {
        let text = snapshot(&Snapshot::default(), "here");
        assert!(
            text.starts_with("{\"at_ms\":0.0,\"running\":false,"),
            "{text}"
        );
        assert!(
            text.ends_with("\"workers\":[],\"hosts\":[],\"functions\":[],\"edges_counted\":false,\"edges\":[]}"),
            "{text}"
        );
        assert_eq!(stream(&[], &Names::new()), "{\"bars\":[]}");
    }
}
