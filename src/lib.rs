//! # rankflow
//!
//! MPI-native task scheduling, a direct worker interface and typed collectives
//! for HPC batch jobs: what dask-mpi, dask.distributed, ipyparallel and mpi4py
//! give Python users, in a Rust crate you link into your own binary.
//!
//! ## Roles
//!
//! ```text
//! mpirun -n N ./my_program
//!   rank 0      scheduler   task metadata, placement, where results live
//!   rank 1      client      your main, after rankflow::initialize(..) returns
//!   rank 2..N-1 workers     executor threads and an object store
//! ```
//!
//! N must be at least 3 under mpirun. Without mpirun the same program runs an
//! embedded cluster (scheduler and workers as threads in this process).
//!
//! ## Quick start
//!
//! ```no_run
//! fn main() -> Result<(), rankflow::Error> {
//!     let mut client = rankflow::initialize(rankflow::Config::new())?;
//!     for w in client.workers() {
//!         println!("worker {} on {} (pid {})", w.rank, w.hostname, w.pid);
//!     }
//!     client.ping()?;
//!     client.shutdown()
//! }
//! ```
//!
//! Collectives only, mpi4py style:
//!
//! ```no_run
//! let total = rankflow::spmd(rankflow::Config::new(), |world| {
//!     world.allreduce(world.rank() as u64, |a, b| a + b)
//! })?;
//! # Ok::<(), rankflow::Error>(())
//! ```

#![deny(missing_docs)]

pub mod client;
pub mod comm;
pub mod config;
pub mod error;
pub mod jobscript;
pub mod launch;
pub mod logging;
pub mod protocol;
pub mod scheduler;
pub mod task;
pub mod worker;

/// The ndarray version rankflow's array calls take, so a program need not
/// match it in its own `Cargo.toml`: `use rankflow::ndarray::Array2;`.
pub use ndarray;

pub use client::{AsCompleted, Client, Future, FutureStatus, WaitFor, WaitResult};
pub use comm::group::{Group, Status};
pub use comm::plain::{Op, Plain};
pub use config::{Config, Mode};
pub use error::{Error, ErrorKind, Result};
pub use launch::{initialize, spmd, LOCAL_SPMD_RANKS, MIN_RANKS};
pub use protocol::WorkerInfo;
pub use task::{FailureKind, Key, TaskFailure, TaskOptions};
pub use worker::arrays::{set_worker_array, worker_array};
pub use worker::executor::{current_worker, set_worker_var, worker_var};
