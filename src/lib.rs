//! # rankflow
//!
//! MPI-native task scheduling, a direct worker interface and typed collectives
//! for HPC batch jobs: what dask-mpi, dask.distributed, ipyparallel and mpi4py
//! give Python users, in a crate you link into your own binary and start with
//! `mpirun -n N` (or `srun`) inside a Slurm, PBS, SGE or LSF job.
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
//! embedded cluster (scheduler and workers as threads in this process), so you
//! develop on a laptop and scale out unchanged.
//!
//! Code before [`initialize`] (or [`spmd`]) runs on **every** rank under
//! mpirun, as in any MPI program: read input files after it, on the client,
//! or guard side effects with care. Scheduler and worker ranks never return
//! from `initialize`; they exit when the client shuts down. MPI starts once
//! per process, so call `initialize` or `spmd` once.
//!
//! ## Tasks (dask.distributed style)
//!
//! ```no_run
//! fn inc(x: i64) -> i64 { x + 1 }
//! fn add(a: i64, b: i64) -> i64 { a + b }
//!
//! fn main() -> Result<(), rankflow::Error> {
//!     let client = rankflow::initialize(rankflow::Config::new())?;
//!     let x = client.submit(inc, 1)?;                 // a future
//!     let y = client.submit(add, (&x, 10))?;          // depends on x
//!     assert_eq!(y.result()?, 12);
//!     let squares = client.map(|v: i64| v * v, 0..1000i64)?;
//!     let total: i64 = client.gather(&squares)?.iter().sum();
//!     println!("{total}");
//!     client.shutdown()
//! }
//! ```
//!
//! Task functions are function items or closures that capture nothing, with 0
//! to 4 parameters ([`TaskFn`]); they travel between ranks by their place in
//! the (identical) executable, checked at start-up. Arguments are serde values
//! or futures of earlier tasks, in any position ([`Args`]). A panic or an
//! `Err` (with [`Client::submit_fallible`]) fails that task's [`Future`] with
//! an error of kind [`ErrorKind::Task`]; the worker keeps serving.
//!
//! ## The direct interface (ipyparallel style)
//!
//! [`Client::run`] calls a function on every worker, [`Client::push`] and
//! [`Client::pull`] set and read named worker variables ([`worker_var`]),
//! [`Client::scatter`], [`Client::broadcast`] and [`Client::scatter_array`]
//! place data on workers (one MPI collective where it can be), and
//! [`Client::spmd`] runs a section on all workers at once with the
//! workers-only [`Group`].
//!
//! ## Collectives (mpi4py style)
//!
//! ```no_run
//! let total = rankflow::spmd(rankflow::Config::new(), |world| {
//!     world.allreduce(world.rank() as u64, |a, b| a + b)
//! })?;
//! println!("sum of the ranks: {total}");
//! # Ok::<(), rankflow::Error>(())
//! ```
//!
//! [`spmd`] runs a closure on every rank with the world as a [`Group`]:
//! serde-flavour calls (`bcast`, `scatter`, `gather`, `allreduce` with a
//! closure, ...) for any serde value, and zero-copy calls (`bcast_into`,
//! `allreduce_into` with an [`Op`], ...) that hand slices of [`Plain`]
//! numbers to MPI as their own memory. A rank that returns `Err` or panics
//! ends the run for every rank with its message; nobody waits for it.
//!
//! ## Configuration and errors
//!
//! [`Config`] holds every setting; each can also come from a `RANKFLOW_*`
//! variable or the batch system (see [`config`]). Every fallible call returns
//! [`Error`], whose [`ErrorKind`] says what went wrong broadly and whose text
//! says exactly what; a bad setting names the variable and the value.

#![deny(missing_docs)]
// Examples in the docs and the README must compile without a warning.
#![doc(test(attr(deny(warnings))))]

// The README's Rust examples compile and run as doctests (in the embedded
// cluster), so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;

mod cli;
mod client;
pub mod compute;
// The transport, codec and wire protocol stay reachable for the benchmark
// examples and whole-cluster tests, but are not part of the documented API.
pub mod array;
pub mod bag;
#[doc(hidden)]
pub mod comm;
pub mod config;
pub mod delayed;
pub mod diagnostics;
mod error;
#[cfg(any(feature = "mpi", test))]
mod fingerprint;
mod key;
mod launch;
mod logging;
#[doc(hidden)]
pub mod protocol;
#[doc(hidden)]
pub mod scheduler;
mod task;
mod worker;

/// The ndarray version rankflow's array calls take, so a program need not
/// match it in its own `Cargo.toml`: `use rankflow::ndarray::Array2;`.
pub use ndarray;

#[doc(hidden)]
pub use cli::jobscript;
pub use client::{AsCompleted, Client, Future, FutureStatus, WaitFor, WaitResult};
pub use comm::group::local::EAGER_LIMIT;
pub use comm::group::{wait_all, Group, LocOp, Probe, RecvRequest, Request, SendRequest, Status};
pub use comm::plain::{Op, Plain};
pub use compute::{compute, Computable};
pub use config::{Config, Mode};
pub use error::{Error, ErrorKind, Result};
pub use launch::{initialize, spmd, LOCAL_SPMD_RANKS, MIN_RANKS};
pub use protocol::WorkerInfo;
pub use task::args::Args;
pub use task::{FailureKind, Key, TaskFailure, TaskFn, TaskOptions};
pub use worker::arrays::{set_worker_array, worker_array, worker_array_view, WorkerArrayView};
pub use worker::executor::{
    current_worker, memory_stats, set_worker_var, stored_results, worker_var,
};
pub use worker::store::{MemoryPolicy, MemoryStats};
