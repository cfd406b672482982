//! Reductions: each chunk task reduces its own values to a partial state
//! (fused: no chunk is stored in between), and partial states are combined
//! in a tree, `split_every` at a time, never all in one task.

use super::block::{Block, Chunk};
use super::dtype::{with, with2, Element, Fold, Values};
use super::eval::Reducing;
use crate::ndarray::{ArrayD, Axis, IxDyn, LinalgScalar, Zip};
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
    /// The product.
    Prod,
    /// Whether any element is true (`bool` arrays).
    Any,
    /// Whether every element is true (`bool` arrays).
    All,
    /// The index of the smallest element (the first NaN, if any; the
    /// first of equal ones), flat over the reduced axes; gives `i64`.
    ArgMin,
    /// The index of the largest element, as [`ArgMin`](Reduction::ArgMin).
    ArgMax,
}

impl Reduction {
    fn fold(self) -> Option<Fold> {
        match self {
            Reduction::Sum | Reduction::Mean => Some(Fold::Sum),
            Reduction::Prod => Some(Fold::Prod),
            Reduction::Min => Some(Fold::Min),
            Reduction::Max => Some(Fold::Max),
            Reduction::Any => Some(Fold::Any),
            Reduction::All => Some(Fold::All),
            Reduction::Var { .. }
            | Reduction::Std { .. }
            | Reduction::ArgMin
            | Reduction::ArgMax => None,
        }
    }
}

/// A reduction's state over part of the data, beside the block's values
/// (the sums, means, minima, maxima or best values so far).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Partial {
    op: Reduction,
    /// How many values each element summarises.
    n: f64,
    /// Sums of squared deviations from the mean (variance only).
    m2: Option<Chunk>,
    /// Where the best values are (arg reductions only; `i64`).
    index: Option<Chunk>,
}

/// `a` folded by `f` over `axes` (ascending).
fn fold_axes<T: Element>(a: ArrayD<T>, axes: &[usize], f: Fold) -> ArrayD<T> {
    if axes.len() == a.ndim() {
        let v = a.fold(T::identity(f), |acc, &x| T::fold(f, acc, x));
        return ArrayD::from_elem(IxDyn(&[]), v);
    }
    let mut out = a;
    for &ax in axes.iter().rev() {
        out = out.fold_axis(Axis(ax), T::identity(f), |&acc, &x| T::fold(f, acc, x));
    }
    out
}

/// Float sums, by ndarray's (unrolled, more accurate) summation.
fn sum<T: LinalgScalar>(a: &ArrayD<T>, axes: &[usize]) -> ArrayD<T> {
    if axes.len() == a.ndim() {
        return ArrayD::from_elem(IxDyn(&[]), a.sum());
    }
    let (&last, rest) = axes.split_last().expect("some axes are reduced");
    let mut out = a.sum_axis(Axis(last));
    for &ax in rest.iter().rev() {
        out = out.sum_axis(Axis(ax));
    }
    out
}

/// Whether `x` is a better pick than `best` (NaN beats every number).
#[allow(clippy::eq_op)]
fn better<T: PartialOrd>(x: T, best: T, min: bool) -> bool {
    if best != best {
        false
    } else if x != x {
        true
    } else if min {
        x < best
    } else {
        x > best
    }
}

/// The best value and its index in the whole array, per element of the
/// result.
fn arg<T: Element>(a: &ArrayD<T>, r: &Reducing, min: bool) -> (ArrayD<T>, ArrayD<i64>) {
    let kept: Vec<usize> = (0..a.ndim()).filter(|i| !r.axes.contains(i)).collect();
    let shape: Vec<usize> = kept.iter().map(|&i| a.shape()[i]).collect();
    let n: usize = shape.iter().product();
    let mut best: Vec<Option<(T, i64)>> = vec![None; n];
    for (at, &x) in a.indexed_iter() {
        let out = kept.iter().fold(0, |acc, &i| acc * a.shape()[i] + at[i]);
        let flat = r.axes.iter().fold(0i64, |acc, &i| {
            acc * r.whole[i] as i64 + (r.origin[i] + at[i]) as i64
        });
        match best[out] {
            Some((b, _)) if !better(x, b, min) => {}
            _ => best[out] = Some((x, flat)),
        }
    }
    let (values, index): (Vec<T>, Vec<i64>) = best
        .into_iter()
        .map(|b| b.expect("a chunk is not empty along a reduced axis"))
        .unzip();
    (
        ArrayD::from_shape_vec(IxDyn(&shape), values).expect("shape"),
        ArrayD::from_shape_vec(IxDyn(&shape), index).expect("shape"),
    )
}

