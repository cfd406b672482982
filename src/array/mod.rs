//! Chunked n-dimensional arrays, as dask.array: a [`DArray`] is a lazy
//! expression over chunks; nothing runs until [`compute`](DArray::compute)
//! or [`persist`](DArray::persist).
//!
//! ```
//! use rankflow::array::{self, random};
//!
//! # fn main() -> Result<(), rankflow::Error> {
//! let x = random::random(42, &[400, 400], [100, 100])?;
//! let y = (x.sin() + x.t().cos()).sum(); // one task per chunk + a tree
//! let centred = &x - &x.mean_axis(0)?;   // broadcasting, as NumPy
//! println!("{x}");
//!
//! let client = rankflow::initialize(rankflow::Config::new())?;
//! let total = y.compute(&client)?;
//! let local = centred.compute(&client)?;
//! assert!(total.is_finite() && local.shape() == [400, 400]);
//! let zeros = array::zeros(&[10, 10], [5, 5])?;
//! assert_eq!((zeros + 1.0).sum().compute(&client)?, 100.0);
//! client.shutdown()
//! # }
//! ```
//!
//! **Fusion.** A chain of elementwise operations (`+ - * /` with arrays or
//! `f64`s, [`sin`](DArray::sin), [`t`](DArray::t), ...) becomes one task per
//! output chunk whose argument is the expression as data, evaluated by one
//! generic task function; random, constant and client-side chunks are made
//! or sent inside that task, and a reduction's first step runs in it too.
//! Reductions combine partial results in a tree, [`SPLIT_EVERY`] at a time.
//!
//! **Chunks.** Regular (`[1000, 1000]`) or per axis
//! (`vec![vec![1, 4, 4], vec![3, 3, 6]]`), see [`ChunkSpec`]. Operands with
//! different chunks are cut at every boundary of either.
//!
//! **Built on the public API only**: compute builds a [`delayed`](crate::delayed)
//! graph and submits it in one batch; the scheduler never learns what an
//! array is. Chunks from an ndarray at the client travel with their task
//! through the task API's large-argument path (client to worker, never
//! through the scheduler).
//!
//! Elements are `f64` for now; the chunk codec and the plan evaluator are
//! the places another element type would be added.

mod block;
mod chunks;
mod eval;
mod expr;
mod lower;
pub mod random;
mod reduce;

pub use chunks::ChunkSpec;
pub use reduce::Reduction;

use crate::delayed::{self, delayed};
use crate::ndarray::{Array, ArrayD, Dimension, IxDyn};
use crate::{Client, Error, Result};
use block::Block;
use eval::Unary;
use expr::Expr;
use lower::Lowering;
use std::fmt;
use std::sync::Arc;

/// How many partial results one node of a reduction tree combines, unless
/// [`DArray::reduce`] is told otherwise (dask's `split_every`).
pub const SPLIT_EVERY: usize = 8;

/// A lazy chunked n-dimensional array of `f64`. Cheap to clone (the
/// expression is shared).
#[derive(Clone)]
pub struct DArray {
    shape: Vec<usize>,
    chunks: Vec<Vec<usize>>,
    expr: Arc<Expr>,
}

/// A lazy full reduction of a [`DArray`] (such as [`DArray::sum`]): one
/// number once computed.
#[derive(Clone)]
pub struct DScalar(DArray);

/// An array of `array`'s values cut into `chunks`; each chunk travels to a
/// worker with the task that first uses it (dask's `da.from_array`).
pub fn from_array<D: Dimension>(
    array: Array<f64, D>,
    chunks: impl Into<ChunkSpec>,
) -> Result<DArray> {
    let array = array.into_dyn();
    let shape = array.shape().to_vec();
    DArray::leaf(&shape, chunks.into(), Expr::Local(Arc::new(array)))
}

/// `value` everywhere.
pub fn full(shape: &[usize], value: f64, chunks: impl Into<ChunkSpec>) -> Result<DArray> {
    DArray::leaf(shape, chunks.into(), Expr::Fill(value))
}

