//! Array collections against the same work written by hand and done
//! serially, all in the same run; one JSON line per workload with the
//! median of the repetitions:
//!
//! - `array_sum`: `(sin(x) + cos(x.t())).sum()`, x uniform N × N in
//!   CHUNK × CHUNK chunks (10,000² in 1,000² chunks);
//! - `array_mean`: `normal(10, 0.1, (N, N)).mean_axis(0)[::100]`;
//! - `pi_array`: Monte Carlo pi over POINTS points in PI_CHUNK chunks with
//!   `uniform`, `where_` and `sqrt` (20,000,000 in 1,000,000);
//! - `sin_cos`: the elementwise math alone, in this process: `f64::sin`
//!   and `cos` (libm) against [`fastmath`] over the same 10,000,000 values.
//!
//! Each array workload runs three ways: `collection` (the `DArray`
//! expression, computed on the cluster), `hand` (one `submit` per chunk
//! computing the same chunk values with ndarray and [`fastmath`], the
//! small results combined at the client), and `serial` (one process,
//! chunk by chunk, ndarray with libm's `sin` and `cos`, as a serial
//! program would be written; `serial_fast_s` is the same with
//! [`fastmath`]). The three results are checked against each other. The
//! JSON gives `speedup` (serial / collection) and `over_hand`
//! (collection / hand), and the load average when the run started: the
//! other ranks share the machine's cores, so figures taken while other work
//! runs are slower and noisier.
//!
//! ```text
//! mpirun -n 4 target/release/examples/bench_collections [N] [CHUNK] [POINTS] [PI_CHUNK] [REPS] [WORKLOADS]
//! mpirun -n 4 target/release/examples/bench_collections 10000 1000 20000000 1000000 3 array_sum,array_mean
//! ```

use rankflow::array::fastmath;
use rankflow::array::random::{self, Dist};
use rankflow::array::where_;
use rankflow::ndarray::{s, Array1, ArrayD, Axis};
use rankflow::{Client, Config, Error};
use std::time::{Duration, Instant};

const SEED: u64 = 2024;
const SEED_X: u64 = 31;
const SEED_Y: u64 = 47;
const UNIFORM: Dist = Dist::Uniform {
    low: 0.0,
    high: 1.0,
};
const NORMAL: Dist = Dist::Normal {
    mean: 10.0,
    std: 0.1,
};

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64()
}

/// The chunk lengths of `n` in pieces of `chunk` (the last one shorter).
fn blocks(n: usize, chunk: usize) -> Vec<usize> {
    (0..n.div_ceil(chunk))
        .map(|i| chunk.min(n - i * chunk))
        .collect()
}

/// Chunk (i, j) of `sin(x) + cos(x.t())`, summed; libm or [`fastmath`].
fn sum_chunk(i: usize, j: usize, blocks: &[usize], fast: bool) -> f64 {
    let across = blocks.len();
    let (rows, cols) = (blocks[i], blocks[j]);
    let mut here = random::sampled_chunk(SEED, UNIFORM, (i * across + j) as u64, &[rows, cols]);
    let mut mirror = random::sampled_chunk(SEED, UNIFORM, (j * across + i) as u64, &[cols, rows]);
    if fast {
        fastmath::sin_in_place(here.as_slice_mut().expect("contiguous"));
        fastmath::cos_in_place(mirror.as_slice_mut().expect("contiguous"));
    } else {
        here.mapv_inplace(f64::sin);
        mirror.mapv_inplace(f64::cos);
    }
    (here + mirror.t()).sum()
}

/// The hand-written task: one chunk of array_sum.
fn sum_task(i: usize, j: usize, blocks: Vec<usize>) -> f64 {
    sum_chunk(i, j, &blocks, true)
}

/// The column sums of chunk (i, j) of the normal array.
fn column_sums(i: usize, j: usize, blocks: &[usize]) -> Array1<f64> {
    let k = (i * blocks.len() + j) as u64;
    random::sampled_chunk(SEED, NORMAL, k, &[blocks[i], blocks[j]])
        .sum_axis(Axis(0))
        .into_dimensionality()
        .expect("one axis")
}

/// The hand-written task: one chunk of array_mean, its column sums.
fn mean_task(i: usize, j: usize, blocks: Vec<usize>) -> Vec<f64> {
    column_sums(i, j, &blocks).to_vec()
}

/// Points of chunk `k` (of `len`) inside the quarter circle.
fn inside_chunk(k: usize, len: usize) -> i64 {
    let xs = random::sampled_chunk(SEED_X, UNIFORM, k as u64, &[len]);
    let ys = random::sampled_chunk(SEED_Y, UNIFORM, k as u64, &[len]);
    xs.iter()
        .zip(&ys)
        .filter(|(a, b)| (*a * *a + *b * *b).sqrt() <= 1.0)
        .count() as i64
}

/// The three ways' times over `reps` repetitions, alternating.
struct Times {
    collection: Vec<Duration>,
    hand: Vec<Duration>,
    serial: Vec<Duration>,
    serial_fast: Vec<Duration>,
}

