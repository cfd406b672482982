//! Task events: what every worker records as it works (each task's start and
//! stop, each transfer of data between workers, each collective section),
//! ships to the scheduler in batches, and the scheduler keeps in a bounded
//! [`History`] that the performance report, the Chrome trace and a dashboard
//! read. Task events, by far the most numerous, travel and stay packed
//! ([`packed`](super::packed)) until something reads them.
//!
//! Times are microseconds since the Unix epoch. Each rank reads the system
//! clock once at start-up and counts from there with its monotonic clock, so
//! the events of one rank never go backwards; ranks on different hosts agree
//! as well as their clocks do (NTP keeps a cluster's nodes within a
//! millisecond or so, much less than a task stream's pixel at report scale).

use super::packed::PackedTasks;
use crate::task::shipping::FnRef;
use crate::task::Key;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The history the scheduler keeps when nothing else is configured: the
/// newest events of this many tasks (and as many transfers and sections).
pub const DEFAULT_HISTORY: usize = 100_000;

/// Microseconds since the Unix epoch, on this rank's common clock (see the
/// module docs).
pub fn now_us() -> u64 {
    us_of(Instant::now())
}

/// `at` in µs since the Unix epoch, on this rank's common clock.
pub fn us_of(at: Instant) -> u64 {
    static EPOCH: OnceLock<(Instant, u64)> = OnceLock::new();
    let (start, unix) = EPOCH.get_or_init(|| {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        (Instant::now(), unix)
    });
    match at.checked_duration_since(*start) {
        Some(after) => unix + after.as_micros() as u64,
        // An instant taken before the first reading of the clock.
        None => unix.saturating_sub(start.duration_since(at).as_micros() as u64),
    }
}

/// One task's run on an executor thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEvent {
    /// Its key.
    pub key: Key,
    /// The function it ran (named by [`function_name`](crate::task::function_name)
    /// at the client).
    pub function: FnRef,
    /// The worker's rank.
    pub worker: usize,
    /// The executor thread's index in that worker (0..threads).
    pub thread: u32,
    /// Start, µs since the Unix epoch.
    pub start_us: u64,
    /// Stop, µs since the Unix epoch.
    pub stop_us: u64,
    /// Whether it failed (panicked or returned an error).
    pub failed: bool,
}

impl TaskEvent {
    /// Its function's short name (`simulate`), if this process submitted it
    /// (the client), else `"unknown"`.
    pub fn function_name(&self) -> String {
        crate::task::names::function_name(&self.function)
    }

    /// Its function's full Rust path, if this process submitted it.
    pub fn function_path(&self) -> Option<&'static str> {
        crate::task::names::function_path(&self.function)
    }
}

/// Data that one worker fetched from another for a task's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferEvent {
    /// The data's key.
    pub key: Key,
    /// The worker that sent it.
    pub from: usize,
    /// The worker that asked for it.
    pub to: usize,
    /// Its size.
    pub bytes: u64,
    /// When it was asked for, µs since the Unix epoch.
    pub start_us: u64,
    /// When it arrived.
    pub stop_us: u64,
}

/// One worker's part in a collective (an SPMD section, a broadcast, a
/// scatter or a gather of array rows), or a `run` call on its loop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectiveEvent {
    /// What it was (`"section"`, `"run"`, `"bcast"`, `"scatter"`, `"gather"`).
    pub kind: String,
    /// The function a section or a `run` called (named by
    /// [`function_name`](Self::function_name) at the client); `None` for the
    /// others.
    pub function: Option<FnRef>,
    /// The worker's rank.
    pub worker: usize,
    /// Start, µs since the Unix epoch.
    pub start_us: u64,
    /// Stop.
    pub stop_us: u64,
}

impl CollectiveEvent {
    /// Its function's short name, if it called one and this process (the
    /// client) made the call; else `None`.
    pub fn function_name(&self) -> Option<String> {
        let f = self.function.as_ref()?;
        crate::task::names::function_path(f).map(crate::task::names::short_name)
    }

    /// What the trace and the report call it: the kind and, for a section
    /// or a `run` call, its function (`section sum_section`).
    pub fn label(&self) -> String {
        match self.function_name() {
            Some(name) => format!("{} {name}", self.kind),
            None => self.kind.clone(),
        }
    }
}

