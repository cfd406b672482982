//! What a failed task carries back: [`TaskFailure`] and its [`FailureKind`].

use crate::key::Key;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a task has no result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureKind {
    /// The function panicked.
    Panicked,
    /// The function returned `Err`.
    Returned,
    /// The argument or the result could not be encoded or decoded.
    Codec,
    /// A task it depends on failed; `root` names that task.
    Dependency,
    /// It was cancelled before it ran.
    Cancelled,
    /// The worker refused it (a corrupted function reference).
    Refused,
    /// Its result was larger than the memory limit of the worker that ran
    /// it (`memory_limit`); the message names the worker, the size and the
    /// limit. The result was dropped, so the task failed instead of the
    /// worker being killed for memory.
    MemoryLimit,
    /// An input it needed was freed before its worker could fetch it, and
    /// no other copy was left.
    Lost,
}

/// What a failed task carries back to its future: the message, the task's
/// key, the worker rank it failed on, and for dependents the root cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFailure {
    /// What went wrong.
    pub kind: FailureKind,
    /// The panic message, the `Err`'s text, or a description.
    pub message: String,
    /// The task that failed.
    pub key: Key,
    /// The worker it failed on (the root cause's worker for dependents).
    pub worker: Option<usize>,
    /// For a dependent: the task whose failure it inherits.
    pub root: Option<Key>,
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = self
            .worker
            .map_or(String::new(), |w| format!(" on worker {w}"));
        match (&self.kind, self.root) {
            (FailureKind::Dependency, Some(root)) => write!(
                f,
                "task {} did not run: task {root} it depends on failed{on}: {}",
                self.key, self.message
            ),
            (FailureKind::Cancelled, _) => write!(f, "task {} was cancelled", self.key),
            (kind, _) => write!(
                f,
                "task {} failed{on} ({kind:?}): {}",
                self.key, self.message
            ),
        }
    }
}
