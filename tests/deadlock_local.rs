//! The in-process backend behaves like MPI where a program could pass here
//! and hang under mpirun: large blocking sends wait for their receive, and a
//! wait nothing can end is a `Deadlock` error naming the ranks, not a hang.

use rankflow::{Config, ErrorKind, Group, Mode, Result};
use std::sync::Mutex;
use std::time::Duration;

/// Runs `f` on `n` in-process ranks and returns every rank's result.
fn on_ranks<R: Send>(n: usize, f: impl Fn(&Group) -> Result<R> + Send + Sync) -> Vec<Result<R>> {
    let results = Mutex::new(Vec::new());
    rankflow::spmd(Config::new().mode(Mode::Local).local_workers(n), |g| {
        let r = f(g);
        results.lock().unwrap().push((g.rank(), r));
        Ok(())
    })
    .unwrap();
    let mut all = results.into_inner().unwrap();
    all.sort_by_key(|(rank, _)| *rank);
    assert_eq!(all.len(), n);
    all.into_iter().map(|(_, r)| r).collect()
}

/// Every rank sends `len` f64 to its right neighbour, then receives from
/// its left: the ring that hangs under mpirun for large messages.
fn blocking_ring(g: &Group, len: usize) -> Result<Vec<f64>> {
    let (rank, size) = (g.rank(), g.size());
    let data = vec![rank as f64; len];
    g.send_slice(&data, (rank + 1) % size, 0)?;
    let (got, status) = g.recv_vec::<f64>(Some((rank + size - 1) % size), Some(0))?;
    assert_eq!(status.source, (rank + size - 1) % size);
    Ok(got)
}

#[test]
fn a_ring_of_large_blocking_sends_is_a_deadlock_error_on_every_rank() {
    let results = on_ranks(3, |g| blocking_ring(g, 131_072));
    for (rank, r) in results.iter().enumerate() {
        let err = r.as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Deadlock, "rank {rank}: {err}");
        let text = err.to_string();
        for (r, to) in [(0, 1), (1, 2), (2, 0)] {
            let want = format!("rank {r} blocked in send_slice to {to} (tag 0, 1048576 bytes)");
            assert!(text.contains(&want), "rank {rank}: {text}");
        }
    }
}

#[test]
fn a_ring_of_small_blocking_sends_passes() {
    for n in 1..=4 {
        let results = on_ranks(n, |g| blocking_ring(g, 100));
        for (rank, r) in results.into_iter().enumerate() {
            let left = (rank + n - 1) % n;
            assert_eq!(r.unwrap(), vec![left as f64; 100]);
        }
    }
}

#[test]
fn a_ring_of_large_sendrecvs_passes() {
    for n in 1..=4 {
        let results = on_ranks(n, |g| {
            let (rank, size) = (g.rank(), g.size());
            let data = vec![rank as f64; 131_072];
            let (right, left) = ((rank + 1) % size, (rank + size - 1) % size);
            let (got, status) = g.sendrecv_slice(&data, right, 0, Some(left), Some(0))?;
            assert_eq!(status.source, left);
            let mut buf = data.clone();
            g.sendrecv_replace(&mut buf, right, 1, Some(left), Some(1))?;
            assert_eq!(buf, got);
            Ok(got)
        });
        for (rank, r) in results.into_iter().enumerate() {
            assert_eq!(r.unwrap(), vec![((rank + n - 1) % n) as f64; 131_072]);
        }
    }
}

#[test]
fn a_large_send_completes_once_received() {
    let results = on_ranks(2, |g| {
        if g.rank() == 0 {
            g.send_slice(&vec![7u8; 200_000], 1, 4)?;
        } else {
            std::thread::sleep(Duration::from_millis(100));
            let (v, _) = g.recv_vec::<u8>(Some(0), Some(4))?;
            assert_eq!(v.len(), 200_000);
        }
        Ok(())
    });
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
}

