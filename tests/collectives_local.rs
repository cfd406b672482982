//! The collective layer on the in-process backend for group sizes 1 to 5:
//! every check in `tests/checks/collectives.rs`, plus members that panic or
//! return `Err`.

#[path = "checks/collectives.rs"]
mod checks;

use rankflow::{Config, Error, ErrorKind, Mode};
use std::time::Duration;

fn local(n: usize) -> Config {
    Config::new().mode(Mode::Local).local_workers(n)
}

/// Runs `f` on another thread and fails the test if it takes over 30 s (a
/// hang), instead of waiting for CI's limit.
fn within_deadline<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(f()));
    rx.recv_timeout(Duration::from_secs(30))
        .expect("still running after 30 s: a hang")
}

#[test]
fn every_check_on_every_size() {
    for n in 1..=5 {
        for (name, check) in checks::ALL {
            rankflow::spmd(local(n), |g| {
                check(g);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{name} on {n} ranks: {e}"));
        }
    }
}

#[test]
fn a_panicking_member_fails_the_others_instead_of_hanging() {
    let err = within_deadline(|| {
        rankflow::spmd(local(3), |g| {
            if g.rank() == 2 {
                panic!("boom on two");
            }
            g.barrier()
        })
        .unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::Panicked);
    assert!(err.to_string().contains("rank 2"), "{err}");
    assert!(err.to_string().contains("boom on two"), "{err}");
}

/// An `Err` from a member other than rank 0 is not lost: `spmd` fails,
/// naming the member, with the member's own kind.
#[test]
fn an_err_from_a_member_other_than_rank_zero_fails_the_run() {
    let err = within_deadline(|| {
        rankflow::spmd(local(3), |g| {
            if g.rank() == 1 {
                Err(Error::new(ErrorKind::InvalidArgument, "bad input on one"))
            } else {
                Ok(g.rank())
            }
        })
        .unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.to_string().contains("spmd rank 1 failed"), "{err}");
    assert!(err.to_string().contains("bad input on one"), "{err}");
}

/// A member that leaves with `Err` while the others wait for it in a
/// collective ends the run for everyone, with its error.
#[test]
fn an_early_err_ends_the_others_collective() {
    for n in [2, 3, 5] {
        let err = within_deadline(move || {
            rankflow::spmd(local(n), |g| {
                if g.rank() == 1 {
                    return Err(Error::new(ErrorKind::InvalidArgument, "gave up early"));
                }
                g.barrier()?;
                let total = g.allreduce(1u32, |a, b| a + b)?;
                Ok(total)
            })
            .unwrap_err()
        });
        assert!(err.to_string().contains("spmd rank 1 failed"), "{n}: {err}");
        assert!(err.to_string().contains("gave up early"), "{n}: {err}");
    }
}

#[test]
fn rank_zeros_value_is_returned_when_all_succeed() {
    let got = rankflow::spmd(local(4), |g| Ok(g.rank() * 10 + g.size())).unwrap();
    assert_eq!(got, 4);
}

/// Without `local_workers`, a local world has 4 ranks whatever the cores.
#[test]
fn the_default_local_world_has_four_ranks() {
    if std::env::var_os("RANKFLOW_LOCAL_WORKERS").is_some() {
        return;
    }
    let size = rankflow::spmd(Config::new().mode(Mode::Local), |g| Ok(g.size())).unwrap();
    assert_eq!(size, rankflow::LOCAL_SPMD_RANKS);
    assert_eq!(size, 4);
}
