//! Start-up time: from `main` to `initialize` returning on the client, and
//! the round trip of one ping after it. The baseline, measured in the same
//! run after start-up: reading and hashing the whole executable once, which
//! every rank did at start-up before the fingerprint used the ELF build-id.
//! Prints one JSON line. Run it several times and take the median.
//!
//! ```text
//! mpirun -n 4 target/release/examples/bench_startup
//! ```

use rankflow::{Config, Error};
use std::hash::Hasher;
use std::time::Instant;

fn main() -> Result<(), Error> {
    let start = Instant::now();
    let client = rankflow::initialize(Config::new())?;
    let initialize = start.elapsed();
    let ping = client.ping()?;
    let workers = client.workers().len();
    assert!(workers >= 1, "no workers registered");
    let hashing = Instant::now();
    let exe = std::fs::read(std::env::current_exe()?)?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write(&exe);
    let digest = h.finish();
    let hash_file = hashing.elapsed();
    println!(
        "{{\"bench\":\"startup\",\"workers\":{workers},\"initialize_ms\":{:.2},\
         \"ping_ms\":{:.3},\"baseline_hash_executable_ms\":{:.2},\"executable_mb\":{:.1},\
         \"digest_low_byte\":{}}}",
        initialize.as_secs_f64() * 1e3,
        ping.as_secs_f64() * 1e3,
        hash_file.as_secs_f64() * 1e3,
        exe.len() as f64 / 1e6,
        digest & 0xff
    );
    client.shutdown()
}
