//! Flow control and pieces under mpirun: `examples/flow_flood.rs` floods
//! workers from the client, has two workers fetch from each other both ways
//! at once, and moves a payload of 24 pieces while the client pings the
//! scheduler; it checks every result and every rank's send windows itself.

#![cfg(feature = "mpi")]

mod common;
use common::{example, mpirun, run_with_deadline};
use std::time::Duration;

fn flood(ranks: usize) {
    let mut cmd = mpirun(ranks);
    cmd.arg(example("flow_flood")).arg("48").arg("256");
    let out = run_with_deadline(cmd, Duration::from_secs(120));
    assert_eq!(out.code, Some(0), "{}", out.all_output());
    assert!(
        out.stdout.contains("flow_flood: ok"),
        "{}",
        out.all_output()
    );
}

#[test]
fn flood_on_four_ranks() {
    flood(4);
}

#[test]
fn flood_on_five_ranks() {
    flood(5);
}
