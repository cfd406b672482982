//! Chunked arrays on the embedded cluster: values against ndarray computed
//! serially on the same data, irregular chunks, broadcasting, transpose,
//! reductions, bad shapes and chunks, random values independent of the
//! number of workers, and the size of the fused graph.

use rankflow::array::{self, random, DArray, Reduction};
use rankflow::ndarray::{Array, ArrayD, Axis, IxDyn};
use rankflow::{Config, ErrorKind, Mode};

fn cluster(workers: usize) -> rankflow::Client {
    rankflow::initialize(Config::new().mode(Mode::Local).local_workers(workers)).unwrap()
}

/// Small integers (sums of them are exact in f64).
fn integers(shape: &[usize]) -> ArrayD<f64> {
    let mut i = 0u64;
    ArrayD::from_shape_simple_fn(IxDyn(shape), || {
        i += 1;
        ((i * 7919) % 23) as f64 - 11.0
    })
}

fn close(a: &ArrayD<f64>, b: &ArrayD<f64>) {
    assert_eq!(a.shape(), b.shape());
    for (x, y) in a.iter().zip(b) {
        assert!(
            (x - y).abs() <= 1e-12 * y.abs().max(1.0),
            "{x} and {y} differ"
        );
    }
}

#[test]
fn sums_and_means_of_irregular_chunks_are_exact() {
    let c = cluster(2);
    let data = integers(&[9, 12]);
    let x = array::from_array(data.clone(), vec![vec![1, 4, 4], vec![3, 3, 6]]).unwrap();
    assert_eq!(x.num_chunks(), 9);
    assert_eq!(x.compute(&c).unwrap(), data);
    assert_eq!(x.sum().compute(&c).unwrap(), data.sum());
    assert_eq!(x.min().compute(&c).unwrap(), -11.0);
    assert_eq!(x.max().compute(&c).unwrap(), 11.0);
    assert_eq!(
        x.sum_axis(0).unwrap().compute(&c).unwrap(),
        data.sum_axis(Axis(0))
    );
    assert_eq!(
        x.sum_axis(1).unwrap().compute(&c).unwrap(),
        data.sum_axis(Axis(1))
    );
    let y = array::from_array(data.clone(), [4, 5]).unwrap();
    let both = (&x + &y).sum().compute(&c).unwrap();
    assert_eq!(both, 2.0 * data.sum());
    close(
        &x.mean_axis(1).unwrap().compute(&c).unwrap(),
        &data.mean_axis(Axis(1)).unwrap(),
    );
    c.shutdown().unwrap();
}

