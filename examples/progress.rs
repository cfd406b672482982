//! `progress`: three functions (`load`, `simulate`, `save`) of sleeping
//! tasks, a few `simulate` tasks failing on purpose, watched with a bar per
//! function on a terminal or a plain line every half second in a log (as
//! under CI). Checks the counts it reports, per function too.
//!
//! ```text
//! mpirun -n 4 target/release/examples/progress [scale] [ms per task]
//! ```
//!
//! `scale` (default 100): `load` and `save` run `scale` tasks each,
//! `simulate` twice as many, of which every hundredth fails.
//! ci/progress-tmux.sh runs it on a terminal under tmux and reads the screen.

use rankflow::diagnostics::Progress;
use rankflow::{Config, Error};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Milliseconds each task sleeps: every rank runs `main` and sets it from
/// the arguments before `initialize`, so the workers see it too.
static MS: AtomicU64 = AtomicU64::new(10);

fn nap() {
    std::thread::sleep(Duration::from_millis(MS.load(Ordering::Relaxed)));
}

fn load(x: u64) -> u64 {
    nap();
    x
}

fn simulate(x: u64) -> u64 {
    nap();
    assert!(x % 100 != 99, "task {x} fails on purpose");
    x * x
}

fn save(x: u64) -> u64 {
    nap();
    x + 1
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let scale: u64 = args.next().map_or(100, |a| a.parse().expect("a scale"));
    if let Some(ms) = args.next() {
        MS.store(
            ms.parse().expect("milliseconds per task"),
            Ordering::Relaxed,
        );
    }
    let client = rankflow::initialize(Config::new())?;
    let mut futures = client.map(load, 0..scale)?;
    futures.extend(client.map(simulate, 0..2 * scale)?);
    futures.extend(client.map(save, 0..scale)?);
    let summary = Progress::new()
        .interval(Duration::from_millis(500))
        .run(&client, &futures)?;
    println!("progress: {summary:?}");
    let failing = (0..2 * scale).filter(|x| x % 100 == 99).count();
    assert_eq!(summary.total, 4 * scale as usize);
    assert_eq!(
        (summary.finished, summary.erred, summary.cancelled),
        (4 * scale as usize - failing, failing, 0)
    );
    let per: Vec<(&str, usize, usize, usize)> = summary
        .functions
        .iter()
        .map(|f| (f.name.as_str(), f.total, f.done, f.erred))
        .collect();
    let s = scale as usize;
    assert_eq!(
        per,
        [
            ("load", s, s, 0),
            ("simulate", 2 * s, 2 * s, failing),
            ("save", s, s, 0)
        ]
    );
    assert_eq!(futures[s + 5].result()?, 25);
    if scale > 99 {
        assert!(futures[s + 99].result().is_err());
    }
    client.shutdown()
}
