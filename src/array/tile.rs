//! A chunk's elementwise plan evaluated in cache-sized tiles: instead of
//! one pass over the whole chunk per operation, each with a new
//! chunk-sized buffer, the whole chain of operations runs over [`TILE`]
//! elements at a time. Each node of the plan owns one tile buffer,
//! allocated once per chunk evaluation and reused for every tile, so the
//! working set stays in cache and nothing chunk-sized is made in between.
//!
//! What is tiled: the elementwise operations (`Unary`, `Binary`, `Where`,
//! `Cast`) whose operands all have the chunk's shape or are single values,
//! and their leaves: random chunks read whole (generated tile by tile from
//! their stream, one stream for all reads of the same chunk), fills, and
//! stored inputs read whole (read in place). Everything else is evaluated
//! whole first by [`Plan::eval`] and read tile by tile: regions of inputs
//! or random chunks, data sent with the task, ramps, slices, assembled
//! chunks, transposed operands (copied once into row-major order), and
//! operations that broadcast a row or a column (awkward to tile: an
//! operand's tile would not be a run of its memory).
//!
//! Chunk tasks whose elementwise part takes a `sin` or `cos` are left to
//! the whole-chunk path for now ([`Plan::trig`]: measured slower tiled).
//!
//! A reduction over every axis, or a sum or mean over axis 0 of a 2-d
//! chunk, is folded into the tile loop, so the chunk is never
//! materialised. Every element goes through the same functions as in
//! [`Plan::eval`] and the reductions add in the same order as
//! [`partial`](super::reduce::partial) does over a row-major chunk (sums
//! with ndarray's eight running sums, [`Lanes`]; folds one value after the
//! other; axis-0 sums row after row), so the results are the same to the
//! bit. (The whole-chunk path reduces in memory order, which differs from
//! row-major when its result comes out transposed; then the tiled sums
//! differ in rounding only.)

use super::block::Block;
use super::dtype::{with, with2, DType, Element, Fold, Num, Values};
use super::eval::{BinOp, Context, Plan, Reducing, Unary};
use super::fastmath;
use super::random::Stream;
use super::reduce::{partial, reduced, Lanes, Reduction};
use crate::ndarray::{s, ArrayD, Ix2, IxDyn};

/// Elements per tile: 16 KiB of `f64` per buffer, so the dozen buffers of
/// a typical chain stay in the core's L2 cache. A multiple of 8 (the
/// running sums of [`Lanes`] take whole groups of 8).
pub(crate) const TILE: usize = 2048;

/// Where a node's values for the current tile are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Its buffer, written for each tile (the first `len` values).
    Tile,
    /// Its buffer, the same value repeated, written once.
    Const,
    /// The whole chunk in standard layout: the tile is at `lo..hi`.
    Whole,
}

/// One operation of the tile loop, writing the buffer of `out`.
enum Step {
    Random(Stream, usize),
    Unary(Unary, usize, usize),
    Binary(BinOp, usize, usize, usize),
    Where([usize; 3], usize),
    Cast(DType, usize, usize),
}

/// A stored input read whole by the tiled part, taken once the plan's
/// other reads of it are done.
struct Pending {
    input: usize,
    reg: usize,
    reads: usize,
}

/// A plan compiled for the tile loop.
struct Program {
    regs: Vec<(Kind, Values)>,
    steps: Vec<Step>,
    root: usize,
    out: Vec<usize>,
    tile: usize,
    randoms: Vec<(super::eval::RandomKey, usize)>,
    pending: Vec<Pending>,
}

/// What the tile loop does with the root's values.
enum Sink {
    /// Writes them into the chunk.
    Chunk(Values),
    /// Sums them over every axis.
    Sum(SumAll),
    /// Folds them over every axis (one value after the other).
    Fold(Fold, Values),
    /// Sums them over axis 0 (row after row).
    Rows(Values),
}

/// Running sums of a float chunk.
enum SumAll {
    F64(Lanes<f64>),
    F32(Lanes<f32>),
}

impl Plan {
    /// The operands of an elementwise operation, `None` for other plans.
    fn operands(&self) -> Option<Vec<&Plan>> {
        match self {
            Plan::Unary(_, p) | Plan::Cast(_, p) => Some(vec![p]),
            Plan::Binary(_, a, b) => Some(vec![a, b]),
            Plan::Where(c, a, b) => Some(vec![c, a, b]),
            _ => None,
        }
    }

