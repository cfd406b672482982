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
//! **Element types.** `DArray<T>` for `T` in `f64` (the default: `DArray`
//! is `DArray<f64>`), `f32`, `i64`, `i32`, `u8` and `bool` ([`Element`]).
//! The operations a type lacks are compile errors: `sin` needs a [`Float`],
//! `+` a [`Numeric`]. Comparisons give `DArray<bool>`, [`astype`](DArray::astype)
//! converts as Rust's `as` does (non-zero is `true`). Integer arithmetic
//! wraps and integer division truncates (a division by zero gives 0, as
//! NumPy's does); sums and products of integers are `i64`, means, variances
//! and standard deviations `f64`, as in NumPy.

mod batch;
mod block;
mod chunks;
mod dtype;
mod eval;
mod expr;
pub mod fastmath;
mod lower;
mod map;
mod memory;
pub mod random;
mod reduce;
mod rows;
mod tile;

pub use chunks::{ChunkSpec, AUTO_CHUNK_BYTES};
pub use dtype::{DType, Element, Float, Numeric};
pub use expr::Operand;
pub use map::{from_fn, BlockInfo};
pub use reduce::Reduction;
pub use rows::from_worker_rows;

use crate::delayed::{self, delayed};
use crate::ndarray::{Array, ArrayD, Dimension, SliceInfoElem};
use crate::{Client, Error, Result};
use block::Block;
use dtype::Arith;
use eval::{BinOp, Cmp, Unary};
pub(crate) use expr::Raw;
use expr::{binary, broadcast, unary, Expr};
pub(crate) use lower::Lowering;
pub(crate) use memory::{note_workers, OpenLimit};
use std::fmt;
use std::marker::PhantomData;

/// How many partial results one node of a reduction tree combines, unless
/// [`DArray::reduce`] is told otherwise (dask's `split_every`).
pub const SPLIT_EVERY: usize = 8;

/// A lazy chunked n-dimensional array of `T` (`f64` unless said). Cheap to
/// clone (the expression is shared).
pub struct DArray<T: Element = f64> {
    raw: Raw,
    _type: PhantomData<fn() -> T>,
}

impl<T: Element> Clone for DArray<T> {
    fn clone(&self) -> Self {
        DArray::wrap(self.raw.clone())
    }
}

/// A lazy full reduction of a [`DArray`] (such as [`DArray::sum`]): one
/// value once computed.
pub struct DScalar<T: Element = f64>(DArray<T>);

impl<T: Element> Clone for DScalar<T> {
    fn clone(&self) -> Self {
        DScalar(self.0.clone())
    }
}

/// An array of `array`'s values cut into `chunks`; each chunk travels to a
/// worker with the task that first uses it (dask's `da.from_array`).
pub fn from_array<T: Element, D: Dimension>(
    array: Array<T, D>,
    chunks: impl Into<ChunkSpec>,
) -> Result<DArray<T>> {
    let array = array.into_dyn();
    let shape = array.shape().to_vec();
    DArray::leaf(
        &shape,
        chunks.into(),
        Expr::Local(std::sync::Arc::new(T::wrap(array))),
    )
}

/// `value` everywhere; the array's element type is `value`'s
/// (`full(&[3, 3], 7_i32, [2, 2])` is a `DArray<i32>`).
pub fn full<T: Element>(
    shape: &[usize],
    value: T,
    chunks: impl Into<ChunkSpec>,
) -> Result<DArray<T>> {
    DArray::leaf(shape, chunks.into(), Expr::Fill(value.to_num()))
}

/// Zeros (`f64`; `full(shape, 0_i32, chunks)` for another type).
pub fn zeros(shape: &[usize], chunks: impl Into<ChunkSpec>) -> Result<DArray> {
    full(shape, 0.0, chunks)
}

/// Ones (`f64`).
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

/// `a` where `cond` is true, `b` elsewhere (NumPy's `where`), with
/// broadcasting; `a` and `b` are arrays or values. An error naming the
/// shapes if they do not broadcast.
pub fn where_<T: Element>(
    cond: &DArray<bool>,
    a: impl Operand<T>,
    b: impl Operand<T>,
) -> Result<DArray<T>> {
    let (a, b) = (a.raw(), b.raw());
    let (shape, chunks) = broadcast(&[&cond.raw, &a, &b], "where_")?;
    Ok(DArray::wrap(Raw::new(
        shape,
        chunks,
        T::DTYPE,
        Expr::Where(cond.raw.clone(), a, b),
    )))
}

