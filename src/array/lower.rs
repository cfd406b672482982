//! From an array's expression to a graph of [`Delayed`] chunk tasks, at
//! compute time: one task per output chunk for a whole chain of elementwise
//! operations (its [`Plan`] says what to do), with generated leaves made
//! inside it and reductions folded into it, then a combining tree.
//!
//! A chunk task takes at most [`MAX_INPUTS`] stored chunks (the delayed API
//! takes a fixed tuple); where an expression needs more, one operand is
//! computed first as a task of its own.

use super::block::Block;
use super::chunks::{grid, linear, locate, offsets};
use super::eval::{eval0, eval1, eval2, eval3, Held, Plan, Reducing, Task};
use super::expr::{Expr, Raw};
use super::reduce::{combine, Reduction};
use crate::delayed::{delayed, Delayed};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The most stored chunks one chunk task takes.
pub(crate) const MAX_INPUTS: usize = 3;

/// Names a stored chunk: its array's expression and its chunk number, or
/// a materialized operand (array 0).
type InputKey = (usize, usize);

/// A plan's stored inputs, in the order its `Input` indices refer to.
type Inputs = Vec<(InputKey, Delayed<Block>)>;

/// One lowering: arrays used twice are lowered once.
#[derive(Default)]
pub(crate) struct Lowering {
    lowered: HashMap<usize, Vec<Delayed<Block>>>,
    materialized: usize,
    /// Expressions several results of one batch use: computed as tasks of
    /// their own (one per chunk) that those results read, not fused.
    shared: HashSet<usize>,
}

fn id(a: &Raw) -> usize {
    Arc::as_ptr(&a.expr) as *const () as usize
}

impl Lowering {
    /// A lowering for computing `roots` together: an expression several
    /// of them use is computed once, as tasks of its own (one per chunk)
    /// that they read, rather than fused into each. Only the topmost such
    /// expressions are: one that is shared only through a shared one is
    /// fused into its tasks (and constants, cheaper to make where they are
    /// used, never are).
    pub fn shared(roots: &[Raw]) -> Self {
        let mut shared: HashMap<usize, Raw> = HashMap::new();
        loop {
            let mut uses: HashMap<usize, (usize, &Raw)> = HashMap::new();
            for root in roots {
                for (n, a) in reach(root, true, &shared) {
                    uses.entry(n).or_insert((0, a)).0 += 1;
                }
            }
            for a in shared.values() {
                for (n, a) in reach(a, false, &shared) {
                    uses.entry(n).or_insert((0, a)).0 += 1;
                }
            }
            let candidates: Vec<(usize, Raw)> = uses
                .into_iter()
                .filter(|(n, (count, a))| {
                    *count > 1
                        && !shared.contains_key(n)
                        && !matches!(&*a.expr, Expr::Fill(_) | Expr::Ramp { .. })
                })
                .map(|(n, (_, a))| (n, a.clone()))
                .collect();
            if candidates.is_empty() {
                break;
            }
            let below: HashSet<usize> = candidates
                .iter()
                .flat_map(|(_, a)| reach(a, false, &shared).into_keys())
                .collect();
            let top: Vec<(usize, Raw)> = candidates
                .into_iter()
                .filter(|(n, _)| !below.contains(n))
                .collect();
            shared.extend(top);
        }
        Lowering {
            shared: shared.into_keys().collect(),
            ..Lowering::default()
        }
    }

    /// A delayed block per chunk of `a`, row-major.
    pub fn blocks(&mut self, a: &Raw) -> Vec<Delayed<Block>> {
        if let Some(done) = self.lowered.get(&id(a)) {
            return done.clone();
        }
        let out = match &*a.expr {
            Expr::Stored(blocks) => blocks.clone(),
            Expr::Rechunk(child) => grid(&a.chunks)
                .into_iter()
                .map(|(_, start, shape)| self.assemble(a, child, &start, &shape))
                .collect(),
            Expr::Reduce {
                op,
                axes,
                split_every,
                array,
            } => self.reduce(a, *op, axes, *split_every, array),
            _ => grid(&a.chunks)
                .into_iter()
                .map(|(_, start, shape)| {
                    let (plan, inputs) = self.expand(a, &start, &shape);
                    submit(Task { plan, reduce: None }, inputs)
                })
                .collect(),
        };
        self.lowered.insert(id(a), out.clone());
        out
    }

