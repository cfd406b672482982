//! Bag benchmarks, each against the same work done serially with iterators
//! in this process, in the same run; one JSON line per workload with the
//! median of the repetitions:
//!
//! - `bag_chars`: N random integers below 100 mapped to characters, then
//!   `frequencies()` (N = 5,000,000).
//! - `groupby`: M records `(key, value)` grouped by key (a full shuffle,
//!   M = 1,000,000, 1,000 keys) and the groups' sizes checked; reports the
//!   bytes moved between workers per record, and the most bytes one worker
//!   held for the exchange against its share of the buckets and the size
//!   of one output partition (`extra_partitions`: peak minus share, in
//!   partitions).
//! - `idle_job`: the fixed cost of a job after the ranks have idled: 50 ms
//!   of sleep at the client (long enough for every rank to back off to
//!   its deepest sleep, see `comm::backoff`), then a `bag_chars` of 10,000
//!   items; median over 11 such jobs, against the same job run right
//!   after another (`warm_s`). `wake` says whether same-host nudges were on
//!   (`RANKFLOW_WAKE=off` turns them off, see `comm::wake`).
//!
//! ```text
//! mpirun -n 4 target/release/examples/bench_bags [N] [M] [REPS]   # 5,000,000 1,000,000 3
//! ```

use rankflow::{bag, Config, Error};
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn random_below_100(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) % 100
}

fn to_char(x: u64) -> char {
    char::from(b'!' + x as u8)
}

fn record(i: u64) -> (u64, u64) {
    (random_below_100(i * 7) * 10 + i % 10, i)
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64()
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map_or(5_000_000, |a| a.parse().expect("N"));
    let m: u64 = args.next().map_or(1_000_000, |a| a.parse().expect("M"));
    let reps: usize = args.next().map_or(3, |a| a.parse().expect("REPS"));
    let client = rankflow::initialize(Config::new())?;
    let workers = client.workers().len();
    let parts = (4 * workers).max(8);

    let (mut cluster, mut serial) = (Vec::new(), Vec::new());
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        let counts = bag::range(n, parts)?
            .map(random_below_100)
            .map(to_char)
            .frequencies()
            .compute(&client)?;
        cluster.push(start.elapsed());
        let start = Instant::now();
        let mut local: HashMap<char, u64> = HashMap::new();
        for c in (0..n).map(random_below_100).map(to_char) {
            *local.entry(c).or_insert(0) += 1;
        }
        serial.push(start.elapsed());
        assert_eq!(counts, local);
    }
    let (c, s) = (median(cluster), median(serial));
    println!(
        "{{\"bench\":\"bag_chars\",\"items\":{n},\"partitions\":{parts},\"workers\":{workers},\
         \"cluster_s\":{c:.4},\"serial_s\":{s:.4},\"speedup\":{:.2}}}",
        s / c
    );

    let (mut cluster, mut serial, mut stats) = (Vec::new(), Vec::new(), None);
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        let grouped = bag::range(m, parts)?
            .map(record)
            .groupby(|r: &(u64, u64)| r.0);
        let sizes: HashMap<u64, usize> = grouped
            .map(|(k, rs): (u64, Vec<(u64, u64)>)| (k, rs.len()))
            .compute(&client)?
            .into_iter()
            .collect();
        cluster.push(start.elapsed());
        stats = grouped.shuffle_stats();
        let start = Instant::now();
        let mut local: HashMap<u64, Vec<(u64, u64)>> = HashMap::new();
        for r in (0..m).map(record) {
            local.entry(r.0).or_default().push(r);
        }
        let local: HashMap<u64, usize> = local.into_iter().map(|(k, v)| (k, v.len())).collect();
        serial.push(start.elapsed());
        assert_eq!(sizes, local);
    }
    let (c, s) = (median(cluster), median(serial));
    let st = stats.expect("a computed groupby has shuffle stats");
    let partition = st.total_bytes as f64 / parts as f64;
    println!(
        "{{\"bench\":\"groupby\",\"records\":{m},\"partitions\":{parts},\"workers\":{workers},\
         \"cluster_s\":{c:.4},\"serial_s\":{s:.4},\"speedup\":{:.2},\"moved_bytes\":{},\
         \"bytes_per_record\":{:.2},\"bucket_bytes\":{},\"partition_bytes\":{partition:.0},\
         \"share_bytes\":{},\"peak_bytes\":{},\"extra_partitions\":{:.2},\"rounds\":{}}}",
        s / c,
        st.moved_bytes,
        st.moved_bytes as f64 / m as f64,
        st.total_bytes,
        st.share_bytes,
        st.peak_bytes,
        (st.peak_bytes as f64 - st.share_bytes as f64) / partition,
        st.rounds
    );

    let chars = |items: u64| -> Result<HashMap<char, u64>, Error> {
        bag::range(items, parts)?
            .map(random_below_100)
            .map(to_char)
            .frequencies()
            .compute(&client)
    };
    let (mut idle, mut warm) = (Vec::new(), Vec::new());
    for _ in 0..11 {
        std::thread::sleep(Duration::from_millis(50));
        let start = Instant::now();
        let counts = chars(10_000)?;
        idle.push(start.elapsed());
        let start = Instant::now();
        let again = chars(10_000)?;
        warm.push(start.elapsed());
        assert_eq!(counts, again);
        assert_eq!(counts.values().sum::<u64>(), 10_000);
    }
    let wake = std::env::var("RANKFLOW_WAKE").map_or(true, |v| v != "off" && v != "0");
    println!(
        "{{\"bench\":\"idle_job\",\"items\":10000,\"idle_ms\":50,\"wake\":{wake},\
         \"idle_s\":{:.4},\"warm_s\":{:.4}}}",
        median(idle),
        median(warm)
    );
    client.shutdown()
}