/// A memory sample of one worker: the bytes its store holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemorySample {
    /// The worker's rank.
    pub worker: usize,
    /// When, µs since the Unix epoch.
    pub at_us: u64,
    /// Bytes of results and placed data in its store's memory (not those
    /// spilled to disk).
    pub bytes: u64,
}

/// Events in the order they were recorded: what a worker sends in one
/// message, and what the client gets back from the scheduler.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventBatch {
    /// Tasks.
    pub tasks: Vec<TaskEvent>,
    /// Transfers between workers.
    pub transfers: Vec<TransferEvent>,
    /// Collective sections.
    pub collectives: Vec<CollectiveEvent>,
    /// Memory samples.
    pub memory: Vec<MemorySample>,
    /// Events the scheduler dropped (oldest first) to keep its history
    /// bounded; always 0 in a worker's batch.
    pub dropped: u64,
}

impl EventBatch {
    /// Whether it holds no event.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
            && self.transfers.is_empty()
            && self.collectives.is_empty()
            && self.memory.is_empty()
    }
}

/// The scheduler's bounded history: at most `limit` events of each kind,
/// the oldest dropped first. Task events stay in the packed batches the
/// workers sent (see [`packed`](super::packed)) until a report or a
/// dashboard asks for them.
#[derive(Debug, Clone)]
pub struct History {
    limit: usize,
    tasks: VecDeque<PackedTasks>,
    /// Task events held: those of `tasks` less the `skip` first.
    task_count: usize,
    /// Events of the oldest batch in `tasks` already dropped.
    skip: usize,
    transfers: VecDeque<TransferEvent>,
    collectives: VecDeque<CollectiveEvent>,
    memory: VecDeque<MemorySample>,
    dropped: u64,
}

impl Default for History {
    fn default() -> Self {
        History::new(DEFAULT_HISTORY)
    }
}

fn push_bounded<T>(q: &mut VecDeque<T>, items: Vec<T>, limit: usize) -> u64 {
    q.extend(items);
    let over = q.len().saturating_sub(limit);
    q.drain(..over);
    over as u64
}

impl History {
    /// An empty history of at most `limit` events of each kind (at least 1).
    pub fn new(limit: usize) -> Self {
        History {
            limit: limit.max(1),
            tasks: VecDeque::new(),
            task_count: 0,
            skip: 0,
            transfers: VecDeque::new(),
            collectives: VecDeque::new(),
            memory: VecDeque::new(),
            dropped: 0,
        }
    }