impl<T: Element> DArray<T> {
    fn wrap(raw: Raw) -> Self {
        debug_assert_eq!(raw.dtype, T::DTYPE);
        DArray {
            raw,
            _type: PhantomData,
        }
    }

    fn leaf(shape: &[usize], chunks: ChunkSpec, expr: Expr) -> Result<Self> {
        let chunks = chunks.resolve_sized(shape, T::DTYPE.size())?;
        memory::check_new(&chunks, T::DTYPE)?;
        Ok(DArray::wrap(Raw::new(
            shape.to_vec(),
            chunks,
            T::DTYPE,
            expr,
        )))
    }

    /// The length of each axis.
    pub fn shape(&self) -> &[usize] {
        &self.raw.shape
    }

    /// The number of axes.
    pub fn ndim(&self) -> usize {
        self.raw.shape.len()
    }

    /// The chunk lengths along each axis.
    pub fn chunks(&self) -> &[Vec<usize>] {
        &self.raw.chunks
    }

    /// The largest chunk length along each axis (dask's `chunksize`).
    pub fn chunk_size(&self) -> Vec<usize> {
        self.raw
            .chunks
            .iter()
            .map(|c| c.iter().copied().max().unwrap_or(0))
            .collect()
    }

    /// The number of chunks.
    pub fn num_chunks(&self) -> usize {
        self.raw.num_chunks()
    }

