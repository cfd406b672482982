//! [`progress`]: dask's `progress(futures)`, blocking until every future
//! has ended.
//!
//! On a terminal it draws a live bar (indicatif) with the count, the rate,
//! the elapsed time and the time left, and the erred tasks in red. When
//! stderr is not a terminal, as in a batch job's log, it writes one plain
//! line every few seconds instead (and one at the end):
//!
//! ```text
//! 4100/10000 tasks (41%), 2 erred, 3900 tasks/s, ETA 2s
//! ```

use crate::{Client, Error, Future, FutureStatus, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the futures ended, once [`progress`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressSummary {
    /// Futures watched.
    pub total: usize,
    /// Finished with a result.
    pub finished: usize,
    /// Failed (a panic, an `Err`, a failed dependency).
    pub erred: usize,
    /// Cancelled.
    pub cancelled: usize,
    /// Time from the call to the last future's end.
    pub elapsed: Duration,
}

/// Options for [`progress`], builder style.
#[derive(Debug, Clone)]
pub struct Progress {
    interval: Duration,
    plain: Option<bool>,
    label: String,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            interval: Duration::from_secs(5),
            plain: None,
            label: "tasks".to_string(),
        }
    }
}

impl Progress {
    /// A live bar on a terminal, a plain line every 5 s otherwise.
    pub fn new() -> Self {
        Self::default()
    }

    /// How often the plain line is written (default 5 s; must be above zero).
    pub fn interval(mut self, every: Duration) -> Self {
        self.interval = every;
        self
    }

    /// `true`: plain lines even on a terminal; `false`: the bar even when
    /// stderr is not a terminal. Default: decided by stderr.
    pub fn plain(mut self, plain: bool) -> Self {
        self.plain = Some(plain);
        self
    }

    /// What the counted things are called in the output (default `tasks`).
    pub fn label(mut self, label: &str) -> Self {
        self.label = label.to_string();
        self
    }

    /// Shows progress until every one of `futures` has ended, then returns
    /// how they ended. A failed future is counted, not returned as an error:
    /// read its result for the error.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) for
    /// a zero interval; the client's error if it shuts down meanwhile.
    pub fn run<T>(&self, client: &Client, futures: &[Future<T>]) -> Result<ProgressSummary> {
        if self.interval.is_zero() {
            return Err(Error::invalid("the progress interval must be above zero"));
        }
        let total = futures.len();
        let start = Instant::now();
        let counts = Arc::new(Counts::default());
        let plain = self
            .plain
            .unwrap_or_else(|| !std::io::stderr().is_terminal());
        let bar = (!plain).then(|| bar(total, &self.label));
        let printer = plain.then(|| {
            let (counts, label, every) = (counts.clone(), self.label.clone(), self.interval);
            std::thread::spawn(move || {
                while !counts.stop.load(Ordering::Acquire) {
                    std::thread::park_timeout(every);
                    if counts.stop.load(Ordering::Acquire) {
                        break;
                    }
                    eprintln!("{}", counts.line(total, &label, start.elapsed()));
                }
            })
        });
        let mut cancelled = 0;
        let mut outcome = Ok(());
        for ended in client.as_completed(futures.to_vec()) {
            let f = match ended {
                Ok(f) => f,
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            };
            match f.status() {
                FutureStatus::Failed => {
                    counts.erred.fetch_add(1, Ordering::Relaxed);
                }
                FutureStatus::Cancelled => {
                    cancelled += 1;
                    counts.erred.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
            let done = counts.done.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some(bar) = &bar {
                bar.set_position(done as u64);
                let erred = counts.erred.load(Ordering::Relaxed);
                if erred > 0 {
                    bar.set_message(format!("\x1b[31m{erred} erred\x1b[0m"));
                }
            }
        }
        counts.stop.store(true, Ordering::Release);
        if let Some(printer) = printer {
            printer.thread().unpark();
            let _ = printer.join();
        }
        let elapsed = start.elapsed();
        match &bar {
            Some(bar) => bar.finish(),
            None => eprintln!("{}", counts.line(total, &self.label, elapsed)),
        }
        outcome?;
        let erred = counts.erred.load(Ordering::Relaxed) - cancelled;
        Ok(ProgressSummary {
            total,
            finished: total - erred - cancelled,
            erred,
            cancelled,
            elapsed,
        })
    }
}

/// Shows progress until every one of `futures` has ended: a live bar on a
/// terminal, a plain line every 5 s otherwise. See [`Progress`] to change
/// that.
///
/// ```
/// # fn main() -> Result<(), rankflow::Error> {
/// fn square(x: u64) -> u64 { x * x }
/// let client = rankflow::initialize(rankflow::Config::new())?;
/// let futures = client.map(square, 0..1000u64)?;
/// let summary = rankflow::diagnostics::progress(&client, &futures)?;
/// assert_eq!(summary.finished, 1000);
/// # client.shutdown()
/// # }
/// ```
pub fn progress<T>(client: &Client, futures: &[Future<T>]) -> Result<ProgressSummary> {
    Progress::new().run(client, futures)
}

/// Counts shared with the thread that writes plain lines.
#[derive(Default)]
struct Counts {
    done: AtomicUsize,
    erred: AtomicUsize,
    stop: AtomicBool,
}

impl Counts {
    fn line(&self, total: usize, label: &str, elapsed: Duration) -> String {
        plain_line(
            self.done.load(Ordering::Relaxed),
            self.erred.load(Ordering::Relaxed),
            total,
            label,
            elapsed,
        )
    }
}

/// `4100/10000 tasks (41%), 2 erred, 3900 tasks/s, ETA 2s`.
fn plain_line(done: usize, erred: usize, total: usize, label: &str, elapsed: Duration) -> String {
    let percent = (done * 100).checked_div(total).unwrap_or(100);
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
    let eta = if done >= total {
        "done".to_string()
    } else if done == 0 {
        "ETA ?".to_string()
    } else {
        format!("ETA {}", seconds((total - done) as f64 / rate))
    };
    let erred = if erred > 0 {
        format!(", {erred} erred")
    } else {
        String::new()
    };
    format!("{done}/{total} {label} ({percent}%){erred}, {rate:.0} {label}/s, {eta}")
}

/// Whole seconds, or minutes and seconds from a minute up.
fn seconds(s: f64) -> String {
    let s = s.ceil() as u64;
    if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

fn bar(total: usize, label: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    let template = format!(
        "[{{elapsed_precise}}] {{bar:40.cyan/blue}} {{pos}}/{{len}} {label} \
         ({{percent}}%) {{per_sec}} ETA {{eta}} {{msg}}"
    );
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_line_has_counts_rate_and_time_left() {
        let l = plain_line(4100, 2, 10_000, "tasks", Duration::from_millis(1050));
        assert_eq!(l, "4100/10000 tasks (41%), 2 erred, 3905 tasks/s, ETA 2s");
        let l = plain_line(0, 0, 10, "tasks", Duration::from_secs(1));
        assert_eq!(l, "0/10 tasks (0%), 0 tasks/s, ETA ?");
        let l = plain_line(10, 0, 10, "chunks", Duration::from_secs(2));
        assert_eq!(l, "10/10 chunks (100%), 5 chunks/s, done");
        assert_eq!(seconds(125.2), "2m06s");
    }
}
