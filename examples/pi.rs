//! Monte Carlo estimate of pi: 8 tasks of 2,500,000 random points each,
//! mapped over the workers; checks the estimate is within 0.01.
//!
//! ```text
//! mpirun -n 4 target/release/examples/pi
//! cargo run --release --example pi
//! ```

use rankflow::{Config, Error};

/// Points inside the unit quarter circle out of `n`, from a seeded xorshift.
fn inside((seed, n): (u64, u64)) -> u64 {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .filter(|_| {
            let (x, y) = (next(), next());
            x * x + y * y <= 1.0
        })
        .count() as u64
}

fn main() -> Result<(), Error> {
    let client = rankflow::initialize(Config::new())?;
    let (tasks, per_task) = (8u64, 2_500_000u64);
    let futures = client.map(inside, (0..tasks).map(|seed| (seed + 1, per_task)))?;
    let hits: u64 = client.gather(&futures)?.iter().sum();
    let pi = 4.0 * hits as f64 / (tasks * per_task) as f64;
    println!(
        "pi ≈ {pi:.5} from {} points on {} workers",
        tasks * per_task,
        client.workers().len()
    );
    assert!(
        (pi - std::f64::consts::PI).abs() < 0.01,
        "estimate {pi} is off"
    );
    client.shutdown()
}
