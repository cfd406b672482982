//! What the scheduler publishes for the live dashboard: a [`Snapshot`] of its
//! state, taken by the scheduler's loop at most every [`PUBLISH_EVERY`] and
//! only while someone has asked for one in the last [`WATCH_WINDOW`], and the
//! task stream (tasks as they finish).
//!
//! The loop never waits for a reader: it swaps in a new snapshot with
//! `try_lock`, and if a reader holds the lock it keeps its news for the next
//! turn. Readers (the dashboard's HTTP thread) take an `Arc` of the latest
//! snapshot and serialise it outside any lock.
//!
//! The task stream is fed, for now, by what the scheduler itself sees: each
//! finished task's worker, run time and arrival. [`Monitor::record_finished`]
//! is the hook where the workers' event history (start and stop on each
//! executor thread, transfers) plugs in when it exists.

use super::graph::{GraphSummary, StateCounts, TaskGraph};
use crate::protocol::{Outcome, WorkerInfo};
use crate::task::shipping::FnRef;
use crate::task::Key;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Least time between two snapshots.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(200);

/// Snapshots are taken while a reader asked for one this recently.
pub const WATCH_WINDOW: Duration = Duration::from_secs(10);

/// Most task-stream bars kept for readers (the oldest are dropped).
pub const STREAM_LIMIT: usize = 20_000;

/// One finished task in the task stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamBar {
    /// Position in the stream, from 1: a reader asks for bars after the last
    /// one it has.
    pub seq: u64,
    /// The task.
    pub key: Key,
    /// Its function, if the graph still knew the task (label it with
    /// [`function_label`]; labelled only when read, to keep the loop cheap).
    pub function: Option<FnRef>,
    /// The worker rank that ran it.
    pub worker: usize,
    /// When it started, in milliseconds since the scheduler started (its
    /// arrival at the scheduler less its run time).
    pub start_ms: f64,
    /// When the scheduler heard that it ended.
    pub stop_ms: f64,
    /// It failed.
    pub erred: bool,
}

/// One worker, as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerView {
    /// What it said about itself at registration.
    pub info: WorkerInfo,
    /// Tasks handed to it and not finished.
    pub processing: usize,
    /// Tasks it ran to a result.
    pub done: u64,
    /// Tasks that failed on it.
    pub erred: u64,
    /// Results it holds.
    pub held: usize,
    /// Their encoded size in bytes.
    pub held_bytes: u64,
}

/// Tasks of one function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionView {
    /// Its label.
    pub label: String,
    /// Its tasks the scheduler still knows, by state.
    pub states: StateCounts,
}

/// The scheduler's state at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Milliseconds since the scheduler started, when this was taken.
    pub at_ms: f64,
    /// Whether every worker has registered and tasks may run.
    pub running: bool,
    /// Tasks the scheduler knows, by state.
    pub states: StateCounts,
    /// Tasks finished with a result since start-up.
    pub done_total: u64,
    /// Tasks failed since start-up.
    pub erred_total: u64,
    /// Every registered worker, by rank.
    pub workers: Vec<WorkerView>,
    /// Tasks by function, most first.
    pub functions: Vec<FunctionView>,
}

/// The state shared between the scheduler's loop and readers.
#[derive(Debug)]
pub struct Shared {
    started: Instant,
    snapshot: Mutex<Arc<Snapshot>>,
    stream: Mutex<VecDeque<StreamBar>>,
    /// Milliseconds since `started` of the last read, plus one (0: never).
    last_read_ms: AtomicU64,
}

impl Shared {
    /// Shared state with an empty snapshot.
    pub fn new() -> Arc<Self> {
        Arc::new(Shared {
            started: Instant::now(),
            snapshot: Mutex::new(Arc::new(Snapshot::default())),
            stream: Mutex::new(VecDeque::new()),
            last_read_ms: AtomicU64::new(0),
        })
    }

    fn now_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1e3
    }

    fn mark_read(&self) {
        let ms = self.started.elapsed().as_millis() as u64 + 1;
        self.last_read_ms.store(ms, Ordering::Relaxed);
    }

    fn watched(&self) -> bool {
        let last = self.last_read_ms.load(Ordering::Relaxed);
        last != 0
            && (self.started.elapsed().as_millis() as u64 + 1).saturating_sub(last)
                <= WATCH_WINDOW.as_millis() as u64
    }

    /// The latest snapshot (it may be up to [`PUBLISH_EVERY`] old, or older
    /// when nobody had looked for a while: the scheduler takes a new one
    /// within a quarter second of this call).
    pub fn latest(&self) -> Arc<Snapshot> {
        self.mark_read();
        match self.snapshot.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The latest snapshot, waiting (on the caller's thread, up to half a
    /// second) for the scheduler to take a new one if nobody had been
    /// looking: while nobody looks the scheduler takes none.
    pub fn fresh(&self) -> Arc<Snapshot> {
        let was_watched = self.watched();
        let first = self.latest();
        if was_watched {
            return first;
        }
        let deadline = Instant::now() + 2 * PUBLISH_EVERY + Duration::from_millis(100);
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            let now = self.latest();
            if !Arc::ptr_eq(&now, &first) {
                return now;
            }
        }
        first
    }

    /// Stream bars after `since`, at most `limit` of the newest.
    pub fn stream_since(&self, since: u64, limit: usize) -> Vec<StreamBar> {
        self.mark_read();
        let stream = match self.stream.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let newer = stream.iter().rev().take_while(|b| b.seq > since).count();
        let skip = stream.len() - newer.min(limit);
        stream.iter().skip(skip).cloned().collect()
    }
}

