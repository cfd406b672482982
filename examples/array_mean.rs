//! dask.array's `da.random.normal(10, 0.1, size=(n, n), chunks=(c, c))
//! .mean(axis=0)[::100]`: column means as a tree, then every 100th of them
//! (a slice with a step); and `x + x.T - x.mean(axis=0)`. Checked against
//! a serial computation over the same seeded chunks (relative difference
//! under 1e-9) and against the mean 10. Only the small results come to the
//! client.
//!
//! ```text
//! mpirun -n 4 target/release/examples/array_mean [N] [CHUNK]   # N = 10000, CHUNK = 1000
//! mpirun -n 4 target/release/examples/array_mean 20000   # 3.2 GB; prints the client's peak RSS
//! ```
//!
//! The dask version:
//!
//! ```python
//! x = da.random.normal(10, 0.1, size=(n, n), chunks=(1000, 1000))
//! y = x.mean(axis=0)[::100]
//! z = (x + x.T - x.mean(axis=0)).mean()
//! ```

use rankflow::array::random::{self, Dist};
use rankflow::ndarray::{s, Array1, Axis};
use rankflow::{Config, Error};
use std::time::Instant;

const SEED: u64 = 10;

/// A line of this process's /proc status (`VmHWM`, `VmRSS`) in MiB; 0
/// where there is none (not Linux).
fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with(field))?.to_string();
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map_or(10_000, |a| a.parse().expect("N is a whole number"));
    let chunk: usize = args
        .next()
        .map_or(1_000, |a| a.parse().expect("CHUNK is a whole number"));
    assert!(n >= 1 && chunk >= 1, "N and CHUNK must be at least 1");

    let x = random::normal(SEED, 10.0, 0.1, &[n, n], [chunk, chunk])?;
    let y = x.mean_axis(0)?.slice(s![..;100])?;
    let z = (&x + &x.t() - &x.mean_axis(0)?).mean();
    println!("x: {x}");
    println!("x.mean(axis 0)[::100]: {y}");
    println!("(x + x.t() - x.mean(axis 0)).mean(): {z}");

    let client = rankflow::initialize(Config::new())?;
    let before = status_mib("VmRSS:");
    let start = Instant::now();
    let means = y.compute(&client)?;
    let cluster = start.elapsed();
    let centred = z.compute(&client)?;
    // The client's peak memory: the chunks stay on the workers, so it
    // grows by far less than one chunk (in the embedded cluster the
    // workers share this process and it counts theirs too).
    let peak = status_mib("VmHWM:");
    let chunk_mib = (chunk * chunk * 8) as f64 / (1 << 20) as f64;
    let own_process = client.workers().iter().all(|w| w.pid != std::process::id());
    println!(
        "client peak RSS (VmHWM) {peak:.1} MiB, {before:.1} MiB before computing \
         (one chunk is {chunk_mib:.1} MiB, the array {:.1} MiB){}",
        (n * n * 8) as f64 / (1 << 20) as f64,
        if own_process {
            ""
        } else {
            "; embedded cluster: the workers' memory counts too"
        }
    );

    // Serially, chunk by chunk, from the same (seed, chunk number) streams.
    let start = Instant::now();
    let normal = Dist::Normal {
        mean: 10.0,
        std: 0.1,
    };
    let blocks = x.chunks()[0].clone();
    let mut sums = Array1::<f64>::zeros(n);
    let mut at = 0;
    for (i, &rows) in blocks.iter().enumerate() {
        let mut col = 0;
        for (j, &cols) in blocks.iter().enumerate() {
            let k = (i * blocks.len() + j) as u64;
            let here = random::sampled_chunk(SEED, normal, k, &[rows, cols]);
            let mut part = sums.slice_mut(s![col..col + cols]);
            part += &here.sum_axis(Axis(0));
            col += cols;
        }
        at += rows;
    }
    assert_eq!(at, n);
    let serial = (sums / n as f64).slice(s![..;100]).to_owned();
    let one_process = start.elapsed();

    assert_eq!(means.shape(), &[n.div_ceil(100)]);
    for (got, want) in means.iter().zip(&serial) {
        let relative = ((got - want) / want).abs();
        assert!(relative < 1e-9, "column mean {got} against {want} serially");
        assert!(
            (got - 10.0).abs() < 0.05,
            "column mean {got} is far from 10"
        );
    }
    let overall = serial.mean().expect("not empty");
    assert!(
        (centred - 10.0).abs() < 0.01,
        "(x + x.t() - x.mean(axis 0)).mean() = {centred}, not near 10 (column means {overall})"
    );
    println!(
        "array_mean: n={n} chunk={chunk} tasks={} first means {:.5?} \
         (x + x.t() - x.mean(axis 0)).mean()={centred:.6} cluster={:.3}s serial={:.3}s: ok",
        y.tasks(),
        means.iter().take(3).collect::<Vec<_>>(),
        cluster.as_secs_f64(),
        one_process.as_secs_f64()
    );
    client.shutdown()
}
