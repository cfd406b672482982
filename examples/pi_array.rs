//! Monte Carlo pi with arrays, as dask's tutorial does it: `x` and `y`
//! uniform on [0, 1), a point is inside the quarter circle where
//! `sqrt(x² + y²) <= 1`, counted with `where_`; pi is 4 × inside / n.
//! One fused task per chunk (each generating its two random chunks from
//! the seeds) plus a combining tree. Checked exactly against a serial count
//! over the same seeded chunks, and against pi within 0.01.
//!
//! ```text
//! mpirun -n 4 target/release/examples/pi_array [N] [CHUNK]   # N = 20,000,000, CHUNK = 1,000,000
//! ```
//!
//! The dask version:
//!
//! ```python
//! x = da.random.uniform(0, 1, size=n, chunks=chunk)
//! y = da.random.uniform(0, 1, size=n, chunks=chunk)
//! inside = da.where(da.sqrt(x**2 + y**2) <= 1, 1, 0).sum()
//! pi = 4 * inside.compute() / n
//! ```

use rankflow::array::random::{self, Dist};
use rankflow::array::where_;
use rankflow::{Config, Error};
use std::time::Instant;

const SEED_X: u64 = 31;
const SEED_Y: u64 = 47;

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map_or(20_000_000, |a| a.parse().expect("N is a whole number"));
    let chunk: usize = args
        .next()
        .map_or(1_000_000, |a| a.parse().expect("CHUNK is a whole number"));
    assert!(n >= 1 && chunk >= 1, "N and CHUNK must be at least 1");

    let x = random::uniform(SEED_X, 0.0, 1.0, &[n], [chunk])?;
    let y = random::uniform(SEED_Y, 0.0, 1.0, &[n], [chunk])?;
    let radius = (&x * &x + &y * &y).sqrt();
    let inside = where_(&radius.le(1.0), 1_i64, 0_i64)?.sum();
    println!("x: {x}");
    println!("inside: {inside}");

    let client = rankflow::initialize(Config::new())?;
    let start = Instant::now();
    let count = inside.compute(&client)?;
    let cluster = start.elapsed();
    let pi = 4.0 * count as f64 / n as f64;

    // Serially, chunk by chunk, from the same (seed, chunk number) streams.
    let start = Instant::now();
    let uniform = Dist::Uniform {
        low: 0.0,
        high: 1.0,
    };
    let mut serial = 0_i64;
    for (k, &len) in x.chunks()[0].iter().enumerate() {
        let xs = random::sampled_chunk(SEED_X, uniform, k as u64, &[len]);
        let ys = random::sampled_chunk(SEED_Y, uniform, k as u64, &[len]);
        serial += xs
            .iter()
            .zip(&ys)
            .filter(|(a, b)| (*a * *a + *b * *b).sqrt() <= 1.0)
            .count() as i64;
    }
    let one_process = start.elapsed();
    assert_eq!(count, serial, "the cluster and the serial count differ");
    let off = (pi - std::f64::consts::PI).abs();
    assert!(
        n < 1_000_000 || off < 0.01,
        "pi = {pi} is {off} from pi with {n} points"
    );
    println!(
        "pi_array: n={n} chunk={chunk} tasks={} pi={pi:.6} (off by {off:.1e}) cluster={:.3}s \
         serial={:.3}s: ok",
        inside.tasks(),
        cluster.as_secs_f64(),
        one_process.as_secs_f64()
    );
    client.shutdown()
}
