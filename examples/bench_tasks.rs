//! Task overhead, printed as one JSON line:
//!
//! * throughput of 100,000 no-op tasks through `map` + `gather` (tasks/s),
//!   beside the serial version (the same calls in a loop) in the same run;
//! * latency of 1,000 sequential submit -> result round trips (median and
//!   p99 µs), beside the transport's own round trip to a worker
//!   (`ping_worker`, the floor any task pays);
//! * a chain of 1,000 dependent tasks (µs per link);
//! * the cost of recording task events: the throughput run again with
//!   recording off and on, alternating, 5 times each: median rates, and
//!   the median of each pair's cost (1 - on/off); in the embedded cluster
//!   also the median of each pair's extra CPU time (on/off - 1, all roles
//!   are in the process), which a loaded machine disturbs less.
//!
//! ```text
//! mpirun -n 4 target/release/examples/bench_tasks [tasks] [round trips] [chain]
//! cargo run --release --example bench_tasks
//! ```

use rankflow::{Config, Error};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn noop(x: u64) -> u64 {
    x
}

fn inc(x: u64) -> u64 {
    x + 1
}

/// CPU seconds this process has used (user + system), from /proc; `None`
/// where there is no /proc. In the embedded cluster every role is in this
/// process, so this is the whole cluster's CPU: a cost figure that other
/// programs on the machine disturb much less than wall time.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>().expect("a number"));
    let tasks = args.next().unwrap_or(100_000);
    let trips = args.next().unwrap_or(1_000) as usize;
    let chain = args.next().unwrap_or(1_000);
    let client = rankflow::initialize(Config::new())?;
    let workers = client.workers().len();

    // Warm up: threads, connections, the scheduler's estimate of task length.
    client.gather(&client.map(noop, 1_000_000..1_001_000)?)?;

    let t = Instant::now();
    let futures = client.map(noop, 0..tasks)?;
    let results = client.gather(&futures)?;
    let elapsed = t.elapsed().as_secs_f64();
    assert_eq!(results.len() as u64, tasks);
    assert!(results.iter().enumerate().all(|(i, &r)| r == i as u64));
    drop(futures);
    let throughput = tasks as f64 / elapsed;

    let t = Instant::now();
    let serial: u64 = (0..tasks).map(|x| black_box(noop(black_box(x)))).sum();
    let serial_rate = tasks as f64 / t.elapsed().as_secs_f64().max(1e-9);
    assert_eq!(serial, tasks * (tasks - 1) / 2);

    let mut rtt = Vec::with_capacity(trips);
    for i in 0..trips as u64 {
        let t = Instant::now();
        let v = client.submit(inc, 2_000_000 + i)?.result()?;
        rtt.push(t.elapsed());
        assert_eq!(v, 2_000_001 + i);
    }
    rtt.sort();
    let worker = client.workers()[0].rank;
    let mut pings: Vec<Duration> = (0..trips)
        .map(|_| client.ping_worker(worker))
        .collect::<Result<_, _>>()?;
    pings.sort();

    let t = Instant::now();
    let mut link = client.submit(inc, 10_000_000)?;
    for _ in 1..chain {
        link = client.submit(inc, &link)?;
    }
    assert_eq!(link.result()?, 10_000_000 + chain);
    let per_link = t.elapsed().as_secs_f64() * 1e6 / chain as f64;

    // Task events: off and on, alternating, so that both see the same noise.
    let (mut off, mut on, mut cost) = (Vec::new(), Vec::new(), Vec::new());
    let (mut cpu_off, mut cpu_cost) = (0.0, Vec::new());
    for round in 0..10 {
        let recording = round % 2 == 1;
        client.record_task_events(recording)?;
        let t = Instant::now();
        let cpu = cpu_seconds();
        let results = client.gather(&client.map(noop, 0..tasks)?)?;
        let rate = tasks as f64 / t.elapsed().as_secs_f64();
        let cpu = cpu.zip(cpu_seconds()).map(|(a, b)| b - a);
        assert_eq!(results.len() as u64, tasks);
        if recording {
            cost.push(1.0 - rate / off[off.len() - 1]);
            on.push(rate);
            if let Some(c) = cpu {
                cpu_cost.push(c / cpu_off - 1.0);
            }
        } else {
            off.push(rate);
            cpu_off = cpu.unwrap_or(0.0);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (off, on, cost) = (median(&mut off), median(&mut on), median(&mut cost));
    // Whole-cluster CPU only in the embedded cluster (all roles here).
    let local = std::env::var_os("OMPI_COMM_WORLD_SIZE")
        .or(std::env::var_os("PMI_SIZE"))
        .is_none();
    let cpu_cost = if local && !cpu_cost.is_empty() {
        format!("{:.3}", median(&mut cpu_cost))
    } else {
        "null".to_string()
    };

    println!(
        "{{\"bench\":\"tasks\",\"workers\":{workers},\"mode\":\"{}\",\"tasks\":{tasks},\
         \"throughput_tasks_per_s\":{throughput:.0},\"serial_calls_per_s\":{serial_rate:.0},\
         \"roundtrips\":{trips},\"roundtrip_median_us\":{:.1},\"roundtrip_p99_us\":{:.1},\
         \"ping_worker_median_us\":{:.1},\"chain\":{chain},\"chain_us_per_link\":{per_link:.1},\
         \"events_off_tasks_per_s\":{off:.0},\"events_on_tasks_per_s\":{on:.0},\
         \"events_cost\":{:.3},\"events_cpu_cost\":{cpu_cost}}}",
        if std::env::var_os("OMPI_COMM_WORLD_SIZE")
            .or(std::env::var_os("PMI_SIZE"))
            .is_some()
        {
            "mpi"
        } else {
            "local"
        },
        percentile(&rtt, 0.5),
        percentile(&rtt, 0.99),
        percentile(&pings, 0.5),
        cost,
    );
    client.shutdown()
}
