//! [`progress`]: dask's `progress(futures)` (with `multi=True`), blocking
//! until every future has ended.
//!
//! On a terminal it draws a live bar per function (indicatif) with the
//! count, the percentage, the erred tasks in red, the rate, the elapsed time
//! and the time left:
//!
//! ```text
//! load     [========================]  100/100  100%, 98/s, 0:00:01, done
//! simulate [=========>              ] 4000/9900  40%, 2 erred, 3902/s, 0:00:01, ETA 2s
//! ```
//!
//! When stderr is not a terminal, as in a batch job's log, it writes one
//! plain line every few seconds instead (and one at the end), with each
//! function's counts when there are several:
//!
//! ```text
//! 4100/10000 tasks (41%), 2 erred, 3900 tasks/s, ETA 2s; load 100/100, simulate 4000/9900 (2 erred)
//! ```
//!
//! Each failure is shown once as it happens, on a line of its own above the
//! bars (among the plain lines in a log): the function, the task, the worker
//! and the message (the first ten root causes; a dependent failing with a
//! root already shown is not shown again). Workers do not print a task's
//! panic to stderr, where it would land in the middle of the bars.
//!
//! ```text
//! simulate: task 8c1f0e2a9b3d4f51 failed on worker 3 (Panicked): task 99 fails on purpose
//! ```

mod failures;
mod render;
mod tally;

use crate::task::names::function_name;
use crate::{Client, Error, Future, FutureStatus, Result};
use failures::Failures;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use render::{bar_line, name_width, plain_line};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
pub use tally::FunctionProgress;
use tally::Tally;

/// How often the bars are redrawn (their clocks move between two ends).
const REDRAW_EVERY: Duration = Duration::from_millis(100);

/// How the futures ended, once [`progress`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The same per function, in the order each first appears among the
    /// futures.
    pub functions: Vec<FunctionProgress>,
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
    /// A live bar per function on a terminal, a plain line every 5 s
    /// otherwise.
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
        let functions = client.functions_of(futures.iter().map(Future::key));
        let tally = Tally::new(futures.iter().zip(functions).map(|(f, function)| {
            let name = function.map_or_else(|| "data".to_string(), |f| function_name(&f));
            (f.key(), name)
        }));
        let shared = Arc::new(Shared {
            tally: Mutex::new(tally),
            stop: AtomicBool::new(false),
        });
        let plain = self
            .plain
            .unwrap_or_else(|| !std::io::stderr().is_terminal());
        let bars = (!plain).then(|| Bars::new(&shared.lock()));
        let drawer = {
            let (shared, label, every) = (shared.clone(), self.label.clone(), self.interval);
            let bars = bars.clone();
            std::thread::spawn(move || {
                let every = if bars.is_some() { REDRAW_EVERY } else { every };
                while !shared.stop.load(Ordering::Acquire) {
                    std::thread::park_timeout(every);
                    if shared.stop.load(Ordering::Acquire) {
                        break;
                    }
                    let tally = shared.lock();
                    match &bars {
                        Some(bars) => bars.draw(&tally, start.elapsed()),
                        None => eprintln!("{}", plain_line(&tally, &label, start.elapsed())),
                    }
                }
            })
        };
        let mut cancelled = 0;
        let mut erred = 0;
        let mut failures = Failures::default();
        let show = |line: String| match &bars {
            Some(bars) => bars.println(&line),
            None => eprintln!("{line}"),
        };
        let mut outcome = Ok(());
        for ended in client.as_completed(futures.to_vec()) {
            let f = match ended {
                Ok(f) => f,
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            };
            let failed = match f.status() {
                FutureStatus::Failed => {
                    erred += 1;
                    if let Some(failure) = f.failure() {
                        let name = shared.lock().name_of(f.key()).unwrap_or("?").to_string();
                        if let Some(line) = failures.line(&name, &failure) {
                            show(line);
                        }
                    }
                    true
                }
                FutureStatus::Cancelled => {
                    cancelled += 1;
                    true
                }
                _ => false,
            };
            shared.lock().ended(f.key(), failed);
        }
        shared.stop.store(true, Ordering::Release);
        drawer.thread().unpark();
        let _ = drawer.join();
        if let Some(line) = failures.rest() {
            show(line);
        }
        let elapsed = start.elapsed();
        let tally = shared.lock();
        match &bars {
            Some(bars) => bars.finish(&tally, elapsed),
            None => eprintln!("{}", plain_line(&tally, &self.label, elapsed)),
        }
        let functions = tally.groups().to_vec();
        drop(tally);
        outcome?;
        Ok(ProgressSummary {
            total,
            finished: total - erred - cancelled,
            erred,
            cancelled,
            elapsed,
            functions,
        })
    }
}

/// Shows progress until every one of `futures` has ended: a live bar per
/// function on a terminal, a plain line every 5 s otherwise. See
/// [`Progress`] to change that.
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

/// The counts, shared with the thread that draws the bars or writes the
/// plain lines.
struct Shared {
    tally: Mutex<Tally>,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One live bar per function, on stderr.
#[derive(Clone)]
struct Bars {
    bars: Vec<ProgressBar>,
    width: usize,
    /// The bars' group on the terminal; lines printed through it go above
    /// the bars.
    multi: MultiProgress,
}

impl Bars {
    fn new(tally: &Tally) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        // `wide_msg`: a line wider than the terminal is cut, not wrapped
        // (a wrapped line would break the redrawing of the lines above it).
        let style = ProgressStyle::with_template("{wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        let bars = tally
            .groups()
            .iter()
            .map(|g| multi.add(ProgressBar::new(g.total as u64).with_style(style.clone())))
            .collect();
        let bars = Bars {
            bars,
            width: name_width(tally.groups()),
            multi,
        };
        bars.draw(tally, Duration::ZERO);
        bars
    }

    fn draw(&self, tally: &Tally, elapsed: Duration) {
        for (bar, g) in self.bars.iter().zip(tally.groups()) {
            bar.set_position(g.done as u64);
            bar.set_message(bar_line(g, self.width, elapsed, true));
        }
    }

    /// Prints `line` above the bars (nothing when stderr is not a terminal:
    /// the bars are not drawn there either).
    /// Prints `line` above the bars, or plainly where indicatif draws
    /// nothing (bars forced on while stderr is not a terminal), so a
    /// failure is never shown nowhere.
    fn println(&self, line: &str) {
        if self.multi.is_hidden() {
            eprintln!("{line}");
        } else {
            let _ = self.multi.println(line);
        }
    }

    fn finish(&self, tally: &Tally, elapsed: Duration) {
        self.draw(tally, elapsed);
        for bar in &self.bars {
            bar.finish();
        }
    }
}
