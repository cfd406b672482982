//! The lazy expression an array stands for, and the elementwise operators
//! that build it (NumPy broadcasting, checked when the expression is built).

use super::block::Block;
use super::chunks::refine;
use super::eval::{BinOp, Unary};
use super::random::Dist;
use super::reduce::Reduction;
use super::DArray;
use crate::delayed::Delayed;
use crate::ndarray::ArrayD;
use crate::{Error, Result};
use std::ops::{Add, Div, Mul, Neg, Sub};
use std::sync::Arc;

/// What an array's values are, before anything runs.
pub(crate) enum Expr {
    /// An ndarray at the client; each chunk travels with the task that uses it.
    Local(Arc<ArrayD<f64>>),
    /// Chunks already submitted (by `persist`), as graph nodes holding
    /// their futures: the results stay on the workers while these live.
    Stored(Vec<Delayed<Block>>),
    /// One value everywhere.
    Fill(f64),
    /// `start + step * i` (1-D), element `last.0` exactly `last.1`.
    Ramp {
        start: f64,
        step: f64,
        last: Option<(usize, f64)>,
    },
    /// Random values from (seed, chunk number).
    Random {
        dist: Dist,
        seed: u64,
    },
    Unary(Unary, DArray),
    /// `array op value`, or `value op array` when `left`.
    Scalar {
        op: BinOp,
        array: DArray,
        value: f64,
        left: bool,
    },
    Binary(BinOp, DArray, DArray),
    /// Axis `i` of the result is axis `perm[i]` of the array.
    Transpose(Vec<usize>, DArray),
    /// A reduction over `axes` (ascending), combined `split_every` at a time.
    Reduce {
        op: Reduction,
        axes: Vec<usize>,
        split_every: usize,
        array: DArray,
    },
}

/// The length of axis `i` of an `n`-axis broadcast, for an array whose
/// axes line up with the last ones, and its chunks.
fn axis(a: &DArray, n: usize, i: usize) -> (usize, Vec<usize>) {
    match (i + a.shape.len()).checked_sub(n) {
        Some(j) => (a.shape[j], a.chunks[j].clone()),
        None => (1, vec![1]),
    }
}

/// `a op b` with NumPy broadcasting; chunks are cut where either operand's
/// are, so each result chunk lies inside one chunk of each operand.
pub(crate) fn binary(op: BinOp, a: &DArray, b: &DArray) -> Result<DArray> {
    let n = a.shape.len().max(b.shape.len());
    let mut shape = Vec::with_capacity(n);
    let mut chunks = Vec::with_capacity(n);
    for i in 0..n {
        let ((la, ca), (lb, cb)) = (axis(a, n, i), axis(b, n, i));
        let (len, cut) = if la == lb {
            (la, refine(&ca, &cb))
        } else if la == 1 {
            (lb, cb)
        } else if lb == 1 {
            (la, ca)
        } else {
            return Err(Error::invalid(format!(
                "shapes {:?} and {:?} do not broadcast for `{}` (axis {i} of the result: \
                 {la} against {lb})",
                a.shape,
                b.shape,
                op.symbol()
            )));
        };
        shape.push(len);
        chunks.push(cut);
    }
    Ok(DArray::new(
        shape,
        chunks,
        Expr::Binary(op, a.clone(), b.clone()),
    ))
}

pub(crate) fn unary(op: Unary, a: &DArray) -> DArray {
    DArray::new(
        a.shape.clone(),
        a.chunks.clone(),
        Expr::Unary(op, a.clone()),
    )
}

pub(crate) fn scalar(op: BinOp, a: &DArray, value: f64, left: bool) -> DArray {
    DArray::new(
        a.shape.clone(),
        a.chunks.clone(),
        Expr::Scalar {
            op,
            array: a.clone(),
            value,
            left,
        },
    )
}

/// `try_add` and friends, and the operators, which panic with the same
/// message where shapes do not broadcast (as ndarray's do).
macro_rules! operators {
    ($Trait:ident $method:ident $try:ident $op:ident) => {
        impl DArray {
            #[doc = concat!("`self ", stringify!($method), " other` elementwise with NumPy broadcasting; ")]
            #[doc = "an error naming both shapes if they do not broadcast."]
            pub fn $try(&self, other: &DArray) -> Result<DArray> {
                binary(BinOp::$op, self, other)
            }
        }
        impl $Trait<&DArray> for &DArray {
            type Output = DArray;
            fn $method(self, other: &DArray) -> DArray {
                self.$try(other).unwrap_or_else(|e| panic!("{}", e.message()))
            }
        }
        impl $Trait<DArray> for DArray {
            type Output = DArray;
            fn $method(self, other: DArray) -> DArray {
                (&self).$method(&other)
            }
        }
        impl $Trait<&DArray> for DArray {
            type Output = DArray;
            fn $method(self, other: &DArray) -> DArray {
                (&self).$method(other)
            }
        }
        impl $Trait<DArray> for &DArray {
            type Output = DArray;
            fn $method(self, other: DArray) -> DArray {
                self.$method(&other)
            }
        }
        impl $Trait<f64> for &DArray {
            type Output = DArray;
            fn $method(self, value: f64) -> DArray {
                scalar(BinOp::$op, self, value, false)
            }
        }
        impl $Trait<f64> for DArray {
            type Output = DArray;
            fn $method(self, value: f64) -> DArray {
                scalar(BinOp::$op, &self, value, false)
            }
        }
        impl $Trait<&DArray> for f64 {
            type Output = DArray;
            fn $method(self, array: &DArray) -> DArray {
                scalar(BinOp::$op, array, self, true)
            }
        }
        impl $Trait<DArray> for f64 {
            type Output = DArray;
            fn $method(self, array: DArray) -> DArray {
                scalar(BinOp::$op, &array, self, true)
            }
        }
    };
}

operators!(Add add try_add Add);
operators!(Sub sub try_sub Sub);
operators!(Mul mul try_mul Mul);
operators!(Div div try_div Div);

impl Neg for &DArray {
    type Output = DArray;
    fn neg(self) -> DArray {
        unary(Unary::Neg, self)
    }
}

impl Neg for DArray {
    type Output = DArray;
    fn neg(self) -> DArray {
        unary(Unary::Neg, &self)
    }
}
