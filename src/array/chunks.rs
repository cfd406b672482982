//! How an array is cut into chunks: one list of chunk lengths per axis,
//! from a regular size (`&[1000, 1000]`) or given per axis (irregular).

use crate::{Error, Result};

/// The chunking asked for when an array is made: one size per axis
/// (regular: every chunk that size but the last along each axis) or one
/// list of lengths per axis (irregular; each list must add up to the axis).
///
/// `[1000, 1000]`, `&[1000, 1000]` and `vec![1000, 1000]` convert to the
/// regular form; `vec![vec![1, 4, 4], vec![3, 3, 6]]` to the irregular one
/// (dask's `chunks=((1, 4, 4), (3, 3, 6))`). [`ChunkSpec::Auto`] picks
/// regular chunks of about [`AUTO_CHUNK_BYTES`] (dask's `chunks="auto"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChunkSpec {
    /// One chunk size per axis; a size at least the axis length makes one chunk.
    Regular(Vec<usize>),
    /// The chunk lengths along each axis.
    PerAxis(Vec<Vec<usize>>),
    /// Regular chunks of about [`AUTO_CHUNK_BYTES`], or an eighth of the
    /// smallest worker memory limit when a client is open on the calling
    /// thread and that is less, as near to the same length on every axis
    /// as the shape allows.
    Auto,
}

/// The size [`ChunkSpec::Auto`] aims at: 32 MiB (tens of MiB amortise a
/// task's cost and leave many chunks per worker), or less where a worker's
/// memory limit is small (an eighth of the smallest limit).
pub const AUTO_CHUNK_BYTES: usize = 32 << 20;

/// Chunk sizes of about `target` bytes for `shape`: the shortest axes are
/// taken whole while they fit, the rest share what is left equally.
fn auto(shape: &[usize], elem_size: usize, target: usize) -> Vec<usize> {
    let mut budget = (target / elem_size.max(1)).max(1) as f64;
    let mut order: Vec<usize> = (0..shape.len()).collect();
    order.sort_by_key(|&i| shape[i]);
    let mut sizes = vec![1; shape.len()];
    for (k, &axis) in order.iter().enumerate() {
        let left = (shape.len() - k) as f64;
        let edge = budget.powf(1.0 / left).floor().max(1.0) as usize;
        sizes[axis] = edge.min(shape[axis]).max(1);
        budget /= sizes[axis] as f64;
    }
    sizes
}

impl From<&[usize]> for ChunkSpec {
    fn from(sizes: &[usize]) -> Self {
        ChunkSpec::Regular(sizes.to_vec())
    }
}

impl<const N: usize> From<[usize; N]> for ChunkSpec {
    fn from(sizes: [usize; N]) -> Self {
        ChunkSpec::Regular(sizes.to_vec())
    }
}

impl<const N: usize> From<&[usize; N]> for ChunkSpec {
    fn from(sizes: &[usize; N]) -> Self {
        ChunkSpec::Regular(sizes.to_vec())
    }
}

impl From<Vec<usize>> for ChunkSpec {
    fn from(sizes: Vec<usize>) -> Self {
        ChunkSpec::Regular(sizes)
    }
}

impl From<Vec<Vec<usize>>> for ChunkSpec {
    fn from(lists: Vec<Vec<usize>>) -> Self {
        ChunkSpec::PerAxis(lists)
    }
}

impl ChunkSpec {
    /// The chunk lengths along each axis of an array of `shape` of `f64`s,
    /// checked.
    pub(crate) fn resolve(&self, shape: &[usize]) -> Result<Vec<Vec<usize>>> {
        self.resolve_sized(shape, 8)
    }

    /// The chunk lengths along each axis of an array of `shape` whose
    /// elements take `elem_size` bytes, checked.
    pub(crate) fn resolve_sized(
        &self,
        shape: &[usize],
        elem_size: usize,
    ) -> Result<Vec<Vec<usize>>> {
        match self {
            ChunkSpec::Auto => {
                let target = super::memory::auto_chunk_bytes();
                ChunkSpec::Regular(auto(shape, elem_size, target)).resolve(shape)
            }
            ChunkSpec::Regular(sizes) => {
                if sizes.len() != shape.len() {
                    return Err(Error::invalid(format!(
                        "chunk sizes {sizes:?} have {} axes, but the shape {shape:?} has {}",
                        sizes.len(),
                        shape.len()
                    )));
                }
                shape
                    .iter()
                    .zip(sizes)
                    .enumerate()
                    .map(|(axis, (&len, &size))| {
                        if size == 0 {
                            return Err(Error::invalid(format!(
                                "chunk size 0 along axis {axis} (chunks {sizes:?}, shape {shape:?})"
                            )));
                        }
                        Ok(regular(len, size))
                    })
                    .collect()
            }
            ChunkSpec::PerAxis(lists) => {
                if lists.len() != shape.len() {
                    return Err(Error::invalid(format!(
                        "chunks {lists:?} have {} axes, but the shape {shape:?} has {}",
                        lists.len(),
                        shape.len()
                    )));
                }
                for (axis, (list, &len)) in lists.iter().zip(shape).enumerate() {
                    let total: usize = list.iter().sum();
                    if total != len || list.contains(&0) {
                        return Err(Error::invalid(format!(
                            "chunks {list:?} along axis {axis} add up to {total}, but the \
                             shape {shape:?} has {len} there (and no chunk may be empty)"
                        )));
                    }
                }
                Ok(lists.clone())
            }
        }
    }
}

