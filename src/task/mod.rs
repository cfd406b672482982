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
pub mod names;
pub mod shipping;

pub use crate::error::{FailureKind, TaskFailure};
pub use crate::key::Key;
use args::Part;
pub use function::TaskFn;
#[cfg(feature = "mpi")]
pub(crate) use shipping::check_linked_into_executable;
pub(crate) use shipping::section_ref;
use shipping::FnRef;
pub(crate) use shipping::{fallible_function_ref, task_function_ref};
pub(crate) use shipping::{with_section_group, RETURNED_ERR};
use std::hash::{Hash, Hasher};

/// The key of a task: a hash of its function and argument parts, plus `nonce`
/// for impure tasks.
pub fn task_key(function: &FnRef, parts: &[Part], nonce: Option<u64>) -> Key {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    function.identity().hash(&mut h);
    parts.hash(&mut h);
    nonce.hash(&mut h);
    Key(h.finish())
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
