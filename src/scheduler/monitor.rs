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
//! The task stream is fed from the workers' task events when they record
//! them ([`Monitor::record_events`]: each task's start and stop on its
//! executor thread, the same events the scheduler's history keeps), and
//! otherwise from what the scheduler itself sees ([`Monitor::record_finished`]:
//! each finished task's worker, run time and arrival). Either way the newest
//! [`STREAM_LIMIT`] bars are kept whether or not anyone watches, so a page
//! opened mid-run shows the recent past.
//!
//! Functions are labelled with the names the client sends once per function
//! ([`Monitor::learn_names`]); tasks carry none. While someone watches, the
//! loop asks each worker for its CPU time every [`CPU_EVERY`]
//! ([`Monitor::heartbeats_due`], answered in `Alive`).

use super::graph::{GraphSummary, StateCounts, TaskGraph};
use crate::diagnostics::packed::PackedTasks;
use crate::protocol::{Outcome, WorkerInfo};
use crate::task::shipping::FnRef;
use crate::task::Key;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Least time between two snapshots.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(200);

/// Snapshots are taken while a reader asked for one this recently.
pub const WATCH_WINDOW: Duration = Duration::from_secs(10);

/// Most task-stream bars kept for readers (the oldest are dropped).
pub const STREAM_LIMIT: usize = 20_000;

/// How often, while someone watches, each worker is asked for its CPU time.
pub const CPU_EVERY: Duration = Duration::from_secs(1);

/// Function labels by function, as the client named them.
pub type Names = HashMap<FnRef, Arc<str>>;

/// One finished task in the task stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamBar {
    /// Position in the stream, from 1: a reader asks for bars after the last
    /// one it has.
    pub seq: u64,
    /// The task.
    pub key: Key,
    /// Its function, if known (label it with [`Shared::label`]; labelled
    /// only when read, to keep the loop cheap).
    pub function: Option<FnRef>,
    /// The worker rank that ran it.
    pub worker: usize,
    /// The executor thread that ran it, when the bar comes from the
    /// worker's task events.
    pub thread: Option<u32>,
    /// When it started, in milliseconds since the scheduler started: from
    /// the task events, or else its arrival at the scheduler less its run
    /// time.
    pub start_ms: f64,
    /// When it stopped: from the task events, or else when the scheduler
    /// heard that it ended.
    pub stop_ms: f64,
    /// It failed.
    pub erred: bool,
}

/// One worker, as the dashboard shows it.
#[derive(Debug, Clone, PartialEq)]
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
    /// CPU time its process (or, on the embedded cluster, its threads)
    /// used between its last two reports, in % of one core; `None` before
    /// two reports.
    pub cpu_percent: Option<f64>,
}

/// Tasks of one function (of every function with that label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionView {
    /// Its label.
    pub label: String,
    /// Its tasks the scheduler still knows, by state.
    pub states: StateCounts,
}

/// Tasks of function `to` that take a result of function `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeView {
    /// The label of the function whose results are taken.
    pub from: String,
    /// The label of the function that takes them.
    pub to: String,
    /// How many such dependencies the scheduler still knows.
    pub count: usize,
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
    /// Dependencies between functions' tasks, counted only while someone
    /// reads the graph page (empty otherwise; see `edges_counted`).
    pub edges: Vec<EdgeView>,
    /// Whether `edges` was counted for this snapshot.
    pub edges_counted: bool,
}

/// The state shared between the scheduler's loop and readers.
#[derive(Debug)]
pub struct Shared {
    started: Instant,
    snapshot: Mutex<Arc<Snapshot>>,
    stream: Mutex<VecDeque<StreamBar>>,
    names: Mutex<Names>,
    /// Milliseconds since `started` of the last read, plus one (0: never).
    last_read_ms: AtomicU64,
    /// The same, of the last read that wanted the graph's edges.
    last_graph_read_ms: AtomicU64,
}

impl Shared {
    /// Shared state with an empty snapshot.
    pub fn new() -> Arc<Self> {
        Arc::new(Shared {
            started: Instant::now(),
            snapshot: Mutex::new(Arc::new(Snapshot::default())),
            stream: Mutex::new(VecDeque::new()),
            names: Mutex::new(Names::new()),
            last_read_ms: AtomicU64::new(0),
            last_graph_read_ms: AtomicU64::new(0),
        })
    }