impl Times {
    fn new() -> Self {
        Times {
            collection: Vec::new(),
            hand: Vec::new(),
            serial: Vec::new(),
            serial_fast: Vec::new(),
        }
    }

    fn timed<R>(into: &mut Vec<Duration>, f: impl FnOnce() -> R) -> R {
        let start = Instant::now();
        let r = f();
        into.push(start.elapsed());
        r
    }

    /// The JSON fields of the times and their ratios.
    fn json(self) -> String {
        let (c, h, s) = (
            median(self.collection),
            median(self.hand),
            median(self.serial),
        );
        let fast = if self.serial_fast.is_empty() {
            String::new()
        } else {
            let f = median(self.serial_fast);
            format!(
                ",\"serial_fast_s\":{f:.4},\"speedup_vs_serial_fast\":{:.3}",
                f / c
            )
        };
        format!(
            "\"collection_s\":{c:.4},\"hand_s\":{h:.4},\"serial_s\":{s:.4}{fast},\
             \"speedup\":{:.3},\"over_hand\":{:.3}",
            s / c,
            c / h
        )
    }
}

fn relative(a: f64, b: f64) -> f64 {
    ((a - b) / b).abs()
}

fn array_sum(client: &Client, n: usize, chunk: usize, reps: usize) -> Result<String, Error> {
    let x = random::random(SEED, &[n, n], [chunk, chunk])?;
    let y = (x.sin() + x.t().cos()).sum();
    let blocks = blocks(n, chunk);
    let grid: Vec<(usize, usize)> = (0..blocks.len())
        .flat_map(|i| (0..blocks.len()).map(move |j| (i, j)))
        .collect();
    let mut t = Times::new();
    for _ in 0..reps {
        let a = Times::timed(&mut t.collection, || y.compute(client))?;
        let b = Times::timed(&mut t.hand, || -> Result<f64, Error> {
            let futures = grid
                .iter()
                .map(|&(i, j)| client.submit(sum_task, (i, j, blocks.clone())))
                .collect::<Result<Vec<_>, Error>>()?;
            Ok(client.gather(&futures)?.iter().sum())
        })?;
        let c = Times::timed(&mut t.serial, || {
            grid.iter()
                .map(|&(i, j)| sum_chunk(i, j, &blocks, false))
                .sum::<f64>()
        });
        let d = Times::timed(&mut t.serial_fast, || {
            grid.iter()
                .map(|&(i, j)| sum_chunk(i, j, &blocks, true))
                .sum::<f64>()
        });
        for (what, v) in [("hand", b), ("serial", c), ("serial fast", d)] {
            assert!(
                relative(a, v) < 1e-9,
                "array_sum: collection {a} and {what} {v} differ"
            );
        }
    }
    Ok(format!(
        "\"workload\":\"array_sum\",\"n\":{n},\"chunk\":{chunk},\"tasks\":{},{}",
        y.tasks(),
        t.json()
    ))
}

fn array_mean(client: &Client, n: usize, chunk: usize, reps: usize) -> Result<String, Error> {
    let x = random::normal(SEED, 10.0, 0.1, &[n, n], [chunk, chunk])?;
    let y = x.mean_axis(0)?.slice(s![..;100])?;
    let blocks = blocks(n, chunk);
    let grid: Vec<(usize, usize)> = (0..blocks.len())
        .flat_map(|i| (0..blocks.len()).map(move |j| (i, j)))
        .collect();
    let starts: Vec<usize> = blocks
        .iter()
        .scan(0, |at, &len| {
            *at += len;
            Some(*at - len)
        })
        .collect();
    let means = |parts: Vec<(usize, Array1<f64>)>| {
        let mut sums = Array1::<f64>::zeros(n);
        for (j, part) in parts {
            let mut place = sums.slice_mut(s![starts[j]..starts[j] + blocks[j]]);
            place += &part;
        }
        (sums / n as f64).slice(s![..;100]).to_owned()
    };
    let mut t = Times::new();
    for _ in 0..reps {
        let a: ArrayD<f64> = Times::timed(&mut t.collection, || y.compute(client))?;
        let b = Times::timed(&mut t.hand, || -> Result<Array1<f64>, Error> {
            let futures = grid
                .iter()
                .map(|&(i, j)| client.submit(mean_task, (i, j, blocks.clone())))
                .collect::<Result<Vec<_>, Error>>()?;
            let sums = client.gather(&futures)?;
            Ok(means(
                grid.iter()
                    .zip(sums)
                    .map(|(&(_, j), v)| (j, Array1::from(v)))
                    .collect(),
            ))
        })?;
        let c = Times::timed(&mut t.serial, || {
            means(
                grid.iter()
                    .map(|&(i, j)| (j, column_sums(i, j, &blocks)))
                    .collect(),
            )
        });
        assert_eq!(a.len(), n.div_ceil(100));
        for ((got, hand), serial) in a.iter().zip(&b).zip(&c) {
            assert!(
                relative(*got, *hand) < 1e-9 && relative(*got, *serial) < 1e-9,
                "array_mean: collection {got}, hand {hand}, serial {serial}"
            );
            assert!((got - 10.0).abs() < 0.05, "a column mean {got} far from 10");
        }
    }
    Ok(format!(
        "\"workload\":\"array_mean\",\"n\":{n},\"chunk\":{chunk},\"tasks\":{},{}",
        y.tasks(),
        t.json()
    ))
}

