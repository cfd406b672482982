//! The expression one chunk task evaluates, as data: a [`Plan`] of
//! elementwise operations over its inputs, generated leaves and local data,
//! and one generic task function per number of stored inputs (0 to 3).
//! The element type travels in the data ([`Values`]), so the same
//! functions serve every element type.

use super::block::{serialize_view, Block, Chunk};
use super::dtype::{with, with2, Arith, DType, Element, Num, Values};
use super::fastmath::{self, Trig};
use super::random::{self, Dist};
use super::reduce::{partial, Reduction};
use crate::ndarray::{ArrayD, IxDyn, Slice, SliceInfoElem, Zip};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::Arc;

/// An elementwise function of one array.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[doc(hidden)]
pub enum Unary {
    Neg,
    Sin,
    Cos,
    Tan,
    Exp,
    Ln,
    Sqrt,
    Abs,
    Powi(i32),
}

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Cmp {
    Gt,
    Lt,
    Ge,
    Le,
    Eq,
    Ne,
}

impl Cmp {
    pub(super) fn apply<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Cmp::Gt => a > b,
            Cmp::Lt => a < b,
            Cmp::Ge => a >= b,
            Cmp::Le => a <= b,
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
        }
    }
}

/// An elementwise operation of two arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum BinOp {
    Arith(Arith),
    Cmp(Cmp),
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Arith(Arith::Add) => "+",
            BinOp::Arith(Arith::Sub) => "-",
            BinOp::Arith(Arith::Mul) => "*",
            BinOp::Arith(Arith::Div) => "/",
            BinOp::Arith(Arith::Pow) => "powf",
            BinOp::Cmp(Cmp::Gt) => ">",
            BinOp::Cmp(Cmp::Lt) => "<",
            BinOp::Cmp(Cmp::Ge) => ">=",
            BinOp::Cmp(Cmp::Le) => "<=",
            BinOp::Cmp(Cmp::Eq) => "==",
            BinOp::Cmp(Cmp::Ne) => "!=",
        }
    }
}

/// Values held at the client (from an ndarray), sent as the part of the
/// task that uses them: a region of a shared array at the client, owned
/// values once decoded on a worker.
#[derive(Clone, Debug)]
pub(crate) enum Held {
    Region {
        array: Arc<Values>,
        start: Vec<usize>,
        shape: Vec<usize>,
    },
    Owned(Values),
}

impl Serialize for Held {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Held::Region {
                array,
                start,
                shape,
            } => {
                let r = region(start, shape);
                with!(&**array, a: _T => serialize_view(a.slice(r.as_slice()), s))
            }
            Held::Owned(a) => super::block::serialize_values(a, s),
        }
    }
}

impl<'de> Deserialize<'de> for Held {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Chunk::deserialize(d).map(|c| Held::Owned(c.0))
    }
}

/// The slice `start..start + shape` along every axis.
pub(crate) fn region(start: &[usize], shape: &[usize]) -> Vec<SliceInfoElem> {
    start
        .iter()
        .zip(shape)
        .map(|(&s, &n)| SliceInfoElem::from(Slice::from(s..s + n)))
        .collect()
}

