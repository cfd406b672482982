//! Diagnostics: watching work as it runs. [`progress`]: a live bar on a
//! terminal, or one plain line every few seconds in a batch job's log;
//! [`dashboard`]: the live dashboard the scheduler rank serves.
//! [`events`]: what every worker records (task start and stop, transfers,
//! collective sections) and the scheduler keeps; the performance report
//! ([`Client::performance_report`](crate::Client::performance_report)) and
//! its Chrome trace are written from them; [`packed`]: the compact form in
//! which task events travel and are kept.

pub mod dashboard;
pub mod events;
pub mod packed;
mod progress;
pub mod report;
mod report_html;
mod trace;

pub use progress::{progress, FunctionProgress, Progress, ProgressSummary};
pub use report::{trace_path, ReportData};
pub use report_html::BAR_LIMIT;