    /// Whether the plan is an elementwise operation whose operands all
    /// have shape `out` or are single values (so its own shape is `out`
    /// unless every operand is a single value).
    pub(super) fn tileable(&self, out: &[usize]) -> bool {
        self.operands().is_some_and(|ops| {
            let shapes: Vec<Vec<usize>> = ops.iter().map(|p| p.shape()).collect();
            shapes.iter().any(|s| s.as_slice() == out)
                && shapes.iter().all(|s| s.as_slice() == out || s.is_empty())
        })
    }

    /// Whether the elementwise part of the plan takes a `sin` or `cos`. Such plans are left to the whole-chunk path for
    /// now: measured on one core, `sin(x) + cos(x.t())` over a 1000 × 1000
    /// chunk summed took 19 ms of CPU tiled against 10 ms whole, though
    /// its parts tiled alone (`sin(x)`, `cos(x.t())`, `x + x.t()`, each
    /// summed) took 3, 6 and 6 ms; not yet understood.
    pub(super) fn trig(&self) -> bool {
        match self {
            Plan::Unary(Unary::Sin | Unary::Cos, _) => true,
            _ => self
                .operands()
                .is_some_and(|ops| ops.iter().any(|p| p.trig())),
        }
    }

    /// Whether the plan is a whole random chunk of shape `out`, which the
    /// tile loop generates tile by tile.
    fn whole_random(&self, out: &[usize]) -> bool {
        matches!(self, Plan::Random { chunk_shape, start, shape, .. }
            if shape.as_slice() == out
                && chunk_shape == shape
                && start.iter().all(|&s| s == 0))
    }

    /// The element type of the plan's values.
    fn dtype(&self, cx: &Context) -> DType {
        use super::eval::Held;
        match self {
            Plan::Input { index, .. } => cx.inputs[*index].0.dtype(),
            Plan::Data(Held::Owned(a)) => a.dtype(),
            Plan::Data(Held::Region { array, .. }) => array.dtype(),
            Plan::Fill { dtype, .. } | Plan::Cast(dtype, _) | Plan::Assemble { dtype, .. } => {
                *dtype
            }
            Plan::Ramp { .. } | Plan::Random { .. } => DType::F64,
            Plan::Binary(BinOp::Cmp(_), ..) => DType::Bool,
            Plan::Unary(_, p)
            | Plan::Binary(_, p, _)
            | Plan::Where(_, p, _)
            | Plan::Transpose(_, p)
            | Plan::Strided { plan: p, .. } => p.dtype(cx),
        }
    }

    /// The shape of the plan's values.
    pub(super) fn shape(&self) -> Vec<usize> {
        use super::eval::{broadcast_shape, Held};
        match self {
            Plan::Input { shape, .. }
            | Plan::Fill { shape, .. }
            | Plan::Random { shape, .. }
            | Plan::Assemble { shape, .. }
            | Plan::Data(Held::Region { shape, .. }) => shape.clone(),
            Plan::Data(Held::Owned(a)) => a.shape().to_vec(),
            Plan::Ramp { len, .. } => vec![*len],
            Plan::Unary(_, p) | Plan::Cast(_, p) => p.shape(),
            Plan::Binary(_, a, b) => broadcast_shape(&a.shape(), &b.shape()),
            Plan::Where(c, a, b) => {
                broadcast_shape(&broadcast_shape(&c.shape(), &a.shape()), &b.shape())
            }
            Plan::Transpose(perm, p) => {
                let inner = p.shape();
                perm.iter().map(|&i| inner[i]).collect()
            }
            Plan::Strided { len, .. } => len.clone(),
        }
    }
}

impl Program {
    /// `plan` compiled for tiles of `tile` elements, the parts that are
    /// not tiled evaluated whole.
    fn new(plan: &Plan, out: &[usize], tile: usize, cx: &mut Context) -> Program {
        let mut p = Program {
            regs: Vec::new(),
            steps: Vec::new(),
            root: 0,
            out: out.to_vec(),
            tile,
            randoms: Vec::new(),
            pending: Vec::new(),
        };
        p.root = p.node(plan, cx);
        for pend in std::mem::take(&mut p.pending) {
            let (values, reads) = &mut cx.inputs[pend.input];
            *reads = reads.saturating_sub(pend.reads);
            let whole = if *reads == 0 {
                std::mem::take(values)
            } else {
                values.clone()
            };
            p.regs[pend.reg].1 = standard(whole);
        }
        p
    }

