//! Chunks that cannot fit on a worker: a chunk is made, stored and read
//! whole by one task, so one larger than a worker's memory limit
//! ([`WorkerInfo::memory_limit`]) could only fail there, late and far from
//! its cause. The calls that create arrays check their chunks against the
//! smallest limit of the client most recently opened on the calling thread
//! and still open (its [`OpenLimit`] lives as long as the client, wherever
//! the client ends), and `compute` and `persist` check every chunk of the
//! graph against their client's workers, for arrays made before any client
//! was open.

use super::dtype::DType;
use super::expr::Raw;
use super::{human_bytes, lower::children, tuple, AUTO_CHUNK_BYTES};
use crate::{Error, Result, WorkerInfo};
use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::{Arc, Weak};

/// A smallest worker memory limit: bytes, and that worker's rank.
type Limit = Option<(u64, usize)>;

thread_local! {
    /// The clients opened on this thread, oldest first: whether each is
    /// still open, and the smallest memory limit of its workers.
    static OPEN: RefCell<Vec<(Weak<()>, Limit)>> = const { RefCell::new(Vec::new()) };
}

/// Keeps the memory limit of a client's workers in force for arrays made on
/// the thread that opened it, until dropped (with the client).
#[derive(Debug)]
pub(crate) struct OpenLimit {
    _alive: Arc<()>,
}

/// The smallest memory limit among `workers`, and whose it is.
fn smallest(workers: &[WorkerInfo]) -> Option<(u64, usize)> {
    workers.iter().map(|w| (w.memory_limit, w.rank)).min()
}

/// Records the workers of a client opened on this thread, for as long as
/// the returned handle lives.
pub(crate) fn note_workers(workers: &[WorkerInfo]) -> OpenLimit {
    let alive = Arc::new(());
    OPEN.with(|o| {
        let mut open = o.borrow_mut();
        open.retain(|(w, _)| w.strong_count() > 0);
        open.push((Arc::downgrade(&alive), smallest(workers)));
    });
    OpenLimit { _alive: alive }
}

/// The limit of the client most recently opened on this thread and still
/// open, if any.
fn current_limit() -> Option<(u64, usize)> {
    OPEN.with(|o| {
        o.borrow()
            .iter()
            .rev()
            .find(|(w, _)| w.strong_count() > 0)
            .and_then(|&(_, limit)| limit)
    })
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

/// The part of the smallest worker memory limit [`ChunkSpec::Auto`] aims
/// its chunks at, when that is under [`AUTO_CHUNK_BYTES`]: an eighth, so a
/// worker holds a few chunks and a task's inputs and result at once.
///
/// [`ChunkSpec::Auto`]: super::ChunkSpec::Auto
const AUTO_LIMIT_FRACTION: u64 = 8;

/// The chunk size [`ChunkSpec::Auto`] aims at: [`AUTO_CHUNK_BYTES`], or an
/// eighth of the smallest memory limit of the client open on this thread
/// if that is less.
///
/// [`ChunkSpec::Auto`]: super::ChunkSpec::Auto
pub(crate) fn auto_chunk_bytes() -> usize {
    let limit = current_limit().map(|(bytes, _)| bytes / AUTO_LIMIT_FRACTION);
    match limit {
        Some(part) => usize::try_from(part)
            .unwrap_or(usize::MAX)
            .clamp(1, AUTO_CHUNK_BYTES),
        None => AUTO_CHUNK_BYTES,
    }
}

/// At an array's creation: its chunks against the limit of the client
/// open on this thread, if any.
pub(crate) fn check_new(chunks: &[Vec<usize>], dtype: DType) -> Result<()> {
    check(chunks, dtype, current_limit())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::ChunkSpec;

    fn worker(rank: usize, memory_limit: u64) -> WorkerInfo {
        WorkerInfo {
            rank,
            hostname: "here".into(),
            pid: 1,
            threads: 1,
            memory_limit,
        }
    }

    #[test]
    fn automatic_chunks_fit_the_smallest_memory_limit() {
        let shape = [10_000, 10_000];
        // 4 MiB at the smallest worker: chunks of at most 512 KiB, which
        // the memory check accepts (32 MiB chunks it would reject).
        let small = note_workers(&[worker(2, 1 << 30), worker(3, 4 << 20)]);
        assert_eq!(auto_chunk_bytes(), 512 << 10);
        let chunks = ChunkSpec::Auto.resolve_sized(&shape, 8).unwrap();
        assert_eq!((chunks[0][0], chunks[1][0]), (256, 256));
        assert!(check_new(&chunks, DType::F64).is_ok());
        drop(small);
        // A large limit: 32 MiB still.
        let large = note_workers(&[worker(2, 64 << 30)]);
        assert_eq!(auto_chunk_bytes(), AUTO_CHUNK_BYTES);
        drop(large);
        // No client: 32 MiB.
        assert_eq!(auto_chunk_bytes(), AUTO_CHUNK_BYTES);
        let chunks = ChunkSpec::Auto.resolve_sized(&shape, 8).unwrap();
        assert_eq!(chunks[0][0], 2048);
    }
}
