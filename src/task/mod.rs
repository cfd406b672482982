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
pub mod shipping;

use crate::comm::codec;
use crate::comm::group::Group;
use args::{Args, Part};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shipping::{function_at, pointer_at, FnRef, Trampoline};
use std::cell::RefCell;
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

/// Decodes the arguments, calls `fn(A) -> R` at `f`, encodes the result.
fn trampoline<X: Args<A>, A, R: Serialize>(f: usize, parts: &[&[u8]]) -> Result<Vec<u8>, String> {
    let arg = X::assemble(parts)?;
    // SAFETY: `FnRef::call` hands this trampoline only the address shipped with
    // it, and `function_ref` below builds both from one `fn(A) -> R`.
    let f: fn(A) -> R = unsafe { function_at::<A, R>(f) };
    codec::encode(&f(arg)).map_err(|e| format!("cannot encode the result: {}", e.message()))
}

/// Like [`trampoline`] for `fn(A) -> Result<T, E>`: an `Err` fails the task
/// with the error's text.
fn trampoline_fallible<X: Args<A>, A, T: Serialize, E: fmt::Display>(
    f: usize,
    parts: &[&[u8]],
) -> Result<Vec<u8>, String> {
    let arg = X::assemble(parts)?;
    // SAFETY: as in `trampoline`, built together with a `fn(A) -> Result<T, E>`.
    let f: fn(A) -> Result<T, E> = unsafe { function_at::<A, Result<T, E>>(f) };
    match f(arg) {
        Ok(v) => {
            codec::encode(&v).map_err(|e| format!("cannot encode the result: {}", e.message()))
        }
        Err(e) => Err(format!("{RETURNED_ERR}{e}")),
    }
}

/// Prefix that marks an `Err` returned by a task, as opposed to a decode failure.
pub(crate) const RETURNED_ERR: &str = "\u{1}returned:";

/// The reference to ship for `f` called with an `X`.
pub fn function_ref<X: Args<A>, A, R: Serialize + DeserializeOwned>(
    f: fn(A) -> R,
    key: u64,
) -> FnRef {
    let t: Trampoline = trampoline::<X, A, R>;
    FnRef::new(f as usize, t, key)
}

/// The reference to ship for a fallible `f` called with an `X`.
pub fn fallible_function_ref<X: Args<A>, A, T: Serialize, E: fmt::Display>(
    f: fn(A) -> Result<T, E>,
    key: u64,
) -> FnRef {
    let t: Trampoline = trampoline_fallible::<X, A, T, E>;
    FnRef::new(f as usize, t, key)
}

thread_local! {
    /// The workers group, while this thread runs an SPMD section.
    static SECTION_GROUP: RefCell<Option<Group>> = const { RefCell::new(None) };
}

/// Runs `f` with `group` available to section trampolines on this thread,
/// then puts the group back.
pub(crate) fn with_section_group<T>(group: &mut Option<Group>, f: impl FnOnce() -> T) -> T {
    SECTION_GROUP.with(|g| *g.borrow_mut() = group.take());
    let out = f();
    *group = SECTION_GROUP.with(|g| g.borrow_mut().take());
    out
}

/// Calls `fn() -> R` at `f` and encodes the result (for `Client::run`).
fn nullary_trampoline<R: Serialize>(f: usize, _parts: &[&[u8]]) -> Result<Vec<u8>, String> {
    // SAFETY: `nullary_ref` ships this trampoline with a `fn() -> R`.
    let f: fn() -> R = unsafe { pointer_at::<fn() -> R>(f) };
    codec::encode(&f()).map_err(|e| format!("cannot encode the result: {}", e.message()))
}

/// The reference to ship for `Client::run`'s `fn() -> R`.
pub fn nullary_ref<R: Serialize>(f: fn() -> R, key: u64) -> FnRef {
    let t: Trampoline = nullary_trampoline::<R>;
    FnRef::new(f as usize, t, key)
}

/// Decodes `A`, calls `fn(&Group, A) -> R` at `f` with the section's group,
/// encodes the result (for `Client::spmd`).
fn section_trampoline<A: DeserializeOwned, R: Serialize>(
    f: usize,
    parts: &[&[u8]],
) -> Result<Vec<u8>, String> {
    let bytes = parts.first().ok_or("the section's argument is missing")?;
    let arg: A = codec::decode(bytes).map_err(|e| format!("section argument: {}", e.message()))?;
    // SAFETY: `section_ref` ships this trampoline with a `fn(&Group, A) -> R`.
    let f: fn(&Group, A) -> R = unsafe { pointer_at::<fn(&Group, A) -> R>(f) };
    SECTION_GROUP.with(|g| {
        let g = g.borrow();
        let group = g
            .as_ref()
            .ok_or("this worker has no workers group for SPMD sections")?;
        codec::encode(&f(group, arg))
            .map_err(|e| format!("cannot encode the result: {}", e.message()))
    })
}

/// The reference to ship for an SPMD section's `fn(&Group, A) -> R`.
pub fn section_ref<A: DeserializeOwned, R: Serialize>(f: fn(&Group, A) -> R, key: u64) -> FnRef {
    let t: Trampoline = section_trampoline::<A, R>;
    FnRef::new(f as usize, t, key)
}
