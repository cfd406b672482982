//! The crate's error type: one opaque [`Error`] with a public [`ErrorKind`].
//!
//! Follows rayon-core's `ThreadPoolBuildError`: callers match on
//! [`Error::kind`], never on the text of the message.

mod task_failure;

use std::fmt;
pub use task_failure::{FailureKind, TaskFailure};

/// What went wrong, broadly. More kinds may be added; match with a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Fewer than three ranks under mpirun: rank 0 schedules, rank 1 runs the
    /// client, so at least one more rank is needed as a worker.
    WorldTooSmall,
    /// A setting (builder value or environment variable) is invalid.
    Config,
    /// A value could not be encoded or decoded, or a message was over the size limit.
    Codec,
    /// The transport between ranks failed or was closed.
    Transport,
    /// MPI could not be initialised, or gave too low a thread level.
    Mpi,
    /// A peer sent a message that does not fit the protocol.
    Protocol,
    /// The cluster has been shut down; nothing more can be asked of it.
    ShutDown,
    /// Ranks run different executables.
    BinaryMismatch,
    /// The scheduler ended the job because another rank failed or stopped
    /// answering; the message says which and why.
    Aborted,
    /// A collective was called with arguments that cannot work (a scatter with
    /// the wrong number of items, a root outside the group, mismatched lengths).
    InvalidArgument,
    /// An operating-system call failed.
    Io,
    /// Waiting for a reply took longer than allowed.
    Timeout,
    /// User code panicked.
    Panicked,
    /// A task failed: it panicked, returned `Err`, or a task it depends on
    /// failed. [`Error::task_failure`] has the details.
    Task,
    /// The task was cancelled.
    Cancelled,
    /// Members of an in-process group wait for each other in a way nothing
    /// can resolve (a ring of large blocking sends), or for a member that has
    /// left the group. Under mpirun the same program would hang.
    Deadlock,
}

/// The error type of every fallible rankflow call.
///
/// `Debug` prints the same text as `Display`, so `fn main() -> Result<(), Error>`
/// ends with a readable message.
#[derive(Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    task: Option<Box<TaskFailure>>,
}

/// `Result` with rankflow's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an error of `kind` with a human-readable message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            task: None,
        }
    }

    /// The error of a future whose task failed.
    pub fn task(failure: TaskFailure) -> Self {
        Error {
            kind: ErrorKind::Task,
            message: failure.to_string(),
            task: Some(Box::new(failure)),
        }
    }

    /// An error of kind [`ErrorKind::Task`] with its own message (one that
    /// sums up several failures), carrying `failure` as the first of them.
    pub(crate) fn task_with_message(failure: TaskFailure, message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Task,
            message: message.into(),
            task: Some(Box::new(failure)),
        }
    }

    /// For [`ErrorKind::Task`]: the failed task's key, worker, message and,
    /// for a dependent, the root cause.
    pub fn task_failure(&self) -> Option<&TaskFailure> {
        self.task.as_deref()
    }

    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the kind prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    pub(crate) fn codec(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Codec, message)
    }

    pub(crate) fn transport(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Transport, message)
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Protocol, message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::WorldTooSmall => "too few ranks",
            ErrorKind::Config => "bad configuration",
            ErrorKind::Codec => "encoding error",
            ErrorKind::Transport => "transport error",
            ErrorKind::Mpi => "MPI error",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::ShutDown => "cluster is shut down",
            ErrorKind::BinaryMismatch => "ranks run different executables",
            ErrorKind::Aborted => "the job was aborted",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::Io => "I/O error",
            ErrorKind::Timeout => "timed out",
            ErrorKind::Panicked => "panicked",
            ErrorKind::Task => "task failed",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Deadlock => "deadlock",
        };
        write!(f, "rankflow: {what}: {}", self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, e.to_string())
    }
}

/// The message of a panic payload.
pub(crate) fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}
