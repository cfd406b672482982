//! Tiled evaluation against whole-chunk evaluation on random plans: every
//! operation, every element type, broadcast rows and single values,
//! transposed and strided operands, inputs read whole and in part, random
//! chunks of both distributions, several tile lengths, and every reduction
//! folded into the tile loop or applied to the tiled chunk.

use super::super::dtype::{to_bytes, with, Arith, DType, Num, Values};
use super::super::eval::{BinOp, Cmp, Context, Held, Plan, Reducing, Unary};
use super::super::random::{self, Dist};
use super::super::reduce::{partial, Reduction};
use super::{run as run_tiled, standard};
use crate::ndarray::{ArrayD, IxDyn};

const OUT: [usize; 2] = [5, 12];

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn value(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 6.0 - 3.0
    }
}

const DIST: Dist = Dist::Uniform {
    low: -3.0,
    high: 3.0,
};

const NORMAL: Dist = Dist::Normal {
    mean: 0.5,
    std: 2.0,
};

fn random_leaf(rng: &mut Rng, chunk_shape: &[usize], start: &[usize], shape: &[usize]) -> Plan {
    Plan::Random {
        dist: if rng.below(2) == 0 { DIST } else { NORMAL },
        seed: 7,
        chunk: rng.below(3) as u64,
        chunk_shape: chunk_shape.to_vec(),
        start: start.to_vec(),
        shape: shape.to_vec(),
    }
}

/// An `f64` leaf of the chunk's shape, a row, a vector or a single value.
fn leaf(rng: &mut Rng) -> Plan {
    match rng.below(11) {
        0 => random_leaf(rng, &OUT, &[0, 0], &OUT),
        1 => random_leaf(rng, &[8, 12], &[2, 0], &OUT),
        2 => Plan::Input {
            index: 0,
            start: vec![0, 0],
            shape: OUT.to_vec(),
        },
        3 => Plan::Input {
            index: 1,
            start: vec![1, 0],
            shape: OUT.to_vec(),
        },
        4 => Plan::Transpose(
            vec![1, 0],
            Box::new(random_leaf(rng, &[12, 5], &[0, 0], &[12, 5])),
        ),
        5 => Plan::Strided {
            start: vec![0, 0],
            step: vec![2, 1],
            len: OUT.to_vec(),
            plan: Box::new(random_leaf(rng, &[10, 12], &[0, 0], &[10, 12])),
        },
        6 => Plan::Fill {
            value: Num::F(rng.value()),
            dtype: DType::F64,
            shape: Vec::new(),
        },
        7 => Plan::Fill {
            value: Num::F(rng.value()),
            dtype: DType::F64,
            shape: OUT.to_vec(),
        },
        8 => random_leaf(rng, &[1, 12], &[0, 0], &[1, 12]),
        9 => Plan::Ramp {
            start: rng.value(),
            step: 0.25,
            offset: 3,
            len: 12,
            last: Some((9, 1.5)),
        },
        _ => Plan::Data(Held::Owned(Values::F64(random::block(9, DIST, 1, &OUT)))),
    }
}

const TYPES: [DType; 5] = [DType::F64, DType::F32, DType::I64, DType::I32, DType::U8];

fn cast(dtype: DType, p: Plan) -> Plan {
    if dtype == DType::F64 {
        p
    } else {
        Plan::Cast(dtype, Box::new(p))
    }
}

fn cmp(rng: &mut Rng) -> Cmp {
    [Cmp::Gt, Cmp::Lt, Cmp::Ge, Cmp::Le, Cmp::Eq, Cmp::Ne][rng.below(6)]
}

