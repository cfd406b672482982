//! Bags under mpirun: `examples/bag_shuffle.rs` (groupby, foldby and
//! repartition checked against serial results, buckets crossing between
//! workers, nothing left behind) on 3 workers, as its own MPI job.

#![cfg(feature = "mpi")]

mod common;
use common::{example, mpirun, run_with_deadline};
use std::time::Duration;

#[test]
fn shuffles_across_three_workers_are_checked() {
    let mut cmd = mpirun(5);
    cmd.arg(example("bag_shuffle")).arg("60000").arg("9");
    let out = run_with_deadline(cmd, Duration::from_secs(90));
    assert_eq!(out.code, Some(0), "{}", out.all_output());
    assert!(
        out.stdout
            .contains("bag_shuffle: n=60000 partitions=9 workers=3: ok"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("groupby: 97 keys"), "{}", out.stdout);
}