#[test]
fn elementwise_chains_broadcasting_and_transpose_match_ndarray() {
    let c = cluster(3);
    let data = integers(&[30, 20]) / 7.0;
    let x = array::from_array(data.clone(), [8, 6]).unwrap();
    let got = ((x.sin() + x.cos() * 2.0) / (x.abs() + 1.0) - 3.0)
        .powi(2)
        .exp()
        .ln();
    let want = ((data.mapv(f64::sin) + data.mapv(f64::cos) * 2.0) / (data.mapv(f64::abs) + 1.0)
        - 3.0)
        .mapv(|v| v.powi(2).exp().ln());
    close(&got.compute(&c).unwrap(), &want);
    // x - x.mean(axis=0): the reduced array broadcasts against the full one.
    let centred = &x - &x.mean_axis(0).unwrap();
    let want = &data - &data.mean_axis(Axis(0)).unwrap();
    close(&centred.compute(&c).unwrap(), &want);
    // Transposes meet operands chunked differently.
    let square = array::from_array(integers(&[12, 12]), vec![vec![5, 7], vec![3, 9]]).unwrap();
    let s = integers(&[12, 12]);
    let got = (&square + &square.t() - 2.0 * &square.sqrt().abs())
        .compute(&c)
        .unwrap();
    let want = &s + &s.t() - s.mapv(|v| 2.0 * v.sqrt().abs());
    assert_eq!(got.mapv(f64::is_nan), want.mapv(f64::is_nan));
    close(
        &got.mapv(|v| if v.is_nan() { 0.0 } else { v }),
        &want.mapv(|v| if v.is_nan() { 0.0 } else { v }),
    );
    // A 3-D transpose, a column against a row, a scalar reduction broadcast.
    let cube = integers(&[4, 5, 6]);
    let t = array::from_array(cube.clone(), [3, 2, 4])
        .unwrap()
        .transpose(&[2, 0, 1])
        .unwrap();
    assert_eq!(t.shape(), &[6, 4, 5]);
    assert_eq!(
        t.compute(&c).unwrap(),
        cube.clone().permuted_axes(IxDyn(&[2, 0, 1]))
    );
    let col = array::from_array(Array::from_shape_fn((4, 1), |(i, _)| i as f64), [2, 1]).unwrap();
    let row = array::from_array(Array::from_shape_fn(5, |j| j as f64 * 10.0), [3]).unwrap();
    let grid = (&col + &row).compute(&c).unwrap();
    assert_eq!(grid.shape(), &[4, 5]);
    assert_eq!(grid[[3, 4]], 43.0);
    let less_mean = (&x - x.mean().as_array()).sum().compute(&c).unwrap();
    assert!(less_mean.abs() < 1e-10, "{less_mean}");
    c.shutdown().unwrap();
}

#[test]
fn variance_zeros_ones_full_and_persist() {
    let c = cluster(2);
    let data = integers(&[17, 10]) * 0.5;
    let x = array::from_array(data.clone(), [5, 4]).unwrap();
    let n = data.len() as f64;
    let mean = data.sum() / n;
    let var = data.mapv(|v| (v - mean).powi(2)).sum() / (n - 1.0);
    let got = x.var(1.0).compute(&c).unwrap();
    assert!((got - var).abs() < 1e-12 * var, "{got} {var}");
    let sd = x.std_axis(0, 0.0).unwrap().compute(&c).unwrap();
    close(&sd, &data.std_axis(Axis(0), 0.0));
    let z = array::zeros(&[7, 3], [2, 2]).unwrap();
    let o = array::ones(&[7, 3], [3, 3]).unwrap();
    let f = array::full(&[3], 2.5, [2]).unwrap();
    assert_eq!(((&z + &o) * &f).sum().compute(&c).unwrap(), 7.0 * 3.0 * 2.5);
    let kept = (&x * 2.0).persist(&c).unwrap();
    assert_eq!(kept.tasks(), kept.num_chunks());
    assert_eq!(
        (&kept + 1.0).compute(&c).unwrap(),
        data.mapv(|v| 2.0 * v + 1.0)
    );
    assert_eq!(kept.sum().compute(&c).unwrap(), 2.0 * data.sum());
    // A stored chunk read twice by one task, and reductions of reductions.
    let twice = (&kept + &kept.abs().sqrt()).compute(&c).unwrap();
    assert_eq!(twice, data.mapv(|v| 2.0 * v + (2.0 * v).abs().sqrt()));
    let column_sums = x.sum_axis(0).unwrap();
    assert_eq!(column_sums.sum().compute(&c).unwrap(), data.sum());
    let kept_means = x.mean_axis(1).unwrap().persist(&c).unwrap();
    drop(x);
    let got = (&kept_means * 2.0).max().compute(&c).unwrap();
    let want = data
        .mean_axis(Axis(1))
        .unwrap()
        .fold(f64::MIN, |m, &v| m.max(v))
        * 2.0;
    assert_eq!(got, want);
    c.shutdown().unwrap();
}

