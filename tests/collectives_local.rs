//! The collective layer on the in-process backend for group sizes 1 to 5:
//! every check in `tests/checks/collectives.rs`, plus a panicking member.

#[path = "checks/collectives.rs"]
mod checks;

use rankflow::{Config, ErrorKind, Mode};

#[test]
fn every_check_on_every_size() {
    for n in 1..=5 {
        for (name, check) in checks::ALL {
            rankflow::spmd(Config::new().mode(Mode::Local).local_workers(n), check)
                .unwrap_or_else(|e| panic!("{name} on {n} ranks: {e}"));
        }
    }
}

#[test]
fn a_panicking_member_fails_the_others_instead_of_hanging() {
    let err = rankflow::spmd(Config::new().mode(Mode::Local).local_workers(3), |g| {
        if g.rank() == 2 {
            panic!("boom on two");
        }
        g.barrier()
    })
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Panicked);
    assert!(err.to_string().contains("rank 2"), "{err}");
    assert!(err.to_string().contains("boom on two"), "{err}");
}
