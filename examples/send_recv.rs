//! Point-to-point messages: serde values and plain-number slices, with tags
//! and receives from any source.
//!
//! `mpirun -n 4 target/release/examples/send_recv`

use rankflow::{Config, Error, Group};
use std::collections::BTreeMap;

fn run(world: &Group) -> Result<(), Error> {
    let (rank, size) = (world.rank(), world.size());
    if size < 2 {
        println!("send_recv: needs 2 ranks, skipped on {size}");
        return Ok(());
    }
    if rank == 0 {
        // A serde value to every other rank, tag 7.
        for dest in 1..size {
            let msg: BTreeMap<String, usize> = [("to".to_string(), dest)].into();
            world.send(&msg, dest, 7)?;
        }
        // Collect one slice from each, in whatever order they come.
        let mut seen = vec![false; size];
        for _ in 1..size {
            let (data, status) = world.recv_vec::<f64>(None, Some(11))?;
            assert_eq!(status.tag, 11);
            let expect: Vec<f64> = (0..status.source).map(|i| i as f64 * 0.5).collect();
            assert_eq!(data, expect, "slice from rank {}", status.source);
            seen[status.source] = true;
        }
        assert!(seen[1..].iter().all(|&s| s), "one reply from every rank");
        // A wrong-length receive is an error, not a crash.
        world.send_slice(&[1u32, 2, 3], 1, 12)?;
        // The wrong type is an error too.
        world.send(&"not a number", 1, 13)?;
    } else {
        let (msg, status) = world.recv::<BTreeMap<String, usize>>(Some(0), Some(7))?;
        assert_eq!(status.source, 0);
        assert_eq!(msg["to"], rank);
        let data: Vec<f64> = (0..rank).map(|i| i as f64 * 0.5).collect();
        world.send_slice(&data, 0, 11)?;
        if rank == 1 {
            let mut two = [0u32; 2];
            let err = world.recv_into(&mut two, Some(0), Some(12)).unwrap_err();
            assert!(err.to_string().contains("into a buffer of 2"), "{err}");
            let err = world.recv::<u64>(Some(0), Some(13)).unwrap_err();
            assert_eq!(err.kind(), rankflow::ErrorKind::Codec, "{err}");
        }
    }
    assert!(world.send(&1, size, 0).is_err(), "rank outside the group");
    assert!(world.send(&1, 0, 40000).is_err(), "tag over the limit");
    world.barrier()?;
    if rank == 0 {
        println!("send_recv: ok on {size} ranks");
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    rankflow::spmd(Config::new(), run)
}
