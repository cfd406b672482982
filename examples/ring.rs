//! A token travels around all ranks: rank 0 starts it, each rank adds its
//! rank and passes it on, and rank 0 checks the sum when it returns.
//!
//! `mpirun -n 4 target/release/examples/ring`

use rankflow::{Config, Error};

fn main() -> Result<(), Error> {
    rankflow::spmd(Config::new(), |world| -> Result<(), Error> {
        let (rank, size) = (world.rank(), world.size());
        let next = (rank + 1) % size;
        let prev = (rank + size - 1) % size;
        for lap in 0..3u64 {
            if rank == 0 {
                world.send_slice(&[lap], next, 1)?;
                let mut token = [0u64];
                world.recv_into(&mut token, Some(prev), Some(1))?;
                let n = size as u64;
                assert_eq!(token[0], lap + n * (n - 1) / 2, "lap {lap}");
            } else {
                let mut token = [0u64];
                let status = world.recv_into(&mut token, Some(prev), Some(1))?;
                assert_eq!(status.source, prev);
                world.send_slice(&[token[0] + rank as u64], next, 1)?;
            }
        }
        if rank == 0 {
            println!("ring: ok, 3 laps around {size} ranks");
        }
        Ok(())
    })
}
