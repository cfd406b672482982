//! A bag's two full shuffles and its shuffle-free fold by key, checked
//! against serial computations: `groupby` (sizes and sums per key),
//! `repartition` (every record once, even partitions) and `foldby` (sums
//! per key). With more than one worker it also checks that buckets crossed
//! between workers, that the exchange held about two output partitions
//! beyond a worker's share, and that no bucket stays on any worker once the
//! bags are dropped. `tests/mpi_bags.rs` runs it on 3 workers.
//!
//! ```text
//! mpirun -n 5 target/release/examples/bag_shuffle [N] [PARTITIONS]   # N = 200,000, PARTITIONS = 12
//! ```

use rankflow::{bag, Config, Error};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A record `(key, value)` for position `i`: 97 keys, spread by a hash.
fn record(i: u64) -> (u64, u64) {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) % 97, i)
}

fn key(r: &(u64, u64)) -> u64 {
    r.0
}

fn held_here() -> (usize, u64) {
    rankflow::stored_results().expect("inside a worker")
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .map_or(200_000, |a| a.parse().expect("N is a whole number"));
    let parts: usize = args
        .next()
        .map_or(12, |a| a.parse().expect("PARTITIONS is a whole number"));
    let client = rankflow::initialize(Config::new())?;
    let workers = client.workers().len();

    let mut sizes: HashMap<u64, u64> = HashMap::new();
    let mut sums: HashMap<u64, u64> = HashMap::new();
    for r in (0..n).map(record) {
        *sizes.entry(r.0).or_insert(0) += 1;
        *sums.entry(r.0).or_insert(0) += r.1;
    }

    let records = bag::range(n, parts)?.map(record);
    {
        let groups = records.groupby(key);
        let got: HashMap<u64, (u64, u64)> = groups
            .map(|(k, rs): (u64, Vec<(u64, u64)>)| {
                (k, (rs.len() as u64, rs.iter().map(|r| r.1).sum::<u64>()))
            })
            .compute(&client)?
            .into_iter()
            .collect();
        assert_eq!(got.len(), sizes.len(), "one group per key");
        for (k, (size, sum)) in &got {
            assert_eq!((sizes[k], sums[k]), (*size, *sum), "group {k}");
        }
        let st = groups.shuffle_stats().expect("the groupby ran");
        let partition = st.total_bytes / parts as u64;
        if workers > 1 {
            assert!(
                st.moved_bytes > 0 && st.moved_bytes < st.total_bytes,
                "{st:?}"
            );
        }
        assert!(
            st.peak_bytes <= st.share_bytes + 3 * partition,
            "the exchange held too much: {st:?}, partition {partition}"
        );
        println!(
            "groupby: {} keys, {:.2} bytes moved per record, peak {} bytes for a share of {} \
             (partition {partition}), {} rounds",
            got.len(),
            st.moved_bytes as f64 / n as f64,
            st.peak_bytes,
            st.share_bytes,
            st.rounds
        );

        let folded = records
            .foldby(key, 0u64, |a, r: (u64, u64)| a + r.1, |a, b| a + b)
            .compute(&client)?;
        assert_eq!(folded, sums, "foldby sums");

        let even = records.repartition(7)?;
        let lengths = even
            .map_partitions(|v: Vec<(u64, u64)>| vec![v.len() as u64])
            .compute(&client)?;
        assert_eq!(lengths.len(), 7);
        assert_eq!(lengths.iter().sum::<u64>(), n);
        let (lo, hi) = (lengths.iter().min(), lengths.iter().max());
        assert!(
            hi.zip(lo).is_some_and(|(h, l)| h - l <= parts as u64),
            "uneven partitions {lengths:?}"
        );
        let mut seen: Vec<u64> = even.map(|r: (u64, u64)| r.1).compute(&client)?;
        seen.sort_unstable();
        assert!(seen.iter().copied().eq(0..n), "every record exactly once");
    }

    // The bags are gone: every worker's store empties, buckets included.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        client.has_what()?;
        let held = client.run(held_here, None)?;
        if held.iter().all(|(_, (items, _))| *items == 0) {
            break;
        }
        assert!(Instant::now() < deadline, "still held: {held:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("bag_shuffle: n={n} partitions={parts} workers={workers}: ok");
    client.shutdown()
}
