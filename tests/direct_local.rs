//! The direct interface on the embedded cluster: run, push/pull, scatter,
//! SPMD sections, and their bad inputs.

use rankflow::{Config, ErrorKind, Group, Mode, Op};
use std::time::{Duration, Instant};

fn cluster(workers: usize) -> rankflow::Client {
    rankflow::initialize(Config::new().mode(Mode::Local).local_workers(workers)).unwrap()
}

fn whoami() -> usize {
    rankflow::current_worker().expect("on a worker")
}

fn explode() -> usize {
    panic!("run failed here")
}

fn read_x(_: ()) -> i32 {
    rankflow::worker_var::<i32>("x").unwrap()
}

#[test]
fn run_on_all_and_on_some() {
    let c = cluster(3);
    let all = c.run(whoami, None).unwrap();
    assert_eq!(all, vec![(2, 2), (3, 3), (4, 4)]);
    assert_eq!(c.run(whoami, Some(&[3])).unwrap(), vec![(3, 3)]);
    assert!(c.run(whoami, Some(&[7])).is_err());
    let err = c.run(explode, Some(&[4])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Task);
    assert!(err.to_string().contains("run failed here"), "{err}");
    assert_eq!(err.task_failure().unwrap().worker, Some(4));
    // The worker keeps serving.
    assert_eq!(c.run(whoami, Some(&[4])).unwrap(), vec![(4, 4)]);
}

#[test]
fn push_pull_and_tasks_that_read_variables() {
    let c = cluster(2);
    c.push("x", &7i32, None).unwrap();
    assert_eq!(c.pull::<i32>("x", None).unwrap(), vec![7, 7]);
    c.push("x", &8i32, Some(&[3])).unwrap();
    assert_eq!(c.pull::<i32>("x", None).unwrap(), vec![7, 8]);
    let on3 = rankflow::TaskOptions::new().workers(&[3]).pure(false);
    assert_eq!(
        c.submit_with_options(read_x, (), &on3)
            .unwrap()
            .result()
            .unwrap(),
        8
    );
    let err = c.pull::<i32>("y", None).unwrap_err();
    assert!(err.to_string().contains("\"y\""), "{err}");
    let err = c.pull::<String>("x", None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Codec, "{err}");
    assert!(rankflow::worker_var::<i32>("x").is_err(), "outside a task");
}

#[test]
fn scatter_feeds_tasks_and_checks_memory_before_sending() {
    let c = cluster(2);
    let fs = c.scatter(vec![1u64, 2, 3, 4]).unwrap();
    let doubled: Vec<u64> = c
        .gather(
            &fs.iter()
                .map(|f| c.submit(|x: u64| 2 * x, f).unwrap())
                .collect::<Vec<_>>(),
        )
        .unwrap();
    assert_eq!(doubled, vec![2, 4, 6, 8]);
    assert_eq!(c.gather(&fs).unwrap(), vec![1, 2, 3, 4]);
    drop(c);

    let small = rankflow::initialize(
        Config::new()
            .mode(Mode::Local)
            .local_workers(1)
            .memory_limit(10_000),
    )
    .unwrap();
    assert_eq!(small.workers()[0].memory_limit, 10_000);
    let err = small
        .scatter(vec![vec![0u8; 6_000], vec![1u8; 6_000]])
        .unwrap_err();
    assert!(err.to_string().contains("memory limit"), "{err}");
    assert_eq!(small.scatter(vec![vec![0u8; 6_000]]).unwrap().len(), 1);
}

fn ranks_and_sum(g: &Group, base: u64) -> rankflow::Result<(usize, usize, u64)> {
    let mut total = [0u64];
    g.allreduce_into(&[base + g.rank() as u64], &mut total, Op::Sum)?;
    Ok((g.rank(), g.size(), total[0]))
}

fn panics_on_one(g: &Group, bad: usize) -> rankflow::Result<u64> {
    if g.rank() == bad {
        panic!("section member {bad} failed");
    }
    // The others wait in a collective for the failed member.
    Ok(g.allreduce(1u64, |a, b| a + b).expect("the group failed"))
}