#[test]
fn many_stored_inputs_are_split_across_tasks() {
    let c = cluster(2);
    let parts: Vec<ArrayD<f64>> = (0..6).map(|k| integers(&[6, 4]) + k as f64).collect();
    let arrays: Vec<DArray> = parts
        .iter()
        .map(|p| {
            array::from_array(p.clone(), [3, 4])
                .unwrap()
                .persist(&c)
                .unwrap()
        })
        .collect();
    let total = arrays
        .iter()
        .skip(1)
        .fold(arrays[0].clone(), |acc, a| acc + a);
    let want = parts
        .iter()
        .skip(1)
        .fold(parts[0].clone(), |acc, p| acc + p);
    // Six stored inputs per chunk, at most three per task: 6 x 2 persisted
    // chunks, then three tasks per output chunk.
    assert_eq!(total.tasks(), 12 + 2 * 3);
    assert_eq!(total.compute(&c).unwrap(), want);
    c.shutdown().unwrap();
}

#[test]
fn random_values_do_not_depend_on_the_number_of_workers() {
    let shape = [50, 40];
    let make = || {
        (
            random::random(7, &shape, [16, 16]).unwrap(),
            random::normal(7, 10.0, 0.1, &shape, [16, 16]).unwrap(),
            random::uniform(8, -1.0, 1.0, &shape, vec![vec![50], vec![10, 30]]).unwrap(),
        )
    };
    let mut runs = Vec::new();
    for workers in [1, 3] {
        let c = cluster(workers);
        let (a, b, u) = make();
        runs.push((
            a.compute(&c).unwrap(),
            b.compute(&c).unwrap(),
            u.compute(&c).unwrap(),
        ));
        c.shutdown().unwrap();
    }
    assert_eq!(runs[0], runs[1]);
    let (a, b, u) = &runs[0];
    let local = random::sampled_local(
        7,
        random::Dist::Uniform {
            low: 0.0,
            high: 1.0,
        },
        &shape,
        [16, 16],
    );
    assert_eq!(a, &local.unwrap());
    assert!(a.iter().all(|v| (0.0..1.0).contains(v)));
    assert!((b.mean().unwrap() - 10.0).abs() < 0.01);
    assert!(u.iter().all(|v| (-1.0..1.0).contains(v)));
    let other = random::sampled_local(
        8,
        random::Dist::Uniform {
            low: 0.0,
            high: 1.0,
        },
        &shape,
        [16, 16],
    );
    assert_ne!(a, &other.unwrap());
}

#[test]
fn the_tutorial_expression_over_random_values_matches_ndarray() {
    let c = cluster(2);
    let x = random::normal(3, 10.0, 0.1, &[40, 40], [16, 16]).unwrap();
    let got = (&x + &x.t() - &x.mean_axis(0).unwrap())
        .compute(&c)
        .unwrap();
    let normal = random::Dist::Normal {
        mean: 10.0,
        std: 0.1,
    };
    let local = random::sampled_local(3, normal, &[40, 40], [16, 16]).unwrap();
    let want = &local + &local.t() - &local.mean_axis(Axis(0)).unwrap();
    close(&got, &want);
    let sum = (x.sin() + x.t().cos()).sum().compute(&c).unwrap();
    let serial = (local.mapv(f64::sin) + local.t().mapv(f64::cos)).sum();
    assert!(((sum - serial) / serial).abs() < 1e-12, "{sum} {serial}");
    c.shutdown().unwrap();
}

#[test]
fn arange_and_linspace_match_ndarray() {
    let c = cluster(2);
    let a = array::arange(0.0, 10.0, 0.5, [3]).unwrap();
    assert_eq!(a.shape(), &[20]);
    let want = rankflow::ndarray::Array1::range(0.0, 10.0, 0.5).into_dyn();
    assert_eq!(a.compute(&c).unwrap(), want);
    let l = array::linspace(-1.0, 2.0, 7, vec![vec![2, 5]]).unwrap();
    let want = rankflow::ndarray::Array1::linspace(-1.0, 2.0, 7).into_dyn();
    close(&l.compute(&c).unwrap(), &want);
    assert_eq!(l.max().compute(&c).unwrap(), 2.0);
    assert_eq!(
        array::arange(0.0, 100.0, 1.0, [7])
            .unwrap()
            .sum()
            .compute(&c)
            .unwrap(),
        4950.0
    );
    assert!(array::arange(0.0, 1.0, 0.0, [2]).is_err());
    c.shutdown().unwrap();
}

