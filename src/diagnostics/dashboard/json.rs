//! The dashboard's JSON, written by hand (a few flat objects do not need a
//! JSON library).

use crate::scheduler::graph::StateCounts;
use crate::scheduler::monitor::{Names, Shared, Snapshot, StreamBar};
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

/// The snapshot, as `/api/snapshot` serves it. Each worker's `running` is
/// an estimate (its tasks in hand up to its thread count): the scheduler
/// knows what it handed out, not what has started.
pub(super) fn snapshot(s: &Snapshot) -> String {
    let mut out = String::with_capacity(512 + 256 * s.workers.len());
    let _ = write!(
        out,
        "{{\"at_ms\":{:.1},\"running\":{},\"states\":{},\"done_total\":{},\"erred_total\":{},\"workers\":[",
        s.at_ms,
        s.running,
        states(&s.states),
        s.done_total,
        s.erred_total
    );
    for (i, w) in s.workers.iter().enumerate() {
        let running = w.processing.min(w.info.threads);
        let cpu = w
            .cpu_percent
            .map_or_else(|| "null".to_string(), |p| format!("{p:.1}"));
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
            cpu
        );
    }
    out.push_str("],\"functions\":[");
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

    #[test]
    fn empty_snapshot_is_valid_shape() {
        let text = snapshot(&Snapshot::default());
        assert!(
            text.starts_with("{\"at_ms\":0.0,\"running\":false,"),
            "{text}"
        );
        assert!(
            text.ends_with("\"workers\":[],\"functions\":[],\"edges_counted\":false,\"edges\":[]}"),
            "{text}"
        );
        assert_eq!(stream(&[], &Names::new()), "{\"bars\":[]}");
    }
}
