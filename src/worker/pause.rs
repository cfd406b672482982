//! Pausing a worker whose memory is over the pause fraction: tasks that are
//! ready wait here instead of going to the executor threads, until the
//! store's bytes in memory are back below.
//!
//! The scheduler hears of each pause and resume (`WorkerToScheduler::Paused`)
//! and sends a paused worker no new tasks, so that it does not fetch or read
//! back their inputs. Nothing else stops: the worker still serves fetches,
//! takes data, frees results and lets the tasks already running end (their
//! results may free inputs that can then be spilled). Held tasks can be
//! stolen by the scheduler for other workers. So that a worker whose memory cannot go down
//! (every value in use, or a disk that refuses spills) never stalls the job,
//! a paused worker with nothing running lets one held task go ahead: it runs
//! one task at a time instead of none.

use super::executor::{Executor, Job};
use crate::task::Key;
use std::collections::VecDeque;

/// The pause state of one worker and the tasks it holds back.
#[derive(Default)]
pub(crate) struct Pause {
    paused: bool,
    held: VecDeque<Job>,
}

impl Pause {
    /// Whether the worker is paused.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Tasks whose inputs are all here: to the executor, or held if paused.
    pub fn start(&mut self, executor: &Executor, jobs: impl IntoIterator<Item = Job>) {
        if self.paused {
            self.held.extend(jobs);
        } else {
            executor.push(jobs);
        }
    }

    /// Pauses or resumes by the store's memory; for a paused worker with
    /// nothing running, starts one held task. The new state when it
    /// changed, for the scheduler to hear.
    pub fn check(&mut self, executor: &Executor, rank: usize) -> Option<bool> {
        let store = &executor.store;
        if self.paused {
            store.relieve();
        }
        let over = store.over_pause();
        let changed = (over != self.paused).then_some(over);
        if over && !self.paused {
            self.paused = true;
            store.note_pause();
            let s = store.stats();
            log::debug!(
                "worker {rank} paused: {} bytes in memory, limit {}",
                s.in_memory,
                s.limit
            );
        } else if !over && self.paused {
            self.paused = false;
            log::debug!(
                "worker {rank} resumed: {} held tasks start",
                self.held.len()
            );
            executor.push(self.held.drain(..));
        }
        if self.paused && !self.held.is_empty() && executor.idle() {
            log::debug!("worker {rank} paused with nothing running: one held task goes ahead");
            executor.push(self.held.pop_front());
        }
        changed
    }

    /// Takes the held tasks with these keys; returns their keys.
    pub fn steal(&mut self, keys: &[Key]) -> Vec<Key> {
        let mut taken = Vec::new();
        self.held.retain(|j| {
            let steal = keys.contains(&j.key);
            if steal {
                taken.push(j.key);
            }
            !steal
        });
        taken
    }
}
