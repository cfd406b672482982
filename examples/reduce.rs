//! Reductions: serde reduce/allreduce with a closure, zero-copy
//! reduce/allreduce of f64 and i64 slices with MPI's operations.
//!
//! `mpirun -n 4 target/release/examples/reduce`

use rankflow::{Config, Error, Op};

fn main() -> Result<(), Error> {
    rankflow::spmd(Config::new(), |world| -> Result<(), Error> {
        let (rank, size) = (world.rank(), world.size());
        let n = size as u64;

        let sum = world.reduce(rank as u64 + 1, |a, b| a + b, 0)?;
        if rank == 0 {
            assert_eq!(sum, Some(n * (n + 1) / 2));
        }
        let all_max = world.allreduce(format!("r{rank}"), |a, b| a.max(b))?;
        assert_eq!(all_max, format!("r{}", size - 1));

        let mine: Vec<f64> = (0..1000).map(|i| (i * (rank + 1)) as f64).collect();
        let mut total = vec![0.0f64; 1000];
        world.allreduce_into(&mine, &mut total, Op::Sum)?;
        let factor = (n * (n + 1) / 2) as f64;
        assert!(total
            .iter()
            .enumerate()
            .all(|(i, &v)| v == i as f64 * factor));

        let mut lowest = [0i64; 2];
        let mine = [rank as i64, -(rank as i64)];
        world.reduce_into(&mine, (rank == 0).then_some(&mut lowest[..]), Op::Min, 0)?;
        if rank == 0 {
            assert_eq!(lowest, [0, -(size as i64 - 1)]);
        }

        // Lengths that differ between ranks are an error on every rank.
        let uneven = vec![1i32; rank + 1];
        let mut out = vec![0i32; rank + 1];
        if size > 1 {
            assert!(world.allreduce_into(&uneven, &mut out, Op::Sum).is_err());
        }

        if rank == 0 {
            println!(
                "reduce: ok on {size} ranks (sum of 1..={size} = {})",
                sum.unwrap()
            );
        }
        Ok(())
    })
}
