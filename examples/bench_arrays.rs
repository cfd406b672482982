//! `scatter_array` and `gather_array` of a 256 MiB f64 array against the
//! same bytes split the same way and moved by one raw rsmpi scatterv/gatherv
//! (`scatter_varcount_into`, `gather_varcount_into`) on the same
//! client+workers communicator inside `Client::with_workers`, alternating;
//! prints one JSON line with median GB/s and ratios. In the embedded cluster
//! the baseline is the in-process group's own scatterv/gatherv.
//!
//! ```text
//! mpirun -n 4 target/release/examples/bench_arrays [MiB] [repetitions]
//! ```

use ndarray::Array2;
use rankflow::{Config, Error, Group};
use std::time::Instant;

/// Bytes per member of the client+workers group: nothing for the client
/// (member 0), `total` split as evenly as possible over the workers.
fn counts(members: usize, total: usize) -> Vec<usize> {
    let w = members.saturating_sub(1).max(1);
    std::iter::once(0)
        .chain((0..w).map(|i| total / w + usize::from(i < total % w)))
        .collect()
}

#[cfg(feature = "mpi")]
fn displacements(counts: &[usize]) -> Vec<i32> {
    counts
        .iter()
        .scan(0usize, |at, &c| {
            let d = *at;
            *at += c;
            Some(d as i32)
        })
        .collect()
}

/// The baseline's scatterv from member 0 (`data` there), into `recv`.
fn raw_scatterv(group: &Group, data: &[u8], recv: &mut [u8], total: usize) -> Result<(), Error> {
    let counts = counts(group.size(), total);
    #[cfg(feature = "mpi")]
    if let Some(comm) = group.as_mpi() {
        use mpi::datatype::Partition;
        use mpi::traits::{Communicator, Root};
        let root = comm.process_at_rank(0);
        if group.rank() == 0 {
            let c: Vec<i32> = counts.iter().map(|&c| c as i32).collect();
            let d = displacements(&counts);
            let part = Partition::new(data, &c[..], &d[..]);
            root.scatter_varcount_into_root(&part, recv);
        } else {
            root.scatter_varcount_into(recv);
        }
        return Ok(());
    }
    let send = (group.rank() == 0).then_some((data, &counts[..]));
    group.scatterv_into(send, recv, 0)
}

/// The baseline's gatherv of every worker's `send` into member 0's `recv`.
fn raw_gatherv(group: &Group, send: &[u8], recv: &mut [u8], total: usize) -> Result<(), Error> {
    #[cfg(feature = "mpi")]
    if let Some(comm) = group.as_mpi() {
        let counts = counts(group.size(), total);
        use mpi::datatype::PartitionMut;
        use mpi::traits::{Communicator, Root};
        let root = comm.process_at_rank(0);
        if group.rank() == 0 {
            let c: Vec<i32> = counts.iter().map(|&c| c as i32).collect();
            let d = displacements(&counts);
            let mut part = PartitionMut::new(recv, &c[..], &d[..]);
            root.gather_varcount_into_root(send, &mut part);
        } else {
            root.gather_varcount_into(send);
        }
        return Ok(());
    }
    // In-process: the group's own gatherv, which exchanges the counts.
    let _ = total;
    let recv = (group.rank() == 0).then_some(recv);
    group.gather_into(send, recv, 0).map(|_| ())
}

/// A worker's side: receive its part of a `total`-byte scatterv, keep nothing.
fn worker_scatter(group: &Group, total: u64) -> Result<(), Error> {
    let mut mine = vec![0u8; counts(group.size(), total as usize)[group.rank()]];
    raw_scatterv(group, &[], &mut mine, total as usize)
}

// The bytes a worker's side of the gatherv baseline sends: written once
// and kept, as the rows of an array variable are, so that neither side of
// the comparison writes its source inside the timing. Per thread: in the
// embedded cluster every worker is a thread of this process.
thread_local! {
    static SOURCE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A worker's side: send its part of a `total`-byte gatherv.
fn worker_gather(group: &Group, total: u64) -> Result<(), Error> {
    let n = counts(group.size(), total as usize)[group.rank()];
    SOURCE.with(|source| {
        let mut source = source.borrow_mut();
        if source.len() < n {
            source.resize(n, 1);
        }
        raw_gatherv(group, &source[..n], &mut [], total as usize)
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().map_or(Ok(256), |a| a.parse()).expect("MiB");
    let reps: usize = args
        .next()
        .map_or(Ok(5), |a| a.parse())
        .expect("repetitions");
    let client = rankflow::initialize(Config::new())?;
    let cols = 1024;
    let rows = mib * (1 << 20) / 8 / cols;
    let a = Array2::from_shape_fn((rows, cols), |(i, j)| (i + j) as f64);
    let bytes = (rows * cols * 8) as f64;
    let source = vec![1u8; rows * cols * 8];
    // Untimed: the workers write the baseline's gatherv source once.
    let mut warm = vec![0u8; source.len()];
    client.with_workers(worker_gather, source.len() as u64, |g| {
        raw_gatherv(g, &[], &mut warm, source.len())
    })?;
    drop(warm);
    let (mut sc, mut sc_raw, mut ga, mut ga_raw) = (vec![], vec![], vec![], vec![]);
    for rep in 0..reps {
        for turn in 0..2 {
            if (rep + turn) % 2 == 0 {
                let t = Instant::now();
                client.scatter_array("a", &a)?;
                sc.push(bytes / t.elapsed().as_secs_f64() / 1e9);
                let t = Instant::now();
                let back = client.gather_array::<f64>("a")?;
                ga.push(bytes / t.elapsed().as_secs_f64() / 1e9);
                assert_eq!(back.shape(), a.shape());
            } else {
                let total = source.len();
                let t = Instant::now();
                client.with_workers(worker_scatter, total as u64, |g| {
                    raw_scatterv(g, &source, &mut [], total)
                })?;
                sc_raw.push(bytes / t.elapsed().as_secs_f64() / 1e9);
                // Into a new buffer, as gather_array returns a new array.
                let t = Instant::now();
                let mut fresh = vec![0u8; total];
                client.with_workers(worker_gather, total as u64, |g| {
                    raw_gatherv(g, &[], &mut fresh, total)
                })?;
                ga_raw.push(bytes / t.elapsed().as_secs_f64() / 1e9);
            }
        }
    }
    let (sc, sc_raw, ga, ga_raw) = (median(sc), median(sc_raw), median(ga), median(ga_raw));
    println!(
        "{{\"bench\":\"arrays\",\"workers\":{},\"mib\":{mib},\"reps\":{reps},\
         \"scatter_gbps\":{sc:.3},\"raw_scatterv_gbps\":{sc_raw:.3},\"scatter_ratio\":{:.3},\
         \"gather_gbps\":{ga:.3},\"raw_gatherv_gbps\":{ga_raw:.3},\"gather_ratio\":{:.3}}}",
        client.workers().len(),
        sc / sc_raw,
        ga / ga_raw
    );
    client.shutdown()
}
