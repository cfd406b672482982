//! The lazy expression an array stands for ([`Raw`], untyped: the element
//! type is a tag), and the typed elementwise operators that build it (NumPy
//! broadcasting, checked when the expression is built).

use super::block::Block;
use super::chunks::refine;
use super::dtype::{Arith, DType, Element, Num, Numeric, Values};
use super::eval::{BinOp, Unary};
use super::random::Dist;
use super::reduce::Reduction;
use super::DArray;
use crate::delayed::Delayed;
use crate::{Error, Result};
use std::ops::{Add, Div, Mul, Neg, Sub};
use std::sync::Arc;

/// An array expression of any element type: what [`DArray`] wraps.
#[derive(Clone)]
#[doc(hidden)]
pub struct Raw {
    pub(crate) shape: Vec<usize>,
    pub(crate) chunks: Vec<Vec<usize>>,
    pub(crate) dtype: DType,
    pub(crate) expr: Arc<Expr>,
}

/// What an array's values are, before anything runs.
pub(crate) enum Expr {
    /// An ndarray at the client; each chunk travels with the task that uses it.
    Local(Arc<Values>),
    /// Chunks already submitted (by `persist`), as graph nodes holding
    /// their futures: the results stay on the workers while these live.
    Stored(Vec<Delayed<Block>>),
    /// One value everywhere.
    Fill(Num),
    /// `start + step * i` (1-D, `f64`), element `last.0` exactly `last.1`.
    Ramp {
        start: f64,
        step: f64,
        last: Option<(usize, f64)>,
    },
    /// Random `f64` values from (seed, chunk number).
    Random {
        dist: Dist,
        seed: u64,
    },
    Unary(Unary, Raw),
    Binary(BinOp, Raw, Raw),
    /// Where the first is true the second's value, else the third's.
    Where(Raw, Raw, Raw),
    /// Axis `i` of the result is axis `perm[i]` of the array.
    Transpose(Vec<usize>, Raw),
    /// The array's values as this expression's element type.
    Cast(Raw),
    /// The array's values in this expression's chunks.
    Rechunk(Raw),
    /// Every `step`th element from `start` along each axis.
    Slice {
        start: Vec<usize>,
        step: Vec<usize>,
        array: Raw,
    },
    /// A reduction over `axes` (ascending), combined `split_every` at a time.
    Reduce {
        op: Reduction,
        axes: Vec<usize>,
        split_every: usize,
        array: Raw,
    },
}

impl Raw {
    pub(crate) fn new(
        shape: Vec<usize>,
        chunks: Vec<Vec<usize>>,
        dtype: DType,
        expr: Expr,
    ) -> Self {
        Raw {
            shape,
            chunks,
            dtype,
            expr: Arc::new(expr),
        }
    }

    /// A 0-dimensional constant, which broadcasts against any shape.
    pub(crate) fn scalar<T: Element>(value: T) -> Raw {
        Raw::new(Vec::new(), Vec::new(), T::DTYPE, Expr::Fill(value.to_num()))
    }

    pub(crate) fn num_chunks(&self) -> usize {
        self.chunks.iter().map(Vec::len).product()
    }

    /// The same expression as `dtype` (no conversion: a typed front end
    /// for an untyped result).
    pub(crate) fn cast(&self, dtype: DType) -> Raw {
        if self.dtype == dtype {
            return self.clone();
        }
        Raw::new(
            self.shape.clone(),
            self.chunks.clone(),
            dtype,
            Expr::Cast(self.clone()),
        )
    }
}

/// The length of axis `i` of an `n`-axis broadcast, for an array whose
/// axes line up with the last ones, and its chunks.
fn axis(a: &Raw, n: usize, i: usize) -> (usize, Vec<usize>) {
    match (i + a.shape.len()).checked_sub(n) {
        Some(j) => (a.shape[j], a.chunks[j].clone()),
        None => (1, vec![1]),
    }
}

/// The shape and chunks `operands` broadcast to (NumPy's rules); chunks
/// are cut where any operand's are, so each result chunk lies inside one
/// chunk of each operand.
pub(crate) fn broadcast(operands: &[&Raw], what: &str) -> Result<(Vec<usize>, Vec<Vec<usize>>)> {
    let n = operands.iter().map(|a| a.shape.len()).max().unwrap_or(0);
    let mut shape = Vec::with_capacity(n);
    let mut chunks = Vec::with_capacity(n);
    for i in 0..n {
        let mut len = 1;
        let mut cut: Vec<usize> = vec![1];
        for a in operands {
            let (la, ca) = axis(a, n, i);
            if la == len {
                cut = refine(&cut, &ca);
            } else if len == 1 {
                (len, cut) = (la, ca);
            } else if la != 1 {
                let shapes: Vec<String> =
                    operands.iter().map(|a| format!("{:?}", a.shape)).collect();
                return Err(Error::invalid(format!(
                    "shapes {} do not broadcast for `{what}` (axis {i} of the result: {len} \
                     against {la})",
                    shapes.join(" and ")
                )));
            }
        }
        shape.push(len);
        chunks.push(cut);
    }
    Ok((shape, chunks))
}

/// `a op b` with NumPy broadcasting, the result of element type `dtype`.
pub(crate) fn binary(op: BinOp, a: &Raw, b: &Raw, dtype: DType) -> Result<Raw> {
    let (shape, chunks) = broadcast(&[a, b], op.symbol())?;
    Ok(Raw::new(
        shape,
        chunks,
        dtype,
        Expr::Binary(op, a.clone(), b.clone()),
    ))
}

