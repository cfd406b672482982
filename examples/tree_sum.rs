//! dask's tutorial graph: inc, double and add over 8 items, then a pairwise
//! tree reduction built from futures of futures. Intermediate results move
//! worker to worker; only the total comes back to the client.
//!
//! ```text
//! mpirun -n 4 target/release/examples/tree_sum
//! cargo run --release --example tree_sum
//! ```

use rankflow::{Config, Error, Future};

fn inc(x: i64) -> i64 {
    x + 1
}

fn double(x: i64) -> i64 {
    2 * x
}

fn add((a, b): (i64, i64)) -> i64 {
    a + b
}

fn main() -> Result<(), Error> {
    let client = rankflow::initialize(Config::new())?;
    let data: Vec<i64> = (1..=8).collect();

    let mut level: Vec<Future<i64>> = Vec::new();
    for &x in &data {
        let a = client.submit(inc, x)?;
        let b = client.submit(double, x)?;
        level.push(client.submit(add, (&a, &b))?);
    }
    // Pairwise tree reduction: each level adds neighbours until one is left.
    while level.len() > 1 {
        let mut next = Vec::new();
        for pair in level.chunks(2) {
            match pair {
                [a, b] => next.push(client.submit(add, (a, b))?),
                [a] => next.push(a.clone()),
                _ => unreachable!("chunks(2) yields one or two"),
            }
        }
        level = next;
    }
    let total = level[0].result()?;
    let expected: i64 = data.iter().map(|&x| (x + 1) + 2 * x).sum();
    println!("tree_sum: total = {total} (expected {expected})");
    assert_eq!(total, expected);

    // The same graph again is memoized: every key is already known.
    let again = client.submit(add, (client.submit(inc, 1)?, client.submit(double, 1)?))?;
    assert_eq!(again.result()?, 4);
    client.shutdown()
}
