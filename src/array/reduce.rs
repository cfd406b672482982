//! Reductions: each chunk task reduces its own values to a partial state
//! (fused: no chunk is stored in between), and partial states are combined
//! in a tree, `split_every` at a time, never all in one task.

use super::block::{Block, Chunk};
use crate::ndarray::{ArrayD, Axis, Zip};
use serde::{Deserialize, Serialize};

/// What a reduction computes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Reduction {
    /// The sum.
    Sum,
    /// The arithmetic mean.
    Mean,
    /// The smallest value (NaN is skipped).
    Min,
    /// The largest value (NaN is skipped).
    Max,
    /// The variance, divided by `n - ddof`.
    Var {
        /// Delta degrees of freedom (0 for the population variance).
        ddof: f64,
    },
    /// The standard deviation, the square root of [`Var`](Reduction::Var).
    Std {
        /// Delta degrees of freedom.
        ddof: f64,
    },
}

/// A reduction's state over part of the data, beside the block's values
/// (the sums, means, minima or maxima so far).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Partial {
    op: Reduction,
    /// How many values each element summarises.
    n: f64,
    /// Sums of squared deviations from the mean (variance only).
    m2: Option<Chunk>,
}

/// `a` reduced over `axes` (ascending), as a partial block.
pub(crate) fn partial(op: Reduction, a: ArrayD<f64>, axes: &[usize]) -> Block {
    let n: f64 = axes.iter().map(|&ax| a.shape()[ax] as f64).product();
    let fold = |a: &ArrayD<f64>, init: f64, f: fn(f64, f64) -> f64| {
        let mut out = a.clone();
        for &ax in axes.iter().rev() {
            out = out.fold_axis(Axis(ax), init, |&acc, &x| f(acc, x));
        }
        out
    };
    let sum = |a: &ArrayD<f64>| {
        let mut out = a.clone();
        for &ax in axes.iter().rev() {
            out = out.sum_axis(Axis(ax));
        }
        out
    };
    let (values, m2) = match op {
        Reduction::Sum | Reduction::Mean => (sum(&a), None),
        Reduction::Min => (fold(&a, f64::INFINITY, f64::min), None),
        Reduction::Max => (fold(&a, f64::NEG_INFINITY, f64::max), None),
        Reduction::Var { .. } | Reduction::Std { .. } => {
            let mean = sum(&a) / n;
            let mut kept = mean.view();
            for &ax in axes {
                kept.insert_axis_inplace(Axis(ax));
            }
            let dev = (&a - &kept).mapv_into(|d| d * d);
            (mean, Some(Chunk(sum(&dev))))
        }
    };
    Block {
        values: Chunk(values),
        partial: Some(Partial { op, n, m2 }),
    }
}

impl Partial {
    /// The reduction's result from its state and `values`.
    pub fn finish(self, values: ArrayD<f64>) -> ArrayD<f64> {
        match (self.op, self.m2) {
            (Reduction::Mean, _) => values / self.n,
            (Reduction::Var { ddof }, Some(m2)) => m2.0 / (self.n - ddof),
            (Reduction::Std { ddof }, Some(m2)) => (m2.0 / (self.n - ddof)).mapv_into(f64::sqrt),
            _ => values,
        }
    }
}

/// Two partial states of the same reduction as one.
fn combine_two(a: Block, b: Block) -> Block {
    let (Some(pa), Some(pb)) = (a.partial, b.partial) else {
        panic!("array reduction combined a block that is not a partial reduction");
    };
    let (mut va, vb) = (a.values.0, b.values.0);
    let n = pa.n + pb.n;
    let m2 = match pa.op {
        Reduction::Sum | Reduction::Mean => {
            va += &vb;
            None
        }
        Reduction::Min => {
            va.zip_mut_with(&vb, |x, &y| *x = x.min(y));
            None
        }
        Reduction::Max => {
            va.zip_mut_with(&vb, |x, &y| *x = x.max(y));
            None
        }
        Reduction::Var { .. } | Reduction::Std { .. } => {
            let (mut ma, mb) = (
                pa.m2.expect("variance state").0,
                pb.m2.expect("variance state").0,
            );
            let (na, nb) = (pa.n, pb.n);
            Zip::from(&mut va).and(&mut ma).and(&vb).and(&mb).for_each(
                |mean, m2, &mean_b, &m2_b| {
                    let delta = mean_b - *mean;
                    *mean += delta * nb / n;
                    *m2 += m2_b + delta * delta * na * nb / n;
                },
            );
            Some(Chunk(ma))
        }
    };
    Block {
        values: Chunk(va),
        partial: Some(Partial { op: pa.op, n, m2 }),
    }
}

/// The task that combines one node of a reduction tree.
pub(crate) fn combine(parts: Vec<Block>) -> Block {
    let mut parts = parts.into_iter();
    let first = parts.next().expect("a reduction tree node has inputs");
    parts.fold(first, combine_two)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ndarray::{array, IxDyn};

    #[test]
    fn variance_combines_like_one_pass() {
        let a = array![[1.0, 2.0, 4.0], [7.0, 11.0, 16.0]].into_dyn();
        let op = Reduction::Var { ddof: 1.0 };
        let left = partial(
            op,
            a.slice(crate::ndarray::s![.., 0..1]).to_owned().into_dyn(),
            &[0, 1],
        );
        let right = partial(
            op,
            a.slice(crate::ndarray::s![.., 1..]).to_owned().into_dyn(),
            &[0, 1],
        );
        let v = combine(vec![left, right]).finish();
        assert_eq!(v.ndim(), 0);
        let mean = a.sum() / 6.0;
        let expect = a.mapv(|x| (x - mean) * (x - mean)).sum() / 5.0;
        assert!((v[IxDyn(&[])] - expect).abs() < 1e-12);
        let rows = partial(Reduction::Max, a, &[1]).finish();
        assert_eq!(rows, array![4.0, 16.0].into_dyn());
    }
}
