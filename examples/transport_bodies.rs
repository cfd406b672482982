//! The MPI transport's large-message path checked end to end: every rank
//! sends the next rank (in a ring) a control message, a message with bodies
//! beside it (each body in many pieces, one empty), a payload alone in many
//! pieces, and a last control message; every rank checks that the four
//! arrive whole, in order, each body in a buffer of its own. Pieces are
//! 4 KiB so that a few hundred KiB make dozens of them. Self-checking; under
//! mpirun only (it needs the MPI transport).
//!
//! ```text
//! mpirun -n 4 target/release/examples/transport_bodies [KiB]
//! ```

#[cfg(feature = "mpi")]
mod ring {
    use rankflow::comm::flow::Limits;
    use rankflow::comm::mpi_transport::MpiTransport;
    use rankflow::comm::transport::{Envelope, Transport};
    use rankflow::Group;
    use std::sync::Arc;
    use std::time::Duration;

    const PIECE: usize = 4 << 10;

    fn bytes(n: usize, seed: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 + seed) as u8).collect()
    }

    /// What `from` sends: (tag, payload, bodies) per message, in order.
    fn messages(from: usize, kib: usize) -> Vec<(u16, Vec<u8>, Vec<Vec<u8>>)> {
        let big = kib << 10;
        vec![
            (1, bytes(3, from), vec![]),
            (
                1,
                bytes(17, from + 1),
                vec![bytes(big + 5, from + 2), vec![], bytes(PIECE, from + 3)],
            ),
            (1, bytes(big / 2 + 1, from + 4), vec![]),
            (1, bytes(2, from + 5), vec![]),
        ]
    }

    fn check(got: &Envelope, want: &(u16, Vec<u8>, Vec<Vec<u8>>), i: usize) {
        let (tag, payload, bodies) = want;
        assert_eq!(got.tag, *tag, "message {i}: tag");
        assert!(got.payload == *payload, "message {i}: payload");
        let got_bodies: Vec<&Vec<u8>> = got.bodies.iter().map(|b| &**b).collect();
        assert!(
            got_bodies == bodies.iter().collect::<Vec<_>>(),
            "message {i}: bodies"
        );
    }

    pub fn run(world: &Group, kib: usize) -> rankflow::Result<()> {
        let (rank, size) = (world.rank(), world.size());
        let (next, prev) = ((rank + 1) % size, (rank + size - 1) % size);
        let limits = Limits {
            piece_bytes: PIECE,
            ..Limits::default()
        };
        let mut t = MpiTransport::start(64 << 20, limits)?;
        let outbox = t.outbox();
        for (tag, payload, bodies) in messages(rank, kib) {
            outbox.send_with_bodies(
                next,
                tag,
                payload,
                bodies.into_iter().map(Arc::new).collect(),
            )?;
        }
        let want = messages(prev, kib);
        for (i, w) in want.iter().enumerate() {
            let got = t
                .recv_timeout(Some(Duration::from_secs(60)))?
                .expect("a message within 60 s");
            assert_eq!(got.source, prev);
            check(&got, w, i);
        }
        Box::new(t).close()?;
        world.barrier()?;
        if rank == 0 {
            println!(
                "transport_bodies: ok ({size} ranks, {kib} KiB bodies in {PIECE}-byte pieces)"
            );
        }
        Ok(())
    }
}

#[cfg(feature = "mpi")]
fn main() -> rankflow::Result<()> {
    let kib: usize = std::env::args()
        .nth(1)
        .map_or(Ok(300), |a| a.parse())
        .expect("KiB is a number");
    if std::env::var_os("OMPI_COMM_WORLD_SIZE")
        .or(std::env::var_os("PMI_SIZE"))
        .is_none()
    {
        println!("transport_bodies checks the MPI transport; run it under mpirun -n 4");
        return Ok(());
    }
    rankflow::spmd(rankflow::Config::new(), |world| ring::run(world, kib))
}

#[cfg(not(feature = "mpi"))]
fn main() {
    println!("transport_bodies checks the MPI transport; build with the mpi feature");
}