/// A chunk's values reduced as `r` says, as a partial block.
pub(crate) fn partial(r: &Reducing, a: Values) -> Block {
    let (op, axes) = (r.op, r.axes.as_slice());
    let n: f64 = axes.iter().map(|&ax| a.shape()[ax] as f64).product();
    let state = |values: Values, m2: Option<Chunk>, index: Option<Chunk>| Block {
        values: Chunk(values),
        partial: Some(Partial { op, n, m2, index }),
    };
    match (op, a) {
        (Reduction::Sum | Reduction::Mean, Values::F64(a)) => {
            state(Values::F64(sum(&a, axes)), None, None)
        }
        (Reduction::Sum, Values::F32(a)) => state(Values::F32(sum(&a, axes)), None, None),
        (Reduction::Var { .. } | Reduction::Std { .. }, Values::F64(a)) => {
            let mean = sum(&a, axes) / n;
            let mut kept = mean.view();
            for &ax in axes {
                kept.insert_axis_inplace(Axis(ax));
            }
            let dev = (&a - &kept).mapv_into(|d| d * d);
            state(
                Values::F64(mean),
                Some(Chunk(Values::F64(sum(&dev, axes)))),
                None,
            )
        }
        (Reduction::ArgMin | Reduction::ArgMax, a) => {
            let min = op == Reduction::ArgMin;
            with!(a, a: T => {
                let (best, index) = arg(&a, r, min);
                state(T::wrap(best), None, Some(Chunk(Values::I64(index))))
            })
        }
        (op, a) => match op.fold() {
            Some(f) => with!(a, a: T => state(T::wrap(fold_axes(a, axes, f)), None, None)),
            None => panic!("{op:?} planned over {} values", a.dtype()),
        },
    }
}

/// The partial block of a reduction `r` of a chunk of `shape` whose values
/// were already reduced to `values` (the tiled evaluator's sums and folds:
/// what [`partial`] gives for the reductions without extra state).
pub(crate) fn reduced(r: &Reducing, shape: &[usize], values: Values) -> Block {
    let n: f64 = r.axes.iter().map(|&ax| shape[ax] as f64).product();
    Block {
        values: Chunk(values),
        partial: Some(Partial {
            op: r.op,
            n,
            m2: None,
            index: None,
        }),
    }
}

/// The sum of `xs` as ndarray's [`sum`](ArrayD::sum) of a contiguous array
/// adds it (eight running sums, combined, then the last few values), fed
/// in runs: the same additions in the same order, so the same bits.
pub(crate) struct Lanes<T> {
    lanes: [T; 8],
    /// How many values go to the running sums (the rest is the tail).
    body: usize,
    tail: Vec<T>,
}

impl<T: LinalgScalar> Lanes<T> {
    /// Sums for `len` values in all.
    pub fn new(len: usize) -> Self {
        Lanes {
            lanes: [T::zero(); 8],
            body: len - len % 8,
            tail: Vec::new(),
        }
    }

    /// Adds `xs`, the values from number `at` on.
    pub fn add(&mut self, xs: &[T], at: usize) {
        if at % 8 == 0 && at + xs.len() <= self.body {
            let mut groups = xs.chunks_exact(8);
            for g in &mut groups {
                for (p, &x) in self.lanes.iter_mut().zip(g) {
                    *p = *p + x;
                }
            }
            let rest = groups.remainder();
            self.add_slowly(rest, at + xs.len() - rest.len());
        } else {
            self.add_slowly(xs, at);
        }
    }

    fn add_slowly(&mut self, xs: &[T], at: usize) {
        for (i, &x) in xs.iter().enumerate() {
            let g = at + i;
            if g < self.body {
                self.lanes[g % 8] = self.lanes[g % 8] + x;
            } else {
                self.tail.push(x);
            }
        }
    }

    /// The sum.
    pub fn sum(self) -> T {
        let p = self.lanes;
        let mut acc = T::zero();
        for i in 0..4 {
            acc = acc + (p[i] + p[i + 4]);
        }
        self.tail.into_iter().fold(acc, |acc, x| acc + x)
    }
}

impl Partial {
    /// The reduction's result from its state and `values`.
    pub fn finish(self, values: Values) -> Values {
        match (self.op, values, self.m2, self.index) {
            (Reduction::Mean, Values::F64(v), ..) => Values::F64(v / self.n),
            (Reduction::Var { ddof }, _, Some(Chunk(Values::F64(m2))), _) => {
                Values::F64(m2 / (self.n - ddof))
            }
            (Reduction::Std { ddof }, _, Some(Chunk(Values::F64(m2))), _) => {
                Values::F64((m2 / (self.n - ddof)).mapv_into(f64::sqrt))
            }
            (Reduction::ArgMin | Reduction::ArgMax, _, _, Some(Chunk(index))) => index,
            (_, values, ..) => values,
        }
    }
}

