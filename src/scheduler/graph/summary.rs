//! A count of the graph by task state, worker and function, for the live
//! dashboard. One pass over every task: the scheduler's loop takes it at
//! most a few times a second, and only while someone is watching.

use super::{State, TaskGraph};
use crate::task::shipping::FnRef;
use crate::task::Key;
use std::collections::{BTreeMap, HashMap};

/// Tasks in each state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateCounts {
    /// Waiting for inputs.
    pub waiting: usize,
    /// Ready, held by the scheduler until a worker has room.
    pub ready: usize,
    /// Handed to a worker (running or queued there).
    pub processing: usize,
    /// Finished, result held on a worker.
    pub memory: usize,
    /// Failed.
    pub erred: usize,
}

impl StateCounts {
    /// Every task counted.
    pub fn total(&self) -> usize {
        self.waiting + self.ready + self.processing + self.memory + self.erred
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &StateCounts) {
        self.waiting += other.waiting;
        self.ready += other.ready;
        self.processing += other.processing;
        self.memory += other.memory;
        self.erred += other.erred;
    }

    fn add(&mut self, state: &State) {
        match state {
            State::Waiting => self.waiting += 1,
            State::Ready => self.ready += 1,
            State::Processing(_) => self.processing += 1,
            State::Memory { .. } => self.memory += 1,
            State::Failed(_) => self.erred += 1,
        }
    }
}

/// One worker as the scheduler sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerLoadSummary {
    /// Executor threads.
    pub threads: usize,
    /// Tasks handed to it and not finished (running or queued).
    pub processing: usize,
    /// Results it holds (copies included).
    pub held: usize,
    /// Their encoded size in bytes.
    pub held_bytes: u64,
}

/// The graph counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphSummary {
    /// Every task (and placed datum) by state.
    pub states: StateCounts,
    /// By worker rank.
    pub workers: BTreeMap<usize, WorkerLoadSummary>,
    /// Tasks by function, most tasks first (placed data has no function).
    pub functions: Vec<(FnRef, StateCounts)>,
}

impl TaskGraph {
    /// Counts every task by state, worker and function.
    pub fn summary(&self) -> GraphSummary {
        let mut out = GraphSummary::default();
        for (&rank, w) in &self.workers {
            out.workers.insert(
                rank,
                WorkerLoadSummary {
                    threads: w.threads,
                    processing: w.outstanding.len(),
                    ..Default::default()
                },
            );
        }
        let mut functions: HashMap<FnRef, StateCounts> = HashMap::new();
        for task in self.tasks.values() {
            out.states.add(&task.state);
            if let Some(f) = task.function {
                functions.entry(f).or_default().add(&task.state);
            }
            if let State::Memory { worker, nbytes } = task.state {
                for w in std::iter::once(worker).chain(task.replicas.iter().copied()) {
                    let load = out.workers.entry(w).or_default();
                    load.held += 1;
                    load.held_bytes += nbytes;
                }
            }
        }
        out.functions = functions.into_iter().collect();
        out.functions
            .sort_by_key(|(f, c)| (std::cmp::Reverse(c.total()), f.identity()));
        out
    }

    /// Dependencies between functions: `(from, to, n)` says that `n` tasks
    /// of `to` the graph still knows take a result of a task of `from`
    /// (placed data, which has no function, is left out). One more pass
    /// over every task and its inputs, for the dashboard's graph page.
    pub fn function_edges(&self) -> Vec<(FnRef, FnRef, usize)> {
        let mut edges: HashMap<(FnRef, FnRef), usize> = HashMap::new();
        for task in self.tasks.values() {
            let Some(to) = task.function else {
                continue;
            };
            for dep in &task.deps {
                if let Some(from) = self.tasks.get(dep).and_then(|t| t.function) {
                    *edges.entry((from, to)).or_default() += 1;
                }
            }
        }
        let mut out: Vec<_> = edges.into_iter().map(|((f, t), n)| (f, t, n)).collect();
        out.sort_by_key(|&(f, t, n)| (std::cmp::Reverse(n), f.identity(), t.identity()));
        out
    }

    /// The function of a task the graph knows, for the task stream.
    pub fn function_of(&self, key: Key) -> Option<FnRef> {
        self.tasks.get(&key).and_then(|t| t.function)
    }
}
