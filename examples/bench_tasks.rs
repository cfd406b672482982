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
//!   the median of each pair's cost (1 - on/off); also the median of each
//!   pair's extra CPU time (on/off - 1) of the whole cluster (the embedded
//!   cluster, or under mpirun every rank when all are on this host) and of
//!   the scheduler alone (under mpirun), which a loaded machine disturbs
//!   less than wall time.
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

/// CPU seconds (user + system) of process `pid`, from /proc.
fn cpu_seconds_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Under mpirun, the processes of this job on this host: the other ranks
/// are this process's siblings (same parent) running the same executable.
/// With the workers' pids known, the one left is the scheduler. `None`
/// where /proc cannot tell (another launcher, ranks on other hosts).
fn job_pids(workers: &[u32]) -> Option<(Vec<u32>, u32)> {
    let me = std::process::id();
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let parent = stat[stat.rfind(')')? + 2..]
        .split_whitespace()
        .nth(1)?
        .to_string();
    let exe = std::fs::read_link("/proc/self/exe").ok()?;
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let same_parent = stat
            .rfind(')')
            .and_then(|i| stat[i + 2..].split_whitespace().nth(1).map(|p| p == parent));
        if same_parent == Some(true)
            && std::fs::read_link(format!("/proc/{pid}/exe")).ok() == Some(exe.clone())
        {
            pids.push(pid);
        }
    }
    let others: Vec<u32> = pids
        .iter()
        .copied()
        .filter(|p| *p != me && !workers.contains(p))
        .collect();
    let all_workers = workers.iter().all(|w| pids.contains(w));
    (all_workers && others.len() == 1).then(|| (pids, others[0]))
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
    let local = std::env::var_os("OMPI_COMM_WORLD_SIZE")
        .or(std::env::var_os("PMI_SIZE"))
        .is_none();
    let worker_pids: Vec<u32> = client.workers().iter().map(|w| w.pid).collect();
    let job = if local { None } else { job_pids(&worker_pids) };
    // CPU seconds of the whole cluster and of the scheduler alone.
    let cpu_now = || -> (Option<f64>, Option<f64>) {
        match &job {
            None if local => (cpu_seconds(), None),
            None => (None, None),
            Some((pids, scheduler)) => (
                pids.iter().map(|&p| cpu_seconds_of(p)).sum(),
                cpu_seconds_of(*scheduler),
            ),
        }
    };
    let (mut off, mut on, mut cost) = (Vec::new(), Vec::new(), Vec::new());
    let (mut cpu_off, mut cpu_cost) = ((0.0, 0.0), (Vec::new(), Vec::new()));
    for round in 0..10 {
        let recording = round % 2 == 1;
        client.record_task_events(recording)?;
        let t = Instant::now();
        let before = cpu_now();
        let results = client.gather(&client.map(noop, 0..tasks)?)?;
        let rate = tasks as f64 / t.elapsed().as_secs_f64();
        let after = cpu_now();
        let all = before.0.zip(after.0).map(|(a, b)| b - a);
        let scheduler = before.1.zip(after.1).map(|(a, b)| b - a);
        assert_eq!(results.len() as u64, tasks);
        if recording {
            cost.push(1.0 - rate / off[off.len() - 1]);
            on.push(rate);
            if let Some(c) = all {
                cpu_cost.0.push(c / cpu_off.0 - 1.0);
            }
            if let Some(c) = scheduler {
                cpu_cost.1.push(c / cpu_off.1 - 1.0);
            }
        } else {
            off.push(rate);
            cpu_off = (all.unwrap_or(0.0), scheduler.unwrap_or(0.0));
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (off, on, cost) = (median(&mut off), median(&mut on), median(&mut cost));
    let json = |v: &mut Vec<f64>| {
        if v.is_empty() {
            "null".to_string()
        } else {
            format!("{:.3}", median(v))
        }
    };
    let (cpu_cost, scheduler_cpu_cost) = (json(&mut cpu_cost.0), json(&mut cpu_cost.1));

    println!(
        "{{\"bench\":\"tasks\",\"workers\":{workers},\"mode\":\"{}\",\"tasks\":{tasks},\
         \"throughput_tasks_per_s\":{throughput:.0},\"serial_calls_per_s\":{serial_rate:.0},\
         \"roundtrips\":{trips},\"roundtrip_median_us\":{:.1},\"roundtrip_p99_us\":{:.1},\
         \"ping_worker_median_us\":{:.1},\"chain\":{chain},\"chain_us_per_link\":{per_link:.1},\
         \"events_off_tasks_per_s\":{off:.0},\"events_on_tasks_per_s\":{on:.0},\
         \"events_cost\":{:.3},\"events_cpu_cost\":{cpu_cost},\
         \"events_scheduler_cpu_cost\":{scheduler_cpu_cost}}}",
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