#[test]
fn bad_shapes_and_chunks_are_errors_naming_them() {
    let err = array::zeros(&[9, 12], vec![vec![1, 4, 4], vec![3, 3, 5]]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(
        err.message().contains("[3, 3, 5]") && err.message().contains("[9, 12]"),
        "{err}"
    );
    let err = array::zeros(&[9, 12], [3]).unwrap_err();
    assert!(err.message().contains("[9, 12]"), "{err}");
    let a = array::ones(&[4, 5], [2, 2]).unwrap();
    let b = array::ones(&[4, 6], [2, 2]).unwrap();
    let err = a.try_add(&b).unwrap_err();
    assert!(
        err.message().contains("[4, 5]") && err.message().contains("[4, 6]"),
        "{err}"
    );
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| &a * &b)).unwrap_err();
    let text = panic.downcast_ref::<String>().unwrap();
    assert!(text.contains("[4, 5]") && text.contains("[4, 6]"), "{text}");
    assert!(a.transpose(&[0, 0]).is_err());
    assert!(a.sum_axis(2).unwrap_err().message().contains("[4, 5]"));
    assert!(a.reduce(Reduction::Sum, None, 1).is_err());
}

#[test]
fn the_fused_graph_has_one_task_per_chunk_plus_the_tree() {
    let x = random::random(1, &[100, 100], [10, 10]).unwrap();
    let expr = x.sin() + x.t().cos();
    assert_eq!(expr.tasks(), 100);
    // 100 chunk tasks with the partial sums fused in, then 13, 2 and 1 combining.
    assert_eq!(expr.sum().tasks(), 100 + 13 + 2 + 1);
    assert_eq!(x.mean_axis(0).unwrap().tasks(), 100 + 10 * 3);
    let shown = x.to_string();
    assert!(
        shown.contains("shape=(100, 100)") && shown.contains("chunksize=(10, 10)"),
        "{shown}"
    );
    assert!(
        shown.contains("chunks=100") && shown.contains("tasks=100") && shown.contains("f64"),
        "{shown}"
    );
    assert!(shown.contains("78.1") && shown.contains("KiB"), "{shown}");
}