/// How to compute one chunk's values.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Plan {
    /// A region of the task's input number `index`.
    Input {
        index: usize,
        start: Vec<usize>,
        shape: Vec<usize>,
    },
    /// Values sent with the task.
    Data(Held),
    /// One value everywhere.
    Fill {
        value: Num,
        dtype: DType,
        shape: Vec<usize>,
    },
    /// `start + step * i` for `i` in `offset..offset + len`, with element
    /// `last.0` exactly `last.1` (linspace's end point).
    Ramp {
        start: f64,
        step: f64,
        offset: usize,
        len: usize,
        last: Option<(usize, f64)>,
    },
    /// A region of random chunk number `chunk` of shape `chunk_shape`.
    Random {
        dist: Dist,
        seed: u64,
        chunk: u64,
        chunk_shape: Vec<usize>,
        start: Vec<usize>,
        shape: Vec<usize>,
    },
    Unary(Unary, Box<Plan>),
    /// Two plans with NumPy broadcasting.
    Binary(BinOp, Box<Plan>, Box<Plan>),
    /// Where the first plan is true the second's value, else the third's.
    Where(Box<Plan>, Box<Plan>, Box<Plan>),
    /// Axis `i` of the result is axis `perm[i]` of the plan's.
    Transpose(Vec<usize>, Box<Plan>),
    /// The plan's values as another element type.
    Cast(DType, Box<Plan>),
    /// A chunk of `shape` put together from pieces, each written at its
    /// place, over `base` (an earlier part of the same chunk) or zeros.
    Assemble {
        dtype: DType,
        shape: Vec<usize>,
        base: Option<Box<Plan>>,
        pieces: Vec<(Plan, Vec<usize>)>,
    },
    /// Every `step`th element from `start` along each axis, `len` of them.
    Strided {
        start: Vec<usize>,
        step: Vec<usize>,
        len: Vec<usize>,
        plan: Box<Plan>,
    },
}

impl Plan {
    /// The plans this one reads.
    fn children_mut(&mut self) -> Vec<&mut Plan> {
        match self {
            Plan::Input { .. }
            | Plan::Data(_)
            | Plan::Fill { .. }
            | Plan::Ramp { .. }
            | Plan::Random { .. } => Vec::new(),
            Plan::Unary(_, p)
            | Plan::Transpose(_, p)
            | Plan::Cast(_, p)
            | Plan::Strided { plan: p, .. } => vec![p],
            Plan::Binary(_, a, b) => vec![a, b],
            Plan::Where(c, a, b) => vec![c, a, b],
            Plan::Assemble { base, pieces, .. } => base
                .iter_mut()
                .map(|b| &mut **b)
                .chain(pieces.iter_mut().map(|(p, _)| p))
                .collect(),
        }
    }

    /// Renumbers the inputs, input `i` becoming `map[i]` (when plans'
    /// inputs are merged).
    pub fn shift_inputs(&mut self, map: &[usize]) {
        if let Plan::Input { index, .. } = self {
            *index = map[*index];
        }
        for child in self.children_mut() {
            child.shift_inputs(map);
        }
    }

    /// How many times each input and each random chunk is read.
    pub(super) fn count_reads(&mut self, cx: &mut Context) {
        match self {
            Plan::Input { index, .. } => cx.inputs[*index].1 += 1,
            Plan::Random {
                dist,
                seed,
                chunk,
                chunk_shape,
                ..
            } => {
                let key = (*seed, *dist, *chunk, chunk_shape.clone());
                match cx.randoms.iter_mut().find(|r| r.0 == key) {
                    Some(r) => r.2 += 1,
                    None => cx.randoms.push((key, None, 1)),
                }
            }
            _ => {}
        }
        for child in self.children_mut() {
            child.count_reads(cx);
        }
    }