fn pi_array(client: &Client, n: usize, chunk: usize, reps: usize) -> Result<String, Error> {
    let x = random::uniform(SEED_X, 0.0, 1.0, &[n], [chunk])?;
    let y = random::uniform(SEED_Y, 0.0, 1.0, &[n], [chunk])?;
    let inside = where_(&(&x * &x + &y * &y).sqrt().le(1.0), 1_i64, 0_i64)?.sum();
    let lens = blocks(n, chunk);
    let mut t = Times::new();
    for _ in 0..reps {
        let a = Times::timed(&mut t.collection, || inside.compute(client))?;
        let b = Times::timed(&mut t.hand, || -> Result<i64, Error> {
            let futures = lens
                .iter()
                .enumerate()
                .map(|(k, &len)| client.submit(inside_chunk, (k, len)))
                .collect::<Result<Vec<_>, Error>>()?;
            Ok(client.gather(&futures)?.iter().sum())
        })?;
        let c = Times::timed(&mut t.serial, || {
            lens.iter()
                .enumerate()
                .map(|(k, &len)| inside_chunk(k, len))
                .sum::<i64>()
        });
        assert!(a == b && a == c, "pi_array: counts {a}, {b}, {c} differ");
        let pi = 4.0 * a as f64 / n as f64;
        assert!(
            n < 1_000_000 || (pi - std::f64::consts::PI).abs() < 0.01,
            "pi_array: pi = {pi}"
        );
    }
    Ok(format!(
        "\"workload\":\"pi_array\",\"points\":{n},\"chunk\":{chunk},\"tasks\":{},{}",
        inside.tasks(),
        t.json()
    ))
}

/// libm's sin and cos against [`fastmath`]'s over the same values in this
/// process; their results checked within 1e-12 relative.
fn sin_cos(values: usize, reps: usize) -> String {
    let xs: Vec<f64> = random::sampled_chunk(SEED, UNIFORM, 0, &[values])
        .iter()
        .map(|u| (u - 0.5) * 200.0)
        .collect();
    let (mut libm, mut fast) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let mut a = xs.clone();
        let mut b = xs.clone();
        Times::timed(&mut libm, || {
            a.iter_mut().for_each(|x| *x = x.sin());
            a.iter_mut().for_each(|x| *x = x.cos());
        });
        Times::timed(&mut fast, || {
            fastmath::sin_in_place(&mut b);
            fastmath::cos_in_place(&mut b);
        });
        for (p, q) in a.iter().zip(&b) {
            assert!(relative(*q, *p) <= 1e-12, "cos(sin(x)): libm {p}, fast {q}");
        }
    }
    let (l, f) = (median(libm), median(fast));
    format!(
        "\"workload\":\"sin_cos\",\"values\":{values},\"libm_s\":{l:.4},\"fast_s\":{f:.4},\
         \"speedup\":{:.3}",
        l / f
    )
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "null".to_string())
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let mut number = |default: usize, what: &str| -> usize {
        args.next().map_or(default, |a| {
            a.parse()
                .unwrap_or_else(|_| panic!("{what} is a whole number"))
        })
    };
    let n = number(10_000, "N");
    let chunk = number(1_000, "CHUNK");
    let points = number(20_000_000, "POINTS");
    let pi_chunk = number(1_000_000, "PI_CHUNK");
    let reps = number(3, "REPS").max(1);
    assert!(
        n >= 1 && chunk >= 1 && points >= 1 && pi_chunk >= 1,
        "sizes must be at least 1"
    );
    let workloads = args
        .next()
        .unwrap_or_else(|| "array_sum,array_mean,pi_array,sin_cos".to_string());

    let load = load_average();
    let client = rankflow::initialize(Config::new())?;
    let workers = client.workers().len();
    let threads: usize = client.workers().iter().map(|w| w.threads).sum();
    for workload in workloads.split(',') {
        let fields = match workload {
            "array_sum" => array_sum(&client, n, chunk, reps)?,
            "array_mean" => array_mean(&client, n, chunk, reps)?,
            "pi_array" => pi_array(&client, points, pi_chunk, reps)?,
            "sin_cos" => sin_cos((n * n / 10).clamp(1, 10_000_000), reps),
            other => {
                panic!("unknown workload {other:?}: array_sum, array_mean, pi_array or sin_cos")
            }
        };
        println!(
            "{{\"bench\":\"collections\",{fields},\"workers\":{workers},\"threads\":{threads},\
             \"reps\":{reps},\"load\":{load}}}"
        );
    }
    client.shutdown()
}