fn errs_on_one(g: &Group, bad: usize) -> rankflow::Result<u64> {
    if g.rank() == bad {
        return Err(rankflow::Error::new(
            ErrorKind::InvalidArgument,
            format!("member {bad} found bad input"),
        ));
    }
    // The others wait in a collective for the member that left.
    g.barrier()?;
    g.allreduce(1u64, |a, b| a + b)
}

#[test]
fn spmd_sections_run_on_every_worker_together() {
    let c = cluster(3);
    let out = c.spmd(ranks_and_sum, 10).unwrap();
    assert_eq!(out, vec![(0, 3, 33), (1, 3, 33), (2, 3, 33)]);
    // Tasks between sections, and sections again.
    assert_eq!(c.submit(|x: u64| x + 1, 1).unwrap().result().unwrap(), 2);
    assert_eq!(c.spmd(ranks_and_sum, 0).unwrap()[2], (2, 3, 3));
}

#[test]
fn a_panicking_section_member_fails_the_section_without_hanging() {
    let c = cluster(3);
    let start = Instant::now();
    let err = c.spmd(panics_on_one, 1).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(err.kind(), ErrorKind::Task);
    // Every member failed: the panicking one and those whose collective could
    // not complete.
    assert!(
        err.to_string().contains("section member 1 failed")
            || err.to_string().contains("the group failed"),
        "{err}"
    );
    // Tasks still run; the workers group stays failed.
    assert_eq!(c.submit(|x: u64| x * 3, 3).unwrap().result().unwrap(), 9);
    assert!(c.spmd(ranks_and_sum, 0).is_err());
}

/// A member that leaves a section with `Err` while the others wait for it
/// ends the section for everyone with its error, instead of a hang.
#[test]
fn a_section_member_returning_err_ends_the_section() {
    let c = cluster(3);
    let start = Instant::now();
    let err = c.spmd(errs_on_one, 2).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(err.kind(), ErrorKind::Task, "{err}");
    let f = err.task_failure().expect("a task failure");
    assert_eq!(f.kind, rankflow::FailureKind::Returned, "{err}");
    assert!(err.to_string().contains("found bad input"), "{err}");
    // A closure section works too.
    let c = cluster(2);
    let sizes = c
        .spmd(|g: &Group, x: u64| Ok(g.size() as u64 + x), 1)
        .unwrap();
    assert_eq!(sizes, vec![3, 3]);
}

fn sum_and_where(v: Vec<f64>) -> (f64, usize) {
    (v.iter().sum(), rankflow::current_worker().unwrap())
}

#[test]
fn broadcast_places_one_value_on_every_worker() {
    let c = cluster(3);
    let data: Vec<f64> = (0..10_000).map(|i| i as f64).collect();
    let shared = c.broadcast_slice(&data).unwrap();
    let expected: f64 = data.iter().sum();
    for w in [2, 3, 4] {
        // Impure: the same function and argument must run on each worker.
        let here = rankflow::TaskOptions::new().workers(&[w]).pure(false);
        let (sum, ran_on) = c
            .submit_with_options(sum_and_where, &shared, &here)
            .unwrap()
            .result()
            .unwrap();
        assert_eq!((sum, ran_on), (expected, w));
    }
    assert_eq!(
        shared.result().unwrap().len(),
        10_000,
        "fetched by the client too"
    );
    let words = c
        .broadcast(&vec!["a".to_string(), "b".to_string()])
        .unwrap();
    let joined = c.submit(|v: Vec<String>| v.concat(), &words).unwrap();
    assert_eq!(joined.result().unwrap(), "ab");
    // Integers are encoded first, and arrive the same.
    let ints = vec![5u32; 100];
    let f = c.broadcast_slice(&ints).unwrap();
    assert_eq!(f.result().unwrap(), vec![5u32; 100]);
}

#[test]
fn broadcast_over_a_workers_memory_is_refused_before_sending() {
    let c = rankflow::initialize(
        Config::new()
            .mode(Mode::Local)
            .local_workers(2)
            .memory_limit(1000),
    )
    .unwrap();
    let big = vec![0u8; 2000];
    let err = c.broadcast_slice(&big).unwrap_err();
    assert!(err.to_string().contains("memory limit"), "{err}");
    let small = vec![1u8; 100];
    assert_eq!(
        c.broadcast_slice(&small).unwrap().result().unwrap().len(),
        100
    );
}

