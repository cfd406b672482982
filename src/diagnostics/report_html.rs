//! The performance report as one self-contained HTML page: inline CSS, SVG
//! drawings with `<title>` tooltips, no script or font from anywhere else,
//! so it opens on an offline compute node.

use super::events::TaskEvent;
use super::report::ReportData;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// Tasks drawn one bar each; beyond this, neighbouring tasks of the same
/// function on the same thread are drawn as one bar (and the page says so).
pub const BAR_LIMIT: usize = 20_000;

/// Width of the drawings, in pixels.
const WIDTH: f64 = 1200.0;
/// Height of one lane of the task stream.
const LANE: f64 = 14.0;
/// Space left of the drawings for lane labels.
const LABEL: f64 = 110.0;

const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;\
text-align:right}th{background:#eee}td:first-child{text-align:left}\
svg{border:1px solid #ddd;background:#fff}.note{color:#a40}\
rect.task:hover,rect.agg:hover{stroke:#000;stroke-width:1}";

/// `text` with HTML's special characters escaped.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A duration in µs, readably.
fn duration(us: u64) -> String {
    match us {
        0..=9_999 => format!("{us} µs"),
        10_000..=999_999 => format!("{:.1} ms", us as f64 / 1e3),
        _ => format!("{:.2} s", us as f64 / 1e6),
    }
}

/// A byte count, readably.
fn bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[i])
    }
}

/// One bar of the task stream: a task, or a run of tasks of one function.
struct Bar<'a> {
    first: &'a TaskEvent,
    last: &'a TaskEvent,
    start_us: u64,
    stop_us: u64,
    count: usize,
    failed: bool,
}

/// The bars of one lane (tasks sorted by start), merging neighbours of the
/// same function closer than `gap_us` when `merge`.
fn bars<'a>(tasks: &[&'a TaskEvent], merge: bool, gap_us: u64) -> Vec<Bar<'a>> {
    let mut out: Vec<Bar<'a>> = Vec::new();
    for &t in tasks {
        if merge {
            if let Some(b) = out.last_mut() {
                if b.last.function == t.function && t.start_us <= b.stop_us + gap_us {
                    b.last = t;
                    b.stop_us = b.stop_us.max(t.stop_us);
                    b.count += 1;
                    b.failed |= t.failed;
                    continue;
                }
            }
        }
        out.push(Bar {
            first: t,
            last: t,
            start_us: t.start_us,
            stop_us: t.stop_us,
            count: 1,
            failed: t.failed,
        });
    }
    out
}