    /// The values, taking an input read whole for the last time instead of
    /// copying it.
    pub(super) fn eval(&self, cx: &mut Context) -> Values {
        match self {
            Plan::Input {
                index,
                start,
                shape,
            } => {
                let (a, reads) = &mut cx.inputs[*index];
                *reads -= 1;
                if a.shape() != shape.as_slice() {
                    a.slice(region(start, shape).as_slice())
                } else if *reads == 0 {
                    std::mem::take(a)
                } else {
                    a.clone()
                }
            }
            Plan::Data(Held::Owned(a)) => a.clone(),
            Plan::Data(Held::Region {
                array,
                start,
                shape,
            }) => array.slice(region(start, shape).as_slice()),
            Plan::Fill {
                value,
                dtype,
                shape,
            } => Values::fill(*value, *dtype, shape),
            Plan::Ramp {
                start,
                step,
                offset,
                len,
                last,
            } => Values::F64(ArrayD::from_shape_fn(IxDyn(&[*len]), |i| match last {
                Some((at, value)) if *at == offset + i[0] => *value,
                _ => start + step * (offset + i[0]) as f64,
            })),
            Plan::Random {
                dist,
                seed,
                chunk,
                chunk_shape,
                start,
                shape,
            } => {
                let block = cx.random(*seed, *dist, *chunk, chunk_shape);
                Values::F64(if chunk_shape == shape {
                    block
                } else {
                    block.slice(region(start, shape).as_slice()).to_owned()
                })
            }
            Plan::Unary(op, p) => unary(*op, p.eval(cx)),
            Plan::Binary(op, a, b) => binary(*op, a.eval(cx), b.eval(cx)),
            Plan::Where(c, a, b) => {
                let Values::Bool(c) = c.eval(cx) else {
                    panic!("a where_ condition that is not bool")
                };
                with2!(a.eval(cx), b.eval(cx), x, y: T => T::wrap(select(&c, x, y)))
            }
            Plan::Transpose(perm, p) => p.eval(cx).permuted(perm),
            Plan::Assemble {
                dtype,
                shape,
                base,
                pieces,
            } => {
                let mut canvas = match base {
                    Some(b) => b.eval(cx),
                    None => Values::fill(Num::I(0), *dtype, shape),
                };
                for (piece, at) in pieces {
                    let values = piece.eval(cx);
                    let r = region(at, values.shape());
                    with2!(&mut canvas, values, c, v: _T => c.slice_mut(r.as_slice()).assign(&v));
                }
                canvas
            }
            Plan::Cast(dtype, p) => p.eval(cx).cast(*dtype),
            Plan::Strided {
                start,
                step,
                len,
                plan,
            } => {
                let elems: Vec<SliceInfoElem> = start
                    .iter()
                    .zip(step)
                    .zip(len)
                    .map(|((&s, &k), &n)| {
                        let end = if n == 0 { s } else { s + (n - 1) * k + 1 };
                        SliceInfoElem::from(Slice::new(s as isize, Some(end as isize), k as isize))
                    })
                    .collect();
                plan.eval(cx).slice(&elems)
            }
        }
    }
}

/// `op` applied to every value; `sin` and `cos` of `f64` over whole slices
/// at a time ([`fastmath`]).
fn unary(op: Unary, a: Values) -> Values {
    match (op, a) {
        (Unary::Sin | Unary::Cos, Values::F64(mut a)) => {
            match a.as_slice_memory_order_mut() {
                Some(values) if op == Unary::Sin => fastmath::sin_in_place(values),
                Some(values) => fastmath::cos_in_place(values),
                None => {
                    let f = if op == Unary::Sin {
                        Trig::Sin
                    } else {
                        Trig::Cos
                    };
                    a.mapv_inplace(|x| fastmath::one(x, f));
                }
            }
            Values::F64(a)
        }
        (op, a) => with!(a, a: T => T::wrap(map_unary(op, a))),
    }
}

/// `op` over every value, with one loop per operation: the operation is
/// matched once, not per value, so each loop can be vector code.
fn map_unary<T: Element>(op: Unary, a: ArrayD<T>) -> ArrayD<T> {
    fn go<T: Element>(a: ArrayD<T>, f: impl Fn(T) -> T) -> ArrayD<T> {
        a.mapv_into(f)
    }
    match op {
        Unary::Neg => go(a, |x| T::unary(Unary::Neg, x)),
        Unary::Sin => go(a, |x| T::unary(Unary::Sin, x)),
        Unary::Cos => go(a, |x| T::unary(Unary::Cos, x)),
        Unary::Tan => go(a, |x| T::unary(Unary::Tan, x)),
        Unary::Exp => go(a, |x| T::unary(Unary::Exp, x)),
        Unary::Ln => go(a, |x| T::unary(Unary::Ln, x)),
        Unary::Sqrt => go(a, |x| T::unary(Unary::Sqrt, x)),
        Unary::Abs => go(a, |x| T::unary(Unary::Abs, x)),
        Unary::Powi(n) => go(a, |x| T::unary(Unary::Powi(n), x)),
    }
}