    /// Each chunk of `array` reduced in its own task, then the partial
    /// results of each output chunk combined `split_every` at a time.
    fn reduce(
        &mut self,
        out: &Raw,
        op: Reduction,
        axes: &[usize],
        split_every: usize,
        array: &Raw,
    ) -> Vec<Delayed<Block>> {
        let mut groups: Vec<Vec<Delayed<Block>>> = vec![Vec::new(); out.num_chunks()];
        for (index, start, shape) in grid(&array.chunks) {
            let (plan, inputs) = self.plan(array, &start, &shape);
            let task = Task {
                plan,
                reduce: Some(Reducing {
                    op,
                    axes: axes.to_vec(),
                    origin: start,
                    whole: array.shape.clone(),
                }),
            };
            let kept: Vec<usize> = index
                .iter()
                .enumerate()
                .filter(|(axis, _)| !axes.contains(axis))
                .map(|(_, &i)| i)
                .collect();
            groups[linear(&out.chunks, &kept)].push(submit(task, inputs));
        }
        groups
            .into_iter()
            .map(|mut level| {
                while level.len() > 1 {
                    level = level
                        .chunks(split_every.max(2))
                        .map(|part| match part {
                            [one] => one.clone(),
                            _ => delayed(combine, part),
                        })
                        .collect();
                }
                level.pop().expect("every output chunk has an input chunk")
            })
            .collect()
    }

    /// The plan for the region `start..start + shape` of `a`, which lies
    /// inside one chunk of every stored array it reads.
    fn plan(&mut self, a: &Raw, start: &[usize], shape: &[usize]) -> (Plan, Inputs) {
        if self.shared.contains(&id(a)) {
            return self.read(a, start, shape);
        }
        self.expand(a, start, shape)
    }

    /// The region `start..start + shape` of `a`'s own chunk tasks, read
    /// by the task being planned.
    fn read(&mut self, a: &Raw, start: &[usize], shape: &[usize]) -> (Plan, Inputs) {
        let blocks = self.blocks(a);
        let (chunk, within, _) = chunk_of(a, start, shape);
        let plan = Plan::Input {
            index: 0,
            start: within,
            shape: shape.to_vec(),
        };
        (plan, vec![((id(a), chunk), blocks[chunk].clone())])
    }

    /// [`plan`](Self::plan) with `a`'s own expression fused into the task.
    fn expand(&mut self, a: &Raw, start: &[usize], shape: &[usize]) -> (Plan, Inputs) {
        let (start, shape) = (start.to_vec(), shape.to_vec());
        match &*a.expr {
            Expr::Local(array) => (
                Plan::Data(Held::Region {
                    array: array.clone(),
                    start,
                    shape,
                }),
                Vec::new(),
            ),
            Expr::Fill(value) => (
                Plan::Fill {
                    value: *value,
                    dtype: a.dtype,
                    shape,
                },
                Vec::new(),
            ),
            Expr::Ramp {
                start: from,
                step,
                last,
            } => (
                Plan::Ramp {
                    start: *from,
                    step: *step,
                    offset: start[0],
                    len: shape[0],
                    last: *last,
                },
                Vec::new(),
            ),
            Expr::Random { dist, seed } => {
                let (chunk, within, chunk_shape) = chunk_of(a, &start, &shape);
                (
                    Plan::Random {
                        dist: *dist,
                        seed: *seed,
                        chunk: chunk as u64,
                        chunk_shape,
                        start: within,
                        shape,
                    },
                    Vec::new(),
                )
            }
            Expr::Rechunk(child) if pieces(child, &start, &shape).len() == 1 => {
                self.plan(child, &start, &shape)
            }
            Expr::Stored(_) | Expr::Reduce { .. } | Expr::Rechunk(_) => {
                self.read(a, &start, &shape)
            }
            Expr::Unary(op, child) => {
                let (plan, inputs) = self.plan(child, &start, &shape);
                (Plan::Unary(*op, Box::new(plan)), inputs)
            }
            Expr::Transpose(perm, child) => {
                let (mut cstart, mut cshape) = (vec![0; perm.len()], vec![0; perm.len()]);
                for (i, &p) in perm.iter().enumerate() {
                    cstart[p] = start[i];
                    cshape[p] = shape[i];
                }
                let (plan, inputs) = self.plan(child, &cstart, &cshape);
                (Plan::Transpose(perm.clone(), Box::new(plan)), inputs)
            }
            Expr::Cast(child) => {
                let (plan, inputs) = self.plan(child, &start, &shape);
                (Plan::Cast(a.dtype, Box::new(plan)), inputs)
            }
            Expr::Slice {
                start: from,
                step,
                array,
            } => {
                let cstart: Vec<usize> = (0..from.len())
                    .map(|i| from[i] + start[i] * step[i])
                    .collect();
                let cshape: Vec<usize> = (0..from.len())
                    .map(|i| {
                        if shape[i] == 0 {
                            0
                        } else {
                            (shape[i] - 1) * step[i] + 1
                        }
                    })
                    .collect();
                let (plan, inputs) = self.plan(array, &cstart, &cshape);
                let plan = Plan::Strided {
                    start: vec![0; shape.len()],
                    step: step.clone(),
                    len: shape,
                    plan: Box::new(plan),
                };
                (plan, inputs)
            }
            Expr::Binary(op, l, r) => {
                let (mut plans, inputs) = self.operands(&[l, r], &start, &shape);
                let (pr, pl) = (plans.pop().expect("two"), plans.pop().expect("two"));
                (Plan::Binary(*op, Box::new(pl), Box::new(pr)), inputs)
            }
            Expr::Where(c, l, r) => {
                let (mut plans, inputs) = self.operands(&[c, l, r], &start, &shape);
                let pr = plans.pop().expect("three");
                let pl = plans.pop().expect("three");
                let pc = plans.pop().expect("three");
                (
                    Plan::Where(Box::new(pc), Box::new(pl), Box::new(pr)),
                    inputs,
                )
            }
        }
    }