/// Zeros.
pub fn zeros(shape: &[usize], chunks: impl Into<ChunkSpec>) -> Result<DArray> {
    full(shape, 0.0, chunks)
}

/// Ones.
pub fn ones(shape: &[usize], chunks: impl Into<ChunkSpec>) -> Result<DArray> {
    full(shape, 1.0, chunks)
}

/// `start, start + step, ...` up to but not including `stop` (NumPy's
/// `arange`); an error if `step` is zero or not finite.
pub fn arange(start: f64, stop: f64, step: f64, chunks: impl Into<ChunkSpec>) -> Result<DArray> {
    if step == 0.0 || !step.is_finite() || !start.is_finite() || !stop.is_finite() {
        return Err(Error::invalid(format!(
            "arange({start}, {stop}, {step}): the bounds must be finite and the step finite \
             and not zero"
        )));
    }
    let len = ((stop - start) / step).ceil().max(0.0) as usize;
    let expr = Expr::Ramp {
        start,
        step,
        last: None,
    };
    DArray::leaf(&[len], chunks.into(), expr)
}

/// `num` evenly spaced values from `start` to `stop`, both included
/// (NumPy's `linspace`).
pub fn linspace(start: f64, stop: f64, num: usize, chunks: impl Into<ChunkSpec>) -> Result<DArray> {
    let step = if num > 1 {
        (stop - start) / (num - 1) as f64
    } else {
        0.0
    };
    let last = (num > 1).then(|| (num - 1, stop));
    DArray::leaf(&[num], chunks.into(), Expr::Ramp { start, step, last })
}

impl DArray {
    fn new(shape: Vec<usize>, chunks: Vec<Vec<usize>>, expr: Expr) -> Self {
        DArray {
            shape,
            chunks,
            expr: Arc::new(expr),
        }
    }

    fn leaf(shape: &[usize], chunks: ChunkSpec, expr: Expr) -> Result<Self> {
        let chunks = chunks.resolve(shape)?;
        Ok(DArray::new(shape.to_vec(), chunks, expr))
    }

    /// The length of each axis.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of axes.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// The chunk lengths along each axis.
    pub fn chunks(&self) -> &[Vec<usize>] {
        &self.chunks
    }

    /// The largest chunk length along each axis (dask's `chunksize`).
    pub fn chunk_size(&self) -> Vec<usize> {
        self.chunks
            .iter()
            .map(|c| c.iter().copied().max().unwrap_or(0))
            .collect()
    }

    /// The number of chunks.
    pub fn num_chunks(&self) -> usize {
        self.chunks.iter().map(Vec::len).product()
    }

