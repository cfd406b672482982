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
