//! Something to watch on the live dashboard: TASKS sleeping tasks spread
//! over about SECONDS of wall time (3000 over 60 s by default), then a
//! check of every result. Prints the dashboard's link first.
//!
//! With `--hold PATH` it keeps the cluster (and the dashboard) up after the
//! work, until PATH exists (at most two minutes), so that a browser can read
//! the finished state: `ci/browser-test.sh` does that. With `--report PATH`
//! it writes a performance report of the work (and its Chrome trace beside
//! it): `ci/browser-test.sh` opens one of 100,000 tasks in Chromium.
//!
//! ```text
//! mpirun -n 4 target/release/examples/dashboard_demo 3000 60
//! # then open the printed link (see the README's Diagnostics section)
//! ```

use rankflow::{Config, Error, ErrorKind};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const THREADS: usize = 4;

fn nap((i, micros): (u64, u64)) -> u64 {
    std::thread::sleep(Duration::from_micros(micros));
    i * 2
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let mut numbers = Vec::new();
    let mut hold: Option<PathBuf> = None;
    let mut report: Option<PathBuf> = None;
    while let Some(a) = args.next() {
        if a == "--hold" || a == "--report" {
            let path = args.next().map(PathBuf::from);
            if path.is_none() {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("{a} needs a path"),
                ));
            }
            if a == "--hold" {
                hold = path;
            } else {
                report = path;
            }
        } else {
            numbers.push(a.parse::<f64>().map_err(|_| {
                Error::new(ErrorKind::InvalidArgument, format!("{a:?} is not a number"))
            })?);
        }
    }
    let tasks = numbers.first().copied().unwrap_or(3000.0) as u64;
    let seconds = numbers.get(1).copied().unwrap_or(60.0);
    let client = rankflow::initialize(Config::new().threads_per_worker(THREADS))?;
    match client.dashboard_link() {
        Some(link) => println!("dashboard: {link}"),
        None => println!("dashboard: off"),
    }
    let slots = (client.workers().len() * THREADS) as f64;
    let micros = (seconds * 1e6 * slots / tasks.max(1) as f64) as u64;
    let start = Instant::now();
    let work = || -> Result<_, Error> {
        let futures = client.map(nap, (0..tasks).map(|i| (i, micros)))?;
        let mut sum = 0;
        for f in &futures {
            sum += f.result()?;
        }
        Ok((futures, sum))
    };
    let (futures, sum) = match &report {
        Some(path) => {
            let out = client.performance_report(path, work)??;
            println!("report: {}", path.display());
            out
        }
        None => work()?,
    };
    assert_eq!(sum, tasks * tasks.saturating_sub(1), "sum of 2i");
    println!(
        "done: {tasks} tasks in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    if let Some(path) = hold {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !path.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    drop(futures);
    client.shutdown()
}
