//! The messages between roles: one enum per direction, encoded with the codec
//! and sent with [`TAG_CONTROL`](crate::comm::transport::TAG_CONTROL).
//!
//! Start-up: every worker sends `Register`, the client sends `Hello`; once all
//! are in and every executable fingerprint matches, the scheduler answers the
//! client with `Welcome` (so `initialize` returns with every worker known).
//! Shutdown: client `Shutdown` -> scheduler `Shutdown` to each worker -> each
//! worker `Goodbye` -> scheduler `Finished` to the client -> every rank exits.

use serde::{Deserialize, Serialize};

/// What a worker rank reports about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// Rank in the world.
    pub rank: usize,
    /// Host it runs on.
    pub hostname: String,
    /// Process id (the same for every worker of the embedded cluster).
    pub pid: u32,
    /// Executor threads.
    pub threads: usize,
}

/// Client -> scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientToScheduler {
    /// The client is up; `fingerprint` identifies its executable.
    Hello {
        /// Executable fingerprint.
        fingerprint: u64,
    },
    /// Round-trip probe.
    Ping {
        /// Echoed back in `Pong`.
        id: u64,
    },
    /// Stop every rank.
    Shutdown,
}

/// Scheduler -> client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchedulerToClient {
    /// Every worker has registered.
    Welcome {
        /// The workers, by rank.
        workers: Vec<WorkerInfo>,
    },
    /// Answer to `Ping`.
    Pong {
        /// The ping's id.
        id: u64,
    },
    /// Every worker has stopped; the client may finalize.
    Finished,
    /// The job cannot go on; every rank exits non-zero.
    Abort {
        /// What happened.
        reason: String,
    },
}

/// Worker -> scheduler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkerToScheduler {
    /// The worker is up.
    Register {
        /// About the worker.
        info: WorkerInfo,
        /// Executable fingerprint.
        fingerprint: u64,
    },
    /// Answer to `Shutdown`: the worker is about to exit.
    Goodbye,
}

/// Scheduler -> worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchedulerToWorker {
    /// Stop serving and exit.
    Shutdown,
    /// The job cannot go on; exit non-zero.
    Abort {
        /// What happened.
        reason: String,
    },
}

/// Client -> worker, directly (never through the scheduler).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientToWorker {
    /// Round-trip probe.
    Ping {
        /// Echoed back in `Pong`.
        id: u64,
    },
}

/// Worker -> client, directly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkerToClient {
    /// Answer to `Ping`.
    Pong {
        /// The ping's id.
        id: u64,
    },
}