    /// The element type's name (`"f64"`).
    pub fn dtype(&self) -> &'static str {
        T::DTYPE.name()
    }

    /// The size of the values in bytes.
    pub fn nbytes(&self) -> u64 {
        self.raw.shape.iter().product::<usize>() as u64 * T::DTYPE.size() as u64
    }

    /// The number of tasks computing this array runs (chunks already
    /// persisted count, though they do not run again).
    pub fn tasks(&self) -> usize {
        let blocks = Lowering::default().blocks(&self.raw);
        delayed(count, blocks).len() - 1
    }

    /// The values converted to `U` as Rust's `as` does (`f64` to `i32`
    /// truncates and saturates; non-zero is `true`, `true` is 1).
    pub fn astype<U: Element>(&self) -> DArray<U> {
        DArray::wrap(self.raw.cast(U::DTYPE))
    }

    fn compare(&self, op: Cmp, other: impl Operand<T>) -> DArray<bool> {
        let r = binary(BinOp::Cmp(op), &self.raw, &other.raw(), DType::Bool);
        DArray::wrap(r.unwrap_or_else(|e| panic!("{}", e.message())))
    }

    /// `self > other` elementwise (`other` an array or a value), with
    /// broadcasting; panics naming the shapes if they do not broadcast, as
    /// the arithmetic operators do.
    pub fn gt(&self, other: impl Operand<T>) -> DArray<bool> {
        self.compare(Cmp::Gt, other)
    }

    /// `self < other` elementwise, as [`gt`](DArray::gt).
    pub fn lt(&self, other: impl Operand<T>) -> DArray<bool> {
        self.compare(Cmp::Lt, other)
    }

    /// `self >= other` elementwise, as [`gt`](DArray::gt).
    pub fn ge(&self, other: impl Operand<T>) -> DArray<bool> {
        self.compare(Cmp::Ge, other)
    }

    /// `self <= other` elementwise, as [`gt`](DArray::gt).
    pub fn le(&self, other: impl Operand<T>) -> DArray<bool> {
        self.compare(Cmp::Le, other)
    }

    /// `self == other` elementwise, as [`gt`](DArray::gt).
    pub fn eq(&self, other: impl Operand<T>) -> DArray<bool> {
        self.compare(Cmp::Eq, other)
    }

    /// `self != other` elementwise, as [`gt`](DArray::gt).
    pub fn ne(&self, other: impl Operand<T>) -> DArray<bool> {
        self.compare(Cmp::Ne, other)
    }

    /// The axes reversed (NumPy's `x.T`): the transpose of a matrix.
    pub fn t(&self) -> DArray<T> {
        let perm: Vec<usize> = (0..self.ndim()).rev().collect();
        self.transpose(&perm).expect("a reversal is a permutation")
    }

    /// Axis `i` of the result is axis `axes[i]` of this array; an error
    /// unless `axes` is a permutation of the axes.
    pub fn transpose(&self, axes: &[usize]) -> Result<DArray<T>> {
        let mut sorted = axes.to_vec();
        sorted.sort_unstable();
        if sorted != (0..self.ndim()).collect::<Vec<_>>() {
            return Err(Error::invalid(format!(
                "transpose axes {axes:?} are not a permutation of the {} axes of shape {:?}",
                self.ndim(),
                self.shape()
            )));
        }
        let shape = axes.iter().map(|&a| self.raw.shape[a]).collect();
        let chunks = axes.iter().map(|&a| self.raw.chunks[a].clone()).collect();
        Ok(DArray::wrap(Raw::new(
            shape,
            chunks,
            T::DTYPE,
            Expr::Transpose(axes.to_vec(), self.raw.clone()),
        )))
    }

    /// A lazy slice, with ndarray's `s![]` syntax: `x.slice(s![.., ..;100])`
    /// is NumPy's `x[:, ::100]`. Ranges and positive steps; negative
    /// bounds count from the end; axes not named are taken whole. An error
    /// naming the slice and the shape for bounds out of range, a step that
    /// is not positive, an index or a new axis (not supported yet). The
    /// result's chunks are the parts of this array's chunks it keeps.
    pub fn slice(&self, info: impl AsRef<[SliceInfoElem]>) -> Result<DArray<T>> {
        let elems = info.as_ref();
        let shape = self.shape();
        let bad = |why: &str| Error::invalid(format!("slice {elems:?} of shape {shape:?}: {why}"));
        if elems.len() > shape.len() {
            return Err(bad("more axes than the array has"));
        }
        let (mut start, mut step, mut len, mut chunks) = (vec![], vec![], vec![], vec![]);
        for (axis, &n) in shape.iter().enumerate() {
            let (from, to, by) = match elems.get(axis) {
                None => (0, Some(n as isize), 1),
                Some(SliceInfoElem::Slice { start, end, step }) => (*start, *end, *step),
                Some(_) => return Err(bad("only ranges are supported, not indices or new axes")),
            };
            if by <= 0 {
                return Err(bad(&format!("step {by} along axis {axis} is not positive")));
            }
            let resolve = |i: isize| if i < 0 { i + n as isize } else { i };
            let (from, to) = (resolve(from), to.map_or(n as isize, resolve));
            if from < 0 || to < from || to > n as isize {
                return Err(bad(&format!(
                    "bounds out of range along axis {axis} (length {n})"
                )));
            }
            let (from, to, by) = (from as usize, to as usize, by as usize);
            let count = (to - from).div_ceil(by);
            chunks.push(expr::slice_chunks(&self.raw.chunks[axis], from, by, count));
            start.push(from);
            step.push(by);
            len.push(count);
        }
        Ok(DArray::wrap(Raw::new(
            len,
            chunks,
            T::DTYPE,
            Expr::Slice {
                start,
                step,
                array: self.raw.clone(),
            },
        )))
    }

    /// The same values in other chunks (dask's `rechunk`). A new chunk
    /// inside one old chunk is computed with the expression (fused, no
    /// task of its own); one that spans several is put together in a task
    /// from the pieces, in a short chain of tasks where it reads many
    /// stored chunks. An error if the chunks do not fit the shape.
    pub fn rechunk(&self, chunks: impl Into<ChunkSpec>) -> Result<DArray<T>> {
        let chunks = chunks.into().resolve_sized(self.shape(), T::DTYPE.size())?;
        memory::check_new(&chunks, T::DTYPE)?;
        Ok(DArray::wrap(Raw::new(
            self.raw.shape.clone(),
            chunks,
            T::DTYPE,
            Expr::Rechunk(self.raw.clone()),
        )))
    }

    /// The result of `op` over every axis (`axis: None`) or one, as `U`.
    fn reduce_to<U: Element>(
        raw: &Raw,
        op: Reduction,
        axis: Option<usize>,
        split_every: usize,
    ) -> Result<DArray<U>> {
        let ndim = raw.shape.len();
        let axes: Vec<usize> = match axis {
            None => (0..ndim).collect(),
            Some(a) if a < ndim => vec![a],
            Some(a) => {
                return Err(Error::invalid(format!(
                    "axis {a} is out of range for shape {:?}",
                    raw.shape
                )))
            }
        };
        if split_every < 2 {
            return Err(Error::invalid(format!(
                "split_every must be at least 2, not {split_every}"
            )));
        }
        let kept = (0..ndim).filter(|i| !axes.contains(i));
        let shape = kept.clone().map(|i| raw.shape[i]).collect();
        let chunks = kept.map(|i| raw.chunks[i].clone()).collect();
        Ok(DArray::wrap(Raw::new(
            shape,
            chunks,
            U::DTYPE,
            Expr::Reduce {
                op,
                axes,
                split_every,
                array: raw.clone(),
            },
        )))
    }

    fn full_reduce<U: Element>(raw: &Raw, op: Reduction) -> DScalar<U> {
        DScalar(Self::reduce_to(raw, op, None, SPLIT_EVERY).expect("a full reduction is valid"))
    }

    /// The smallest element (NaN skipped).
    pub fn min(&self) -> DScalar<T> {
        Self::full_reduce(&self.raw, Reduction::Min)
    }

    /// The largest element (NaN skipped).
    pub fn max(&self) -> DScalar<T> {
        Self::full_reduce(&self.raw, Reduction::Max)
    }

    /// Minima along `axis`.
    pub fn min_axis(&self, axis: usize) -> Result<DArray<T>> {
        Self::reduce_to(&self.raw, Reduction::Min, Some(axis), SPLIT_EVERY)
    }

    /// Maxima along `axis`.
    pub fn max_axis(&self, axis: usize) -> Result<DArray<T>> {
        Self::reduce_to(&self.raw, Reduction::Max, Some(axis), SPLIT_EVERY)
    }

    /// The row-major flat index of the smallest element (the first NaN if
    /// any, the first of equal ones), as NumPy's `argmin()`.
    pub fn argmin(&self) -> DScalar<i64> {
        Self::full_reduce(&self.raw, Reduction::ArgMin)
    }

    /// The flat index of the largest element, as [`argmin`](DArray::argmin).
    pub fn argmax(&self) -> DScalar<i64> {
        Self::full_reduce(&self.raw, Reduction::ArgMax)
    }

    /// The index along `axis` of the smallest element of each lane.
    pub fn argmin_axis(&self, axis: usize) -> Result<DArray<i64>> {
        Self::reduce_to(&self.raw, Reduction::ArgMin, Some(axis), SPLIT_EVERY)
    }

    /// The index along `axis` of the largest element of each lane.
    pub fn argmax_axis(&self, axis: usize) -> Result<DArray<i64>> {
        Self::reduce_to(&self.raw, Reduction::ArgMax, Some(axis), SPLIT_EVERY)
    }

    /// Whether any element is true (non-zero).
    pub fn any(&self) -> DScalar<bool> {
        DArray::<bool>::full_reduce(&self.raw.cast(DType::Bool), Reduction::Any)
    }

    /// Whether every element is true (non-zero).
    pub fn all(&self) -> DScalar<bool> {
        DArray::<bool>::full_reduce(&self.raw.cast(DType::Bool), Reduction::All)
    }

    /// Whether any element along `axis` is true (non-zero).
    pub fn any_axis(&self, axis: usize) -> Result<DArray<bool>> {
        let raw = self.raw.cast(DType::Bool);
        Self::reduce_to(&raw, Reduction::Any, Some(axis), SPLIT_EVERY)
    }

    /// Whether every element along `axis` is true (non-zero).
    pub fn all_axis(&self, axis: usize) -> Result<DArray<bool>> {
        let raw = self.raw.cast(DType::Bool);
        Self::reduce_to(&raw, Reduction::All, Some(axis), SPLIT_EVERY)
    }

    /// Runs the graph on `client` and gathers the values at the client.
    /// The graph goes in one submission; each chunk is copied into the
    /// result as it is fetched and dropped then (and released on its
    /// worker), so the client holds the result and one chunk, not every
    /// chunk as well. [`rankflow::compute`](crate::compute()) computes
    /// several arrays (and other collections) at once. An error naming the
    /// chunk's shape, bytes and the limit, before anything is submitted, if
    /// a chunk of the graph is larger than a worker's memory limit.
    pub fn compute(&self, client: &Client) -> Result<ArrayD<T>> {
        crate::compute(client, self)
    }

    /// Writes the task graph computing this array as Graphviz DOT to
    /// `path` with the extension `.dot`, and as SVG beside it when the
    /// `dot` program is installed (see [`delayed::Visualization`]): one box
    /// per task, so a fused chain shows as one box per chunk.
    pub fn visualize(&self, path: impl AsRef<std::path::Path>) -> Result<delayed::Visualization> {
        let blocks = Lowering::default().blocks(&self.raw);
        delayed::visualize_all(&blocks, path.as_ref())
    }

    /// Submits the graph to `client` and returns at once an array of the
    /// same values whose chunks stay on the workers while it (or an array
    /// made from it) lives; expressions over it start from those chunks.
    pub fn persist(&self, client: &Client) -> Result<DArray<T>> {
        memory::check_graph([&self.raw], client.workers())?;
        let blocks = Lowering::default()
            .blocks(&self.raw)
            .iter()
            .map(|b| b.submit(client).map(delayed::from_future))
            .collect::<Result<Vec<_>>>()?;
        Ok(DArray::wrap(Raw::new(
            self.raw.shape.clone(),
            self.raw.chunks.clone(),
            T::DTYPE,
            Expr::Stored(blocks),
        )))
    }
}

