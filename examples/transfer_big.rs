//! A task result of `MiB` MiB moved worker to worker and checked byte by
//! byte: a task on one worker makes it, a task pinned to another takes it
//! as its argument. At the default 2253 MiB (2.2 GiB) the result is over
//! MPI's 2 GiB count: it crosses in pieces (`RANKFLOW_PIECE_SIZE`) and is
//! put back together on the receiver. Self-checking; needs two workers (it
//! says so and exits 0 otherwise).
//!
//! ```text
//! mpirun -n 4 target/release/examples/transfer_big          # 2.2 GiB
//! mpirun -n 4 target/release/examples/transfer_big 24       # CI size
//! ```
//!
//! Memory: about three times the size at once (the result on its worker,
//! the received value and the argument on the other).

use rankflow::{Config, Error, ErrorKind, TaskOptions};
use std::time::Instant;

fn byte(i: usize) -> u8 {
    (i % 251) as u8
}

fn make(len: usize) -> Vec<u8> {
    (0..len).map(byte).collect()
}

/// The length, after checking that every byte is where `make` put it (the
/// task fails otherwise).
fn check(data: Vec<u8>) -> usize {
    if let Some((i, b)) = data.iter().enumerate().find(|(i, b)| **b != byte(*i)) {
        panic!("byte {i} arrived as {b}, not {}", byte(i));
    }
    data.len()
}

fn main() -> Result<(), Error> {
    let mib: usize = match std::env::args().nth(1) {
        None => 2253,
        Some(a) => a.parse().map_err(|_| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("usage: transfer_big [MiB], not {a:?}"),
            )
        })?,
    };
    let len = mib << 20;
    // Many pieces at small sizes too; messages of the whole size accepted.
    let piece = (len / 16).clamp(1 << 20, 64 << 20);
    let client = rankflow::initialize(
        Config::new()
            .piece_bytes(piece)
            .max_message_bytes((len + (1 << 20)).max(1 << 30))
            .memory_limit(3 * len as u64 + (1 << 30)),
    )?;
    let ranks: Vec<usize> = client.workers().iter().map(|w| w.rank).collect();
    if ranks.len() < 2 {
        println!("transfer_big: needs two workers, skipped");
        return client.shutdown();
    }
    let on = |r: usize| TaskOptions::new().workers(&[r]).pure(false);
    let start = Instant::now();
    let made = client.submit_with_options(make, len, &on(ranks[0]))?;
    made.wait(None)?;
    let made_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let checked = client.submit_with_options(check, &made, &on(ranks[1]))?;
    assert_eq!(checked.result()?, len, "the whole result arrived");
    println!(
        "transfer_big: ok ({mib} MiB in {} pieces of {} MiB; made in {made_s:.1} s, \
         moved and checked in {:.1} s)",
        len.div_ceil(piece),
        piece >> 20,
        start.elapsed().as_secs_f64()
    );
    client.shutdown()
}
