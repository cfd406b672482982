//! The client shuts down while large data is still moving: its own fetches of
//! large results (from other threads), worker-to-worker fetches of large task
//! inputs, and large task results (32 MB each, or the MB given as argument). Every rank must still stop, and a fetch
//! that does return must return the right bytes. Run it many times: a hang
//! here is a termination bug in the transport.
//!
//! ```text
//! mpirun -n 4 target/release/examples/shutdown_in_flight
//! mpirun -n 4 target/release/examples/shutdown_in_flight 4   # 4 MB values
//! cargo run --release --example shutdown_in_flight
//! ```

use rankflow::{Config, Error, ErrorKind};

/// A value of `mb` MB whose bytes depend on `seed`.
fn make_big((seed, mb): (u8, usize)) -> Vec<u8> {
    (0..mb << 20)
        .map(|i| (i as u8).wrapping_add(seed))
        .collect()
}

/// A large result that needs both inputs, so at least one of them is
/// fetched from another worker.
fn combine((a, b): (Vec<u8>, Vec<u8>)) -> Vec<u8> {
    a.iter().zip(&b).map(|(x, y)| x ^ y).collect()
}

fn main() -> Result<(), Error> {
    let mb: usize = match std::env::args().nth(1) {
        Some(a) => a.parse().map_err(|_| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("the argument is a size in MB, not {a:?}"),
            )
        })?,
        None => 32,
    };
    let client = rankflow::initialize(Config::new())?;
    let a = client.submit(make_big, (1u8, mb))?;
    let b = client.submit(make_big, (2u8, mb))?;
    a.wait(None)?;
    b.wait(None)?;
    // Worker-to-worker fetches and large results, none of them waited for.
    let combined: Vec<_> = (0..4)
        .map(|_| client.submit(combine, (&a, &b)))
        .collect::<Result<_, _>>()?;
    let fresh: Vec<_> = (3..7)
        .map(|s| client.submit(make_big, (s, mb)))
        .collect::<Result<_, _>>()?;
    // Let the shutdown meet the fetches at a different point on each run.
    std::thread::sleep(std::time::Duration::from_micros(
        u64::from(std::process::id() % 8) * 500,
    ));
    // The client's own fetches, from other threads, racing the shutdown.
    let fetchers: Vec<_> = [(a.clone(), 1u8), (b.clone(), 2u8)]
        .into_iter()
        .map(|(f, seed)| std::thread::spawn(move || (f.result(), seed)))
        .collect();
    client.shutdown()?;
    drop((combined, fresh));
    for t in fetchers {
        let (got, seed) = t.join().expect("a fetching thread panicked");
        match got {
            Ok(bytes) => assert!(
                bytes == make_big((seed, mb)),
                "a fetch returned wrong bytes"
            ),
            Err(e) => assert_eq!(e.kind(), ErrorKind::ShutDown, "unexpected error: {e}"),
        }
    }
    println!("shutdown_in_flight: every rank stopped with data in flight");
    Ok(())
}