fn double_rows() -> Vec<usize> {
    let x: ndarray::ArrayD<f64> = rankflow::worker_array("x").unwrap();
    rankflow::set_worker_array("y", &(&x * 2.0)).unwrap();
    x.shape().to_vec()
}

fn sum_i64_rows() -> i128 {
    let x: ndarray::ArrayD<i64> = rankflow::worker_array("big").unwrap();
    x.iter().map(|&v| i128::from(v)).sum()
}

/// The sum of this worker's rows of "x", read in place, and whether no copy
/// was needed.
fn sum_rows_in_place() -> (f64, bool) {
    let x = rankflow::worker_array_view::<f64>("x").unwrap();
    let first = x.view().as_ptr();
    // A second view of the same variable borrows the same bytes.
    let again = rankflow::worker_array_view::<f64>("x").unwrap();
    let same = std::ptr::eq(first, again.view().as_ptr());
    (x.view().sum(), x.in_place() && same)
}

fn read_big_as_u16() -> usize {
    rankflow::worker_array::<u16>("big").unwrap().len()
}

#[test]
fn arrays_scatter_by_rows_and_gather_back() {
    let c = cluster(3);
    let a = ndarray::Array2::from_shape_fn((10, 3), |(i, j)| (i * 3 + j) as f64);
    let rows = c.scatter_array("x", &a).unwrap();
    assert_eq!(rows, vec![4, 3, 3], "uneven split, first workers get more");
    let shapes = c.run(double_rows, None).unwrap();
    assert_eq!(
        shapes.iter().map(|(_, s)| s.clone()).collect::<Vec<_>>(),
        vec![vec![4, 3], vec![3, 3], vec![3, 3]]
    );
    let back: ndarray::ArrayD<f64> = c.gather_array("x").unwrap();
    assert_eq!(back, a.clone().into_dyn());
    // Read in place: every worker's rows are aligned for f64, no copy.
    let views = c.run(sum_rows_in_place, None).unwrap();
    assert!(
        views.iter().all(|(_, (_, in_place))| *in_place),
        "{views:?}"
    );
    let total: f64 = views.iter().map(|(_, (s, _))| s).sum();
    assert_eq!(total, a.sum());
    let doubled: ndarray::ArrayD<f64> = c.gather_array("y").unwrap();
    assert_eq!(doubled, (&a * 2.0).into_dyn());
    // A transposed (non-contiguous) array is scattered by its logical rows.
    let t = a.t();
    assert_eq!(c.scatter_array("t", &t).unwrap(), vec![1, 1, 1]);
    assert_eq!(c.gather_array::<f64>("t").unwrap(), t.to_owned().into_dyn());
    // Bad input: an unknown name, an element type the codec encodes.
    let err = c.gather_array::<f64>("nope").unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    // Integer elements of every width go as their own bytes too.
    let ints = ndarray::Array1::from_vec(vec![1u32, 2, 3, u32::MAX]);
    assert_eq!(c.scatter_array("i", &ints).unwrap(), vec![2, 1, 1]);
    assert_eq!(c.gather_array::<u32>("i").unwrap(), ints.into_dyn());
    let big = ndarray::Array2::from_shape_fn((5, 2), |(i, j)| i64::MIN + (i * 2 + j) as i64);
    c.scatter_array("big", &big).unwrap();
    let sums = c.run(sum_i64_rows, None).unwrap();
    let total: i128 = sums.iter().map(|(_, s)| *s).sum();
    assert_eq!(total, big.iter().map(|&v| i128::from(v)).sum::<i128>());
    assert_eq!(c.gather_array::<i64>("big").unwrap(), big.into_dyn());
    // Read as the wrong element size: an error naming the variable.
    let err = c.run(read_big_as_u16, Some(&[2])).unwrap_err();
    assert!(err.to_string().contains("\"big\""), "{err}");
    // Fewer rows than workers: some get none, and it still gathers.
    let small = ndarray::Array2::<f32>::ones((2, 2));
    assert_eq!(c.scatter_array("s", &small).unwrap(), vec![1, 1, 0]);
    assert_eq!(c.gather_array::<f32>("s").unwrap(), small.into_dyn());
}