impl<T: Numeric> DArray<T> {
    /// The sum of every element (integers summed in `i64`, wrapping).
    pub fn sum(&self) -> DScalar<T::Acc> {
        DArray::<T::Acc>::full_reduce(&self.raw.cast(T::Acc::DTYPE), Reduction::Sum)
    }

    /// The product of every element (integers in `i64`, wrapping).
    pub fn prod(&self) -> DScalar<T::Acc> {
        DArray::<T::Acc>::full_reduce(&self.raw.cast(T::Acc::DTYPE), Reduction::Prod)
    }

    /// The mean of every element.
    pub fn mean(&self) -> DScalar<f64> {
        DArray::<f64>::full_reduce(&self.raw.cast(DType::F64), Reduction::Mean)
    }

    /// The variance of every element, divided by `n - ddof`.
    pub fn var(&self, ddof: f64) -> DScalar<f64> {
        DArray::<f64>::full_reduce(&self.raw.cast(DType::F64), Reduction::Var { ddof })
    }

    /// The standard deviation of every element.
    pub fn std(&self, ddof: f64) -> DScalar<f64> {
        DArray::<f64>::full_reduce(&self.raw.cast(DType::F64), Reduction::Std { ddof })
    }

    fn along<U: Element>(&self, op: Reduction, axis: usize) -> Result<DArray<U>> {
        Self::reduce_to(&self.raw.cast(U::DTYPE), op, Some(axis), SPLIT_EVERY)
    }

