//! An SPMD section inside a task program: every worker sums its slice of a
//! large array, the workers-only group allreduces the partial sums, and the
//! result is checked against the serial sum on the client. Then the program
//! goes back to tasks.
//!
//! ```text
//! mpirun -n 4 target/release/examples/spmd_allreduce [elements]
//! ```

use rankflow::{Config, Error, Group, Op};

fn value(i: u64) -> u64 {
    (i * 7919) % 1000
}

/// Each member sums its contiguous slice of 0..n, then all allreduce.
fn section(group: &Group, n: u64) -> Result<(usize, u64, f64), Error> {
    let (rank, size) = (group.rank() as u64, group.size() as u64);
    let lo = n * rank / size;
    let hi = n * (rank + 1) / size;
    let local: u64 = (lo..hi).map(value).sum();
    let total = group.allreduce(local, |a, b| a + b)?;
    let mut as_float = [0.0f64];
    group.allreduce_into(&[local as f64], &mut as_float, Op::Sum)?;
    Ok((group.rank(), total, as_float[0]))
}

fn double(x: u64) -> u64 {
    2 * x
}

fn main() -> Result<(), Error> {
    let n: u64 = std::env::args()
        .nth(1)
        .map_or(Ok(10_000_000), |a| a.parse())
        .expect("elements is a number");
    let client = rankflow::initialize(Config::new())?;
    let serial: u64 = (0..n).map(value).sum();

    let results = client.spmd(section, n)?;
    assert_eq!(results.len(), client.workers().len());
    for (i, &(group_rank, total, as_float)) in results.iter().enumerate() {
        assert_eq!(group_rank, i, "results come in rank order");
        assert_eq!(total, serial, "member {i}");
        assert_eq!(as_float, serial as f64);
    }
    println!(
        "spmd_allreduce: {} workers agree on {serial} for {n} elements",
        results.len()
    );

    // Back to tasks, and a second section after them.
    assert_eq!(client.submit(double, serial)?.result()?, 2 * serial);
    let again = client.spmd(section, 1000)?;
    assert!(again
        .iter()
        .all(|r| r.1 == (0..1000).map(value).sum::<u64>()));
    client.shutdown()
}
