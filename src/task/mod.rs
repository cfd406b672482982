//! Tasks: how a function travels between ranks ([`shipping`]), how arguments
//! name the futures they depend on ([`args`]), task keys, options, and what a
//! failure carries.
//!
//! # Keys
//!
//! A task is pure by default: its key is a hash of the function, the
//! trampoline and the encoded argument parts (futures by their keys), so the
//! same submit twice names one computation and runs once. An impure submit
//! (`TaskOptions::pure(false)`) mixes a fresh number into the hash and always
//! runs again.

pub mod args;
pub mod function;
pub mod shipping;

use args::Part;
pub use function::TaskFn;
use serde::{Deserialize, Serialize};
#[cfg(feature = "mpi")]
pub(crate) use shipping::check_linked_into_executable;
pub(crate) use shipping::section_ref;
use shipping::FnRef;
pub(crate) use shipping::{fallible_function_ref, task_function_ref};
pub(crate) use shipping::{with_section_group, RETURNED_ERR};
use std::fmt;
use std::hash::{Hash, Hasher};

/// The name of a task and of its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key(pub u64);

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// The key of a task: a hash of its function and argument parts, plus `nonce`
/// for impure tasks.
pub fn task_key(function: &FnRef, parts: &[Part], nonce: Option<u64>) -> Key {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    function.identity().hash(&mut h);
    parts.hash(&mut h);
    nonce.hash(&mut h);
    Key(h.finish())
}

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

/// Options for one submit, builder style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOptions {
    pub(crate) pure: bool,
    pub(crate) priority: i32,
    pub(crate) retries: u32,
    pub(crate) workers: Option<Vec<usize>>,
    pub(crate) allow_other_workers: bool,
}

impl Default for TaskOptions {
    fn default() -> Self {
        TaskOptions {
            pure: true,
            priority: 0,
            retries: 0,
            workers: None,
            allow_other_workers: false,
        }
    }
}

impl TaskOptions {
    /// Pure (the default): the same function and argument run once.
    pub fn new() -> Self {
        Self::default()
    }
    /// `false`: run every time, with a fresh key.
    pub fn pure(mut self, pure: bool) -> Self {
        self.pure = pure;
        self
    }
    /// Higher runs first among tasks that are ready (default 0).
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }
    /// Runs a failing task up to `n` more times before reporting the failure.
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }
    /// Runs only on these worker ranks (unless `allow_other_workers`).
    pub fn workers(mut self, ranks: &[usize]) -> Self {
        self.workers = Some(ranks.to_vec());
        self
    }
    /// With `workers`: prefer those ranks, but let others run it when they are idle.
    pub fn allow_other_workers(mut self, allow: bool) -> Self {
        self.allow_other_workers = allow;
        self
    }
}