/// `len` cut into pieces of `size`, the last one shorter.
fn regular(len: usize, size: usize) -> Vec<usize> {
    let mut out = vec![size; len / size];
    if len % size != 0 {
        out.push(len % size);
    }
    out
}

/// Where each chunk along an axis starts, plus the axis length at the end.
pub(crate) fn offsets(lengths: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(lengths.len() + 1);
    let mut at = 0;
    out.push(0);
    for len in lengths {
        at += len;
        out.push(at);
    }
    out
}

/// The chunk along an axis that holds `start..start + len`, and where the
/// range starts inside it; `None` if the range crosses a chunk boundary.
pub(crate) fn locate(lengths: &[usize], start: usize, len: usize) -> Option<(usize, usize)> {
    let offs = offsets(lengths);
    let i = offs.partition_point(|&o| o <= start).checked_sub(1)?;
    (i < lengths.len() && start + len <= offs[i + 1]).then(|| (i, start - offs[i]))
}

/// The chunks of an axis cut at every boundary of both `a` and `b` (which
/// cover the same length): each piece lies inside one chunk of each.
pub(crate) fn refine(a: &[usize], b: &[usize]) -> Vec<usize> {
    let mut cuts: Vec<usize> = offsets(a).into_iter().chain(offsets(b)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Every chunk of a grid, row-major: its index per axis, start and shape.
pub(crate) fn grid(chunks: &[Vec<usize>]) -> Vec<(Vec<usize>, Vec<usize>, Vec<usize>)> {
    let offs: Vec<Vec<usize>> = chunks.iter().map(|c| offsets(c)).collect();
    let count: usize = chunks.iter().map(Vec::len).product();
    let mut out = Vec::with_capacity(count);
    for linear in 0..count {
        let mut rest = linear;
        let mut index = vec![0; chunks.len()];
        for axis in (0..chunks.len()).rev() {
            index[axis] = rest % chunks[axis].len();
            rest /= chunks[axis].len();
        }
        let start = index.iter().enumerate().map(|(a, &i)| offs[a][i]).collect();
        let shape = index
            .iter()
            .enumerate()
            .map(|(a, &i)| chunks[a][i])
            .collect();
        out.push((index, start, shape));
    }
    out
}

/// The row-major number of the chunk at `index` in a grid of `chunks`.
pub(crate) fn linear(chunks: &[Vec<usize>], index: &[usize]) -> usize {
    index
        .iter()
        .zip(chunks)
        .fold(0, |acc, (&i, c)| acc * c.len() + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_and_irregular_chunks() {
        let spec = ChunkSpec::from([4, 5]);
        assert_eq!(
            spec.resolve(&[9, 10]).unwrap(),
            vec![vec![4, 4, 1], vec![5, 5]]
        );
        let spec = ChunkSpec::from(vec![vec![1, 4, 4], vec![3, 3, 6]]);
        assert_eq!(spec.resolve(&[9, 12]).unwrap()[1], vec![3, 3, 6]);
        let err = spec.resolve(&[9, 13]).unwrap_err();
        assert!(err.message().contains("[3, 3, 6]") && err.message().contains("[9, 13]"));
    }

    #[test]
    fn locate_refine_and_grid() {
        assert_eq!(locate(&[4, 4, 1], 5, 2), Some((1, 1)));
        assert_eq!(locate(&[4, 4, 1], 3, 2), None);
        assert_eq!(refine(&[4, 4, 1], &[3, 6]), vec![3, 1, 4, 1]);
        let g = grid(&[vec![2, 1], vec![3]]);
        assert_eq!(g[1], (vec![1, 0], vec![2, 0], vec![1, 3]));
        assert_eq!(linear(&[vec![2, 1], vec![3, 3]], &[1, 1]), 3);
    }

    #[test]
    fn automatic_chunks_are_tens_of_mib() {
        // 10,000² f64 (800 MB): 2,048² chunks of 32 MiB.
        let c = ChunkSpec::Auto.resolve_sized(&[10_000, 10_000], 8).unwrap();
        assert_eq!(c[0][0], 2048);
        assert_eq!(c[1][0], 2048);
        // A short axis is taken whole, the other gets the rest.
        let c = ChunkSpec::Auto.resolve_sized(&[3, 100_000_000], 1).unwrap();
        assert_eq!(c[0], vec![3]);
        assert_eq!(c[1][0], (32 << 20) / 3);
        // Small arrays are one chunk.
        let c = ChunkSpec::Auto.resolve_sized(&[100, 7], 8).unwrap();
        assert_eq!(c, vec![vec![100], vec![7]]);
    }
}