/// The page.
pub fn render(data: &ReportData) -> String {
    let functions = data.functions();
    let colour: HashMap<&str, &str> = functions
        .keys()
        .enumerate()
        .map(|(i, f)| (f.as_str(), PALETTE[i % PALETTE.len()]))
        .collect();
    let mut names = HashMap::new();
    let mut name_of = |t: &TaskEvent| -> String {
        names
            .entry(t.function)
            .or_insert_with(|| t.function_name())
            .clone()
    };
    let wall_us = data.stop_us.saturating_sub(data.start_us).max(1);
    let mut h = String::with_capacity(64 * 1024 + data.events.tasks.len().min(BAR_LIMIT) * 200);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>rankflow performance report</title><style>{STYLE}</style></head><body>\n\
         <h1>rankflow performance report</h1>\n"
    );

    // Summary.
    let tasks = data.events.tasks.len();
    let failed = data.events.tasks.iter().filter(|t| t.failed).count();
    let _ = write!(
        h,
        "<h2>Summary</h2>\n<table id=\"summary\">\
         <tr><td>wall time</td><td>{}</td></tr>\
         <tr><td>tasks</td><td id=\"task-count\">{tasks}</td></tr>\
         <tr><td>failed tasks</td><td>{failed}</td></tr>\
         <tr><td>bytes transferred between workers</td><td>{} ({} transfers)</td></tr>\
         <tr><td>time in collectives and run calls (all workers)</td><td>{} ({} parts)</td></tr>\
         <tr><td>workers</td><td>{}</td></tr></table>\n",
        duration(wall_us),
        bytes(data.bytes_transferred()),
        data.events.transfers.len(),
        duration(data.collective_us()),
        data.events.collectives.len(),
        data.workers.len()
    );
    if tasks == 0 {
        h.push_str(
            "<p class=\"note\">No task events were recorded in this block: either no task \
             ran, or recording is off (<code>Config::task_events</code>, \
             <code>RANKFLOW_TASK_EVENTS</code>).</p>\n",
        );
    }
    if data.events.dropped > 0 {
        let _ = writeln!(
            h,
            "<p class=\"note\">The scheduler's history had dropped {} older events \
             (<code>RANKFLOW_EVENT_HISTORY</code>); events of this block may be missing.</p>",
            data.events.dropped
        );
    }
    h.push_str(
        "<table id=\"functions\"><tr><th>function</th><th>tasks</th><th>failed</th>\
         <th>total time</th><th>mean time</th></tr>\n",
    );
    for (name, s) in &functions {
        let _ = writeln!(
            h,
            "<tr><td><span style=\"color:{}\">&#9632;</span> {}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            colour[name.as_str()],
            escape(name),
            s.count,
            s.failed,
            duration(s.total_us),
            duration(s.total_us / s.count.max(1))
        );
    }
    h.push_str("</table>\n");
    let collectives = data.collectives();
    if !collectives.is_empty() {
        h.push_str(
            "<table id=\"collectives\"><tr><th>collective or run call</th><th>workers' parts</th>\
             <th>total time</th></tr>\n",
        );
        for (label, (parts, us)) in &collectives {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{parts}</td><td>{}</td></tr>",
                escape(label),
                duration(*us)
            );
        }
        h.push_str("</table>\n");
    }

    stream(&mut h, data, &colour, &mut name_of);
    progress(&mut h, data, &colour, &mut name_of);
    memory(&mut h, data);
    cluster(&mut h, data);
    h.push_str("</body></html>\n");
    h
}

/// x of time `us` in a drawing of the block.
fn x_of(data: &ReportData, us: u64) -> f64 {
    let wall = data.stop_us.saturating_sub(data.start_us).max(1) as f64;
    LABEL + us.saturating_sub(data.start_us) as f64 / wall * (WIDTH - LABEL)
}

