//! dask.array's first tutorial computation, `(sin(x) + cos(x.T)).sum()` over
//! a random 10,000 x 10,000 array in 1,000 x 1,000 chunks, as a rankflow
//! array: one fused task per chunk (each generating its two random chunks
//! from the seed) plus a combining tree. Checked against a serial
//! computation over the same seeded chunks (relative difference < 1e-9).
//!
//! ```text
//! mpirun -n 4 target/release/examples/array_sum [N] [CHUNK]   # N = 10000, CHUNK = 1000
//! mpirun -n 4 target/release/examples/array_sum 4000 --report report.html  # and report.json
//! ```
//!
//! The dask version:
//!
//! ```python
//! x = da.random.random((10000, 10000), chunks=(1000, 1000))
//! (da.sin(x) + da.cos(x.T)).sum().compute()
//! ```

use rankflow::array::random::{self, Dist};
use rankflow::{Config, Error};
use std::time::Instant;

const SEED: u64 = 2024;

fn main() -> Result<(), Error> {
    // `--report PATH` anywhere: write a performance report of the compute.
    let mut words: Vec<String> = std::env::args().skip(1).collect();
    let report = words.iter().position(|w| w == "--report").map(|i| {
        assert!(i + 1 < words.len(), "--report needs a path");
        let path = words.remove(i + 1);
        words.remove(i);
        path
    });
    let mut args = words.into_iter();
    let n: usize = args
        .next()
        .map_or(10_000, |a| a.parse().expect("N is a whole number"));
    let chunk: usize = args
        .next()
        .map_or(1_000, |a| a.parse().expect("CHUNK is a whole number"));
    assert!(n >= 1 && chunk >= 1, "N and CHUNK must be at least 1");

    let x = random::random(SEED, &[n, n], [chunk, chunk])?;
    let y = (x.sin() + x.t().cos()).sum();
    println!("x: {x}");
    println!("(sin(x) + cos(x.t())).sum(): {y}");

    let client = rankflow::initialize(Config::new())?;
    let start = Instant::now();
    let total = match &report {
        Some(path) => {
            let total = client.performance_report(path, || y.compute(&client))??;
            let page = std::fs::read_to_string(path)?;
            assert!(
                page.contains("id=\"task-stream\""),
                "{path} has no task stream"
            );
            println!("report: {path}");
            total
        }
        None => y.compute(&client)?,
    };
    let cluster = start.elapsed();

    // Serially, chunk by chunk, from the same (seed, chunk number) streams.
    let start = Instant::now();
    let blocks = x.chunks()[0].clone();
    let across = blocks.len();
    let uniform = Dist::Uniform {
        low: 0.0,
        high: 1.0,
    };
    let mut serial = 0.0;
    for (i, &rows) in blocks.iter().enumerate() {
        for (j, &cols) in blocks.iter().enumerate() {
            let here = random::sampled_chunk(SEED, uniform, (i * across + j) as u64, &[rows, cols]);
            let mirror =
                random::sampled_chunk(SEED, uniform, (j * across + i) as u64, &[cols, rows]);
            serial += (here.mapv(f64::sin) + mirror.t().mapv(f64::cos)).sum();
        }
    }
    let one_process = start.elapsed();
    let relative = ((total - serial) / serial).abs();
    assert!(
        relative < 1e-9,
        "cluster {total} and serial {serial} differ by {relative:e} (relative)"
    );
    println!(
        "array_sum: n={n} chunk={chunk} tasks={} total={total:.6} cluster={:.3}s serial={:.3}s \
         relative difference {relative:.1e}: ok",
        y.tasks(),
        cluster.as_secs_f64(),
        one_process.as_secs_f64()
    );
    client.shutdown()
}