    /// A new buffer of `dtype` for the values of each tile.
    fn buffer(&mut self, dtype: DType) -> usize {
        self.regs
            .push((Kind::Tile, Values::fill(Num::I(0), dtype, &[self.tile])));
        self.regs.len() - 1
    }

    fn dtype(&self, reg: usize) -> DType {
        self.regs[reg].1.dtype()
    }

    /// The register holding `plan`'s values tile by tile.
    fn node(&mut self, plan: &Plan, cx: &mut Context) -> usize {
        let out = self.out.clone();
        if plan.tileable(&out) {
            let ops: Vec<usize> = plan
                .operands()
                .expect("a tileable plan is elementwise")
                .into_iter()
                .map(|p| self.node(p, cx))
                .collect();
            let dtype = match plan {
                Plan::Binary(BinOp::Cmp(_), ..) => DType::Bool,
                Plan::Cast(dtype, _) => *dtype,
                Plan::Where(..) => self.dtype(ops[1]),
                _ => self.dtype(ops[0]),
            };
            let reg = self.buffer(dtype);
            self.steps.push(match plan {
                Plan::Unary(op, _) => Step::Unary(*op, ops[0], reg),
                Plan::Cast(dtype, _) => Step::Cast(*dtype, ops[0], reg),
                Plan::Binary(op, ..) => Step::Binary(*op, ops[0], ops[1], reg),
                _ => Step::Where([ops[0], ops[1], ops[2]], reg),
            });
            return reg;
        }
        match plan {
            Plan::Random {
                dist,
                seed,
                chunk,
                chunk_shape,
                ..
            } if plan.whole_random(&out) => {
                let key = (*seed, *dist, *chunk, chunk_shape.clone());
                if let Some(r) = cx.randoms.iter_mut().find(|r| r.0 == key) {
                    r.2 = r.2.saturating_sub(1);
                }
                if let Some(&(_, reg)) = self.randoms.iter().find(|r| r.0 == key) {
                    return reg;
                }
                let reg = self.buffer(DType::F64);
                self.steps
                    .push(Step::Random(Stream::new(*seed, *dist, *chunk), reg));
                self.randoms.push((key, reg));
                reg
            }
            Plan::Input { index, shape, .. }
                if shape.as_slice() == out.as_slice()
                    && cx.inputs[*index].0.shape() == out.as_slice() =>
            {
                if let Some(p) = self.pending.iter_mut().find(|p| p.input == *index) {
                    p.reads += 1;
                    return p.reg;
                }
                // Typed now (its operations take their type from it),
                // filled once the plan's other reads are done.
                let dtype = cx.inputs[*index].0.dtype();
                self.regs
                    .push((Kind::Whole, Values::fill(Num::I(0), dtype, &[0])));
                let reg = self.regs.len() - 1;
                self.pending.push(Pending {
                    input: *index,
                    reg,
                    reads: 1,
                });
                reg
            }
            Plan::Fill { value, dtype, .. } => {
                let values = Values::fill(*value, *dtype, &[self.tile]);
                self.regs.push((Kind::Const, values));
                self.regs.len() - 1
            }
            _ => {
                let values = plan.eval(cx);
                if values.shape().is_empty() {
                    let tile = self.tile;
                    let values = with!(values, a: T => T::wrap(ArrayD::from_elem(
                        IxDyn(&[tile]),
                        a[IxDyn(&[])],
                    )));
                    self.regs.push((Kind::Const, values));
                } else {
                    self.regs.push((Kind::Whole, standard(values)));
                }
                self.regs.len() - 1
            }
        }
    }

    /// Runs the tile loop, giving each tile of the root's values to `sink`.
    fn run(&mut self, sink: &mut Sink) {
        let size: usize = self.out.iter().product();
        let mut lo = 0;
        while lo < size {
            let len = self.tile.min(size - lo);
            for step in &mut self.steps {
                exec(step, &mut self.regs, lo, len);
            }
            let (values, at) = view(&self.regs[self.root], lo);
            sink.take(values, at, len, lo);
            lo += len;
        }
    }
}

/// A register's values and where the current tile starts in them.
fn view(reg: &(Kind, Values), lo: usize) -> (&Values, usize) {
    match reg.0 {
        Kind::Whole => (&reg.1, lo),
        Kind::Tile | Kind::Const => (&reg.1, 0),
    }
}