#[test]
fn replicate_copies_a_result_to_more_workers() {
    let c = cluster(3);
    let big = c.submit(|n: usize| vec![7u8; n], 100_000usize).unwrap();
    assert_eq!(c.replicate(&big, 3).unwrap(), 3);
    assert_eq!(c.replicate(&big, 2).unwrap(), 3, "already enough copies");
    assert_eq!(c.replicate(&big, 10).unwrap(), 3, "at most every worker");
    // Every worker now reads it locally.
    for w in [2, 3, 4] {
        let here = rankflow::TaskOptions::new().workers(&[w]).pure(false);
        let n = c
            .submit_with_options(|v: Vec<u8>| v.len(), &big, &here)
            .unwrap();
        assert_eq!(n.result().unwrap(), 100_000);
    }
    let failed = c.submit(|_: u8| -> u8 { panic!("no value") }, 1).unwrap();
    assert_eq!(c.replicate(&failed, 2).unwrap_err().kind(), ErrorKind::Task);
}

fn plus_rank(base: usize) -> usize {
    base + rankflow::current_worker().expect("on a worker")
}

fn panics_on_even_ranks() -> usize {
    let rank = rankflow::current_worker().expect("on a worker");
    if rank % 2 == 0 {
        panic!("even rank {rank}");
    }
    rank
}

fn panics_above(limit: usize) -> usize {
    let rank = rankflow::current_worker().expect("on a worker");
    if rank > limit {
        panic!("{rank} is over {limit}");
    }
    rank
}

#[test]
fn run_with_and_apply_pass_an_argument_to_every_worker() {
    let c = cluster(3);
    assert_eq!(
        c.run_with(plus_rank, 100, None).unwrap(),
        vec![(2, 102), (3, 103), (4, 104)]
    );
    assert_eq!(c.apply(plus_rank, 1, Some(&[3])).unwrap(), vec![(3, 4)]);
    assert!(c.run_with(plus_rank, 1, Some(&[9])).is_err());
    let err = c.run_with(panics_above, 3, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Task);
    assert!(
        err.to_string()
            .ends_with("run failed on worker 4: 4 is over 3"),
        "{err}"
    );
}

#[test]
fn a_run_error_names_every_worker_that_panicked() {
    let c = cluster(3);
    let err = c.run(panics_on_even_ranks, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Task);
    assert_eq!(
        err.message(),
        "run failed on workers 2, 4: worker 2: even rank 2; worker 4: even rank 4"
    );
    assert_eq!(err.task_failure().unwrap().worker, Some(2), "the first");
    assert_eq!(
        c.run(panics_on_even_ranks, Some(&[3])).unwrap(),
        vec![(3, 3)]
    );
}

/// Each worker's side of `with_workers`: its member number summed with
/// everyone's, and the client's base value broadcast to all.
fn member_sum(group: &Group, scale: u64) -> Result<(u64, u64), rankflow::Error> {
    let sum = group.allreduce(group.rank() as u64 * scale, |a, b| a + b)?;
    let mut base = [0u64];
    group.bcast_into(&mut base, 0)?;
    Ok((sum, base[0]))
}

fn member_fails(group: &Group, _: ()) -> Result<u64, rankflow::Error> {
    if group.rank() == 2 {
        return Err(rankflow::Error::new(
            ErrorKind::InvalidArgument,
            "member 2 refuses",
        ));
    }
    group.allreduce(1u64, |a, b| a + b)
}

#[test]
fn with_workers_runs_a_section_on_the_client_and_every_worker() {
    let c = cluster(3);
    let (mine, theirs) = c
        .with_workers(member_sum, 10, |g| {
            assert_eq!((g.rank(), g.size()), (0, 4), "the client is member 0 of 4");
            let sum = g.allreduce(0u64, |a, b| a + b)?;
            g.bcast_into(&mut [7u64], 0)?;
            Ok(sum)
        })
        .unwrap();
    // Members 1, 2, 3 contribute 10, 20, 30.
    assert_eq!(mine, 60);
    assert_eq!(theirs, vec![(60, 7); 3]);
    // A worker that fails ends the section for everyone with its error.
    let start = Instant::now();
    let err = c
        .with_workers(member_fails, (), |g| g.allreduce(1u64, |a, b| a + b))
        .unwrap_err();
    assert!(err.to_string().contains("member 2 refuses"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(30));
}
