//! Large values between ranks under mpirun: `examples/transport_bodies.rs`
//! sends every rank a message with bodies beside it in dozens of 4 KiB
//! pieces between control messages and checks that all arrive whole and in
//! order; `examples/transfer_big.rs` moves a task result worker to worker
//! in 16 pieces and checks every byte of the task argument it becomes.

#![cfg(feature = "mpi")]

mod common;
use common::{example, mpirun, run_with_deadline};
use std::time::Duration;

fn run_ok(ranks: usize, name: &str, args: &[&str], says: &str) {
    let mut cmd = mpirun(ranks);
    cmd.arg(example(name)).args(args);
    let out = run_with_deadline(cmd, Duration::from_secs(120));
    assert_eq!(out.code, Some(0), "{}", out.all_output());
    assert!(out.stdout.contains(says), "{}", out.all_output());
}

#[test]
fn bodies_in_pieces_arrive_whole_and_in_order_between_control_messages() {
    run_ok(4, "transport_bodies", &[], "transport_bodies: ok");
}

#[test]
fn a_result_in_many_pieces_becomes_the_argument_on_another_worker() {
    run_ok(
        4,
        "transfer_big",
        &["24"],
        "transfer_big: ok (24 MiB in 16 pieces",
    );
}