#[test]
fn element_types_comparisons_where_and_astype_match_ndarray() {
    let c = cluster(2);
    let data = integers(&[9, 7]);
    let x = array::from_array(data.clone(), [4, 3]).unwrap();
    // f32 and integer arrays keep their type through expressions.
    let f: DArray<f32> = x.astype::<f32>();
    assert_eq!(f.dtype(), "f32");
    assert_eq!(f.nbytes(), 9 * 7 * 4);
    let got = (f.tan() * 2.0f32 + 1.0f32).compute(&c).unwrap();
    let want = data.mapv(|v| (v as f32).tan() * 2.0 + 1.0);
    assert_eq!(got, want);
    let i: DArray<i32> = x.astype::<i32>();
    let got = ((&i * 3 - 1) / 2).compute(&c).unwrap();
    assert_eq!(got, data.mapv(|v| (v as i32 * 3 - 1) / 2));
    assert_eq!(
        (7i32 / &i).compute(&c).unwrap(),
        data.mapv(|v| 7i32.checked_div(v as i32).unwrap_or(0))
    );
    let big = array::full(&[5], i64::MAX, [2]).unwrap();
    assert_eq!((&big + 1).compute(&c).unwrap()[[0]], i64::MIN);
    let bytes = array::from_array(data.mapv(|v| (v + 11.0) as u8), [4, 4]).unwrap();
    assert_eq!(
        bytes.sum().compute(&c).unwrap(),
        data.mapv(|v| v + 11.0).sum() as i64
    );
    assert_eq!(bytes.max().compute(&c).unwrap(), 22u8);
    // Comparisons with values and with arrays give bool arrays.
    let pos: DArray<bool> = x.gt(0.0);
    assert_eq!(pos.dtype(), "bool");
    assert_eq!(pos.compute(&c).unwrap(), data.mapv(|v| v > 0.0));
    let y = array::from_array(data.t().to_owned() * 0.0 + 1.0, [3, 3])
        .unwrap()
        .t();
    for (got, f) in [
        (x.lt(&y), (|a, b| a < b) as fn(f64, f64) -> bool),
        (x.ge(&y), |a, b| a >= b),
        (x.le(1.0), |a, _| a <= 1.0),
        (x.eq(&y), |a, b| a == b),
        (x.ne(y.clone()), |a, b| a != b),
    ] {
        assert_eq!(got.compute(&c).unwrap(), data.mapv(|v| f(v, 1.0)));
    }
    // where_ with arrays and values, broadcasting a row.
    let row = array::from_array(Array::from_shape_fn(7, |j| j as f64), [4]).unwrap();
    let got = array::where_(&x.gt(0.0), &row, -1.0)
        .unwrap()
        .compute(&c)
        .unwrap();
    let want = ArrayD::from_shape_fn(IxDyn(&[9, 7]), |i| {
        if data[&i] > 0.0 {
            i[1] as f64
        } else {
            -1.0
        }
    });
    assert_eq!(got, want);
    let err = array::where_(&x.gt(0.0), array::zeros(&[3], [3]).unwrap(), 0.0).unwrap_err();
    assert!(
        err.message().contains("[9, 7]") && err.message().contains("[3]"),
        "{err}"
    );
    // bool back to numbers, numbers to bool.
    assert_eq!(
        pos.astype::<i64>().sum().compute(&c).unwrap(),
        data.mapv(|v| i64::from(v > 0.0)).sum()
    );
    assert_eq!(
        x.astype::<bool>().compute(&c).unwrap(),
        data.mapv(|v| v != 0.0)
    );
    assert_eq!(
        x.astype::<u8>().compute(&c).unwrap(),
        data.mapv(|v| v as u8)
    );
    // powf with a value and with an array.
    let a = x.abs() + 1.0;
    let got = a.powf(0.5).powf(&a).compute(&c).unwrap();
    close(
        &got,
        &data.mapv(|v| (v.abs() + 1.0).powf(0.5).powf(v.abs() + 1.0)),
    );
    c.shutdown().unwrap();
}