fn stream(
    h: &mut String,
    data: &ReportData,
    colour: &HashMap<&str, &str>,
    name_of: &mut impl FnMut(&TaskEvent) -> String,
) {
    let mut lanes: BTreeMap<(usize, u32), Vec<&TaskEvent>> = BTreeMap::new();
    for t in &data.events.tasks {
        lanes.entry((t.worker, t.thread)).or_default().push(t);
    }
    let merge = data.events.tasks.len() > BAR_LIMIT;
    // Tasks closer than about a pixel merge.
    let wall = data.stop_us.saturating_sub(data.start_us).max(1);
    let gap_us = (wall as f64 / (WIDTH - LABEL)) as u64;
    let height = LANE * lanes.len().max(1) as f64 + 20.0;
    let _ = writeln!(h, "<h2>Task stream</h2>");
    if merge {
        let _ = writeln!(
            h,
            "<p class=\"note\" id=\"aggregated\">{} tasks: over the limit of {BAR_LIMIT} bars, \
             so neighbouring tasks of one function on one thread (less than a pixel apart) \
             are drawn as one bar; hover a bar for its task count. The Chrome trace beside \
             this file has every task.</p>",
            data.events.tasks.len()
        );
    }
    let _ = writeln!(
        h,
        "<svg id=\"task-stream\" width=\"{WIDTH}\" height=\"{height}\" \
         xmlns=\"http://www.w3.org/2000/svg\" font-size=\"10\">"
    );
    for (i, ((worker, thread), mut tasks)) in lanes.into_iter().enumerate() {
        let y = i as f64 * LANE;
        let _ = writeln!(
            h,
            "<text x=\"2\" y=\"{:.1}\">worker {worker} thread {thread}</text>",
            y + LANE - 3.0
        );
        tasks.sort_by_key(|t| t.start_us);
        for b in bars(&tasks, merge, gap_us) {
            let x = x_of(data, b.start_us);
            let w = (x_of(data, b.stop_us) - x).max(0.5);
            let name = name_of(b.first);
            let fill = colour.get(name.as_str()).copied().unwrap_or("#999");
            let stroke = if b.failed { " stroke=\"#d00\"" } else { "" };
            let when = format!(
                "{} to {}",
                duration(b.start_us.saturating_sub(data.start_us)),
                duration(b.stop_us.saturating_sub(data.start_us))
            );
            let (class, title) = if b.count == 1 {
                let status = if b.failed { " (failed)" } else { "" };
                (
                    "task",
                    format!(
                        "{}{status}\nkey {}\nworker {worker}, thread {thread}\n{when} ({})",
                        escape(&name),
                        b.first.key,
                        duration(b.stop_us - b.start_us)
                    ),
                )
            } else {
                (
                    "agg",
                    format!(
                        "{} tasks of {}\nkeys {} .. {}\nworker {worker}, thread {thread}\n{when}",
                        b.count,
                        escape(&name),
                        b.first.key,
                        b.last.key
                    ),
                )
            };
            let _ = writeln!(
                h,
                "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" \
                 height=\"{:.1}\" fill=\"{fill}\"{stroke}><title>{title}</title></rect>",
                y + 1.0,
                LANE - 2.0
            );
        }
    }
    axis(h, data, height - 6.0);
    h.push_str("</svg>\n");
}

/// Time labels along the bottom of a drawing.
fn axis(h: &mut String, data: &ReportData, y: f64) {
    let wall = data.stop_us.saturating_sub(data.start_us);
    for i in 0..=4u64 {
        let at = data.start_us + wall * i / 4;
        let anchor = if i == 4 { "end" } else { "start" };
        let _ = writeln!(
            h,
            "<text x=\"{:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\" fill=\"#666\">{}</text>",
            x_of(data, at),
            duration(at - data.start_us)
        );
    }
}

/// A polyline of up to 200 `(µs, fraction)` points.
fn polyline(
    h: &mut String,
    data: &ReportData,
    points: &[(u64, f64)],
    top: f64,
    height: f64,
    colour: &str,
    title: &str,
) {
    let step = points.len().div_ceil(200).max(1);
    let mut d = String::new();
    for (i, (us, f)) in points.iter().enumerate() {
        if i % step == 0 || i + 1 == points.len() {
            let _ = write!(d, "{:.1},{:.1} ", x_of(data, *us), top + height * (1.0 - f));
        }
    }
    let _ = writeln!(
        h,
        "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\">\
         <title>{}</title></polyline>",
        d.trim_end(),
        escape(title)
    );
}

fn progress(
    h: &mut String,
    data: &ReportData,
    colour: &HashMap<&str, &str>,
    name_of: &mut impl FnMut(&TaskEvent) -> String,
) {
    let mut stops: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for t in &data.events.tasks {
        stops.entry(name_of(t)).or_default().push(t.stop_us);
    }
    let height = 160.0;
    let _ = writeln!(
        h,
        "<h2>Progress per function</h2>\n<p>Share of each function's tasks finished over \
         the block.</p>\n<svg id=\"progress\" width=\"{WIDTH}\" height=\"{}\" \
         xmlns=\"http://www.w3.org/2000/svg\" font-size=\"10\">",
        height + 20.0
    );
    for (i, (name, mut s)) in stops.into_iter().enumerate() {
        s.sort_unstable();
        let n = s.len() as f64;
        let mut points = vec![(data.start_us, 0.0)];
        points.extend(
            s.iter()
                .enumerate()
                .map(|(k, &us)| (us, (k + 1) as f64 / n)),
        );
        let c = colour.get(name.as_str()).copied().unwrap_or("#999");
        let _ = writeln!(
            h,
            "<text x=\"2\" y=\"{}\" fill=\"{c}\">{} ({})</text>",
            12 + 12 * i,
            escape(&name),
            s.len()
        );
        polyline(
            h,
            data,
            &points,
            4.0,
            height - 8.0,
            c,
            &format!("{name}: {} tasks", s.len()),
        );
    }
    axis(h, data, height + 14.0);
    h.push_str("</svg>\n");
}

