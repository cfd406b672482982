//! How a client program can end, for the tests that watch a whole job from
//! outside: every way must stop every rank, and only `ok` may exit 0.
//!
//! ```text
//! mpirun -n 3 target/release/examples/exit_paths ok      # exit 0
//! mpirun -n 3 target/release/examples/exit_paths error   # main returns Err: exit 1
//! mpirun -n 3 target/release/examples/exit_paths panic   # main panics: non-zero
//! mpirun -n 3 target/release/examples/exit_paths drop    # client dropped, then main goes on: exit 0
//! mpirun -n 4 target/release/examples/exit_paths section-panic  # an SPMD member panics: the job aborts
//! mpirun -n 4 target/release/examples/exit_paths section-err    # an SPMD member returns Err: the job aborts
//! mpirun -n 4 target/release/examples/exit_paths busy    # a minute of tasks, for tests that kill a rank
//! RANKFLOW_WATCHDOG=1 mpirun -n 3 target/release/examples/exit_paths stuck  # worker 2's loop hangs: the job aborts naming it
//! ```

use rankflow::{Config, Error, ErrorKind, Group};

/// Sleeps `ms` milliseconds (the `busy` mode's tasks).
fn nap(ms: u64) -> u64 {
    std::thread::sleep(std::time::Duration::from_millis(ms));
    ms
}

/// Holds up the worker loop it runs on (a `run` function) for two minutes.
fn stuck() -> u64 {
    std::thread::sleep(std::time::Duration::from_secs(120));
    1
}

/// Member 0 panics; the others wait in a collective for it.
fn bad_section(group: &Group, _: ()) -> Result<u64, Error> {
    if group.rank() == 0 {
        panic!("section member 0 gave up");
    }
    group.allreduce(1u64, |a, b| a + b)
}

/// Member 0 returns an error; the others wait in a collective for it.
fn erring_section(group: &Group, _: ()) -> Result<u64, Error> {
    if group.rank() == 0 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "section member 0 found bad input",
        ));
    }
    group.allreduce(1u64, |a, b| a + b)
}

fn main() -> Result<(), Error> {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "ok".to_string());
    let client = rankflow::initialize(Config::new())?;
    client.ping()?;
    match mode.as_str() {
        "ok" => client.shutdown(),
        "error" => Err(Error::new(
            ErrorKind::InvalidArgument,
            "the user's program failed",
        )),
        "panic" => panic!("the user's program panicked"),
        "section-panic" | "section-err" => {
            let outcome = if mode == "section-err" {
                client.spmd(erring_section, ())
            } else {
                client.spmd(bad_section, ())
            };
            // Reached only in the embedded cluster; under MPI the job aborts.
            println!("section outcome: {outcome:?}");
            outcome.map(|_| ())
        }
        "busy" => {
            let tasks = client.map(nap, std::iter::repeat_n(300u64, 400))?;
            println!("busy: running");
            use std::io::Write;
            std::io::stdout().flush().expect("stdout");
            client.gather(&tasks)?;
            client.shutdown()
        }
        "stuck" => {
            // Under MPI with a watchdog the job aborts; without one, or in
            // the embedded cluster, this returns after two minutes.
            let outcome = client.run(stuck, Some(&[2]));
            println!("stuck outcome: {outcome:?}");
            outcome.map(|_| ())
        }
        "drop" => {
            drop(client);
            println!("client dropped; main continues");
            Ok(())
        }
        other => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "unknown mode {other:?}; use ok, error, panic, drop, busy, stuck, section-panic or section-err"
            ),
        )),
    }
}
