//! `rankflow::compute` on the embedded cluster: several collections of
//! every kind at once, in one batch, with their shared parts run once;
//! arrays from rows scattered to the workers; and chunks too large for a
//! worker's memory.

use rankflow::array::{self, random};
use rankflow::bag;
use rankflow::delayed::{delayed, Delayed};
use rankflow::diagnostics::events::now_us;
use rankflow::ndarray::{Array2, ArrayD, Axis, IxDyn};
use rankflow::{Config, ErrorKind, Mode};
use std::sync::atomic::{AtomicU64, Ordering};

fn cluster(workers: usize) -> rankflow::Client {
    rankflow::initialize(Config::new().mode(Mode::Local).local_workers(workers)).unwrap()
}

/// The tasks the workers ran while `work` ran.
fn tasks_run<T>(c: &rankflow::Client, work: impl FnOnce() -> T) -> (T, usize) {
    c.record_task_events(true).unwrap();
    let since = now_us();
    let out = work();
    let n = c.task_events(since).unwrap().tasks.len();
    c.record_task_events(false).unwrap();
    (out, n)
}

fn inc(x: i64) -> i64 {
    x + 1
}

fn total(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

#[test]
fn every_kind_at_once_comes_back_in_shape() {
    let c = cluster(2);
    let data = ArrayD::from_shape_fn(IxDyn(&[6, 8]), |i| (i[0] * 8 + i[1]) as f64);
    let x = array::from_array(data.clone(), [4, 3]).unwrap();
    let d = delayed(inc, 41);
    let parts: Vec<Delayed<i64>> = (0..4).map(|i| delayed(inc, i)).collect();
    let b = bag::range(100, 4).unwrap().map(|v: u64| v * 2);
    let (values, sum, answer, list, records, count) = rankflow::compute(
        &c,
        (
            &x,
            &x.sum(),
            &d,
            &parts,
            &b,
            &b.filter(|v| v % 3 == 0).count(),
        ),
    )
    .unwrap();
    assert_eq!(values, data);
    assert_eq!(sum, data.sum());
    assert_eq!(answer, 42);
    assert_eq!(list, vec![1, 2, 3, 4]);
    assert_eq!(records, (0..100u64).map(|v| v * 2).collect::<Vec<_>>());
    assert_eq!(count, 34);
    // One element and nested tuples.
    let (one,) = rankflow::compute(&c, (&d,)).unwrap();
    let ((s, m), t) =
        rankflow::compute(&c, ((&x.sum(), &x.max()), &delayed(total, &parts))).unwrap();
    assert_eq!((one, s, m, t), (42, data.sum(), 47.0, 10));
    c.shutdown().unwrap();
}

#[test]
fn a_random_array_two_results_share_is_made_once() {
    let c = cluster(2);
    let x = random::normal(3, 10.0, 1.0, &[400, 300], [100, 100]).unwrap();
    let y = &x * 2.0;
    let (s, m) = (y.sum(), y.mean_axis(0).unwrap());
    let separate = s.tasks() + m.tasks();
    let together = rankflow::compute::tasks((&s, &m)).unwrap();
    // Alone, each result's 12 chunk tasks make x's chunks (fused); together
    // 12 tasks make 2x, then each result reads them: 12 more per result,
    // against 24 before, plus the same trees.
    assert_eq!(together, separate + 12);
    let ((sum, means), ran) = tasks_run(&c, || rankflow::compute(&c, (&s, &m)).unwrap());
    assert_eq!(ran, together);
    // The values are those computed alone, from the same chunks.
    let local = y.compute(&c).unwrap();
    assert!((sum - local.sum()).abs() <= 1e-9 * local.sum().abs());
    let expected = local.mean_axis(Axis(0)).unwrap();
    for (a, b) in means.iter().zip(&expected) {
        assert!((a - b).abs() <= 1e-12 * b.abs());
    }
    assert_eq!(sum, s.compute(&c).unwrap());
    c.shutdown().unwrap();
}

static MADE: AtomicU64 = AtomicU64::new(0);

fn counted_chunk(info: array::BlockInfo) -> ArrayD<i64> {
    MADE.fetch_add(1, Ordering::SeqCst);
    ArrayD::from_elem(IxDyn(&info.shape), 1)
}

static CALLS: AtomicU64 = AtomicU64::new(0);

fn counted(x: i64) -> i64 {
    CALLS.fetch_add(1, Ordering::SeqCst);
    x * 10
}

#[test]
fn chunks_and_delayed_nodes_shared_by_several_results_run_once() {
    let c = cluster(3);
    let x = array::from_fn(&[8, 8], [4, 4], counted_chunk).unwrap();
    let base = delayed(counted, 4);
    let plus = delayed(inc, &base);
    let (sum, biggest, doubled, b, p) =
        rankflow::compute(&c, (&x.sum(), &x.max(), &(&x * 2).min(), &base, &plus)).unwrap();
    assert_eq!((sum, biggest, doubled, b, p), (64, 1, 2, 40, 41));
    assert_eq!(MADE.load(Ordering::SeqCst), 4);
    assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    c.shutdown().unwrap();
}

#[test]
fn rows_scattered_to_workers_become_an_array() {
    let c = cluster(3);
    let data = Array2::from_shape_fn((11, 4), |(i, j)| (i * 4 + j) as f64);
    c.scatter_array("rows", &data).unwrap();
    let x = array::from_worker_rows::<f64>(&c, "rows").unwrap();
    assert_eq!(x.shape(), [11, 4]);
    assert_eq!(x.chunks(), [vec![4, 4, 3], vec![4]]);
    let centred = &x - &x.mean_axis(0).unwrap();
    let (whole, total, centred) = rankflow::compute(&c, (&x, &x.sum(), &centred)).unwrap();
    assert_eq!(whole, data.clone().into_dyn());
    assert_eq!(total, data.sum());
    let expected = &data - &data.mean_axis(Axis(0)).unwrap();
    assert_eq!(centred, expected.into_dyn());
    // Each chunk was made on the worker holding its rows.
    let ranks: Vec<usize> = c.workers().iter().map(|w| w.rank).collect();
    let (_, ran) = tasks_run(&c, || x.rechunk([11, 4]).unwrap().compute(&c).unwrap());
    assert_eq!(
        ran, 1,
        "the stored chunks are read, not made again ({ranks:?})"
    );
    // Integers, and fewer rows than workers.
    let small = Array2::from_shape_fn((2, 3), |(i, j)| (i * 3 + j) as i64);
    c.scatter_array("small", &small).unwrap();
    let s = array::from_worker_rows::<i64>(&c, "small").unwrap();
    assert_eq!(s.chunks(), [vec![1, 1], vec![3]]);
    assert_eq!(s.sum().compute(&c).unwrap(), 15);
    c.shutdown().unwrap();
}

#[test]
fn rows_scattered_again_under_the_same_name_leave_the_array_as_it_was() {
    let c = cluster(3);
    for round in 0..5 {
        let old = Array2::from_shape_fn((9, 2), |(i, j)| (round * 100 + i * 2 + j) as f64);
        c.scatter_array("again", &old).unwrap();
        let x = array::from_worker_rows::<f64>(&c, "again").unwrap();
        let new = Array2::from_elem((9, 2), -1.0);
        c.scatter_array("again", &new).unwrap();
        assert_eq!(x.compute(&c).unwrap(), old.into_dyn(), "round {round}");
    }
    c.shutdown().unwrap();
}

#[test]
fn rows_that_are_missing_or_of_another_type_are_an_error() {
    let c = cluster(2);
    let e = array::from_worker_rows::<f64>(&c, "nothing").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("\"nothing\""), "{e}");
    assert!(e.message().contains("worker"), "{e}");
    let data = Array2::from_shape_fn((4, 3), |(i, j)| (i + j) as u8);
    c.scatter_array("bytes", &data).unwrap();
    let e = array::from_worker_rows::<f64>(&c, "bytes").unwrap_err();
    assert!(e.message().contains("f64"), "{e}");
    c.shutdown().unwrap();
}