/// A random plan of element type `dtype`.
fn gen(rng: &mut Rng, depth: usize, dtype: DType) -> Plan {
    let float = matches!(dtype, DType::F64 | DType::F32);
    if dtype == DType::F32 && rng.below(4) == 0 {
        // An f32 input read whole, its type not cast.
        return Plan::Input {
            index: 2,
            start: vec![0, 0],
            shape: OUT.to_vec(),
        };
    }
    if depth == 0 || rng.below(5) == 0 {
        return cast(dtype, leaf(rng));
    }
    let sub = |rng: &mut Rng| Box::new(gen(rng, depth - 1, dtype));
    match rng.below(5) {
        0 => {
            let op = if float {
                [
                    Unary::Neg,
                    Unary::Sin,
                    Unary::Cos,
                    Unary::Tan,
                    Unary::Exp,
                    Unary::Ln,
                    Unary::Sqrt,
                    Unary::Abs,
                    Unary::Powi(3),
                ][rng.below(9)]
            } else {
                [Unary::Neg, Unary::Abs][rng.below(2)]
            };
            Plan::Unary(op, sub(rng))
        }
        1 => {
            let ops = [Arith::Add, Arith::Sub, Arith::Mul, Arith::Div, Arith::Pow];
            let op = ops[rng.below(if float { 5 } else { 4 })];
            Plan::Binary(BinOp::Arith(op), sub(rng), sub(rng))
        }
        2 => {
            let c = Plan::Binary(BinOp::Cmp(cmp(rng)), sub(rng), sub(rng));
            Plan::Where(Box::new(c), sub(rng), sub(rng))
        }
        3 => {
            let from = TYPES[rng.below(TYPES.len())];
            Plan::Cast(dtype, Box::new(gen(rng, depth - 1, from)))
        }
        _ => {
            let c = Plan::Cast(DType::Bool, sub(rng));
            Plan::Where(Box::new(c), sub(rng), sub(rng))
        }
    }
}

/// The element type, shape and bytes (NaN compares equal to itself).
fn bits(v: &Values) -> (DType, Vec<usize>, Vec<u8>) {
    (
        v.dtype(),
        v.shape().to_vec(),
        with!(v, a: _T => to_bytes(a.view())),
    )
}

fn context(inputs: &[Values]) -> Context {
    Context {
        inputs: inputs.iter().map(|v| (v.clone(), 0)).collect(),
        randoms: Vec::new(),
    }
}

/// The plan's values, whole (`tile` = `None`) or in tiles.
fn run(plan: &Plan, inputs: &[Values], tile: Option<usize>) -> Values {
    let mut plan = plan.clone();
    let mut cx = context(inputs);
    plan.count_reads(&mut cx);
    match tile.and_then(|t| run_tiled(&plan, None, &mut cx, t)) {
        Some(block) => block.finish(),
        None => plan.eval(&mut cx),
    }
}

/// The plan's values reduced by `r`: whole (then reduced in row-major
/// order, as the tile loop does), or in tiles; `None` when not tiled.
fn reduce(plan: &Plan, inputs: &[Values], r: &Reducing, tile: Option<usize>) -> Option<Values> {
    let mut plan = plan.clone();
    let mut cx = context(inputs);
    plan.count_reads(&mut cx);
    Some(match tile {
        None => partial(r, standard(plan.eval(&mut cx))).finish(),
        Some(t) => run_tiled(&plan, Some(r), &mut cx, t)?.finish(),
    })
}

fn inputs() -> [Values; 3] {
    // Input 0 in column-major layout (as a transposed chunk is).
    let t = random::block(3, DIST, 0, &[12, 5]).reversed_axes();
    [
        Values::F64(t),
        Values::F64(random::block(3, DIST, 1, &[7, 12])),
        Values::F32(random::block(3, DIST, 2, &OUT).mapv(|x| x as f32)),
    ]
}

/// A random plan of shape `OUT` whose top is elementwise.
fn plan(rng: &mut Rng, i: usize) -> Plan {
    let dtype = TYPES[rng.below(TYPES.len())];
    let depth = 1 + rng.below(4);
    let a = Box::new(gen(rng, depth, dtype));
    let full = Box::new(cast(dtype, random_leaf(rng, &OUT, &[0, 0], &OUT)));
    if i % 3 == 0 {
        Plan::Binary(BinOp::Cmp(cmp(rng)), a, full)
    } else {
        Plan::Binary(BinOp::Arith(Arith::Add), a, full)
    }
}