/// The values of a one-dimensional or standard-layout array.
fn run_of<T>(a: &ArrayD<T>, at: usize, len: usize) -> &[T] {
    &a.as_slice().expect("tile operands are in standard layout")[at..at + len]
}

/// The buffer inside `v`, of element type `T`.
fn buf<T: Element>(v: &mut Values) -> &mut [T] {
    T::array_mut(v)
        .as_slice_mut()
        .expect("buffers are contiguous")
}

/// One step over the tile of `len` values from element `lo`.
fn exec(step: &mut Step, regs: &mut [(Kind, Values)], lo: usize, len: usize) {
    let out = match step {
        Step::Random(_, r)
        | Step::Unary(_, _, r)
        | Step::Binary(_, _, _, r)
        | Step::Where(_, r)
        | Step::Cast(_, _, r) => *r,
    };
    let mut dst = std::mem::take(&mut regs[out].1);
    match step {
        Step::Random(stream, _) => {
            let Values::F64(d) = &mut dst else {
                unreachable!("random buffers are f64")
            };
            stream.fill(&mut d.as_slice_mut().expect("a buffer")[..len]);
        }
        Step::Unary(op, a, _) => {
            let (src, at) = view(&regs[*a], lo);
            unary(*op, src, at, &mut dst, len);
        }
        Step::Binary(op, a, b, _) => {
            let (x, xa) = view(&regs[*a], lo);
            let (y, ya) = view(&regs[*b], lo);
            binary(*op, (x, xa), (y, ya), &mut dst, len);
        }
        Step::Where([c, a, b], _) => {
            let (c, ca) = view(&regs[*c], lo);
            let (x, xa) = view(&regs[*a], lo);
            let (y, ya) = view(&regs[*b], lo);
            let Values::Bool(c) = c else {
                panic!("a where_ condition that is not bool")
            };
            let c = run_of(c, ca, len);
            with2!(x, y, x, y: T => {
                let d = buf::<T>(&mut dst);
                let (x, y) = (run_of(x, xa, len), run_of(y, ya, len));
                for (((d, &c), &x), &y) in d[..len].iter_mut().zip(c).zip(x).zip(y) {
                    *d = if c { x } else { y };
                }
            });
        }
        Step::Cast(to, a, _) => {
            let (src, at) = view(&regs[*a], lo);
            with!(src, s: _T => cast(run_of(s, at, len), *to, &mut dst));
        }
    }
    regs[out].1 = dst;
}

/// `op` of `src[at..at + len]` into `dst`; `sin` and `cos` of `f64` by
/// [`fastmath`] over the run, as [`Plan::eval`] does over the chunk.
fn unary(op: Unary, src: &Values, at: usize, dst: &mut Values, len: usize) {
    if let (Unary::Sin | Unary::Cos, Values::F64(s), Values::F64(d)) = (op, src, &mut *dst) {
        let d = &mut d.as_slice_mut().expect("a buffer")[..len];
        d.copy_from_slice(run_of(s, at, len));
        if op == Unary::Sin {
            fastmath::sin_in_place(d);
        } else {
            fastmath::cos_in_place(d);
        }
        return;
    }
    fn go<T: Element>(s: &[T], d: &mut [T], f: impl Fn(T) -> T) {
        for (d, &s) in d.iter_mut().zip(s) {
            *d = f(s);
        }
    }
    with!(src, s: T => {
        let s = run_of(s, at, len);
        let d = &mut buf::<T>(dst)[..len];
        match op {
            Unary::Neg => go(s, d, |x| T::unary(Unary::Neg, x)),
            Unary::Sin => go(s, d, |x| T::unary(Unary::Sin, x)),
            Unary::Cos => go(s, d, |x| T::unary(Unary::Cos, x)),
            Unary::Tan => go(s, d, |x| T::unary(Unary::Tan, x)),
            Unary::Exp => go(s, d, |x| T::unary(Unary::Exp, x)),
            Unary::Ln => go(s, d, |x| T::unary(Unary::Ln, x)),
            Unary::Sqrt => go(s, d, |x| T::unary(Unary::Sqrt, x)),
            Unary::Abs => go(s, d, |x| T::unary(Unary::Abs, x)),
            Unary::Powi(n) => go(s, d, |x| T::unary(Unary::Powi(n), x)),
        }
    });
}

