//! User chunk functions: [`from_fn`] makes each chunk with a function run
//! as a task, [`DArray::map_blocks`] applies one to each chunk. The
//! functions are shipped as task functions are (a function item or a
//! closure that captures nothing).

use super::block::Block;
use super::chunks::{grid, ChunkSpec};
use super::dtype::Element;
use super::expr::{Expr, Raw};
use super::lower::Lowering;
use super::DArray;
use crate::delayed::delayed;
use crate::ndarray::ArrayD;
use crate::Result;

/// Where a chunk lies: its start and shape in the whole array, and its
/// index in the chunk grid (dask's `block_info`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BlockInfo {
    /// The chunk's first element in the whole array.
    pub start: Vec<usize>,
    /// The chunk's shape.
    pub shape: Vec<usize>,
    /// The chunk's index along each axis of the chunk grid.
    pub index: Vec<usize>,
}

/// A task's result checked against the shape planned for it.
fn checked<T: Element>(what: &str, values: ArrayD<T>, shape: &[usize]) -> Block {
    assert!(
        values.shape() == shape,
        "{what} returned a chunk of shape {:?} where {shape:?} was expected",
        values.shape()
    );
    Block::values(T::wrap(values))
}

/// An array whose chunks `f` makes, each in a task of its own on a worker,
/// from where the chunk lies (dask's `da.map_blocks` over a block grid /
/// `da.from_delayed`). A chunk of the wrong shape fails its task with a
/// message naming both shapes.
///
/// ```
/// use rankflow::array::{self, BlockInfo};
/// use rankflow::ndarray::{ArrayD, IxDyn};
///
/// # fn main() -> Result<(), rankflow::Error> {
/// let rows = |info: BlockInfo| {
///     ArrayD::from_shape_fn(IxDyn(&info.shape), |i| (info.start[0] + i[0]) as i64)
/// };
/// let x = array::from_fn(&[10, 4], [3, 4], rows)?;
/// let client = rankflow::initialize(rankflow::Config::new())?;
/// assert_eq!(x.sum().compute(&client)?, 4 * 45);
/// client.shutdown()
/// # }
/// ```
pub fn from_fn<T, F>(shape: &[usize], chunks: impl Into<ChunkSpec>, f: F) -> Result<DArray<T>>
where
    T: Element,
    F: Fn(BlockInfo) -> ArrayD<T> + Copy + Send + Sync + 'static,
{
    let chunks = chunks.into().resolve_sized(shape, T::DTYPE.size())?;
    super::memory::check_new(&chunks, T::DTYPE)?;
    let blocks = grid(&chunks)
        .into_iter()
        .map(|(index, start, shape)| {
            let info = BlockInfo {
                start,
                shape,
                index,
            };
            delayed(
                move |info: BlockInfo| {
                    let shape = info.shape.clone();
                    checked("from_fn's function", f(info), &shape)
                },
                info,
            )
        })
        .collect();
    Ok(DArray::wrap(Raw::new(
        shape.to_vec(),
        chunks,
        T::DTYPE,
        Expr::Stored(blocks),
    )))
}

impl<T: Element> DArray<T> {
    /// `f` applied to each chunk in a task of its own, giving a chunk of
    /// the same shape (of any element type): dask's `x.map_blocks(f)`. The
    /// chunks of this array's expression are computed by the tasks before
    /// (fused as usual); a chunk of the wrong shape fails its task with a
    /// message naming both shapes.
    pub fn map_blocks<U, F>(&self, f: F) -> DArray<U>
    where
        U: Element,
        F: Fn(ArrayD<T>) -> ArrayD<U> + Copy + Send + Sync + 'static,
    {
        let blocks = Lowering::default()
            .blocks(&self.raw)
            .into_iter()
            .map(|block| {
                delayed(
                    move |block: Block| {
                        let values = T::unwrap(block.finish());
                        let shape = values.shape().to_vec();
                        checked("map_blocks' function", f(values), &shape)
                    },
                    block,
                )
            })
            .collect();
        DArray::wrap(Raw::new(
            self.raw.shape.clone(),
            self.raw.chunks.clone(),
            U::DTYPE,
            Expr::Stored(blocks),
        ))
    }
}