fn memory(h: &mut String, data: &ReportData) {
    let mut by_worker: BTreeMap<usize, Vec<(u64, u64)>> = BTreeMap::new();
    for m in &data.events.memory {
        by_worker
            .entry(m.worker)
            .or_default()
            .push((m.at_us, m.bytes));
    }
    let peak = data
        .events
        .memory
        .iter()
        .map(|m| m.bytes)
        .max()
        .unwrap_or(0);
    let _ = writeln!(h, "<h2>Worker memory</h2>");
    if by_worker.is_empty() {
        h.push_str("<p>No memory samples were recorded.</p>\n");
        return;
    }
    let height = 160.0;
    let _ = writeln!(
        h,
        "<p>Bytes of results in memory in each worker's store (results spilled to disk \
         not counted), sampled at most every 100 ms \
         while tasks end; peak {}.</p>\n<svg id=\"memory\" width=\"{WIDTH}\" height=\"{}\" \
         xmlns=\"http://www.w3.org/2000/svg\" font-size=\"10\">",
        bytes(peak),
        height + 20.0
    );
    for (i, (worker, mut samples)) in by_worker.into_iter().enumerate() {
        samples.sort_unstable();
        let c = PALETTE[i % PALETTE.len()];
        let points: Vec<(u64, f64)> = samples
            .iter()
            .map(|&(at, b)| (at, b as f64 / peak.max(1) as f64))
            .collect();
        let last = samples.last().map_or(0, |s| s.1);
        let _ = writeln!(
            h,
            "<text x=\"2\" y=\"{}\" fill=\"{c}\">worker {worker}</text>",
            12 + 12 * i
        );
        polyline(
            h,
            data,
            &points,
            4.0,
            height - 8.0,
            c,
            &format!("worker {worker}: last {}", bytes(last)),
        );
    }
    axis(h, data, height + 14.0);
    h.push_str("</svg>\n");
}

fn cluster(h: &mut String, data: &ReportData) {
    let hosts: std::collections::BTreeSet<&str> =
        data.workers.iter().map(|w| w.hostname.as_str()).collect();
    let threads: usize = data.workers.iter().map(|w| w.threads).sum();
    let _ = writeln!(
        h,
        "<h2>Cluster</h2>\n<p>{} ranks (scheduler, client, {} workers) on {} host(s), {threads} \
         executor threads.</p>\n<table id=\"workers\"><tr><th>rank</th><th>host</th>\
         <th>pid</th><th>threads</th><th>memory limit</th></tr>",
        data.workers.len() + 2,
        data.workers.len(),
        hosts.len()
    );
    for w in &data.workers {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            w.rank,
            escape(&w.hostname),
            w.pid,
            w.threads,
            bytes(w.memory_limit)
        );
    }
    h.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_figures() {
        assert_eq!(duration(12), "12 µs");
        assert_eq!(duration(12_500), "12.5 ms");
        assert_eq!(duration(2_500_000), "2.50 s");
        assert_eq!(bytes(10), "10 B");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
        assert_eq!(escape("<a&\">"), "&lt;a&amp;&quot;&gt;");
    }
}