/// `x op y` over a tile into `dst`, one loop per operation.
fn binary(op: BinOp, x: (&Values, usize), y: (&Values, usize), dst: &mut Values, len: usize) {
    fn go<T: Copy, U>(x: &[T], y: &[T], d: &mut [U], f: impl Fn(T, T) -> U) {
        for ((d, &x), &y) in d.iter_mut().zip(x).zip(y) {
            *d = f(x, y);
        }
    }
    use super::dtype::Arith;
    with2!(x.0, y.0, a, b: T => {
        let (a, b) = (run_of(a, x.1, len), run_of(b, y.1, len));
        match op {
            BinOp::Cmp(c) => {
                let d = &mut buf::<bool>(dst)[..len];
                go(a, b, d, |p, q| c.apply(p, q));
            }
            BinOp::Arith(o) => {
                let d = &mut buf::<T>(dst)[..len];
                match o {
                    Arith::Add => go(a, b, d, |p, q| T::arith(Arith::Add, p, q)),
                    Arith::Sub => go(a, b, d, |p, q| T::arith(Arith::Sub, p, q)),
                    Arith::Mul => go(a, b, d, |p, q| T::arith(Arith::Mul, p, q)),
                    Arith::Div => go(a, b, d, |p, q| T::arith(Arith::Div, p, q)),
                    Arith::Pow => go(a, b, d, |p, q| T::arith(Arith::Pow, p, q)),
                }
            }
        }
    });
}

/// `src` as the element type of `dst` into it (`as` casts, as
/// [`Values::cast`]).
fn cast<T: Element>(src: &[T], to: DType, dst: &mut Values) {
    fn go<T: Element, U: Element>(s: &[T], dst: &mut Values) {
        let d = buf::<U>(dst);
        for (d, &s) in d.iter_mut().zip(s) {
            *d = U::from_num(s.to_num());
        }
    }
    match to {
        DType::F64 => go::<T, f64>(src, dst),
        DType::F32 => go::<T, f32>(src, dst),
        DType::I64 => go::<T, i64>(src, dst),
        DType::I32 => go::<T, i32>(src, dst),
        DType::U8 => go::<T, u8>(src, dst),
        DType::Bool => go::<T, bool>(src, dst),
    }
}

impl Sink {
    /// The sink for a chunk of `shape` and `dtype` going into `reduce`:
    /// `None` when the reduction cannot be folded into the tile loop.
    fn new(reduce: Option<&Reducing>, shape: &[usize], dtype: DType) -> Option<Sink> {
        let size: usize = shape.iter().product();
        let Some(r) = reduce else {
            return Some(Sink::Chunk(Values::fill(Num::I(0), dtype, shape)));
        };
        let float_sum = match (r.op, dtype) {
            (Reduction::Sum | Reduction::Mean, DType::F64) => Some(SumAll::F64(Lanes::new(size))),
            (Reduction::Sum, DType::F32) => Some(SumAll::F32(Lanes::new(size))),
            _ => None,
        };
        let every: Vec<usize> = (0..shape.len()).collect();
        if r.axes == every {
            return match (float_sum, r.op) {
                (Some(s), _) => Some(Sink::Sum(s)),
                (
                    None,
                    Reduction::Sum
                    | Reduction::Mean
                    | Reduction::Prod
                    | Reduction::Min
                    | Reduction::Max
                    | Reduction::Any
                    | Reduction::All,
                ) => {
                    let fold = match r.op {
                        Reduction::Sum | Reduction::Mean => Fold::Sum,
                        Reduction::Prod => Fold::Prod,
                        Reduction::Min => Fold::Min,
                        Reduction::Max => Fold::Max,
                        Reduction::Any => Fold::Any,
                        _ => Fold::All,
                    };
                    let zero = Values::fill(Num::I(0), dtype, &[]);
                    let acc = with!(zero, _z: T => T::wrap(ArrayD::from_elem(
                        IxDyn(&[]),
                        T::identity(fold),
                    )));
                    Some(Sink::Fold(fold, acc))
                }
                _ => None,
            };
        }
        // ndarray sums axis 0 of a standard-layout 2-d chunk row after row
        // when both axes are longer than 1.
        if r.axes == [0] && shape.len() == 2 && shape[0] > 1 && shape[1] > 1 && float_sum.is_some()
        {
            return Some(Sink::Rows(Values::fill(Num::I(0), dtype, &shape[1..])));
        }
        None
    }