#[test]
fn prod_any_all_argmin_argmax_are_trees_that_match_ndarray() {
    let c = cluster(2);
    let data = integers(&[12, 10]);
    let x = array::from_array(data.clone(), [5, 4]).unwrap();
    let small = array::from_array(data.mapv(|v| 1.0 + v / 100.0), [5, 4]).unwrap();
    let prod = small.prod().compute(&c).unwrap();
    let want = data.mapv(|v| 1.0 + v / 100.0).product();
    assert!(((prod - want) / want).abs() < 1e-12, "{prod} {want}");
    // 12 x 10 in 5 x 4 chunks: 9 chunk tasks, one combining 8 of them and
    // the root combining that with the ninth.
    assert_eq!(small.prod().tasks(), 9 + 1 + 1);
    let ints = x.astype::<i32>();
    assert_eq!(
        ints.prod_axis(0).unwrap().compute(&c).unwrap(),
        data.mapv(|v| v as i64).map_axis(Axis(0), |l| l.product())
    );
    assert!(x.gt(10.0).any().compute(&c).unwrap());
    assert!(!x.gt(11.0).any().compute(&c).unwrap());
    assert!(x.ge(-11.0).all().compute(&c).unwrap());
    assert!(!x.all().compute(&c).unwrap(), "the data has zeros");
    assert_eq!(
        x.gt(5.0).any_axis(1).unwrap().compute(&c).unwrap(),
        data.map_axis(Axis(1), |l| l.iter().any(|&v| v > 5.0))
    );
    assert_eq!(
        x.gt(-10.0).all_axis(0).unwrap().compute(&c).unwrap(),
        data.map_axis(Axis(0), |l| l.iter().all(|&v| v > -10.0))
    );
    // argmin/argmax: the first of equal values, flat or along an axis.
    let first = |l: &[f64], min: bool| {
        let best = l
            .iter()
            .copied()
            .fold(if min { f64::MAX } else { f64::MIN }, |b, v| {
                if min {
                    b.min(v)
                } else {
                    b.max(v)
                }
            });
        l.iter().position(|&v| v == best).unwrap() as i64
    };
    let flat: Vec<f64> = data.iter().copied().collect();
    assert_eq!(x.argmin().compute(&c).unwrap(), first(&flat, true));
    assert_eq!(x.argmax().compute(&c).unwrap(), first(&flat, false));
    assert_eq!(ints.argmax().compute(&c).unwrap(), first(&flat, false));
    let cols = x.argmin_axis(0).unwrap().compute(&c).unwrap();
    assert_eq!(cols, data.map_axis(Axis(0), |l| first(&l.to_vec(), true)));
    let rows = x.t().argmax_axis(1).unwrap().compute(&c).unwrap();
    assert_eq!(rows, data.map_axis(Axis(0), |l| first(&l.to_vec(), false)));
    let mut nan = data.clone();
    nan[[7, 3]] = f64::NAN;
    let n = array::from_array(nan, [5, 4]).unwrap();
    assert_eq!(n.argmin().compute(&c).unwrap(), 7 * 10 + 3);
    assert_eq!(n.argmax().compute(&c).unwrap(), 7 * 10 + 3);
    assert!(x.reduce(Reduction::ArgMin, None, 4).is_err());
    c.shutdown().unwrap();
}

#[test]
fn slices_with_steps_match_ndarray() {
    use rankflow::ndarray::s;
    let c = cluster(2);
    let data = integers(&[23, 17]);
    let x = array::from_array(data.clone(), [5, 4]).unwrap();
    let cases = [
        (
            x.slice(s![.., ..;3]).unwrap(),
            data.slice(s![.., ..;3]).to_owned(),
        ),
        (
            x.slice(s![2..19;4, 1..]).unwrap(),
            data.slice(s![2..19;4, 1..]).to_owned(),
        ),
        (
            x.slice(s![-5.., ..-2;2]).unwrap(),
            data.slice(s![-5.., ..-2;2]).to_owned(),
        ),
        (
            x.slice(s![4..5]).unwrap(),
            data.slice(s![4..5, ..]).to_owned(),
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got.shape(), want.shape());
        assert_eq!(got.compute(&c).unwrap(), want.into_dyn());
    }
    // A slice of an expression, and an expression of a slice.
    let m = x.mean_axis(0).unwrap().slice(s![..;5]).unwrap();
    close(
        &m.compute(&c).unwrap(),
        &data
            .mean_axis(Axis(0))
            .unwrap()
            .slice(s![..;5])
            .to_owned()
            .into_dyn(),
    );
    let e = (x.slice(s![..;2, ..]).unwrap().sin() * 2.0)
        .sum()
        .compute(&c)
        .unwrap();
    let want = data.slice(s![..;2, ..]).mapv(|v| v.sin() * 2.0).sum();
    assert!((e - want).abs() < 1e-12 * want.abs().max(1.0));
    assert_eq!(
        x.slice(s![5..5, ..]).unwrap().compute(&c).unwrap().shape(),
        &[0, 17]
    );
    for bad in [
        x.slice(s![..24, ..]),
        x.slice(s![.., -2..10]),
        x.slice(s![.., ..;-1]),
        x.slice(s![1, ..]),
    ] {
        let err = bad.unwrap_err();
        assert!(err.message().contains("[23, 17]"), "{err}");
    }
    c.shutdown().unwrap();
}

