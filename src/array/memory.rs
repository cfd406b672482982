//! Chunks that cannot fit on a worker: a chunk is made, stored and read
//! whole by one task, so one larger than a worker's memory limit
//! ([`WorkerInfo::memory_limit`]) could only fail there, late and far from
//! its cause. The calls that create arrays check their chunks against the
//! smallest limit of the client open on the calling thread (recorded when
//! it connects, forgotten when it shuts down), and `compute` and `persist`
//! check every chunk of the graph against their client's workers, for
//! arrays made before any client was open.

use super::dtype::DType;
use super::expr::Raw;
use super::{human_bytes, lower::children, tuple};
use crate::{Error, Result, WorkerInfo};
use std::cell::Cell;
use std::collections::HashSet;

thread_local! {
    /// The smallest worker memory limit (bytes, and that worker's rank) of
    /// the client open on this thread.
    static LIMIT: Cell<Option<(u64, usize)>> = const { Cell::new(None) };
}

/// The smallest memory limit among `workers`, and whose it is.
fn smallest(workers: &[WorkerInfo]) -> Option<(u64, usize)> {
    workers.iter().map(|w| (w.memory_limit, w.rank)).min()
}

/// Records the workers of a client opened on this thread (`None` when it
/// shuts down).
pub(crate) fn note_workers(workers: Option<&[WorkerInfo]>) {
    LIMIT.with(|l| l.set(workers.and_then(smallest)));
}

/// An error if the largest chunk of `chunks` (of `dtype`) is over `limit`.
fn check(chunks: &[Vec<usize>], dtype: DType, limit: Option<(u64, usize)>) -> Result<()> {
    let Some((limit, rank)) = limit else {
        return Ok(());
    };
    let largest: Vec<usize> = chunks
        .iter()
        .map(|c| c.iter().copied().max().unwrap_or(0))
        .collect();
    let bytes = largest
        .iter()
        .try_fold(dtype.size() as u64, |acc, &n| acc.checked_mul(n as u64))
        .unwrap_or(u64::MAX);
    if bytes > limit {
        return Err(Error::invalid(format!(
            "a chunk of shape {} of {dtype} is {bytes} bytes ({}), over the memory limit of \
             worker {rank} ({limit} bytes, {}): choose smaller chunks",
            tuple(&largest),
            human_bytes(bytes),
            human_bytes(limit)
        )));
    }
    Ok(())
}

/// At an array's creation: its chunks against the limit of the client
/// open on this thread, if any.
pub(crate) fn check_new(chunks: &[Vec<usize>], dtype: DType) -> Result<()> {
    check(chunks, dtype, LIMIT.with(Cell::get))
}

/// Before running `roots`: every expression's chunks against `workers`.
pub(crate) fn check_graph<'a>(
    roots: impl IntoIterator<Item = &'a Raw>,
    workers: &[WorkerInfo],
) -> Result<()> {
    let limit = smallest(workers);
    let mut seen = HashSet::new();
    let mut stack: Vec<&Raw> = roots.into_iter().collect();
    while let Some(a) = stack.pop() {
        if seen.insert(std::sync::Arc::as_ptr(&a.expr) as *const () as usize) {
            check(&a.chunks, a.dtype, limit)?;
            stack.extend(children(&a.expr));
        }
    }
    Ok(())
}
