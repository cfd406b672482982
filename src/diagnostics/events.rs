//! Task events: what every worker records as it works (each task's start and
//! stop, each transfer of data between workers, each collective section),
//! ships to the scheduler in batches, and the scheduler keeps in a bounded
//! [`History`] that the performance report, the Chrome trace and a dashboard
//! read.
//!
//! Times are microseconds since the Unix epoch. Each rank reads the system
//! clock once at start-up and counts from there with its monotonic clock, so
//! the events of one rank never go backwards; ranks on different hosts agree
//! as well as their clocks do (NTP keeps a cluster's nodes within a
//! millisecond or so, much less than a task stream's pixel at report scale).

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
/// the oldest dropped first.
#[derive(Debug, Clone)]
pub struct History {
    limit: usize,
    tasks: VecDeque<TaskEvent>,
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

    /// Adds a worker's batch.
    pub fn add(&mut self, batch: EventBatch) {
        let l = self.limit;
        self.dropped += push_bounded(&mut self.tasks, batch.tasks, l)
            + push_bounded(&mut self.transfers, batch.transfers, l)
            + push_bounded(&mut self.collectives, batch.collectives, l)
            + push_bounded(&mut self.memory, batch.memory, l);
    }

    /// Events of each kind held now.
    pub fn len(&self) -> usize {
        self.tasks.len() + self.transfers.len() + self.collectives.len() + self.memory.len()
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
            tasks: self
                .tasks
                .iter()
                .filter(|e| e.stop_us >= since_us)
                .cloned()
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
