//! Monte Carlo estimate of pi: 8 tasks of 2,500,000 random points each,
//! mapped over the workers; checks the estimate is within 0.01.
//!
//! ```text
//! mpirun -n 4 target/release/examples/pi
//! mpirun -n 4 target/release/examples/pi --report pi.html   # and pi.json beside it
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
    // `--report PATH`: write a performance report of the computation.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let report = match args.as_slice() {
        [] => None,
        [flag, path] if flag == "--report" => Some(path.clone()),
        _ => panic!("usage: pi [--report PATH]"),
    };
    let client = rankflow::initialize(Config::new())?;
    let (tasks, per_task) = (8u64, 2_500_000u64);
    let estimate = || -> Result<u64, Error> {
        let futures = client.map(inside, (0..tasks).map(|seed| (seed + 1, per_task)))?;
        Ok(client.gather(&futures)?.iter().sum())
    };
    let hits: u64 = match &report {
        Some(path) => {
            let hits = client.performance_report(path, estimate)??;
            let page = std::fs::read_to_string(path)?;
            assert_eq!(page.matches("<rect class=\"task\"").count() as u64, tasks);
            println!("report: {path}");
            hits
        }
        None => estimate()?,
    };
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
