//! The performance report: [`Client::performance_report`] runs a block of
//! work and writes what the workers recorded meanwhile as one self-contained
//! HTML file (no network needed to open it) and as a Chrome trace
//! (`.json`, Trace Event Format) that Perfetto and chrome://tracing open.

use super::events::{self, EventBatch};
use super::{report_html, trace};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::WorkerInfo;
use crate::Client;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Everything a report shows: the block's wall time, the events recorded in
/// it, and the cluster's shape.
#[derive(Debug, Clone)]
pub struct ReportData {
    /// When the block began, µs since the Unix epoch.
    pub start_us: u64,
    /// When it ended.
    pub stop_us: u64,
    /// The events that ended inside it.
    pub events: EventBatch,
    /// The workers.
    pub workers: Vec<WorkerInfo>,
}

/// Count and durations of one function's tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionSummary {
    /// Tasks run.
    pub count: u64,
    /// Of which failed.
    pub failed: u64,
    /// Their run time added up, µs.
    pub total_us: u64,
}

impl ReportData {
    /// Tasks per function name (see [`TaskEvent::function_name`](events::TaskEvent::function_name)).
    pub fn functions(&self) -> BTreeMap<String, FunctionSummary> {
        let mut names = std::collections::HashMap::new();
        let mut out: BTreeMap<String, FunctionSummary> = BTreeMap::new();
        for t in &self.events.tasks {
            let name = names
                .entry(t.function)
                .or_insert_with(|| t.function_name())
                .clone();
            let s = out.entry(name).or_default();
            s.count += 1;
            s.failed += u64::from(t.failed);
            s.total_us += t.stop_us.saturating_sub(t.start_us);
        }
        out
    }

    /// Bytes moved between workers.
    pub fn bytes_transferred(&self) -> u64 {
        self.events.transfers.iter().map(|t| t.bytes).sum()
    }

    /// Collectives and `run` calls by [`label`](events::CollectiveEvent::label)
    /// (`section sum_section`, `run warm_up`, `bcast`): how many workers
    /// took part in one, and their time added up (µs).
    pub fn collectives(&self) -> BTreeMap<String, (u64, u64)> {
        let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for c in &self.events.collectives {
            let e = out.entry(c.label()).or_default();
            e.0 += 1;
            e.1 += c.stop_us.saturating_sub(c.start_us);
        }
        out
    }

    /// Time the workers spent in collectives and `run` calls, added up over
    /// workers, µs.
    pub fn collective_us(&self) -> u64 {
        self.events
            .collectives
            .iter()
            .map(|c| c.stop_us.saturating_sub(c.start_us))
            .sum()
    }
}

/// Where the Chrome trace of a report at `path` goes: beside it, with
/// `.json` for its extension (`report.html` -> `report.json`).
pub fn trace_path(path: &Path) -> PathBuf {
    path.with_extension("json")
}

/// Opens `path` for writing, with an error that names it.
fn create(path: &Path, what: &str) -> Result<File> {
    File::create(path).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("cannot write the {what} {}: {e}", path.display()),
        )
    })
}

impl Client {
    /// Runs `work` and writes a performance report of it to `path`: one
    /// self-contained HTML file (summary, task stream, progress per
    /// function, worker memory, the cluster's shape) and beside it a Chrome
    /// trace of the same events ([`trace_path`]: `report.html` ->
    /// `report.json`). Both files are created before `work` starts, so a path
    /// that cannot be written is an error before any work is done.
    ///
    /// The report holds the events the scheduler still has (see
    /// [`Config::event_history`](crate::Config::event_history)); with
    /// recording off ([`Config::task_events`](crate::Config::task_events)) it
    /// says that no events were recorded and shows the wall time and the
    /// cluster.
    ///
    /// ```no_run
    /// # fn main() -> rankflow::Result<()> {
    /// let client = rankflow::initialize(rankflow::Config::new())?;
    /// let total = client.performance_report("report.html", || -> rankflow::Result<u64> {
    ///     let squares = client.map(|x: u64| x * x, 0..1000)?;
    ///     Ok(client.gather(&squares)?.iter().sum())
    /// })??;
    /// # let _ = total;
    /// # Ok(())
    /// # }
    /// ```
    pub fn performance_report<T>(
        &self,
        path: impl AsRef<Path>,
        work: impl FnOnce() -> T,
    ) -> Result<T> {
        let path = path.as_ref();
        let trace_path = trace_path(path);
        let mut html = create(path, "performance report")?;
        let mut json = create(&trace_path, "Chrome trace")?;
        // Recording is off unless asked for: on for this block only. The
        // block starts before the switch, which returns once every worker
        // records, with a memory sample from each.
        let start_us = events::now_us();
        let switched = !self.recording_task_events();
        if switched {
            self.record_task_events(true)?;
        }
        let out = work();
        let stop_us = events::now_us();
        if switched {
            self.record_task_events(false)?;
        }
        let recorded = self.task_events(start_us)?;
        let data = ReportData {
            start_us,
            stop_us,
            events: recorded,
            workers: self.workers().to_vec(),
        };
        let write = |f: &mut File, p: &Path, text: String| {
            f.write_all(text.as_bytes()).map_err(|e| {
                Error::new(ErrorKind::Io, format!("cannot write {}: {e}", p.display()))
            })
        };
        write(&mut html, path, report_html::render(&data))?;
        write(&mut json, &trace_path, trace::render(&data))?;
        Ok(out)
    }
}