    /// Sums along `axis` (removed from the shape).
    pub fn sum_axis(&self, axis: usize) -> Result<DArray<T::Acc>> {
        self.along(Reduction::Sum, axis)
    }

    /// Products along `axis`.
    pub fn prod_axis(&self, axis: usize) -> Result<DArray<T::Acc>> {
        self.along(Reduction::Prod, axis)
    }

    /// Means along `axis` (NumPy's `x.mean(axis=0)`).
    pub fn mean_axis(&self, axis: usize) -> Result<DArray<f64>> {
        self.along(Reduction::Mean, axis)
    }

    /// Variances along `axis`, divided by `n - ddof`.
    pub fn var_axis(&self, axis: usize, ddof: f64) -> Result<DArray<f64>> {
        self.along(Reduction::Var { ddof }, axis)
    }

    /// Standard deviations along `axis`.
    pub fn std_axis(&self, axis: usize, ddof: f64) -> Result<DArray<f64>> {
        self.along(Reduction::Std { ddof }, axis)
    }

    /// Absolute value, elementwise (wrapping for the smallest integer).
    pub fn abs(&self) -> DArray<T> {
        DArray::wrap(unary(Unary::Abs, &self.raw))
    }
}

impl DArray<f64> {
    /// `op` over every axis (`axis: None`) or one, combining partial
    /// results `split_every` at a time. The result has the reduced axis
    /// removed (no axes for a full reduction) and can be used in further
    /// expressions, where it broadcasts as in NumPy. The reductions whose
    /// result is not `f64` (any, all, argmin, argmax) are an error here:
    /// their own methods give them.
    pub fn reduce(&self, op: Reduction, axis: Option<usize>, split_every: usize) -> Result<DArray> {
        if matches!(
            op,
            Reduction::Any | Reduction::All | Reduction::ArgMin | Reduction::ArgMax
        ) {
            return Err(Error::invalid(format!(
                "reduce({op:?}) does not give f64 values: use any/all/argmin/argmax (and their \
                 _axis forms)"
            )));
        }
        Self::reduce_to(&self.raw, op, axis, split_every)
    }
}

