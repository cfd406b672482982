//! A ring exchange of 1 MiB per rank that cannot deadlock: every rank
//! `sendrecv_slice`s 131,072 f64 to its right neighbour while receiving from
//! its left, then passes the block on with `sendrecv_replace` until every
//! block has gone round the ring once. The same ring written as `send_slice`
//! then `recv_vec` hangs under mpirun (MPI sends messages this large by
//! rendezvous) and is a `Deadlock` error in-process.
//!
//! `mpirun -n 4 target/release/examples/ring_sendrecv [elements]`

use rankflow::{Config, Error};

fn main() -> Result<(), Error> {
    let len: usize = match std::env::args().nth(1) {
        Some(a) => a.parse().map_err(|_| {
            Error::new(
                rankflow::ErrorKind::Config,
                format!("bad element count {a:?}"),
            )
        })?,
        None => 131_072,
    };
    rankflow::spmd(Config::new(), |world| -> Result<(), Error> {
        let (rank, size) = (world.rank(), world.size());
        let (right, left) = ((rank + 1) % size, (rank + size - 1) % size);
        let mine: Vec<f64> = (0..len).map(|i| (rank * len + i) as f64).collect();
        let (mut block, status) = world.sendrecv_slice(&mine, right, 0, Some(left), Some(0))?;
        assert_eq!(status.source, left);
        let block_of = |r: usize, b: &[f64]| {
            b.len() == len
                && b.iter()
                    .enumerate()
                    .all(|(i, &x)| x == (r * len + i) as f64)
        };
        assert!(
            block_of(left, &block),
            "rank {rank}: wrong block from {left}"
        );
        // Pass blocks on until this rank holds its own again.
        for step in 2..=size {
            world.sendrecv_replace(&mut block, right, 1, Some(left), Some(1))?;
            let from = (rank + size - step % size) % size;
            assert!(
                block_of(from, &block),
                "rank {rank}: wrong block at step {step}"
            );
        }
        assert!(block_of(rank, &block));
        if rank == 0 {
            println!(
                "ring_sendrecv: ok, {len} f64 ({} bytes) per rank around {size} ranks",
                len * 8
            );
        }
        Ok(())
    })
}