/// A random chunk: its seed, distribution, number and shape.
pub(super) type RandomKey = (u64, Dist, u64, Vec<usize>);

/// What a chunk task's plan reads: its stored inputs and the random chunks
/// it makes, each with the number of reads left, so that the last read
/// takes the values instead of copying them, and a random chunk read twice
/// (`&x * &x`) is made once.
pub(super) struct Context {
    pub(super) inputs: Vec<(Values, usize)>,
    pub(super) randoms: Vec<(RandomKey, Option<ArrayD<f64>>, usize)>,
}

impl Context {
    /// Random chunk number `chunk` of `shape`, made on its first read.
    fn random(&mut self, seed: u64, dist: Dist, chunk: u64, shape: &[usize]) -> ArrayD<f64> {
        let key = (seed, dist, chunk, shape.to_vec());
        let Some((_, made, reads)) = self.randoms.iter_mut().find(|r| r.0 == key) else {
            return random::block(seed, dist, chunk, shape);
        };
        *reads = reads.saturating_sub(1);
        let block = made
            .take()
            .unwrap_or_else(|| random::block(seed, dist, chunk, shape));
        if *reads > 0 {
            *made = Some(block.clone());
        }
        block
    }
}

/// The shape `a` and `b` broadcast to.
pub(super) fn broadcast_shape(a: &[usize], b: &[usize]) -> Vec<usize> {
    let n = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| (i + s.len()).checked_sub(n).map_or(1, |j| s[j]);
    (0..n).map(|i| dim(a, i).max(dim(b, i))).collect()
}

/// `a op b` with broadcasting.
fn binary(op: BinOp, a: Values, b: Values) -> Values {
    match op {
        BinOp::Arith(op) => with2!(a, b, x, y: T => T::wrap(arith(op, x, y))),
        BinOp::Cmp(op) => with2!(a, b, x, y: _T => Values::Bool(compare(op, &x, &y))),
    }
}

/// `a op b` with broadcasting, one loop per operation (see [`map_unary`]).
fn arith<T: Element>(op: Arith, a: ArrayD<T>, b: ArrayD<T>) -> ArrayD<T> {
    match op {
        Arith::Add => arith_with(a, b, |x, y| T::arith(Arith::Add, x, y)),
        Arith::Sub => arith_with(a, b, |x, y| T::arith(Arith::Sub, x, y)),
        Arith::Mul => arith_with(a, b, |x, y| T::arith(Arith::Mul, x, y)),
        Arith::Div => arith_with(a, b, |x, y| T::arith(Arith::Div, x, y)),
        Arith::Pow => arith_with(a, b, |x, y| T::arith(Arith::Pow, x, y)),
    }
}

/// `op(a, b)` with broadcasting, reusing one operand's memory where it has
/// the result's shape.
fn arith_with<T: Element>(
    mut a: ArrayD<T>,
    mut b: ArrayD<T>,
    op: impl Fn(T, T) -> T + Copy,
) -> ArrayD<T> {
    if b.ndim() == 0 {
        let v = b[IxDyn(&[])];
        return a.mapv_into(|x| op(x, v));
    }
    if a.ndim() == 0 {
        let v = a[IxDyn(&[])];
        return b.mapv_into(|y| op(v, y));
    }
    if b.broadcast(a.raw_dim()).is_some() {
        a.zip_mut_with(&b, |x, &y| *x = op(*x, y));
        a
    } else if a.broadcast(b.raw_dim()).is_some() {
        b.zip_mut_with(&a, |y, &x| *y = op(x, *y));
        b
    } else {
        let shape = broadcast_shape(a.shape(), b.shape());
        let mut out = a
            .broadcast(IxDyn(&shape))
            .expect("the planner checked broadcasting")
            .to_owned();
        out.zip_mut_with(&b, |x, &y| *x = op(*x, y));
        out
    }
}

