//! Several results at once with `rankflow::compute`, as `dask.compute(a, b)`:
//! statistics of one random array, a delayed value and a bag count, in one
//! batch, the random array made once for every result that reads it
//! (checked by counting the tasks the workers ran); then an array made from
//! rows scattered to the workers (`from_worker_rows`), checked exactly
//! against ndarray.
//!
//! ```text
//! mpirun -n 4 target/release/examples/compute_many [N]   # N x N, chunks of 500; 2000
//! ```
//!
//! The dask version:
//!
//! ```python
//! x = da.random.normal(10, 0.1, size=(n, n), chunks=(500, 500))
//! y = x - x.mean(axis=0)
//! mean, std, top, total = dask.compute(x.mean(), x.std(), abs(y).max(), delayed(sum)(parts))
//! ```

use rankflow::array::random;
use rankflow::bag;
use rankflow::delayed::{delayed, Delayed};
use rankflow::diagnostics::events::now_us;
use rankflow::ndarray::{Array2, Axis};
use rankflow::{Client, Config, Error};

fn square(x: u64) -> u64 {
    x * x
}

fn total(xs: Vec<u64>) -> u64 {
    xs.iter().sum()
}

/// `work`'s value, the number of tasks the workers ran for it, and how
/// many of those made an array chunk from nothing (array chunk tasks
/// without inputs, `eval0`: here, random chunks).
fn counting<T>(client: &Client, work: impl FnOnce() -> T) -> Result<(T, usize, usize), Error> {
    client.record_task_events(true)?;
    let since = now_us();
    let out = work();
    let tasks = client.task_events(since)?.tasks;
    client.record_task_events(false)?;
    let made = tasks
        .iter()
        .filter(|t| t.function_name().ends_with("eval0"))
        .count();
    Ok((out, tasks.len(), made))
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-12 * b.abs().max(1e-300),
        "{what}: {a} together, {b} alone"
    );
}

fn main() -> Result<(), Error> {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(2000, |a| a.parse().expect("N is a whole number"));
    let x = random::normal(11, 10.0, 0.1, &[n, n], [500, 500])?;
    let y = &x - &x.mean_axis(0)?;
    let (mean, std, top) = (x.mean(), x.std(0.0), y.abs().max());
    let parts: Vec<Delayed<u64>> = (0..10).map(|i| delayed(square, i)).collect();
    let sum = delayed(total, &parts);
    let odd = bag::range(100_000, 8)?.filter(|v| v % 2 == 1).count();

    let client = rankflow::initialize(Config::new())?;
    let expected = rankflow::compute::tasks((&mean, &std, &top, &sum, &odd))?;
    let alone =
        mean.tasks() + std.tasks() + top.tasks() + sum.len() + rankflow::compute::tasks(&odd)?;
    let (values, ran, made) = counting(&client, || {
        rankflow::compute(&client, (&mean, &std, &top, &sum, &odd))
    })?;
    let (m, s, t, total, odd_count) = values?;
    println!(
        "{n}x{n}: mean {m:.6}, std {s:.6}, max |x - mean(x, 0)| {t:.6}; {ran} tasks \
         together ({alone} one at a time), {made} of them making random chunks"
    );
    assert_eq!(ran, expected, "tasks run against the graph's size");
    // Each random chunk is made once, not once per result (or per use).
    assert_eq!(made, x.num_chunks(), "random chunks made");
    assert!((m - 10.0).abs() < 0.01 && (s - 0.1).abs() < 0.01 && t < 1.0);
    assert_eq!((total, odd_count), (285, 50_000));
    // The same values as each computed alone.
    close(m, mean.compute(&client)?, "mean");
    close(s, std.compute(&client)?, "std");
    close(t, top.compute(&client)?, "max");

    // Rows already on the workers, as chunks where they are.
    let rows = n / 4;
    let data = Array2::from_shape_fn((rows, 300), |(i, j)| ((i * 7 + j * 3) % 50) as f64);
    let held = client.scatter_array("rows", &data)?;
    let a = rankflow::array::from_worker_rows::<f64>(&client, "rows")?;
    println!("{a}: rows per worker {held:?}");
    assert_eq!(
        a.chunks()[0],
        held.into_iter().filter(|&r| r > 0).collect::<Vec<_>>()
    );
    let (sum, means, whole) =
        rankflow::compute(&client, (&a.sum(), &a.mean_axis(0)?, &(&a * 2.0)))?;
    assert_eq!(sum, data.sum());
    let serial = data.mean_axis(Axis(0)).expect("rows");
    for (got, want) in means.iter().zip(&serial) {
        close(*got, *want, "mean along axis 0");
    }
    assert_eq!(whole, (&data * 2.0).into_dyn());
    println!("compute_many: ok");
    client.shutdown()
}