    fn now_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1e3
    }

    fn mark_read(&self) {
        let ms = self.started.elapsed().as_millis() as u64 + 1;
        self.last_read_ms.store(ms, Ordering::Relaxed);
    }

    /// Notes that a reader wants the dependencies between functions (the
    /// graph page): snapshots count them for the next [`WATCH_WINDOW`].
    pub fn want_edges(&self) {
        let ms = self.started.elapsed().as_millis() as u64 + 1;
        self.last_graph_read_ms.store(ms, Ordering::Relaxed);
    }

    fn recent(&self, mark: &AtomicU64) -> bool {
        let last = mark.load(Ordering::Relaxed);
        last != 0
            && (self.started.elapsed().as_millis() as u64 + 1).saturating_sub(last)
                <= WATCH_WINDOW.as_millis() as u64
    }

    fn watched(&self) -> bool {
        self.recent(&self.last_read_ms)
    }

    /// The functions' labels the scheduler has published.
    pub fn names(&self) -> Names {
        match self.names.lock() {
            Ok(n) => n.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The label of `function` in `names`: its name from the client, else
    /// [`function_label`]; `"?"` when the function is not known.
    pub fn label(names: &Names, function: Option<&FnRef>) -> String {
        match function {
            None => "?".to_string(),
            Some(f) => names
                .get(f)
                .map_or_else(|| function_label(f), |n| n.to_string()),
        }
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

/// A short name for a function whose name the client did not send (the
/// client sends the names of its task functions; a run or section function
/// has none): its offset in the executable.
pub fn function_label(f: &FnRef) -> String {
    let offset = f.identity().0;
    let sign = if offset < 0 { '-' } else { '+' };
    format!("fn {sign}{:#x}", offset.unsigned_abs())
}

/// Puts `bar` in place of the bar of the same number in `bars`, if there is
/// one. Bars are numbered one after another, so the bar is usually where its
/// number says (one look instead of a search through a deque larger than
/// the cache); a gap (bars dropped unread) falls back to a search.
fn put_bar(bars: &mut VecDeque<StreamBar>, bar: StreamBar) {
    let seq = bar.seq;
    let guess = bars
        .front()
        .and_then(|b| usize::try_from(seq.checked_sub(b.seq)?).ok());
    let at = match guess {
        Some(i) if bars.get(i).is_some_and(|b| b.seq == seq) => Some(i),
        _ => bars.binary_search_by_key(&seq, |b| b.seq).ok(),
    };
    if let Some(i) = at {
        bars[i] = bar;
    }
}

/// Hashes a [`Key`] with one multiplication (as FxHash does): keys are
/// hashes already, so SipHash's rounds would buy nothing on this per-task
/// path of the scheduler's loop.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Maps and sets keyed by [`Key`] hash with [`KeyHasher`].
pub type KeyHash = BuildHasherDefault<KeyHasher>;

/// The scheduler loop's side: counts what it sees and publishes.
#[derive(Debug)]
pub struct Monitor {
    shared: Arc<Shared>,
    last_publish: Option<Instant>,
    dirty: bool,
    done: BTreeMap<usize, (u64, u64)>,
    pending: VecDeque<StreamBar>,
    seq: u64,
    /// Labels by function, from the client's names.
    names: Names,
    /// `names` changed since it was last published.
    names_changed: bool,
    /// Tasks whose bars came from task events, until their `Finished`
    /// arrives (a worker sends its events apart from its `Finished`, before
    /// or after it).
    from_events: HashSet<Key, KeyHash>,
    /// The seq of each estimated bar (from a `Finished`) whose task events
    /// have not come: they replace it. Bounded: the oldest are forgotten
    /// past `2 * STREAM_LIMIT`.
    estimates: HashMap<Key, u64, KeyHash>,
    /// The scheduler's start, in µs since the Unix epoch.
    origin_us: u64,
    /// Each worker's last CPU report: its CPU time in µs, when it came, and
    /// the % of a core between the two reports before it.
    cpu: BTreeMap<usize, (u64, Instant, Option<f64>)>,
    last_heartbeats: Option<Instant>,
}

impl Monitor {
    /// A monitor publishing into `shared`.
    pub fn new(shared: Arc<Shared>) -> Self {
        Monitor {
            last_publish: None,
            dirty: true,
            done: BTreeMap::new(),
            pending: VecDeque::new(),
            seq: 0,
            names: Names::new(),
            names_changed: false,
            from_events: HashSet::default(),
            estimates: HashMap::default(),
            origin_us: crate::diagnostics::events::us_of(shared.started),
            cpu: BTreeMap::new(),
            last_heartbeats: None,
            shared,
        }
    }

    fn push_bar(&mut self, mut bar: StreamBar) {
        self.seq += 1;
        bar.seq = self.seq;
        if self.pending.len() == STREAM_LIMIT {
            self.pending.pop_front();
        }
        self.pending.push_back(bar);
    }

    /// Learns the names the client sent for its task functions (their Rust
    /// paths); the dashboard labels them with the short form.
    pub fn learn_names(&mut self, names: &[(FnRef, String)]) {
        for (f, path) in names {
            let short: Arc<str> = crate::task::names::short_name(path).into();
            self.names.insert(*f, short);
        }
        self.names_changed = true;
        self.dirty = true;
    }

    /// Puts the tasks of a worker's event batch in the task stream, with
    /// their executor threads and their own start and stop times.
    pub fn record_events(&mut self, tasks: &PackedTasks) {
        if tasks.is_empty() {
            return;
        }
        if self.from_events.len() > 4 * STREAM_LIMIT {
            // Finished messages that never came (a lost worker): forget.
            self.from_events.clear();
        }
        for t in tasks.iter() {
            let ms = |us: u64| us.saturating_sub(self.origin_us) as f64 / 1e3;
            let bar = StreamBar {
                seq: 0,
                key: t.key,
                function: Some(t.function),
                worker: t.worker,
                thread: Some(t.thread),
                start_ms: ms(t.start_us),
                stop_ms: ms(t.stop_us.max(t.start_us)),
                erred: t.failed,
            };
            match self.estimates.remove(&t.key) {
                Some(seq) => self.replace_bar(seq, bar),
                None => {
                    self.from_events.insert(t.key);
                    self.push_bar(bar);
                }
            }
        }
        self.dirty = true;
    }

    /// Puts `bar` in place of the bar numbered `seq`, unpublished or
    /// published. If a reader holds the stream, or the bar is gone (over
    /// [`STREAM_LIMIT`]), the estimate stays: never two bars for a task.
    fn replace_bar(&mut self, seq: u64, mut bar: StreamBar) {
        bar.seq = seq;
        if self.pending.front().is_some_and(|b| b.seq <= seq) {
            put_bar(&mut self.pending, bar);
        } else if let Ok(mut stream) = self.shared.stream.try_lock() {
            put_bar(&mut stream, bar);
        }
    }

    /// Notes a worker's CPU time (µs since its start), from its answer to a
    /// heartbeat.
    pub fn record_cpu(&mut self, worker: usize, cpu_us: Option<u64>) {
        let Some(cpu_us) = cpu_us else {
            return;
        };
        let now = Instant::now();
        let percent = match self.cpu.get(&worker) {
            Some(&(before, at, _)) => {
                let wall = now.duration_since(at).as_secs_f64();
                if wall < 0.1 {
                    // Two answers close together (the watchdog's and ours):
                    // keep the older sample.
                    return;
                }
                Some(cpu_us.saturating_sub(before) as f64 / 1e6 / wall * 100.0)
            }
            None => None,
        };
        self.cpu.insert(worker, (cpu_us, now, percent));
        self.dirty = true;
    }

    /// Whether the loop should ask every worker for its CPU time now (someone
    /// watches and the last ask is [`CPU_EVERY`] old); if so, counts this as
    /// the ask.
    pub fn heartbeats_due(&mut self) -> bool {
        if !self.shared.watched()
            || self
                .last_heartbeats
                .is_some_and(|t| t.elapsed() < CPU_EVERY)
        {
            return false;
        }
        self.last_heartbeats = Some(Instant::now());
        true
    }

    /// Notes that tasks finished on `worker` (call before the graph hears
    /// of them, while it still knows their functions). This is where the
    /// workers' event history plugs into the task stream.
    pub fn record_finished(&mut self, worker: usize, outcomes: &[Outcome], graph: &TaskGraph) {
        let now = self.shared.now_ms();
        for outcome in outcomes {
            let (key, micros, erred) = match outcome {
                Outcome::Done { key, micros, .. } => (*key, *micros, false),
                Outcome::Failed(f) => (f.key, 0, true),
            };
            let counts = self.done.entry(worker).or_default();
            if erred {
                counts.1 += 1;
            } else {
                counts.0 += 1;
            }
            if self.from_events.remove(&key) {
                continue;
            }
            if self.estimates.len() >= 2 * STREAM_LIMIT {
                // Tasks whose events never come (events not recorded):
                // keep the newest.
                let oldest = self.seq.saturating_sub(STREAM_LIMIT as u64);
                self.estimates.retain(|_, &mut seq| seq > oldest);
            }
            self.push_bar(StreamBar {
                seq: 0,
                key,
                function: graph.function_of(key),
                worker,
                thread: None,
                start_ms: (now - micros as f64 / 1e3).max(0.0),
                stop_ms: now,
                erred,
            });
            self.estimates.insert(key, self.seq);
        }
        self.dirty = true;
    }

    /// Notes that something changed.
    pub fn touch(&mut self) {
        self.dirty = true;
    }

    /// How long the loop may wait for a message before it should call
    /// [`publish`](Self::publish) again: `None` when there is nothing new
    /// and nobody watches.
    pub fn wait(&self) -> Option<Duration> {
        if self.dirty {
            Some(PUBLISH_EVERY)
        } else {
            self.shared.watched().then_some(CPU_EVERY)
        }
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
        if self.names_changed {
            let Ok(mut names) = self.shared.names.try_lock() else {
                return;
            };
            names.clone_from(&self.names);
            drop(names);
            self.names_changed = false;
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
        let edges = self
            .shared
            .recent(&self.shared.last_graph_read_ms)
            .then(|| graph.function_edges());
        let snapshot = Arc::new(self.snapshot(running, workers, summary, edges));
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
        edges: Option<Vec<(FnRef, FnRef, usize)>>,
    ) -> Snapshot {
        let label = |f: &FnRef| Shared::label(&self.names, Some(f));
        let mut functions: Vec<FunctionView> = Vec::with_capacity(summary.functions.len());
        let mut at: HashMap<String, usize> = HashMap::new();
        for (f, states) in &summary.functions {
            let name = label(f);
            match at.get(&name) {
                Some(&i) => functions[i].states.merge(states),
                None => {
                    at.insert(name.clone(), functions.len());
                    functions.push(FunctionView {
                        label: name,
                        states: states.clone(),
                    });
                }
            }
        }
        functions.sort_by_key(|f| std::cmp::Reverse(f.states.total()));
        let edges_counted = edges.is_some();
        let mut by_label: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (from, to, n) in edges.unwrap_or_default() {
            *by_label.entry((label(&from), label(&to))).or_default() += n;
        }
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
                        cpu_percent: self.cpu.get(&info.rank).and_then(|c| c.2),
                    }
                })
                .collect(),
            functions,
            edges: by_label
                .into_iter()
                .map(|((from, to), count)| EdgeView { from, to, count })
                .collect(),
            edges_counted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop(_: usize, _: Vec<std::sync::Arc<Vec<u8>>>) -> Result<Vec<u8>, String> {
        Ok(Vec::new())
    }

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
        assert_eq!(
            m.wait(),
            Some(CPU_EVERY),
            "nothing new, but watched: time to ask for CPU"
        );
        assert!(m.heartbeats_due());
        assert!(!m.heartbeats_due(), "once per CPU_EVERY");
        assert_eq!(Monitor::new(Shared::new()).wait(), Some(PUBLISH_EVERY));
        let bars = shared.stream_since(0, 100);
        assert_eq!(bars.iter().map(|b| b.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(shared.stream_since(2, 100).len(), 1);
        assert_eq!(shared.stream_since(0, 2)[0].seq, 2, "the newest");
        assert!(bars[0].start_ms <= bars[0].stop_ms);
    }

    #[test]
    fn bars_from_task_events_replace_the_estimate_and_names_label_them() {
        use crate::diagnostics::events::{now_us, TaskEvent};
        let shared = Shared::new();
        let mut m = Monitor::new(shared.clone());
        let graph = TaskGraph::new();
        let f = FnRef::new(5, noop, 0);
        m.learn_names(&[(f, "my_crate::sim::simulate".to_string())]);
        let now = now_us();
        let mut batch = PackedTasks::with_capacity(3, 1);
        batch.push_event(&TaskEvent {
            key: Key(1),
            function: f,
            worker: 3,
            thread: 1,
            start_us: now,
            stop_us: now + 2_000,
            failed: false,
        });
        m.record_events(&batch);
        let done = |k| Outcome::Done {
            key: Key(k),
            nbytes: 8,
            micros: 2_000,
        };
        // The Finished of the same flush: one bar from the events, one
        // estimated for the task the events did not cover.
        m.record_finished(3, &[done(1), done(2)], &graph);
        shared.latest();
        m.publish(true, &BTreeMap::new(), &graph);
        let bars = shared.stream_since(0, 100);
        assert_eq!(bars.len(), 2, "{bars:?}");
        assert_eq!((bars[0].key, bars[0].thread), (Key(1), Some(1)));
        assert!((bars[0].stop_ms - bars[0].start_ms - 2.0).abs() < 1e-9);
        assert_eq!((bars[1].key, bars[1].thread), (Key(2), None));
        assert_eq!(shared.latest().done_total, 2);
        let names = shared.names();
        assert_eq!(Shared::label(&names, Some(&f)), "simulate");
        let other = FnRef::new(6, noop, 0);
        assert!(Shared::label(&names, Some(&other)).starts_with("fn "));
        assert_eq!(Shared::label(&names, None), "?");
    }

    #[test]
    fn events_after_their_finished_replace_its_estimated_bar() {
        use crate::diagnostics::events::{now_us, TaskEvent};
        let shared = Shared::new();
        let mut m = Monitor::new(shared.clone());
        let graph = TaskGraph::new();
        let f = FnRef::new(5, noop, 0);
        let done = |k| Outcome::Done {
            key: Key(k),
            nbytes: 8,
            micros: 2_000,
        };
        let now = now_us();
        let event = |k| TaskEvent {
            key: Key(k),
            function: f,
            worker: 3,
            thread: 1,
            start_us: now,
            stop_us: now + 2_000,
            failed: false,
        };
        let batch = |keys: &[u64]| {
            let mut p = PackedTasks::with_capacity(3, keys.len());
            for &k in keys {
                p.push_event(&event(k));
            }
            p
        };
        // Task 1's events come before its estimate is published, task 2's
        // after: both replace the estimate, in place.
        m.record_finished(3, &[done(1), done(2)], &graph);
        m.record_events(&batch(&[1]));
        shared.latest();
        m.publish(true, &BTreeMap::new(), &graph);
        m.record_events(&batch(&[2]));
        let bars = shared.stream_since(0, 100);
        let seen: Vec<_> = bars.iter().map(|b| (b.seq, b.key, b.thread)).collect();
        assert_eq!(
            seen,
            [(1, Key(1), Some(1)), (2, Key(2), Some(1))],
            "{bars:?}"
        );
        assert!(m.from_events.is_empty(), "nothing waits for a Finished");
        // Many tasks later, the bookkeeping stays bounded.
        for k in 10..10 + 3 * STREAM_LIMIT as u64 {
            m.record_finished(3, &[done(k)], &graph);
            m.record_events(&batch(&[k]));
        }
        assert!(m.from_events.is_empty());
        assert!(m.estimates.is_empty());
        for k in 0..3 * STREAM_LIMIT as u64 {
            m.record_finished(3, &[done(k + 1_000_000)], &graph);
        }
        assert!(m.estimates.len() <= 2 * STREAM_LIMIT, "without events");
        assert_eq!(m.pending.len(), STREAM_LIMIT);
    }

    #[test]
    fn a_bar_is_replaced_in_place_across_a_gap_in_the_numbers() {
        let bar = |seq, thread| StreamBar {
            seq,
            key: Key(seq),
            function: None,
            worker: 2,
            thread,
            start_ms: 0.0,
            stop_ms: 1.0,
            erred: false,
        };
        // 5..=7, then 20..=21 (bars 8..=19 were dropped unread).
        let mut bars: VecDeque<StreamBar> =
            [5, 6, 7, 20, 21].iter().map(|&s| bar(s, None)).collect();
        for seq in [5, 7, 20, 21] {
            put_bar(&mut bars, bar(seq, Some(1)));
        }
        put_bar(&mut bars, bar(9, Some(1)));
        put_bar(&mut bars, bar(4, Some(1)));
        put_bar(&mut bars, bar(22, Some(1)));
        let seen: Vec<_> = bars.iter().map(|b| (b.seq, b.thread)).collect();
        assert_eq!(
            seen,
            [
                (5, Some(1)),
                (6, None),
                (7, Some(1)),
                (20, Some(1)),
                (21, Some(1))
            ]
        );
    }

    #[test]
    fn cpu_is_a_share_of_one_core_between_two_reports() {
        let mut m = Monitor::new(Shared::new());
        m.record_cpu(2, Some(1_000_000));
        assert_eq!(m.cpu[&2].2, None, "one report is not a rate");
        m.record_cpu(2, Some(1_000_500));
        assert_eq!(m.cpu[&2].0, 1_000_000, "too soon after the first: ignored");
        std::thread::sleep(Duration::from_millis(150));
        m.record_cpu(2, None);
        m.record_cpu(2, Some(1_000_000 + 300_000));
        let p = m.cpu[&2].2.unwrap();
        // 0.3 s of CPU in at least 0.15 s of wall time.
        assert!(p > 0.0 && p <= 200.0, "{p}");
    }
}