    /// The element type's name.
    pub fn dtype(&self) -> &'static str {
        "f64"
    }

    /// The size of the values in bytes.
    pub fn nbytes(&self) -> u64 {
        self.shape.iter().product::<usize>() as u64 * 8
    }

    /// The number of tasks computing this array runs (chunks already
    /// persisted count, though they do not run again).
    pub fn tasks(&self) -> usize {
        let blocks = Lowering::default().blocks(self);
        delayed(count, blocks).len() - 1
    }

    fn unary(&self, op: Unary) -> DArray {
        expr::unary(op, self)
    }

    /// Sine, elementwise.
    pub fn sin(&self) -> DArray {
        self.unary(Unary::Sin)
    }

    /// Cosine, elementwise.
    pub fn cos(&self) -> DArray {
        self.unary(Unary::Cos)
    }

    /// `e` to the power of each element.
    pub fn exp(&self) -> DArray {
        self.unary(Unary::Exp)
    }

    /// Natural logarithm, elementwise.
    pub fn ln(&self) -> DArray {
        self.unary(Unary::Ln)
    }

    /// Square root, elementwise.
    pub fn sqrt(&self) -> DArray {
        self.unary(Unary::Sqrt)
    }

    /// Absolute value, elementwise.
    pub fn abs(&self) -> DArray {
        self.unary(Unary::Abs)
    }

    /// Each element to the integer power `n`.
    pub fn powi(&self, n: i32) -> DArray {
        self.unary(Unary::Powi(n))
    }

    /// The axes reversed (NumPy's `x.T`): the transpose of a matrix.
    pub fn t(&self) -> DArray {
        let perm: Vec<usize> = (0..self.ndim()).rev().collect();
        self.transpose(&perm).expect("a reversal is a permutation")
    }

    /// Axis `i` of the result is axis `axes[i]` of this array; an error
    /// unless `axes` is a permutation of the axes.
    pub fn transpose(&self, axes: &[usize]) -> Result<DArray> {
        let mut sorted = axes.to_vec();
        sorted.sort_unstable();
        if sorted != (0..self.ndim()).collect::<Vec<_>>() {
            return Err(Error::invalid(format!(
                "transpose axes {axes:?} are not a permutation of the {} axes of shape {:?}",
                self.ndim(),
                self.shape
            )));
        }
        let shape = axes.iter().map(|&a| self.shape[a]).collect();
        let chunks = axes.iter().map(|&a| self.chunks[a].clone()).collect();
        Ok(DArray::new(
            shape,
            chunks,
            Expr::Transpose(axes.to_vec(), self.clone()),
        ))
    }

    /// `op` over every axis (`axis: None`) or one, combining partial
    /// results `split_every` at a time. The result has the reduced axis
    /// removed (no axes for a full reduction) and can be used in further
    /// expressions, where it broadcasts as in NumPy.
    pub fn reduce(&self, op: Reduction, axis: Option<usize>, split_every: usize) -> Result<DArray> {
        let axes: Vec<usize> = match axis {
            None => (0..self.ndim()).collect(),
            Some(a) if a < self.ndim() => vec![a],
            Some(a) => {
                return Err(Error::invalid(format!(
                    "axis {a} is out of range for shape {:?}",
                    self.shape
                )))
            }
        };
        if split_every < 2 {
            return Err(Error::invalid(format!(
                "split_every must be at least 2, not {split_every}"
            )));
        }
        let kept = (0..self.ndim()).filter(|i| !axes.contains(i));
        let shape = kept.clone().map(|i| self.shape[i]).collect();
        let chunks = kept.map(|i| self.chunks[i].clone()).collect();
        Ok(DArray::new(
            shape,
            chunks,
            Expr::Reduce {
                op,
                axes,
                split_every,
                array: self.clone(),
            },
        ))
    }

    fn full_reduction(&self, op: Reduction) -> DScalar {
        DScalar(
            self.reduce(op, None, SPLIT_EVERY)
                .expect("a full reduction has valid axes"),
        )
    }

    /// The sum of every element.
    pub fn sum(&self) -> DScalar {
        self.full_reduction(Reduction::Sum)
    }

    /// The mean of every element.
    pub fn mean(&self) -> DScalar {
        self.full_reduction(Reduction::Mean)
    }

    /// The smallest element.
    pub fn min(&self) -> DScalar {
        self.full_reduction(Reduction::Min)
    }

    /// The largest element.
    pub fn max(&self) -> DScalar {
        self.full_reduction(Reduction::Max)
    }

    /// The variance of every element, divided by `n - ddof`.
    pub fn var(&self, ddof: f64) -> DScalar {
        self.full_reduction(Reduction::Var { ddof })
    }

    /// The standard deviation of every element.
    pub fn std(&self, ddof: f64) -> DScalar {
        self.full_reduction(Reduction::Std { ddof })
    }

    /// Sums along `axis` (removed from the shape).
    pub fn sum_axis(&self, axis: usize) -> Result<DArray> {
        self.reduce(Reduction::Sum, Some(axis), SPLIT_EVERY)
    }

    /// Means along `axis` (NumPy's `x.mean(axis=0)`).
    pub fn mean_axis(&self, axis: usize) -> Result<DArray> {
        self.reduce(Reduction::Mean, Some(axis), SPLIT_EVERY)
    }

    /// Minima along `axis`.
    pub fn min_axis(&self, axis: usize) -> Result<DArray> {
        self.reduce(Reduction::Min, Some(axis), SPLIT_EVERY)
    }

    /// Maxima along `axis`.
    pub fn max_axis(&self, axis: usize) -> Result<DArray> {
        self.reduce(Reduction::Max, Some(axis), SPLIT_EVERY)
    }

    /// Variances along `axis`, divided by `n - ddof`.
    pub fn var_axis(&self, axis: usize, ddof: f64) -> Result<DArray> {
        self.reduce(Reduction::Var { ddof }, Some(axis), SPLIT_EVERY)
    }

    /// Standard deviations along `axis`.
    pub fn std_axis(&self, axis: usize, ddof: f64) -> Result<DArray> {
        self.reduce(Reduction::Std { ddof }, Some(axis), SPLIT_EVERY)
    }

    /// Runs the graph on `client` and gathers the values at the client.
    pub fn compute(&self, client: &Client) -> Result<ArrayD<f64>> {
        let blocks = Lowering::default().blocks(self);
        let results = delayed::compute(client, &blocks)?;
        let mut out = ArrayD::zeros(IxDyn(&self.shape));
        for ((_, start, shape), block) in chunks::grid(&self.chunks).into_iter().zip(results) {
            out.slice_mut(eval::region(&start, &shape).as_slice())
                .assign(&block.finish());
        }
        Ok(out)
    }

    /// Submits the graph to `client` and returns at once an array of the
    /// same values whose chunks stay on the workers while it (or an array
    /// made from it) lives; expressions over it start from those chunks.
    pub fn persist(&self, client: &Client) -> Result<DArray> {
        let blocks = Lowering::default()
            .blocks(self)
            .iter()
            .map(|b| b.submit(client).map(delayed::from_future))
            .collect::<Result<Vec<_>>>()?;
        Ok(DArray::new(
            self.shape.clone(),
            self.chunks.clone(),
            Expr::Stored(blocks),
        ))
    }
}