#[test]
fn from_fn_and_map_blocks_run_user_chunk_functions() {
    use rankflow::array::BlockInfo;
    let c = cluster(2);
    let made = |info: BlockInfo| {
        ArrayD::from_shape_fn(IxDyn(&info.shape), |i| {
            ((info.start[0] + i[0]) * 100 + info.start[1] + i[1]) as i32
        })
    };
    let x = array::from_fn(&[7, 9], [3, 4], made).unwrap();
    assert_eq!(x.dtype(), "i32");
    let want = ArrayD::from_shape_fn(IxDyn(&[7, 9]), |i| (i[0] * 100 + i[1]) as i32);
    assert_eq!(x.compute(&c).unwrap(), want);
    // A chunk function giving another type, then fused expressions over it.
    let halves = x.map_blocks(|b: ArrayD<i32>| b.mapv(|v| v as f32 / 2.0));
    let got = (&halves + 1.0f32).compute(&c).unwrap();
    assert_eq!(got, want.mapv(|v| v as f32 / 2.0 + 1.0));
    assert_eq!(halves.tasks(), 2 * x.num_chunks());
    // A chunk of the wrong shape fails its task, naming both shapes.
    let wrong =
        array::from_fn(&[4], [2], |_: BlockInfo| ArrayD::<f64>::zeros(IxDyn(&[3]))).unwrap();
    let err = wrong.compute(&c).unwrap_err();
    assert!(
        err.message().contains("[3]") && err.message().contains("[2]"),
        "{err}"
    );
    c.shutdown().unwrap();
}

#[test]
fn rechunk_keeps_the_values_in_new_chunks() {
    let c = cluster(2);
    let data = integers(&[23, 17]);
    let x = array::from_array(data.clone(), [5, 4]).unwrap();
    let kept = x.persist(&c).unwrap();
    for chunks in [vec![7, 9], vec![23, 17], vec![2, 3], vec![10, 4]] {
        for a in [&x, &kept] {
            let r = a.rechunk(chunks.clone()).unwrap();
            assert_eq!(r.chunk_size(), chunks);
            assert_eq!(r.compute(&c).unwrap(), data);
            assert_eq!((&r * 2.0 + &x).sum().compute(&c).unwrap(), 3.0 * data.sum());
        }
    }
    // New chunks inside old ones are fused: no task of their own.
    let y = random::random(1, &[40, 40], [20, 20]).unwrap();
    assert_eq!(y.rechunk([10, 10]).unwrap().tasks(), 16);
    let i = x
        .astype::<i64>()
        .rechunk(vec![vec![23], vec![1, 16]])
        .unwrap();
    assert_eq!(i.compute(&c).unwrap(), data.mapv(|v| v as i64));
    let err = x.rechunk(vec![vec![20], vec![17]]).unwrap_err();
    assert!(err.message().contains("[23, 17]"), "{err}");
    c.shutdown().unwrap();
}

#[test]
fn visualize_writes_the_fused_graph() {
    let x = random::random(1, &[40, 40], [20, 20]).unwrap();
    let y = (x.sin() + x.t().cos()).sum_axis(0).unwrap();
    let dir = std::env::temp_dir().join(format!("rankflow-array-dot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let shown = y.visualize(dir.join("graph")).unwrap();
    let dot = std::fs::read_to_string(dir.join("graph.dot")).unwrap();
    // Four fused chunk tasks and one combining task per output chunk.
    assert_eq!(dot.matches("eval0").count(), 4, "{dot}");
    assert_eq!(dot.matches("combine").count(), 2, "{dot}");
    drop(shown);
    std::fs::remove_dir_all(&dir).unwrap();
}