fn compare<T: Element>(op: Cmp, a: &ArrayD<T>, b: &ArrayD<T>) -> ArrayD<bool> {
    if b.ndim() == 0 {
        let v = b[IxDyn(&[])];
        return a.mapv(|x| op.apply(x, v));
    }
    let shape = IxDyn(&broadcast_shape(a.shape(), b.shape()));
    let (a, b) = (
        a.broadcast(shape.clone())
            .expect("the planner checked broadcasting"),
        b.broadcast(shape)
            .expect("the planner checked broadcasting"),
    );
    Zip::from(&a).and(&b).map_collect(|&x, &y| op.apply(x, y))
}

fn select<T: Element>(c: &ArrayD<bool>, a: ArrayD<T>, b: ArrayD<T>) -> ArrayD<T> {
    let shape = broadcast_shape(&broadcast_shape(c.shape(), a.shape()), b.shape());
    let shape = IxDyn(&shape);
    let checked = "the planner checked broadcasting";
    Zip::from(&c.broadcast(shape.clone()).expect(checked))
        .and(&a.broadcast(shape.clone()).expect(checked))
        .and(&b.broadcast(shape).expect(checked))
        .map_collect(|&c, &x, &y| if c { x } else { y })
}

/// What a chunk task's result goes into: a reduction over `axes` of the
/// plan's result, which is the region from `origin` of an array of shape
/// `whole` (the arg reductions number elements in the whole array).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Reducing {
    pub op: Reduction,
    pub axes: Vec<usize>,
    pub origin: Vec<usize>,
    pub whole: Vec<usize>,
}

/// One chunk task: a plan, and the reduction its result goes into, if any.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Task {
    pub plan: Plan,
    pub reduce: Option<Reducing>,
}

impl Task {
    fn run(mut self, inputs: Vec<Block>) -> Block {
        let mut cx = Context {
            inputs: inputs.into_iter().map(|b| (b.finish(), 0)).collect(),
            randoms: Vec::new(),
        };
        self.plan.count_reads(&mut cx);
        let reduce = self.reduce.as_ref();
        if !self.plan.trig() {
            if let Some(block) = super::tile::run(&self.plan, reduce, &mut cx, super::tile::TILE) {
                return block;
            }
        }
        let values = self.plan.eval(&mut cx);
        drop(cx);
        match &self.reduce {
            None => Block::values(values),
            Some(r) => partial(r, values),
        }
    }
}

/// A chunk task with no stored input.
pub(crate) fn eval0(task: Task) -> Block {
    task.run(Vec::new())
}

/// A chunk task with one stored input.
pub(crate) fn eval1(task: Task, a: Block) -> Block {
    task.run(vec![a])
}

/// A chunk task with two stored inputs.
pub(crate) fn eval2(task: Task, a: Block, b: Block) -> Block {
    task.run(vec![a, b])
}

/// A chunk task with three stored inputs.
pub(crate) fn eval3(task: Task, a: Block, b: Block, c: Block) -> Block {
    task.run(vec![a, b, c])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_random_chunk_read_three_times_gives_the_same_values_each_time() {
        let dist = Dist::Uniform {
            low: -4.0,
            high: 4.0,
        };
        let leaf = || {
            Box::new(Plan::Random {
                dist,
                seed: 5,
                chunk: 3,
                chunk_shape: vec![4, 6],
                start: vec![0, 0],
                shape: vec![4, 6],
            })
        };
        let square = Plan::Binary(BinOp::Arith(Arith::Mul), leaf(), leaf());
        let plan = Plan::Binary(
            BinOp::Arith(Arith::Add),
            Box::new(square),
            Box::new(Plan::Unary(Unary::Sin, leaf())),
        );
        let got = Task { plan, reduce: None }.run(Vec::new()).finish();
        let x = random::block(5, dist, 3, &[4, 6]);
        let want = x.mapv(|v| v * v + fastmath::one(v, Trig::Sin));
        assert_eq!(got, Values::F64(want));
    }
}
