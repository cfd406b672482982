//! dask.delayed's tutorial graphs, as rankflow delayed calls: inc, double and
//! add over a list, a pairwise tree sum, `delayed(sum)` over a list, and the
//! graph written as Graphviz DOT. Every total is checked against a serial
//! computation.
//!
//! ```text
//! mpirun -n 4 target/release/examples/delayed_tree [N] [DOT_PATH]
//! ```
//!
//! The dask version:
//!
//! ```python
//! output = []
//! for x in data:
//!     a = delayed(inc)(x)
//!     b = delayed(double)(x)
//!     c = delayed(add)(a, b)
//!     output.append(c)
//! total = delayed(sum)(output)
//! total.compute()
//! ```

use rankflow::delayed::{compute, delayed, Delayed};
use rankflow::{Config, Error};

fn inc(x: i64) -> i64 {
    x + 1
}

fn double(x: i64) -> i64 {
    2 * x
}

fn add(a: i64, b: i64) -> i64 {
    a + b
}

fn sum(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

/// Sums `items` in a pairwise tree of `add` calls.
fn tree(mut items: Vec<Delayed<i64>>) -> Delayed<i64> {
    while items.len() > 1 {
        items = items
            .chunks(2)
            .map(|pair| match pair {
                [a, b] => delayed(add, (a, b)),
                [a] => a.clone(),
                _ => unreachable!("chunks(2) gives one or two"),
            })
            .collect();
    }
    items.pop().expect("at least one item")
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let n: i64 = args
        .next()
        .map_or(Ok(1000), |a| a.parse())
        .expect("N is a whole number");
    let dot = args.next().unwrap_or_else(|| {
        std::env::temp_dir()
            .join("delayed_tree")
            .display()
            .to_string()
    });
    assert!(n >= 1, "N must be at least 1");

    // Built before there is a client: nothing runs yet.
    let data: Vec<i64> = (0..n).collect();
    let output: Vec<Delayed<i64>> = data
        .iter()
        .map(|&x| {
            let a = delayed(inc, x);
            let b = delayed(double, x);
            delayed(add, (a, b))
        })
        .collect();
    let total = delayed(sum, &output);
    let by_tree = tree(output.clone());
    println!("{total:?}; the tree over the same list: {by_tree:?}");

    let client = rankflow::initialize(Config::new())?;
    let expected: i64 = data.iter().map(|&x| (x + 1) + 2 * x).sum();
    assert_eq!(total.compute(&client)?, expected, "delayed(sum)");
    // Both at once: the 3n calls they share run once.
    let (a, b) = compute(&client, (&total, &by_tree))?;
    assert_eq!((a, b), (expected, expected), "sum and tree");
    let each = compute(&client, &output)?;
    assert_eq!(each, data.iter().map(|&x| 3 * x + 1).collect::<Vec<_>>());

    // The graph of a small version, as a picture.
    let small = tree(
        (0..8)
            .map(|x| delayed(add, (delayed(inc, x), delayed(double, x))))
            .collect(),
    );
    assert_eq!(small.len(), 8 * 3 + 7);
    let drawn = small.visualize(&dot)?;
    let text = std::fs::read_to_string(&drawn.dot).expect("the .dot file was written");
    assert_eq!(
        text.matches(" -> ").count(),
        8 * 2 + 7 * 2,
        "one edge per input"
    );
    println!("visualize: {drawn}");
    println!(
        "delayed_tree: {n} items, {} calls in the sum graph, total {expected}: ok",
        total.len()
    );
    client.shutdown()
}
