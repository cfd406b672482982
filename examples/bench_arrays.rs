//! `scatter_array` and `gather_array` of a 256 MiB f64 array against the
//! same bytes split the same way and moved by one bare MPI scatterv/gatherv
//! on the same communicator, alternating; prints one JSON line with median
//! GB/s and ratios.
//!
//! ```text
//! mpirun -n 4 target/release/examples/bench_arrays [MiB] [repetitions]
//! ```

use ndarray::Array2;
use rankflow::{Config, Error};
use std::time::Instant;

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
    let mut source = vec![1u8; rows * cols * 8];
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
                let t = Instant::now();
                client.rows_baseline(&mut source, true)?;
                sc_raw.push(bytes / t.elapsed().as_secs_f64() / 1e9);
                // Into a new buffer, as gather_array returns a new array.
                let t = Instant::now();
                let mut fresh = vec![0u8; source.len()];
                client.rows_baseline(&mut fresh, false)?;
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