    /// The plans of broadcast operands for one result region, their
    /// inputs merged (and operands computed as tasks of their own until at
    /// most [`MAX_INPUTS`] remain).
    fn operands(&mut self, ops: &[&Raw], start: &[usize], shape: &[usize]) -> (Vec<Plan>, Inputs) {
        let mut parts: Vec<(Plan, Inputs, Vec<usize>)> = ops
            .iter()
            .map(|op| {
                let (s, n) = operand_region(op, start, shape);
                let (plan, inputs) = self.plan(op, &s, &n);
                (plan, inputs, n)
            })
            .collect();
        loop {
            let all = parts
                .iter()
                .fold(Vec::new(), |acc, (_, inputs, _)| merge(&acc, inputs).0);
            if all.len() <= MAX_INPUTS {
                break;
            }
            let (most, _) = parts
                .iter()
                .enumerate()
                .max_by_key(|(i, p)| (p.1.len(), std::cmp::Reverse(*i)))
                .expect("operands");
            let (plan, inputs, n) = parts.remove(most);
            let (plan, inputs) = self.materialize(plan, inputs, &n);
            parts.insert(most, (plan, inputs, n));
        }
        let mut all: Inputs = Vec::new();
        let mut plans = Vec::with_capacity(parts.len());
        for (mut plan, inputs, _) in parts {
            let (merged, map) = merge(&all, &inputs);
            plan.shift_inputs(&map);
            all = merged;
            plans.push(plan);
        }
        (plans, all)
    }

    /// Chunk `start..start + shape` of `a`, a rechunking of `child`: its
    /// planned pieces (each inside one chunk of `child`) in a task, or in a
    /// chain of tasks each adding pieces to the one before while a task
    /// would read more than [`MAX_INPUTS`] stored chunks.
    fn assemble(
        &mut self,
        a: &Raw,
        child: &Raw,
        start: &[usize],
        shape: &[usize],
    ) -> Delayed<Block> {
        let found = pieces(child, start, shape);
        if found.len() == 1 {
            let (plan, inputs) = self.plan(child, start, shape);
            return submit(Task { plan, reduce: None }, inputs);
        }
        let whole = |base: Option<Box<Plan>>, pieces| Plan::Assemble {
            dtype: a.dtype,
            shape: shape.to_vec(),
            base,
            pieces,
        };
        let (mut base, mut inputs): (Option<Box<Plan>>, Inputs) = (None, Vec::new());
        let mut current: Vec<(Plan, Vec<usize>)> = Vec::new();
        for (pstart, pshape) in found {
            let (mut plan, mut pin) = self.plan(child, &pstart, &pshape);
            if !current.is_empty() && merge(&inputs, &pin).0.len() > MAX_INPUTS {
                let plan = whole(base.take(), std::mem::take(&mut current));
                let (read, read_inputs) =
                    self.materialize(plan, std::mem::take(&mut inputs), shape);
                base = Some(Box::new(read));
                inputs = read_inputs;
            }
            if merge(&inputs, &pin).0.len() > MAX_INPUTS {
                (plan, pin) = self.materialize(plan, pin, &pshape);
            }
            let (merged, map) = merge(&inputs, &pin);
            plan.shift_inputs(&map);
            inputs = merged;
            let at = pstart.iter().zip(start).map(|(p, s)| p - s).collect();
            current.push((plan, at));
        }
        submit(
            Task {
                plan: whole(base, current),
                reduce: None,
            },
            inputs,
        )
    }

    /// `plan` as a task of its own, read whole by the plan returned.
    fn materialize(&mut self, plan: Plan, inputs: Inputs, shape: &[usize]) -> (Plan, Inputs) {
        self.materialized += 1;
        let block = submit(Task { plan, reduce: None }, inputs);
        let plan = Plan::Input {
            index: 0,
            start: vec![0; shape.len()],
            shape: shape.to_vec(),
        };
        (plan, vec![((0, self.materialized), block)])
    }
}

