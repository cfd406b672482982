//! The expression one chunk task evaluates, as data: a [`Plan`] of
//! elementwise operations over its inputs, generated leaves and local data,
//! and one generic task function per number of stored inputs (0 to 3).

use super::block::{serialize_array, Block, Chunk};
use super::random::{self, Dist};
use super::reduce::{partial, Reduction};
use crate::ndarray::{ArrayD, IxDyn, Slice, SliceInfoElem};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::Arc;

/// An elementwise function of one array.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Unary {
    Neg,
    Sin,
    Cos,
    Exp,
    Ln,
    Sqrt,
    Abs,
    Powi(i32),
}

impl Unary {
    fn apply(self, x: f64) -> f64 {
        match self {
            Unary::Neg => -x,
            Unary::Sin => x.sin(),
            Unary::Cos => x.cos(),
            Unary::Exp => x.exp(),
            Unary::Ln => x.ln(),
            Unary::Sqrt => x.sqrt(),
            Unary::Abs => x.abs(),
            Unary::Powi(n) => x.powi(n),
        }
    }
}

/// An elementwise arithmetic operation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinOp {
    pub fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        }
    }
}

/// Values held at the client (from an ndarray), sent as the part of the
/// task that uses them: a region of a shared array at the client, owned
/// values once decoded on a worker.
#[derive(Clone, Debug)]
pub(crate) enum Held {
    Region {
        array: Arc<ArrayD<f64>>,
        start: Vec<usize>,
        shape: Vec<usize>,
    },
    Owned(ArrayD<f64>),
}

impl Serialize for Held {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Held::Region {
                array,
                start,
                shape,
            } => serialize_array(array.slice(region(start, shape).as_slice()), s),
            Held::Owned(a) => serialize_array(a.view(), s),
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
        value: f64,
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
    /// `plan op value`, or `value op plan` when `left`.
    Scalar {
        op: BinOp,
        plan: Box<Plan>,
        value: f64,
        left: bool,
    },
    /// Two plans with NumPy broadcasting.
    Binary(BinOp, Box<Plan>, Box<Plan>),
    /// Axis `i` of the result is axis `perm[i]` of the plan's.
    Transpose(Vec<usize>, Box<Plan>),
}

impl Plan {
    /// Renumbers the inputs, input `i` becoming `map[i]` (when two plans' inputs
    /// are merged).
    pub fn shift_inputs(&mut self, map: &[usize]) {
        match self {
            Plan::Input { index, .. } => *index = map[*index],
            Plan::Data(_) | Plan::Fill { .. } | Plan::Ramp { .. } | Plan::Random { .. } => {}
            Plan::Unary(_, p) | Plan::Scalar { plan: p, .. } | Plan::Transpose(_, p) => {
                p.shift_inputs(map)
            }
            Plan::Binary(_, a, b) => {
                a.shift_inputs(map);
                b.shift_inputs(map);
            }
        }
    }

    /// How many times each input is read.
    fn count_reads(&self, reads: &mut [usize]) {
        match self {
            Plan::Input { index, .. } => reads[*index] += 1,
            Plan::Data(_) | Plan::Fill { .. } | Plan::Ramp { .. } | Plan::Random { .. } => {}
            Plan::Unary(_, p) | Plan::Scalar { plan: p, .. } | Plan::Transpose(_, p) => {
                p.count_reads(reads)
            }
            Plan::Binary(_, a, b) => {
                a.count_reads(reads);
                b.count_reads(reads);
            }
        }
    }

    /// The values, taking an input read whole for the last time instead of
    /// copying it.
    fn eval(&self, inputs: &mut [(ArrayD<f64>, usize)]) -> ArrayD<f64> {
        match self {
            Plan::Input {
                index,
                start,
                shape,
            } => {
                let (a, reads) = &mut inputs[*index];
                *reads -= 1;
                if a.shape() != shape.as_slice() {
                    a.slice(region(start, shape).as_slice()).to_owned()
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
            }) => array.slice(region(start, shape).as_slice()).to_owned(),
            Plan::Fill { value, shape } => ArrayD::from_elem(IxDyn(shape), *value),
            Plan::Ramp {
                start,
                step,
                offset,
                len,
                last,
            } => ArrayD::from_shape_fn(IxDyn(&[*len]), |i| match last {
                Some((at, value)) if *at == offset + i[0] => *value,
                _ => start + step * (offset + i[0]) as f64,
            }),
            Plan::Random {
                dist,
                seed,
                chunk,
                chunk_shape,
                start,
                shape,
            } => {
                let block = random::block(*seed, *dist, *chunk, chunk_shape);
                if chunk_shape == shape {
                    block
                } else {
                    block.slice(region(start, shape).as_slice()).to_owned()
                }
            }
            Plan::Unary(op, p) => {
                let op = *op;
                p.eval(inputs).mapv_into(|x| op.apply(x))
            }
            Plan::Scalar {
                op,
                plan,
                value,
                left,
            } => {
                let (op, v) = (*op, *value);
                let a = plan.eval(inputs);
                if *left {
                    a.mapv_into(|x| op.apply(v, x))
                } else {
                    a.mapv_into(|x| op.apply(x, v))
                }
            }
            Plan::Binary(op, a, b) => binary(*op, a.eval(inputs), b.eval(inputs)),
            Plan::Transpose(perm, p) => p.eval(inputs).permuted_axes(IxDyn(perm)),
        }
    }
}

/// `a op b` with broadcasting, reusing one operand's memory where it has
/// the result's shape.
fn binary(op: BinOp, mut a: ArrayD<f64>, mut b: ArrayD<f64>) -> ArrayD<f64> {
    if b.broadcast(a.raw_dim()).is_some() {
        a.zip_mut_with(&b, |x, &y| *x = op.apply(*x, y));
        a
    } else if a.broadcast(b.raw_dim()).is_some() {
        b.zip_mut_with(&a, |y, &x| *y = op.apply(x, *y));
        b
    } else {
        let n = a.ndim().max(b.ndim());
        let dim = |s: &[usize], i: usize| (i + s.len()).checked_sub(n).map_or(1, |j| s[j]);
        let shape: Vec<usize> = (0..n)
            .map(|i| dim(a.shape(), i).max(dim(b.shape(), i)))
            .collect();
        let mut out = a
            .broadcast(IxDyn(&shape))
            .expect("the planner checked broadcasting")
            .to_owned();
        out.zip_mut_with(&b, |x, &y| *x = op.apply(*x, y));
        out
    }
}

/// One chunk task: a plan, and the reduction its result goes into, if any
/// (reduced over these axes of the plan's result).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Task {
    pub plan: Plan,
    pub reduce: Option<(Reduction, Vec<usize>)>,
}

impl Task {
    fn run(&self, inputs: Vec<Block>) -> Block {
        let mut reads = vec![0; inputs.len()];
        self.plan.count_reads(&mut reads);
        let mut inputs: Vec<(ArrayD<f64>, usize)> =
            inputs.into_iter().map(Block::finish).zip(reads).collect();
        let values = self.plan.eval(&mut inputs);
        drop(inputs);
        match &self.reduce {
            None => Block::values(values),
            Some((op, axes)) => partial(*op, values, axes),
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