/// A short name for a function until tasks carry their names: its offset in
/// the executable.
pub fn function_label(f: &FnRef) -> String {
    let offset = f.identity().0;
    let sign = if offset < 0 { '-' } else { '+' };
    format!("fn {sign}{:#x}", offset.unsigned_abs())
}

/// The scheduler loop's side: counts what it sees and publishes.
#[derive(Debug)]
pub struct Monitor {
    shared: Arc<Shared>,
    last_publish: Option<Instant>,
    dirty: bool,
    done: BTreeMap<usize, (u64, u64)>,
    pending: VecDeque<StreamBar>,
    seq: u64,
}

impl Monitor {
    /// A monitor publishing into `shared`.
    pub fn new(shared: Arc<Shared>) -> Self {
        Monitor {
            shared,
            last_publish: None,
            dirty: true,
            done: BTreeMap::new(),
            pending: VecDeque::new(),
            seq: 0,
        }
    }

    /// Notes that tasks finished on `worker` (call before the graph hears
    /// of them, while it still knows their functions). This is where the
    /// workers' event history plugs into the task stream.
    pub fn record_finished(&mut self, worker: usize, outcomes: &[Outcome], graph: &TaskGraph) {
        let now = self.shared.now_ms();
        let counts = self.done.entry(worker).or_default();
        for outcome in outcomes {
            let (key, micros, erred) = match outcome {
                Outcome::Done { key, micros, .. } => (*key, *micros, false),
                Outcome::Failed(f) => (f.key, 0, true),
            };
            if erred {
                counts.1 += 1;
            } else {
                counts.0 += 1;
            }
            self.seq += 1;
            if self.pending.len() == STREAM_LIMIT {
                self.pending.pop_front();
            }
            self.pending.push_back(StreamBar {
                seq: self.seq,
                key,
                function: graph.function_of(key),
                worker,
                start_ms: (now - micros as f64 / 1e3).max(0.0),
                stop_ms: now,
                erred,
            });
        }
        self.dirty = true;
    }

    /// Notes that something changed.
    pub fn touch(&mut self) {
        self.dirty = true;
    }

    /// How long the loop may wait for a message before it should call
    /// [`publish`](Self::publish) again: `None` when there is nothing new.
    pub fn wait(&self) -> Option<Duration> {
        self.dirty.then_some(PUBLISH_EVERY)
    }

    /// Publishes a new snapshot if something changed, someone is watching
    /// and the last one is at least [`PUBLISH_EVERY`] old. Never waits for a
    /// reader.
    pub fn publish(
        &mut self,
        running: bool,
        workers: &BTreeMap<usize, WorkerInfo>,
        graph: &TaskGraph,
    ) {
        if !self.dirty
            || !self.shared.watched()
            || self
                .last_publish
                .is_some_and(|t| t.elapsed() < PUBLISH_EVERY)
        {
            return;
        }
        if !self.pending.is_empty() {
            let Ok(mut stream) = self.shared.stream.try_lock() else {
                return;
            };
            let over = (stream.len() + self.pending.len()).saturating_sub(STREAM_LIMIT);
            let over = over.min(stream.len());
            stream.drain(..over);
            stream.extend(self.pending.drain(..));
        }
        let summary = graph.summary();
        let snapshot = Arc::new(self.snapshot(running, workers, summary));
        let Ok(mut slot) = self.shared.snapshot.try_lock() else {
            return;
        };
        *slot = snapshot;
        drop(slot);
        self.last_publish = Some(Instant::now());
        self.dirty = false;
    }

    fn snapshot(
        &self,
        running: bool,
        workers: &BTreeMap<usize, WorkerInfo>,
        summary: GraphSummary,
    ) -> Snapshot {
        let (done_total, erred_total) = self
            .done
            .values()
            .fold((0, 0), |(d, e), (wd, we)| (d + wd, e + we));
        Snapshot {
            at_ms: self.shared.now_ms(),
            running,
            states: summary.states,
            done_total,
            erred_total,
            workers: workers
                .values()
                .map(|info| {
                    let load = summary.workers.get(&info.rank).cloned().unwrap_or_default();
                    let (done, erred) = self.done.get(&info.rank).copied().unwrap_or_default();
                    WorkerView {
                        info: info.clone(),
                        processing: load.processing,
                        done,
                        erred,
                        held: load.held,
                        held_bytes: load.held_bytes,
                    }
                })
                .collect(),
            functions: summary
                .functions
                .iter()
                .map(|(f, states)| FunctionView {
                    label: function_label(f),
                    states: states.clone(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishes_only_when_watched_and_keeps_the_stream_bounded() {
        let shared = Shared::new();
        let mut m = Monitor::new(shared.clone());
        let graph = TaskGraph::new();
        let outcomes: Vec<Outcome> = (0..3)
            .map(|i| Outcome::Done {
                key: Key(i),
                nbytes: 8,
                micros: 1000,
            })
            .collect();
        m.record_finished(2, &outcomes, &graph);
        m.publish(true, &BTreeMap::new(), &graph);
        assert_eq!(shared.snapshot.lock().unwrap().done_total, 0, "unwatched");
        assert_eq!(shared.latest().done_total, 0);
        m.publish(true, &BTreeMap::new(), &graph);
        assert_eq!(shared.latest().done_total, 3);
        assert!(shared.latest().running);
        assert_eq!(m.wait(), None, "nothing new");
        let bars = shared.stream_since(0, 100);
        assert_eq!(bars.iter().map(|b| b.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(shared.stream_since(2, 100).len(), 1);
        assert_eq!(shared.stream_since(0, 2)[0].seq, 2, "the newest");
        assert!(bars[0].start_ms <= bars[0].stop_ms);
    }
}