    /// The limit per kind of event.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Changes the limit (at least 1), dropping the oldest events over it.
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.max(1);
        self.add(EventBatch::default());
    }

    /// Adds a batch of events (task events of any workers, packed here).
    pub fn add(&mut self, mut batch: EventBatch) {
        let tasks = std::mem::take(&mut batch.tasks);
        for run in tasks.chunk_by(|a, b| a.worker == b.worker) {
            let mut packed = PackedTasks::with_capacity(run[0].worker, run.len());
            for e in run {
                packed.push_event(e);
            }
            self.add_worker(packed, EventBatch::default());
        }
        self.add_worker(PackedTasks::default(), batch);
    }

    /// Adds what a worker sent: its packed task events (kept packed) and its
    /// other events (`rest.tasks` is ignored).
    pub fn add_worker(&mut self, tasks: PackedTasks, rest: EventBatch) {
        let l = self.limit;
        if !tasks.is_empty() {
            self.task_count += tasks.len();
            self.tasks.push_back(tasks);
        }
        self.drop_tasks_over_limit();
        self.dropped += push_bounded(&mut self.transfers, rest.transfers, l)
            + push_bounded(&mut self.collectives, rest.collectives, l)
            + push_bounded(&mut self.memory, rest.memory, l);
    }

    /// Drops the oldest task events over the limit: whole batches, then
    /// the first events of the oldest batch left.
    fn drop_tasks_over_limit(&mut self) {
        while self.task_count > self.limit {
            let over = self.task_count - self.limit;
            let Some(front) = self.tasks.front() else {
                break;
            };
            let live = front.len() - self.skip;
            let gone = if over >= live {
                self.tasks.pop_front();
                self.skip = 0;
                live
            } else {
                self.skip += over;
                over
            };
            self.task_count -= gone;
            self.dropped += gone as u64;
        }
    }

    /// Events of each kind held now.
    pub fn len(&self) -> usize {
        self.task_count + self.transfers.len() + self.collectives.len() + self.memory.len()
    }

    /// Whether it holds no event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Events dropped so far to keep within the limit.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// A copy of the events that ended at or after `since_us` (0 for all),
    /// for a report or a dashboard.
    pub fn snapshot(&self, since_us: u64) -> EventBatch {
        EventBatch {
            // `u64::MAX` asks only for the flush (turning recording on):
            // no packed batch is expanded for it.
            tasks: self
                .tasks
                .iter()
                .take_while(|_| since_us < u64::MAX)
                .flat_map(|p| p.iter())
                .skip(self.skip)
                .filter(|e| e.stop_us >= since_us)
                .collect(),
            transfers: self
                .transfers
                .iter()
                .filter(|e| e.stop_us >= since_us)
                .cloned()
                .collect(),
            collectives: self
                .collectives
                .iter()
                .filter(|e| e.stop_us >= since_us)
                .cloned()
                .collect(),
            memory: self
                .memory
                .iter()
                .filter(|e| e.at_us >= since_us)
                .cloned()
                .collect(),
            dropped: self.dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_us: u64) -> MemorySample {
        MemorySample {
            worker: 2,
            at_us,
            bytes: at_us,
        }
    }

    #[test]
    fn history_drops_the_oldest_over_its_limit() {
        let mut h = History::new(3);
        h.add(EventBatch {
            memory: (0..5).map(sample).collect(),
            ..EventBatch::default()
        });
        assert_eq!(h.len(), 3);
        assert_eq!(h.dropped(), 2);
        let s = h.snapshot(0);
        assert_eq!(s.memory, vec![sample(2), sample(3), sample(4)]);
        assert_eq!(h.snapshot(4).memory, vec![sample(4)]);
        h.set_limit(1);
        assert_eq!(h.snapshot(0).memory, vec![sample(4)]);
        assert_eq!(h.dropped(), 4);
    }

    fn double(x: u64) -> u64 {
        2 * x
    }

    fn task(worker: usize, key: u64) -> TaskEvent {
        TaskEvent {
            key: crate::task::Key(key),
            function: crate::task::shipping::task_function_ref::<_, _, u64>(double, 0),
            worker,
            thread: 1,
            start_us: 100 + key,
            stop_us: 200 + key,
            failed: false,
        }
    }

    #[test]
    fn packed_task_events_drop_the_oldest_one_by_one() {
        let mut h = History::new(5);
        // Two workers in one batch: packed as two runs.
        h.add(EventBatch {
            tasks: vec![task(2, 0), task(2, 1), task(3, 2)],
            ..EventBatch::default()
        });
        assert_eq!((h.len(), h.dropped()), (3, 0));
        let keys = |h: &History, since| -> Vec<(usize, u64)> {
            h.snapshot(since)
                .tasks
                .iter()
                .map(|e| (e.worker, e.key.0))
                .collect()
        };
        assert_eq!(keys(&h, 0), [(2, 0), (2, 1), (3, 2)]);
        assert_eq!(h.snapshot(0).tasks[0], task(2, 0));
        let mut p = PackedTasks::with_capacity(4, 4);
        for k in 3..7 {
            p.push_event(&task(4, k));
        }
        h.add_worker(p, EventBatch::default());
        // 7 events, limit 5: the first batch's two oldest go.
        assert_eq!((h.len(), h.dropped()), (5, 2));
        assert_eq!(keys(&h, 0), [(3, 2), (4, 3), (4, 4), (4, 5), (4, 6)]);
        assert_eq!(keys(&h, 205), [(4, 5), (4, 6)]);
        h.set_limit(2);
        assert_eq!((h.len(), h.dropped()), (2, 5));
        assert_eq!(keys(&h, 0), [(4, 5), (4, 6)]);
        h.set_limit(1);
        assert_eq!(keys(&h, 0), [(4, 6)]);
        assert_eq!(h.dropped(), 6);
    }

    #[test]
    fn the_clock_does_not_go_backwards() {
        let before = Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let a = now_us();
        let b = now_us();
        assert!(b >= a && a > 1_600_000_000_000_000);
        // An instant from before the clock's first reading is still earlier.
        assert!(us_of(before) + 4_000 <= a, "{} {a}", us_of(before));
    }
}
