//! The Chrome trace of a report: the Trace Event Format's JSON object form
//! (`{"traceEvents": [...]}`), which Perfetto and chrome://tracing open.
//! One process per worker rank, one thread per executor thread, plus a
//! thread for its transfers and one for its collective sections; memory as
//! a counter. Times are µs from the start of the reported block.

use super::report::ReportData;
use std::collections::HashMap;
use std::fmt::Write;

/// Thread id of a worker's incoming transfers.
const TRANSFER_TID: u64 = 100_000;
/// Thread id of a worker's collective sections.
const COLLECTIVE_TID: u64 = 100_001;

/// `text` as a JSON string, quotes included; `<` is escaped too, so the
/// text is also safe inside an HTML `<script>` (the dashboard's pages).
pub(crate) fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '<' => out.push_str("\\u003c"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The trace as JSON text.
pub fn render(data: &ReportData) -> String {
    let t0 = data.start_us;
    let rel = |us: u64| us.saturating_sub(t0);
    let mut lines: Vec<String> = Vec::new();
    for w in &data.workers {
        let name = json_string(&format!("worker {} ({})", w.rank, w.hostname));
        lines.push(format!(
            r#"{{"name":"process_name","ph":"M","pid":{},"tid":0,"args":{{"name":{name}}}}}"#,
            w.rank
        ));
        for (tid, label) in [
            (TRANSFER_TID, "transfers in"),
            (COLLECTIVE_TID, "collectives"),
        ] {
            lines.push(format!(
                r#"{{"name":"thread_name","ph":"M","pid":{},"tid":{tid},"args":{{"name":"{label}"}}}}"#,
                w.rank
            ));
        }
    }
    let mut names = HashMap::new();
    for t in &data.events.tasks {
        let name = names
            .entry(t.function)
            .or_insert_with(|| json_string(&t.function_name()));
        lines.push(format!(
            r#"{{"name":{name},"cat":"task","ph":"X","ts":{},"dur":{},"pid":{},"tid":{},"args":{{"key":"{}","failed":{}}}}}"#,
            rel(t.start_us),
            t.stop_us.saturating_sub(t.start_us),
            t.worker,
            t.thread,
            t.key,
            t.failed
        ));
    }
    for t in &data.events.transfers {
        lines.push(format!(
            r#"{{"name":"transfer","cat":"transfer","ph":"X","ts":{},"dur":{},"pid":{},"tid":{TRANSFER_TID},"args":{{"key":"{}","from":{},"bytes":{}}}}}"#,
            rel(t.start_us),
            t.stop_us.saturating_sub(t.start_us),
            t.to,
            t.key,
            t.from,
            t.bytes
        ));
    }
    for c in &data.events.collectives {
        lines.push(format!(
            r#"{{"name":{},"cat":"collective","ph":"X","ts":{},"dur":{},"pid":{},"tid":{COLLECTIVE_TID}}}"#,
            json_string(&c.label()),
            rel(c.start_us),
            c.stop_us.saturating_sub(c.start_us),
            c.worker
        ));
    }
    for m in &data.events.memory {
        lines.push(format!(
            r#"{{"name":"stored bytes","ph":"C","ts":{},"pid":{},"args":{{"bytes":{}}}}}"#,
            rel(m.at_us),
            m.worker,
            m.bytes
        ));
    }
    format!(
        "{{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n{}\n]}}\n",
        lines.join(",\n")
    )
}

#[cfg(test)]
mod tests {
    use super::json_string;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n\u{1}"), r#""a\"b\\c\n\u0001""#);
    }
}
