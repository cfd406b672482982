//! The text progress shows, from counts and an elapsed time (no clock read
//! here, so that tests give a fixed one): the plain line of a batch job's
//! log, and one bar line per function for a terminal.

use super::tally::{FunctionProgress, Tally};
use std::time::Duration;

/// Characters of the bar itself, between its brackets.
const BAR_WIDTH: usize = 24;

/// Longest function name shown whole in a bar line.
const NAME_WIDTH: usize = 24;

const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

/// `4100/10000 tasks (41%), 2 erred, 3900 tasks/s, ETA 2s`, followed by the
/// counts of each function when there are several:
/// `; load 100/100, simulate 4000/9900 (2 erred)`.
pub(super) fn plain_line(tally: &Tally, label: &str, elapsed: Duration) -> String {
    let (done, erred, total) = tally.totals();
    let mut line = plain_counts(done, erred, total, label, elapsed);
    if tally.groups().len() > 1 {
        let parts: Vec<String> = tally
            .groups()
            .iter()
            .map(|g| {
                let erred = if g.erred > 0 {
                    format!(" ({} erred)", g.erred)
                } else {
                    String::new()
                };
                format!("{} {}/{}{erred}", g.name, g.done, g.total)
            })
            .collect();
        line.push_str("; ");
        line.push_str(&parts.join(", "));
    }
    line
}

/// `4100/10000 tasks (41%), 2 erred, 3900 tasks/s, ETA 2s`.
fn plain_counts(done: usize, erred: usize, total: usize, label: &str, elapsed: Duration) -> String {
    let percent = (done * 100).checked_div(total).unwrap_or(100);
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
    let erred = if erred > 0 {
        format!(", {erred} erred")
    } else {
        String::new()
    };
    format!(
        "{done}/{total} {label} ({percent}%){erred}, {rate:.0} {label}/s, {}",
        eta(done, total, rate)
    )
}

/// `ETA 2s`, `ETA ?` before anything ended, `done` at the end.
fn eta(done: usize, total: usize, rate: f64) -> String {
    if done >= total {
        "done".to_string()
    } else if done == 0 {
        "ETA ?".to_string()
    } else {
        format!("ETA {}", seconds((total - done) as f64 / rate))
    }
}

/// Whole seconds (rounded up), or minutes and seconds from a minute up.
pub(super) fn seconds(s: f64) -> String {
    let s = s.ceil() as u64;
    if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// `h:mm:ss`.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// How wide the name column is for these groups.
pub(super) fn name_width(groups: &[FunctionProgress]) -> usize {
    groups
        .iter()
        .map(|g| g.name.chars().count().min(NAME_WIDTH))
        .max()
        .unwrap_or(0)
}

/// One function's bar line for a terminal:
/// `simulate [=========>              ] 4000/9900  40%, 2 erred, 3900/s, 0:00:01, ETA 2s`,
/// the erred count in red when `color`. The name is padded (or cut) to
/// `width` characters so that the bars line up.
pub(super) fn bar_line(
    g: &FunctionProgress,
    width: usize,
    elapsed: Duration,
    color: bool,
) -> String {
    let name: String = g.name.chars().take(width).collect();
    let filled = (g.done * BAR_WIDTH)
        .checked_div(g.total)
        .unwrap_or(BAR_WIDTH);
    let bar = if filled >= BAR_WIDTH {
        "=".repeat(BAR_WIDTH)
    } else {
        format!(
            "{}>{}",
            "=".repeat(filled),
            " ".repeat(BAR_WIDTH - filled - 1)
        )
    };
    let digits = g.total.to_string().len();
    let percent = (g.done * 100).checked_div(g.total).unwrap_or(100);
    let erred = match (g.erred, color) {
        (0, _) => String::new(),
        (n, true) => format!(", {RED}{n} erred{RESET}"),
        (n, false) => format!(", {n} erred"),
    };
    let rate = g.done as f64 / elapsed.as_secs_f64().max(1e-9);
    format!(
        "{name:<width$} [{bar}] {done:>digits$}/{total} {percent:>3}%{erred}, {rate:.0}/s, {}, {}",
        clock(elapsed),
        eta(g.done, g.total, rate),
        done = g.done,
        total = g.total,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Key;

    fn tally(names: &[&str]) -> Tally {
        Tally::new(
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (Key(i as u64), n.to_string())),
        )
    }

    fn group(name: &str, done: usize, erred: usize, total: usize) -> FunctionProgress {
        FunctionProgress {
            name: name.to_string(),
            total,
            done,
            erred,
        }
    }

    #[test]
    fn the_plain_line_has_counts_rate_and_time_left() {
        let l = plain_counts(4100, 2, 10_000, "tasks", Duration::from_millis(1050));
        assert_eq!(l, "4100/10000 tasks (41%), 2 erred, 3905 tasks/s, ETA 2s");
        let l = plain_counts(0, 0, 10, "tasks", Duration::from_secs(1));
        assert_eq!(l, "0/10 tasks (0%), 0 tasks/s, ETA ?");
        let l = plain_counts(10, 0, 10, "chunks", Duration::from_secs(2));
        assert_eq!(l, "10/10 chunks (100%), 5 chunks/s, done");
        assert_eq!(seconds(125.2), "2m06s");
    }

    #[test]
    fn the_plain_line_adds_each_function_only_when_there_are_several() {
        let mut one = tally(&["square", "square"]);
        one.ended(Key(0), false);
        let l = plain_line(&one, "tasks", Duration::from_secs(1));
        assert_eq!(l, "1/2 tasks (50%), 1 tasks/s, ETA 1s");
        let mut two = tally(&["load", "simulate", "simulate", "simulate"]);
        two.ended(Key(0), false);
        two.ended(Key(1), true);
        two.ended(Key(2), false);
        let l = plain_line(&two, "tasks", Duration::from_secs(1));
        assert_eq!(
            l,
            "3/4 tasks (75%), 1 erred, 3 tasks/s, ETA 1s; load 1/1, simulate 2/3 (1 erred)"
        );
    }

    #[test]
    fn bar_lines_line_up_and_show_errors_in_red() {
        let groups = [group("load", 100, 0, 100), group("simulate", 4000, 2, 9900)];
        let w = name_width(&groups);
        assert_eq!(w, 8);
        let elapsed = Duration::from_millis(1025);
        let load = bar_line(&groups[0], w, elapsed, true);
        assert_eq!(
            load,
            "load     [========================] 100/100 100%, 98/s, 0:00:01, done"
        );
        let sim = bar_line(&groups[1], w, elapsed, true);
        assert_eq!(
            sim,
            "simulate [=========>              ] 4000/9900  40%, \x1b[31m2 erred\x1b[0m, \
             3902/s, 0:00:01, ETA 2s"
        );
        let plain = bar_line(&groups[1], w, elapsed, false);
        assert!(
            plain.contains(", 2 erred, ") && !plain.contains('\x1b'),
            "{plain}"
        );
        let start = bar_line(&group("save", 0, 0, 7), 4, Duration::ZERO, false);
        assert_eq!(
            start,
            "save [>                       ] 0/7   0%, 0/s, 0:00:00, ETA ?"
        );
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
    }

    #[test]
    fn long_names_are_cut_to_the_column() {
        let long = group(&"x".repeat(40), 1, 0, 2);
        let w = name_width(std::slice::from_ref(&long));
        assert_eq!(w, NAME_WIDTH);
        let line = bar_line(&long, w, Duration::from_secs(1), false);
        assert!(
            line.starts_with(&format!("{} [", "x".repeat(NAME_WIDTH))),
            "{line}"
        );
    }
}