pub(crate) fn unary(op: Unary, a: &Raw) -> Raw {
    Raw::new(
        a.shape.clone(),
        a.chunks.clone(),
        a.dtype,
        Expr::Unary(op, a.clone()),
    )
}

/// An operand of an elementwise operation with a `DArray<T>`: another
/// `DArray<T>` (owned or borrowed) or a `T` (which broadcasts).
pub trait Operand<T: Element> {
    #[doc(hidden)]
    fn raw(&self) -> Raw;
}

impl<T: Element> Operand<T> for T {
    fn raw(&self) -> Raw {
        Raw::scalar(*self)
    }
}

impl<T: Element> Operand<T> for DArray<T> {
    fn raw(&self) -> Raw {
        self.raw.clone()
    }
}

impl<T: Element> Operand<T> for &DArray<T> {
    fn raw(&self) -> Raw {
        self.raw.clone()
    }
}

/// `try_add` and friends, and the operators, which panic with the same
/// message where shapes do not broadcast (as ndarray's do).
macro_rules! operators {
    ($Trait:ident $method:ident $try:ident $op:ident) => {
        impl<T: Numeric> DArray<T> {
            #[doc = concat!("`self ", stringify!($method), " other` elementwise with NumPy broadcasting; ")]
            #[doc = "an error naming both shapes if they do not broadcast."]
            pub fn $try(&self, other: &DArray<T>) -> Result<DArray<T>> {
                binary(BinOp::Arith(Arith::$op), &self.raw, &other.raw, T::DTYPE).map(DArray::wrap)
            }
        }
        impl<T: Numeric> $Trait<&DArray<T>> for &DArray<T> {
            type Output = DArray<T>;
            fn $method(self, other: &DArray<T>) -> DArray<T> {
                self.$try(other).unwrap_or_else(|e| panic!("{}", e.message()))
            }
        }
        impl<T: Numeric> $Trait<DArray<T>> for DArray<T> {
            type Output = DArray<T>;
            fn $method(self, other: DArray<T>) -> DArray<T> {
                (&self).$method(&other)
            }
        }
        impl<T: Numeric> $Trait<&DArray<T>> for DArray<T> {
            type Output = DArray<T>;
            fn $method(self, other: &DArray<T>) -> DArray<T> {
                (&self).$method(other)
            }
        }
        impl<T: Numeric> $Trait<DArray<T>> for &DArray<T> {
            type Output = DArray<T>;
            fn $method(self, other: DArray<T>) -> DArray<T> {
                self.$method(&other)
            }
        }
        impl<T: Numeric> $Trait<T> for &DArray<T> {
            type Output = DArray<T>;
            fn $method(self, value: T) -> DArray<T> {
                let op = BinOp::Arith(Arith::$op);
                DArray::wrap(binary(op, &self.raw, &Raw::scalar(value), T::DTYPE).expect("a scalar broadcasts"))
            }
        }
        impl<T: Numeric> $Trait<T> for DArray<T> {
            type Output = DArray<T>;
            fn $method(self, value: T) -> DArray<T> {
                (&self).$method(value)
            }
        }
        scalar_left!($Trait $method $op f64 f32 i64 i32 u8);
    };
}

/// `value op array` for each element type (a foreign type on the left
/// needs one impl per type).
macro_rules! scalar_left {
    ($Trait:ident $method:ident $op:ident $($t:ty)*) => {$(
        impl $Trait<&DArray<$t>> for $t {
            type Output = DArray<$t>;
            fn $method(self, array: &DArray<$t>) -> DArray<$t> {
                let op = BinOp::Arith(Arith::$op);
                DArray::wrap(binary(op, &Raw::scalar(self), &array.raw, <$t>::DTYPE).expect("a scalar broadcasts"))
            }
        }
        impl $Trait<DArray<$t>> for $t {
            type Output = DArray<$t>;
            fn $method(self, array: DArray<$t>) -> DArray<$t> {
                self.$method(&array)
            }
        }
    )*};
}

operators!(Add add try_add Add);
operators!(Sub sub try_sub Sub);
operators!(Mul mul try_mul Mul);
operators!(Div div try_div Div);

impl<T: Numeric> Neg for &DArray<T> {
    type Output = DArray<T>;
    fn neg(self) -> DArray<T> {
        DArray::wrap(unary(Unary::Neg, &self.raw))
    }
}

impl<T: Numeric> Neg for DArray<T> {
    type Output = DArray<T>;
    fn neg(self) -> DArray<T> {
        -&self
    }
}

/// The chunks of a slice: the elements `start, start + step, ...` (`len`
/// of them) of an axis chunked `chunks`, grouped by the chunk they are in.
pub(crate) fn slice_chunks(chunks: &[usize], start: usize, step: usize, len: usize) -> Vec<usize> {
    let offs = super::chunks::offsets(chunks);
    let mut out: Vec<usize> = Vec::new();
    let mut chunk = 0;
    for j in 0..len {
        let at = start + j * step;
        let before = chunk;
        while offs[chunk + 1] <= at {
            chunk += 1;
        }
        if out.is_empty() || chunk != before {
            out.push(0);
        }
        *out.last_mut().expect("pushed") += 1;
    }
    out
}