    /// Takes `values[at..at + len]`, elements `lo..lo + len` of the chunk.
    fn take(&mut self, values: &Values, at: usize, len: usize, lo: usize) {
        match self {
            Sink::Chunk(chunk) => with2!(chunk, values, c, v: _T => {
                let c = c.as_slice_mut().expect("a new chunk is in standard layout");
                c[lo..lo + len].copy_from_slice(run_of(v, at, len));
            }),
            Sink::Sum(SumAll::F64(s)) => s.add(run_of(f64::array(values), at, len), lo),
            Sink::Sum(SumAll::F32(s)) => s.add(run_of(f32::array(values), at, len), lo),
            Sink::Fold(fold, acc) => with2!(acc, values, a, v: T => {
                let a = &mut a[IxDyn(&[])];
                *a = run_of(v, at, len).iter().fold(*a, |p, &q| T::fold(*fold, p, q));
            }),
            Sink::Rows(sums) => with2!(sums, values, s, v: T => {
                let s = s.as_slice_mut().expect("new sums are contiguous");
                let cols = s.len();
                let v = run_of(v, at, len);
                let (mut i, mut col) = (0, lo % cols);
                while i < len {
                    let n = (cols - col).min(len - i);
                    for (p, &q) in s[col..col + n].iter_mut().zip(&v[i..i + n]) {
                        *p = T::arith(super::dtype::Arith::Add, *p, q);
                    }
                    i += n;
                    col = 0;
                }
            }),
        }
    }
}

/// `values` in standard layout: a transposed chunk copied once, a 2-d one
/// in square blocks that stay in cache on both sides.
fn standard(values: Values) -> Values {
    fn go<T: Element>(a: ArrayD<T>) -> ArrayD<T> {
        if a.is_standard_layout() {
            return a;
        }
        let first = *a.first().expect("a chunk of at least one element");
        let mut out = ArrayD::from_elem(a.raw_dim(), first);
        match (
            out.view_mut().into_dimensionality::<Ix2>(),
            a.view().into_dimensionality::<Ix2>(),
        ) {
            (Ok(mut out), Ok(a)) => {
                const B: usize = 64;
                let (rows, cols) = a.dim();
                for i in (0..rows).step_by(B) {
                    for j in (0..cols).step_by(B) {
                        let (i1, j1) = ((i + B).min(rows), (j + B).min(cols));
                        out.slice_mut(s![i..i1, j..j1])
                            .assign(&a.slice(s![i..i1, j..j1]));
                    }
                }
            }
            _ => out.assign(&a),
        }
        out
    }
    with!(values, a: T => T::wrap(go(a)))
}

/// The chunk task's result by the tile loop with tiles of `tile` elements,
/// or `None` (nothing evaluated) when the plan is not tiled: a plan with no
/// elementwise operation at its top, or a chunk of no elements or of a
/// single value. A whole random chunk is tiled only into a reduction.
pub(super) fn run(
    plan: &Plan,
    reduce: Option<&Reducing>,
    cx: &mut Context,
    tile: usize,
) -> Option<Block> {
    let out = plan.shape();
    let size: usize = out.iter().product();
    if out.is_empty() || size == 0 {
        return None;
    }
    let dtype = plan.dtype(cx);
    let sink = Sink::new(reduce, &out, dtype);
    let streamed = plan.whole_random(&out) && matches!(sink, Some(Sink::Sum(_) | Sink::Rows(_)));
    if !plan.tileable(&out) && !streamed {
        return None;
    }
    let mut program = Program::new(plan, &out, tile.max(1), cx);
    // A reduction the tile loop does not fold gets the chunk, tiled.
    let mut sink = sink.unwrap_or_else(|| Sink::Chunk(Values::fill(Num::I(0), dtype, &out)));
    program.run(&mut sink);
    let values = match sink {
        Sink::Chunk(values) => {
            return Some(match reduce {
                None => Block::values(values),
                Some(r) => partial(r, values),
            })
        }
        Sink::Sum(SumAll::F64(s)) => Values::F64(ArrayD::from_elem(IxDyn(&[]), s.sum())),
        Sink::Sum(SumAll::F32(s)) => Values::F32(ArrayD::from_elem(IxDyn(&[]), s.sum())),
        Sink::Fold(_, acc) | Sink::Rows(acc) => acc,
    };
    let r = reduce.expect("only a reduction is folded in the tile loop");
    Some(reduced(r, &out, values))
}

#[cfg(test)]
mod tests;