#[test]
fn a_barrier_against_a_receive_is_a_deadlock() {
    let results = on_ranks(2, |g| {
        if g.rank() == 0 {
            g.barrier()
        } else {
            g.recv::<u32>(Some(0), Some(9)).map(|_| ())
        }
    });
    for r in &results {
        let err = r.as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Deadlock, "{err}");
        let text = err.to_string();
        assert!(
            text.contains("rank 0 blocked in barrier for rank 1"),
            "{text}"
        );
        assert!(
            text.contains("rank 1 blocked in recv from 0 (tag 9)"),
            "{text}"
        );
    }
}

#[test]
fn waiting_for_a_member_that_left_is_an_error() {
    let results = on_ranks(3, |g| if g.rank() == 1 { Ok(()) } else { g.barrier() });
    assert!(results[1].is_ok());
    for rank in [0, 2] {
        let err = results[rank].as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Deadlock, "{err}");
        let want = format!("rank 1 left the group while rank {rank} waits for it in barrier");
        assert!(err.to_string().contains(&want), "{err}");
    }
}

#[test]
fn messages_from_a_member_that_left_are_still_received() {
    let results = on_ranks(2, |g| {
        if g.rank() == 1 {
            g.send(&"parting words", 0, 2)?;
            return Ok(String::new());
        }
        std::thread::sleep(Duration::from_millis(50));
        let (first, _) = g.recv::<String>(Some(1), Some(2))?;
        let err = g.recv::<String>(Some(1), Some(2)).unwrap_err();
        assert!(err.to_string().contains("rank 1 left the group"), "{err}");
        Ok(first)
    });
    assert_eq!(results[0].as_ref().unwrap(), "parting words");
}

#[test]
fn a_slow_sender_is_not_a_deadlock() {
    let results = on_ranks(3, |g| {
        match g.rank() {
            0 => {
                std::thread::sleep(Duration::from_millis(150));
                g.send_slice(&vec![1i64; 50_000], 1, 0)?;
            }
            1 => {
                g.recv_vec::<i64>(Some(0), Some(0))?;
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
        g.barrier()
    });
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
}

/// A member blocked in a subgroup counts as running in the parent: its peer
/// blocked in the parent is not reported as deadlocked.
#[test]
fn a_member_blocked_in_a_subgroup_is_no_false_deadlock() {
    let results = on_ranks(3, |g| {
        let sub = g.split(Some(0), 0)?.expect("a color");
        match g.rank() {
            0 => {
                let (v, _) = sub.recv::<u32>(Some(1), Some(0))?;
                assert_eq!(v, 2);
            }
            1 => {
                let (v, _) = g.recv::<u32>(Some(2), Some(0))?;
                sub.send(&v, 0, 0)?;
            }
            _ => {
                std::thread::sleep(Duration::from_millis(100));
                g.send(&2u32, 1, 0)?;
            }
        }
        g.barrier()
    });
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
}

/// Waiting for a large isend before starting the receive its peer waits
/// for is a deadlock (a hang under MPI); `wait_all` over both completes.
#[test]
fn waiting_for_large_isends_first_is_a_deadlock_but_wait_all_is_not() {
    let results = on_ranks(3, |g| {
        let (rank, size) = (g.rank(), g.size());
        let send = g.isend_vec(vec![rank as f64; 131_072], (rank + 1) % size, 0)?;
        let recv = g.irecv_vec::<f64>(Some((rank + size - 1) % size), Some(0))?;
        send.wait()?;
        recv.wait().map(|_| ())
    });
    for r in &results {
        let err = r.as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Deadlock, "{err}");
        assert!(
            err.to_string()
                .contains("rank 1 blocked in isend_vec to 2 (tag 0, 1048576 bytes)"),
            "{err}"
        );
    }
    let results = on_ranks(3, |g| {
        let (rank, size) = (g.rank(), g.size());
        let mut send = g.isend_vec(vec![rank as f64; 131_072], (rank + 1) % size, 0)?;
        let mut recv = g.irecv_vec::<f64>(Some((rank + size - 1) % size), Some(0))?;
        rankflow::comm::group::wait_all(&mut [&mut send, &mut recv])?;
        Ok(recv.wait()?.0[0])
    });
    let got: Vec<f64> = results.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(got, [2.0, 0.0, 1.0]);
}
