//! Diagnostics: watching work as it runs. [`progress`]: a live bar on a
//! terminal, or one plain line every few seconds in a batch job's log;
//! [`dashboard`]: the live dashboard the scheduler rank serves.

pub mod dashboard;
mod progress;

pub use progress::{progress, Progress, ProgressSummary};
