//! How a client program can end, for the tests that watch a whole job from
//! outside: every way must stop every rank, and only `ok` may exit 0.
//!
//! ```text
//! mpirun -n 3 target/release/examples/exit_paths ok      # exit 0
//! mpirun -n 3 target/release/examples/exit_paths error   # main returns Err: exit 1
//! mpirun -n 3 target/release/examples/exit_paths panic   # main panics: non-zero
//! mpirun -n 3 target/release/examples/exit_paths drop    # client dropped, then main goes on: exit 0
//! ```

use rankflow::{Config, Error, ErrorKind};

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
        "drop" => {
            drop(client);
            println!("client dropped; main continues");
            Ok(())
        }
        other => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("unknown mode {other:?}; use ok, error, panic or drop"),
        )),
    }
}