/// The root that lets [`DArray::tasks`] count a graph with several outputs.
fn count(blocks: Vec<Block>) -> usize {
    blocks.len()
}

impl DScalar {
    /// Runs the graph on `client` and returns the number.
    pub fn compute(&self, client: &Client) -> Result<f64> {
        let value = self.0.compute(client)?;
        Ok(value[IxDyn(&[])])
    }

    /// The number of tasks computing this runs.
    pub fn tasks(&self) -> usize {
        self.0.tasks()
    }

    /// The result as a 0-dimensional array, to use in further expressions
    /// (it broadcasts against any shape).
    pub fn as_array(&self) -> &DArray {
        &self.0
    }
}

/// `1.50 GiB`, `762.94 MiB`, `800 B`.
fn human_bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.2} {}", units[unit])
    }
}

/// `(10000, 10000)`, `(5,)`, `()`.
fn tuple(v: &[usize]) -> String {
    match v {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            v.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// As dask's repr: shape, chunk shape, dtype, bytes, chunks and tasks.
impl fmt::Display for DArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chunk = self.chunk_size();
        let chunk_bytes = chunk.iter().product::<usize>() as u64 * 8;
        write!(
            f,
            "DArray<{}> shape={} chunksize={} bytes={} ({} per chunk) chunks={} tasks={}",
            self.dtype(),
            tuple(&self.shape),
            tuple(&chunk),
            human_bytes(self.nbytes()),
            human_bytes(chunk_bytes),
            self.num_chunks(),
            self.tasks()
        )
    }
}

impl fmt::Debug for DArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for DScalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DScalar<f64> tasks={}", self.tasks())
    }
}
