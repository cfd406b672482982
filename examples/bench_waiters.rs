//! CPU burnt by threads waiting on futures, printed as one JSON line: one
//! thread waiting on a task that sleeps (the baseline: it receives for
//! everyone), then `threads` threads waiting on such a task at once. Waiting
//! threads other than the receiving one should sleep on a condition variable
//! until there is news, not wake on a timer. Linux only (reads
//! `/proc/thread-self/stat`).
//!
//! ```text
//! mpirun -n 3 target/release/examples/bench_waiters [threads] [milliseconds]
//! cargo run --release --example bench_waiters
//! ```

use rankflow::{Config, Error};
use std::time::{Duration, Instant};

fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// CPU seconds the calling thread has used, from /proc.
fn thread_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("/proc/thread-self/stat");
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// CPU seconds used by `threads` threads each waiting for one task of `ms`.
fn waiting_cpu(client: &rankflow::Client, threads: usize, ms: u64) -> Result<f64, Error> {
    let f = client.submit(nap, ms)?;
    let cpu: f64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let f = f.clone();
                s.spawn(move || {
                    let start = thread_cpu();
                    assert_eq!(f.result().expect("the nap"), ms);
                    thread_cpu() - start
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("waiter")).sum()
    });
    Ok(cpu)
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().map_or(16, |a| a.parse().expect("a number"));
    let ms: u64 = args.next().map_or(2_000, |a| a.parse().expect("a number"));
    let client = rankflow::initialize(Config::new())?;
    let t = Instant::now();
    let one = waiting_cpu(&client, 1, ms)?;
    let many = waiting_cpu(&client, threads, ms + 1)?;
    let wall = t.elapsed().as_secs_f64();
    println!(
        "{{\"bench\":\"waiters\",\"wait_ms\":{ms},\"threads\":{threads},\
         \"cpu_s_one_waiter\":{one:.3},\"cpu_s_all_waiters\":{many:.3},\"wall_s\":{wall:.2}}}"
    );
    client.shutdown()
}
