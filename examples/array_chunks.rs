//! Arrays from an ndarray at the client, cut into regular and irregular
//! chunks (each chunk travels client to worker with the task that uses it):
//! sums and means, whole and along each axis, checked exactly against
//! ndarray on the same small integers.
//!
//! ```text
//! mpirun -n 4 target/release/examples/array_chunks [ROWS] [COLS]   # 1000 x 600
//! ```
//!
//! The dask version:
//!
//! ```python
//! x = da.from_array(x_np, chunks=((1, 4, 4), (3, 3, 6)))
//! x.sum().compute(), x.mean(axis=0).compute()
//! ```

use rankflow::array::{self, ChunkSpec};
use rankflow::ndarray::{Array2, Axis};
use rankflow::{Config, Error};

/// Irregular chunk lengths that add up to `len`: 1, 2, 3, ... and the rest.
fn ragged(len: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut left = len;
    let mut next = 1;
    while left > 0 {
        let take = (next * 37).min(left);
        out.push(take);
        left -= take;
        next += 1;
    }
    out
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let rows: usize = args
        .next()
        .map_or(1000, |a| a.parse().expect("ROWS is a whole number"));
    let cols: usize = args
        .next()
        .map_or(600, |a| a.parse().expect("COLS is a whole number"));
    let data = Array2::from_shape_fn((rows, cols), |(i, j)| {
        ((i * 31 + j * 17) % 101) as f64 - 50.0
    });
    let small = Array2::from_shape_fn((9, 12), |(i, j)| (i * 12 + j) as f64);

    let client = rankflow::initialize(Config::new())?;
    let cases: Vec<(Array2<f64>, ChunkSpec)> = vec![
        (small.clone(), vec![vec![1, 4, 4], vec![3, 3, 6]].into()),
        (small, [4, 5].into()),
        (data.clone(), [256, 100].into()),
        (data, vec![ragged(rows), ragged(cols)].into()),
    ];
    for (values, chunks) in cases {
        let x = array::from_array(values.clone(), chunks)?;
        println!("{x}");
        assert_eq!(x.sum().compute(&client)?, values.sum(), "sum");
        assert_eq!(
            x.mean().compute(&client)?,
            values.sum() / values.len() as f64,
            "mean"
        );
        for axis in 0..2 {
            let sums = x.sum_axis(axis)?.compute(&client)?;
            assert_eq!(
                sums,
                values.sum_axis(Axis(axis)).into_dyn(),
                "sum along {axis}"
            );
            let means = x.mean_axis(axis)?.compute(&client)?;
            let n = values.len_of(Axis(axis)) as f64;
            assert_eq!(
                means,
                (values.sum_axis(Axis(axis)) / n).into_dyn(),
                "mean along {axis}"
            );
        }
        assert_eq!(x.compute(&client)?, values.into_dyn(), "values");
    }
    println!("array_chunks: {rows} x {cols}, regular and irregular chunks: ok");
    client.shutdown()
}
