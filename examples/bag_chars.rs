//! dask.bag's first tutorial computation: many random integers below 100,
//! mapped to characters, then `frequencies()`. The integers come from a hash
//! of their position (the same on every rank count), so the serial count in
//! the same run checks the cluster's.
//!
//! ```text
//! mpirun -n 4 target/release/examples/bag_chars [N] [PARTITIONS]   # N = 1,000,000, PARTITIONS = 16
//! ```
//!
//! The dask version:
//!
//! ```python
//! b = db.from_sequence(np.random.randint(0, 100, 1_000_000), npartitions=16)
//! b.map(lambda x: chr(x + 33)).frequencies().compute()
//! ```

use rankflow::{bag, Config, Error};
use std::collections::HashMap;
use std::time::Instant;

/// A random integer below 100 for position `i` (SplitMix64).
fn random_below_100(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) % 100
}

fn to_char(x: u64) -> char {
    char::from(b'!' + x as u8)
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .map_or(1_000_000, |a| a.parse().expect("N is a whole number"));
    let parts: usize = args
        .next()
        .map_or(16, |a| a.parse().expect("PARTITIONS is a whole number"));

    let chars = bag::range(n, parts)?
        .map(random_below_100)
        .map(to_char)
        .frequencies();

    let client = rankflow::initialize(Config::new())?;
    let start = Instant::now();
    let counts = chars.compute(&client)?;
    let cluster = start.elapsed();

    let start = Instant::now();
    let mut serial: HashMap<char, u64> = HashMap::new();
    for c in (0..n).map(random_below_100).map(to_char) {
        *serial.entry(c).or_insert(0) += 1;
    }
    let one_process = start.elapsed();
    assert_eq!(counts, serial, "cluster and serial frequencies differ");
    assert_eq!(counts.values().sum::<u64>(), n);
    println!(
        "bag_chars: n={n} partitions={parts} workers={} distinct={} cluster={:.3}s serial={:.3}s: ok",
        client.workers().len(),
        counts.len(),
        cluster.as_secs_f64(),
        one_process.as_secs_f64()
    );
    client.shutdown()
}
