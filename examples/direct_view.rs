//! The direct interface, following ipyparallel's DirectView walk-through:
//! run a function on every worker, push and pull named variables, compute on
//! them in place, scatter data to workers and use it from tasks.
//!
//! ```text
//! mpirun -n 4 target/release/examples/direct_view
//! cargo run --release --example direct_view
//! ```

use rankflow::{Config, Error, ErrorKind};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug)]
struct Summary {
    cwd: String,
    hostname: String,
    pid: u32,
    rank: usize,
}

fn summary() -> Summary {
    Summary {
        cwd: std::env::current_dir().map_or("?".into(), |d| d.display().to_string()),
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map_or("?".into(), |h| h.trim().to_string()),
        pid: std::process::id(),
        rank: rankflow::current_worker().unwrap_or(0),
    }
}

/// `c = a + b` on the worker, like `dview.execute('c = a + b')`.
fn add_vars() -> i64 {
    let a: i64 = rankflow::worker_var("a").expect("a was pushed");
    let b: i64 = rankflow::worker_var("b").expect("b was pushed");
    rankflow::set_worker_var("c", &(a + b)).expect("inside a run function");
    a + b
}

/// A task that reads a worker variable.
fn scale(x: i64) -> i64 {
    x * rankflow::worker_var::<i64>("c").expect("c was set on every worker")
}

/// Squares this worker's rows of `x` into `x_squared`.
fn square_rows() -> usize {
    let x: ndarray::ArrayD<f64> = rankflow::worker_array("x").expect("x was scattered");
    rankflow::set_worker_array("x_squared", &x.mapv(|v| v * v)).expect("inside run");
    x.len()
}

/// Checks this worker's rows of the i64 array `ids` and counts them.
fn count_ids() -> usize {
    let ids: ndarray::ArrayD<i64> = rankflow::worker_array("ids").expect("ids was scattered");
    assert!(ids.iter().all(|&v| v <= 0 && v % (1 << 40) == 0));
    ids.len()
}

fn main() -> Result<(), Error> {
    let client = rankflow::initialize(Config::new())?;
    let ranks: Vec<usize> = client.workers().iter().map(|w| w.rank).collect();

    // run: every worker reports itself.
    for (rank, s) in client.run(summary, None)? {
        println!(
            "worker {rank}: pid {} on {} in {}",
            s.pid, s.hostname, s.cwd
        );
        assert_eq!(rank, s.rank);
    }

    // push / pull (dview['a'] = 5; dview['b'] = 10).
    client.push("a", &5i64, None)?;
    client.push("b", &10i64, None)?;
    assert_eq!(client.pull::<i64>("a", None)?, vec![5; ranks.len()]);

    // compute in place, then pull the result.
    let sums = client.run(add_vars, None)?;
    assert!(sums.iter().all(|&(_, s)| s == 15));
    assert_eq!(client.pull::<i64>("c", None)?, vec![15; ranks.len()]);

    // push to one worker only.
    let first = ranks[0];
    client.push("only_here", &"first".to_string(), Some(&[first]))?;
    assert_eq!(
        client.pull::<String>("only_here", Some(&[first]))?,
        vec!["first"]
    );

    // a name that was never pushed is a clear error.
    let err = client.pull::<i64>("never_pushed", None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("never_pushed"), "{err}");
    println!("pull of an unknown name: {err}");

    // scatter data straight to the workers, then use it from tasks that also
    // read the worker variable c.
    let pieces = client.scatter((0..16i64).collect())?;
    let scaled: Vec<_> = pieces
        .iter()
        .map(|p| client.submit(scale, p))
        .collect::<Result<_, _>>()?;
    let values = client.gather(&scaled)?;
    assert_eq!(values, (0..16).map(|x| x * 15).collect::<Vec<_>>());
    assert_eq!(client.gather(&pieces)?, (0..16).collect::<Vec<_>>());

    // replicate: copy a result to every worker, worker to worker.
    let table = client.submit(|n: usize| (0..n as i64).collect::<Vec<_>>(), 1000usize)?;
    assert_eq!(client.replicate(&table, ranks.len())?, ranks.len());

    // Arrays: scatter rows with MPI scatterv, work on them in place, gather
    // them back with gatherv (dview.scatter('x', a); dview.gather('x')).
    let a = ndarray::Array2::from_shape_fn((10, 4), |(i, j)| (i * 4 + j) as f64);
    let rows = client.scatter_array("x", &a)?;
    println!("rows per worker: {rows:?}");
    assert_eq!(rows.iter().sum::<usize>(), 10);
    client.run(square_rows, None)?;
    let back = client.gather_array::<f64>("x_squared")?;
    assert_eq!(back, a.mapv(|v| v * v).into_dyn());
    // Any plain element type: i64 rows go as their own bytes too.
    let ids = ndarray::Array2::from_shape_fn((7, 3), |(i, j)| -((i * 3 + j) as i64) << 40);
    client.scatter_array("ids", &ids)?;
    let counted: usize = client.run(count_ids, None)?.iter().map(|(_, n)| n).sum();
    assert_eq!(counted, ids.len());
    assert_eq!(client.gather_array::<i64>("ids")?, ids.into_dyn());

    println!("direct_view: ok on {} workers", ranks.len());
    client.shutdown()
}