const TILES: [usize; 6] = [1, 7, 16, 24, 60, 4096];

#[test]
fn tiled_evaluation_gives_the_bits_of_whole_chunk_evaluation() {
    let mut rng = Rng(11);
    let inputs = inputs();
    let mut tiled = 0;
    for i in 0..400 {
        let plan = plan(&mut rng, i);
        if plan.tileable(&OUT) {
            tiled += 1;
        }
        let want = bits(&run(&plan, &inputs, None));
        assert_eq!(want.1, OUT.to_vec());
        for tile in TILES {
            let got = bits(&run(&plan, &inputs, Some(tile)));
            assert_eq!(got, want, "plan {i} in tiles of {tile}: {plan:?}");
        }
    }
    assert!(tiled > 200, "only {tiled} of 400 plans were tiled");
}

fn reducing(op: Reduction, axes: &[usize]) -> Reducing {
    Reducing {
        op,
        axes: axes.to_vec(),
        origin: vec![3, 24],
        whole: vec![20, 48],
    }
}

#[test]
fn reductions_in_the_tile_loop_give_the_bits_of_row_major_reductions() {
    let mut rng = Rng(5);
    let inputs = inputs();
    let ops = [
        Reduction::Sum,
        Reduction::Mean,
        Reduction::Prod,
        Reduction::Min,
        Reduction::Max,
        Reduction::Any,
        Reduction::All,
        Reduction::Var { ddof: 1.0 },
        Reduction::ArgMax,
    ];
    let mut folded = 0;
    for i in 0..300 {
        let mut plan = plan(&mut rng, i);
        if i % 10 == 0 {
            // A random chunk alone: generated tile by tile into sums.
            plan = random_leaf(&mut rng, &OUT, &[0, 0], &OUT);
        }
        let dtype = match &plan {
            Plan::Binary(BinOp::Cmp(_), ..) => DType::Bool,
            Plan::Binary(_, _, b) => match &**b {
                Plan::Cast(d, _) => *d,
                _ => DType::F64,
            },
            _ => DType::F64,
        };
        let op = ops[rng.below(ops.len())];
        let valid = match op {
            Reduction::Any | Reduction::All => dtype == DType::Bool,
            Reduction::Var { .. } | Reduction::Mean => dtype == DType::F64,
            Reduction::Sum | Reduction::Prod => dtype != DType::Bool,
            _ => true,
        };
        if !valid {
            continue;
        }
        let axes: &[usize] = match rng.below(3) {
            0 => &[0],
            1 => &[1],
            _ => &[0, 1],
        };
        let r = reducing(op, axes);
        let want = reduce(&plan, &inputs, &r, None).expect("whole");
        let want = bits(&want);
        for tile in TILES {
            let Some(got) = reduce(&plan, &inputs, &r, Some(tile)) else {
                assert!(!plan.tileable(&OUT), "plan {i} tileable but not tiled");
                continue;
            };
            folded += 1;
            assert_eq!(
                bits(&got),
                want,
                "plan {i} reduced by {op:?} over {axes:?} in tiles of {tile}: {plan:?}"
            );
        }
    }
    assert!(folded > 300, "only {folded} reductions were tiled");
}

#[test]
fn a_plan_with_no_elementwise_top_is_evaluated_whole() {
    let plan = Plan::Transpose(
        vec![1, 0],
        Box::new(Plan::Data(Held::Owned(Values::F64(ArrayD::from_shape_fn(
            IxDyn(&[3, 2]),
            |i| (i[0] * 2 + i[1]) as f64,
        ))))),
    );
    assert!(!plan.tileable(&[2, 3]));
    let mut cx = context(&[]);
    assert!(run_tiled(&plan, None, &mut cx, 4).is_none());
    let got = run(&plan, &[], Some(4));
    let want = ArrayD::from_shape_fn(IxDyn(&[2, 3]), |i| (i[1] * 2 + i[0]) as f64);
    assert_eq!(got, Values::F64(want));
}