#[test]
fn a_chunk_larger_than_a_workers_memory_is_an_error_where_it_is_made() {
    // Made before any client: the error comes when it is computed.
    let early = random::random(1, &[1000, 1000], [500, 500]).unwrap();
    let c = rankflow::initialize(
        Config::new()
            .mode(Mode::Local)
            .local_workers(2)
            .memory_limit(1 << 20),
    )
    .unwrap();
    // 500 x 500 f64 is 2,000,000 bytes, over 1 MiB.
    let e = random::random(1, &[1000, 1000], [500, 500]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    for part in ["(500, 500)", "2000000 bytes", "1048576 bytes", "f64"] {
        assert!(e.message().contains(part), "{part} missing from: {e}");
    }
    assert!(array::zeros(&[1000, 1000], [400, 400]).is_err());
    assert!(array::from_fn(&[10, 1_000_000], [10, 100_000], counted_chunk).is_err());
    let fine = random::random(1, &[1000, 1000], [250, 250]).unwrap();
    assert!(fine.rechunk([1000, 200]).is_err());
    assert!(fine.sum().compute(&c).is_ok());
    let e = early.sum().compute(&c).unwrap_err();
    assert!(e.message().contains("(500, 500)"), "{e}");
    assert!(early.persist(&c).is_err());
    c.shutdown().unwrap();
    // No client open on this thread now: no check until computed.
    assert!(random::random(1, &[1000, 1000], [500, 500]).is_ok());
}

#[test]
fn the_chunk_limit_is_the_open_clients_whichever_ends_first() {
    let small = rankflow::initialize(
        Config::new()
            .mode(Mode::Local)
            .local_workers(1)
            .memory_limit(1 << 20),
    )
    .unwrap();
    let big = rankflow::initialize(
        Config::new()
            .mode(Mode::Local)
            .local_workers(1)
            .memory_limit(1 << 30),
    )
    .unwrap();
    // The client opened last rules while it is open.
    assert!(random::random(1, &[1000, 1000], [500, 500]).is_ok());
    big.shutdown().unwrap();
    // Its end leaves the one still open in force, not no limit at all.
    let e = random::random(1, &[1000, 1000], [500, 500]).unwrap_err();
    assert!(e.message().contains("1048576 bytes"), "{e}");
    // A client dropped without a shutdown leaves no limit behind.
    drop(small);
    assert!(random::random(1, &[1000, 1000], [500, 500]).is_ok());
}
