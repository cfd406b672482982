//! Arrays from rows already on the workers: the array variable that
//! [`Client::scatter_array`] split along axis 0 becomes a [`DArray`] whose
//! chunks are each worker's rows, made by a task on that worker from its
//! own copy, so no row travels through the client.

use super::block::Block;
use super::dtype::Element;
use super::expr::{Expr, Raw};
use super::DArray;
use crate::delayed::{self, Delayed};
use crate::{worker_array_view, Client, Error, Plain, Result, TaskOptions};

/// This worker's rows of `name` as `T`s: their shape, or why not.
fn row_shape<T: Plain>(name: String) -> std::result::Result<Vec<usize>, String> {
    worker_array_view::<T>(&name)
        .map(|rows| rows.view().shape().to_vec())
        .map_err(|e| e.message().to_string())
}

/// The chunk task: this worker's rows of `name` as a chunk (`rank` only
/// tells the tasks of different workers apart).
fn rows_chunk<T: Element + Plain>(name: String, rank: u64) -> Block {
    let rows = worker_array_view::<T>(&name)
        .unwrap_or_else(|e| panic!("rows of {name:?} on worker {rank}: {}", e.message()));
    Block::values(T::wrap(rows.view().to_owned()))
}

/// The array variable `name` that [`Client::scatter_array`] (or
/// [`set_worker_array`](crate::set_worker_array) on every worker) left on
/// the workers, as an array of `T`s whose chunks are the workers' rows, in
/// rank order: one chunk per worker that holds rows, along axis 0, each
/// made by a task on its worker from the rows there (nothing goes through
/// the client). The chunks stay on their workers while the array (or one
/// made from it) lives, as [`persist`](DArray::persist)'s do; later
/// changes to the variable do not change them. Use
/// [`rechunk`](DArray::rechunk) for other chunks.
///
/// An error, before any task runs, if a worker lacks the variable, if its
/// rows are not `T`s, or if the workers' rows differ past axis 0 (naming
/// the shapes).
///
/// ```
/// use rankflow::ndarray::Array2;
///
/// # fn main() -> Result<(), rankflow::Error> {
/// let client = rankflow::initialize(rankflow::Config::new())?;
/// let data = Array2::from_shape_fn((10, 3), |(i, j)| (i * 3 + j) as f64);
/// client.scatter_array("x", &data)?;
/// let x = rankflow::array::from_worker_rows::<f64>(&client, "x")?;
/// assert_eq!(x.shape(), [10, 3]);
/// assert_eq!(x.sum().compute(&client)?, data.sum());
/// client.shutdown()
/// # }
/// ```
pub fn from_worker_rows<T: Element + Plain>(client: &Client, name: &str) -> Result<DArray<T>> {
    let shapes = client.run_with(row_shape::<T>, name.to_string(), None)?;
    let mut trailing: Option<&[usize]> = None;
    for (rank, shape) in &shapes {
        let shape = shape.as_ref().map_err(|e| {
            Error::invalid(format!(
                "from_worker_rows({name:?}): worker {rank} has no rows of {}: {e}",
                T::DTYPE
            ))
        })?;
        if shape.is_empty() || trailing.is_some_and(|t| t != &shape[1..]) {
            let all: Vec<String> = shapes
                .iter()
                .map(|(r, s)| format!("worker {r}: {:?}", s.as_ref().ok()))
                .collect();
            return Err(Error::invalid(format!(
                "from_worker_rows({name:?}): the workers' rows must have at least one axis and \
                 agree past axis 0, not {}",
                all.join(", ")
            )));
        }
        trailing = Some(&shape[1..]);
    }
    let trailing = trailing.unwrap_or_default().to_vec();
    let rows: Vec<(usize, usize)> = shapes
        .iter()
        .filter_map(|(rank, s)| s.as_ref().ok().map(|s| (*rank, s[0])))
        .filter(|&(_, n)| n > 0)
        .collect();
    if rows.is_empty() || trailing.contains(&0) {
        return Err(Error::invalid(format!(
            "from_worker_rows({name:?}): the workers hold no elements (rows {:?}, each of shape \
             {trailing:?})",
            shapes
                .iter()
                .map(|(r, s)| (*r, s.as_ref().map_or(0, |s| s[0])))
                .collect::<Vec<_>>()
        )));
    }
    let futures: Vec<_> = client.in_one_message(|| {
        rows.iter()
            .map(|&(rank, _)| {
                let options = TaskOptions::new().pure(false).workers(&[rank]);
                let arg = (name.to_string(), rank as u64);
                client.submit_with_options(rows_chunk::<T>, arg, &options)
            })
            .collect::<Result<_>>()
    })?;
    // The chunks are copies of the rows as they are now: a later
    // `scatter_array` of `name` goes to the workers directly and could
    // otherwise overtake the tasks.
    for f in &futures {
        f.wait(None)?;
    }
    let blocks: Vec<Delayed<Block>> = futures.into_iter().map(delayed::from_future).collect();
    let shape: Vec<usize> = std::iter::once(rows.iter().map(|r| r.1).sum())
        .chain(trailing.iter().copied())
        .collect();
    let chunks: Vec<Vec<usize>> = std::iter::once(rows.iter().map(|r| r.1).collect())
        .chain(trailing.iter().map(|&n| vec![n]))
        .collect();
    Ok(DArray::wrap(Raw::new(
        shape,
        chunks,
        T::DTYPE,
        Expr::Stored(blocks),
    )))
}