/// The expressions `a` reads, directly or not, without looking inside
/// those in `shared` (computed as tasks of their own), and `a` itself when
/// `itself`.
fn reach<'a>(a: &'a Raw, itself: bool, shared: &HashMap<usize, Raw>) -> HashMap<usize, &'a Raw> {
    let mut out: HashMap<usize, &'a Raw> = HashMap::new();
    if itself {
        out.insert(id(a), a);
    }
    let mut stack: Vec<&'a Raw> = children(&a.expr);
    while let Some(b) = stack.pop() {
        if out.insert(id(b), b).is_none() && !shared.contains_key(&id(b)) {
            stack.extend(children(&b.expr));
        }
    }
    out
}

/// The expressions `e` reads.
pub(crate) fn children(e: &Expr) -> Vec<&Raw> {
    match e {
        Expr::Local(_)
        | Expr::Stored(_)
        | Expr::Fill(_)
        | Expr::Ramp { .. }
        | Expr::Random { .. } => Vec::new(),
        Expr::Unary(_, a)
        | Expr::Transpose(_, a)
        | Expr::Cast(a)
        | Expr::Rechunk(a)
        | Expr::Slice { array: a, .. }
        | Expr::Reduce { array: a, .. } => vec![a],
        Expr::Binary(_, a, b) => vec![a, b],
        Expr::Where(c, a, b) => vec![c, a, b],
    }
}

/// `left`'s inputs followed by those of `right` it lacks, and where each of
/// `right`'s inputs went.
fn merge(left: &Inputs, right: &Inputs) -> (Inputs, Vec<usize>) {
    let mut all = left.clone();
    let mut map = Vec::with_capacity(right.len());
    for (key, block) in right {
        match all.iter().position(|(k, _)| k == key) {
            Some(i) => map.push(i),
            None => {
                map.push(all.len());
                all.push((*key, block.clone()));
            }
        }
    }
    (all, map)
}

/// The region of operand `a` that a broadcast result region reads: its
/// axes line up with the result's last ones, and a length-1 axis is read
/// whole.
fn operand_region(a: &Raw, start: &[usize], shape: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let skip = start.len() - a.shape.len();
    a.shape
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            if len == 1 {
                (0, 1)
            } else {
                (start[skip + i], shape[skip + i])
            }
        })
        .unzip()
}

/// The pieces of the region `start..start + shape` that lie in one chunk
/// of `a` each, as (start, shape), row-major.
fn pieces(a: &Raw, start: &[usize], shape: &[usize]) -> Vec<(Vec<usize>, Vec<usize>)> {
    let mut out: Vec<(Vec<usize>, Vec<usize>)> = vec![(Vec::new(), Vec::new())];
    for (axis, lengths) in a.chunks.iter().enumerate() {
        let (from, to) = (start[axis], start[axis] + shape[axis]);
        let offs = offsets(lengths);
        let cuts: Vec<(usize, usize)> = offs
            .windows(2)
            .filter_map(|w| {
                let (lo, hi) = (w[0].max(from), w[1].min(to));
                (lo < hi).then(|| (lo, hi - lo))
            })
            .collect();
        out = out
            .into_iter()
            .flat_map(|(s, n)| {
                cuts.iter().map(move |&(lo, len)| {
                    let (mut s, mut n) = (s.clone(), n.clone());
                    s.push(lo);
                    n.push(len);
                    (s, n)
                })
            })
            .collect();
    }
    out
}

/// The chunk of `a` holding a region: its number, where the region starts
/// inside it, and its shape.
fn chunk_of(a: &Raw, start: &[usize], shape: &[usize]) -> (usize, Vec<usize>, Vec<usize>) {
    let mut index = Vec::with_capacity(start.len());
    let mut within = Vec::with_capacity(start.len());
    let mut chunk_shape = Vec::with_capacity(start.len());
    for (axis, lengths) in a.chunks.iter().enumerate() {
        let (i, at) = locate(lengths, start[axis], shape[axis])
            .expect("a planned region lies inside one chunk of each operand");
        index.push(i);
        within.push(at);
        chunk_shape.push(lengths[i]);
    }
    (linear(&a.chunks, &index), within, chunk_shape)
}

/// The delayed chunk task running `task` on `inputs` (at most [`MAX_INPUTS`]).
fn submit(task: Task, inputs: Inputs) -> Delayed<Block> {
    let mut blocks = inputs.into_iter().map(|(_, block)| block);
    match (blocks.next(), blocks.next(), blocks.next(), blocks.next()) {
        (None, ..) => delayed(eval0, task),
        (Some(a), None, ..) => delayed(eval1, (task, a)),
        (Some(a), Some(b), None, _) => delayed(eval2, (task, a, b)),
        (Some(a), Some(b), Some(c), None) => delayed(eval3, (task, a, b, c)),
        (Some(_), Some(_), Some(_), Some(_)) => {
            unreachable!("a chunk task is planned with at most {MAX_INPUTS} inputs")
        }
    }
}