impl<T: Float> DArray<T> {
    fn unary(&self, op: Unary) -> DArray<T> {
        DArray::wrap(unary(op, &self.raw))
    }

    /// Sine, elementwise.
    pub fn sin(&self) -> DArray<T> {
        self.unary(Unary::Sin)
    }

    /// Cosine, elementwise.
    pub fn cos(&self) -> DArray<T> {
        self.unary(Unary::Cos)
    }

    /// Tangent, elementwise.
    pub fn tan(&self) -> DArray<T> {
        self.unary(Unary::Tan)
    }

    /// `e` to the power of each element.
    pub fn exp(&self) -> DArray<T> {
        self.unary(Unary::Exp)
    }

    /// Natural logarithm, elementwise.
    pub fn ln(&self) -> DArray<T> {
        self.unary(Unary::Ln)
    }

    /// Square root, elementwise.
    pub fn sqrt(&self) -> DArray<T> {
        self.unary(Unary::Sqrt)
    }

    /// Each element to the integer power `n`.
    pub fn powi(&self, n: i32) -> DArray<T> {
        self.unary(Unary::Powi(n))
    }

    /// Each element to the power `exponent` (an array, which broadcasts,
    /// or a value); panics naming the shapes if they do not broadcast.
    pub fn powf(&self, exponent: impl Operand<T>) -> DArray<T> {
        let r = binary(
            BinOp::Arith(Arith::Pow),
            &self.raw,
            &exponent.raw(),
            T::DTYPE,
        );
        DArray::wrap(r.unwrap_or_else(|e| panic!("{}", e.message())))
    }
}

/// The root that lets [`DArray::tasks`] count a graph with several outputs.
fn count(blocks: Vec<Block>) -> usize {
    blocks.len()
}

impl<T: Element> DScalar<T> {
    /// Runs the graph on `client` and returns the value.
    pub fn compute(&self, client: &Client) -> Result<T> {
        crate::compute(client, self)
    }

    /// The number of tasks computing this runs.
    pub fn tasks(&self) -> usize {
        self.0.tasks()
    }

    /// The result as a 0-dimensional array, to use in further expressions
    /// (it broadcasts against any shape).
    pub fn as_array(&self) -> &DArray<T> {
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
impl<T: Element> fmt::Display for DArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chunk = self.chunk_size();
        let chunk_bytes = chunk.iter().product::<usize>() as u64 * T::DTYPE.size() as u64;
        write!(
            f,
            "DArray<{}> shape={} chunksize={} bytes={} ({} per chunk) chunks={} tasks={}",
            self.dtype(),
            tuple(self.shape()),
            tuple(&chunk),
            human_bytes(self.nbytes()),
            human_bytes(chunk_bytes),
            self.num_chunks(),
            self.tasks()
        )
    }
}

impl<T: Element> fmt::Debug for DArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<T: Element> fmt::Display for DScalar<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DScalar<{}> tasks={}", T::DTYPE, self.tasks())
    }
}
