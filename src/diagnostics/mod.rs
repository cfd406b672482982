//! Diagnostics: watching work as it runs. So far, [`progress`]: a live bar
//! on a terminal, or one plain line every few seconds in a batch job's log.

mod progress;

pub use progress::{progress, Progress, ProgressSummary};