/// Picks, elementwise, the better of two (value, index) partial results;
/// of equal values the smaller index.
fn pick<T: Element>(
    va: &mut ArrayD<T>,
    ia: &mut ArrayD<i64>,
    vb: &ArrayD<T>,
    ib: &ArrayD<i64>,
    min: bool,
) {
    Zip::from(va)
        .and(ia)
        .and(vb)
        .and(ib)
        .for_each(|x, i, &y, &j| {
            if better(y, *x, min) || (!better(*x, y, min) && j < *i) {
                *x = y;
                *i = j;
            }
        });
}

/// Two partial states of the same reduction as one.
fn combine_two(a: Block, b: Block) -> Block {
    let (Some(pa), Some(pb)) = (a.partial, b.partial) else {
        panic!("array reduction combined a block that is not a partial reduction");
    };
    let (va, vb) = (a.values.0, b.values.0);
    let n = pa.n + pb.n;
    let (values, m2, index) = match (pa.op.fold(), pa.op) {
        (Some(f), _) => {
            let v = with2!(va, vb, x, y: T => {
                let mut x = x;
                x.zip_mut_with(&y, |p, &q| *p = T::fold(f, *p, q));
                T::wrap(x)
            });
            (v, None, None)
        }
        (None, Reduction::ArgMin | Reduction::ArgMax) => {
            let min = pa.op == Reduction::ArgMin;
            let (Some(Chunk(Values::I64(mut ia))), Some(Chunk(Values::I64(ib)))) =
                (pa.index, pb.index)
            else {
                panic!("an arg reduction without its indices")
            };
            let v = with2!(va, vb, x, y: T => {
                let mut x = x;
                pick(&mut x, &mut ia, &y, &ib, min);
                T::wrap(x)
            });
            (v, None, Some(Chunk(Values::I64(ia))))
        }
        (None, _) => {
            let (
                Values::F64(mut va),
                Values::F64(vb),
                Some(Chunk(Values::F64(mut ma))),
                Some(Chunk(Values::F64(mb))),
            ) = (va, vb, pa.m2, pb.m2)
            else {
                panic!("a variance without its f64 state")
            };
            let (na, nb) = (pa.n, pb.n);
            Zip::from(&mut va).and(&mut ma).and(&vb).and(&mb).for_each(
                |mean, m2, &mean_b, &m2_b| {
                    let delta = mean_b - *mean;
                    *mean += delta * nb / n;
                    *m2 += m2_b + delta * delta * na * nb / n;
                },
            );
            (Values::F64(va), Some(Chunk(Values::F64(ma))), None)
        }
    };
    Block {
        values: Chunk(values),
        partial: Some(Partial {
            op: pa.op,
            n,
            m2,
            index,
        }),
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
    use crate::ndarray::{array, s};

    fn reducing(op: Reduction, axes: &[usize], origin: &[usize]) -> Reducing {
        Reducing {
            op,
            axes: axes.to_vec(),
            origin: origin.to_vec(),
            whole: vec![2, 3],
        }
    }

    #[test]
    fn variance_and_argmax_combine_like_one_pass() {
        let a = array![[1.0, 2.0, 16.0], [7.0, 11.0, 4.0]].into_dyn();
        let op = Reduction::Var { ddof: 1.0 };
        let part = |op, cols: std::ops::Range<usize>, axes: &[usize]| {
            let values = a.slice(s![.., cols.clone()]).to_owned().into_dyn();
            partial(&reducing(op, axes, &[0, cols.start]), Values::F64(values))
        };
        let v = combine(vec![part(op, 0..1, &[0, 1]), part(op, 1..3, &[0, 1])]).finish();
        let Values::F64(v) = v else { panic!() };
        let mean = a.sum() / 6.0;
        let expect = a.mapv(|x| (x - mean) * (x - mean)).sum() / 5.0;
        assert!((v[IxDyn(&[])] - expect).abs() < 1e-12);
        let rows = partial(
            &reducing(Reduction::Max, &[1], &[0, 0]),
            Values::F64(a.clone()),
        );
        assert_eq!(rows.finish(), Values::F64(array![16.0, 11.0].into_dyn()));
        let am = Reduction::ArgMax;
        let flat = combine(vec![part(am, 0..2, &[0, 1]), part(am, 2..3, &[0, 1])]).finish();
        assert_eq!(flat, Values::I64(ArrayD::from_elem(IxDyn(&[]), 2)));
        let rows = combine(vec![part(am, 0..2, &[1]), part(am, 2..3, &[1])]).finish();
        assert_eq!(rows, Values::I64(array![2, 1].into_dyn()));
    }
}
