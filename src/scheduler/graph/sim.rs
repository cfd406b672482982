//! For benchmarks and tests only: task specs that the scheduler's
//! [`TaskGraph`](super::TaskGraph) can place but no worker can run, so that
//! `examples/bench_scheduler.rs` can drive the graph with simulated workers
//! (no MPI, no threads). Not part of the API.

use crate::protocol::TaskSpec;
use crate::task::args::Part;
use crate::task::shipping::FnRef;
use crate::task::Key;

/// A trampoline that refuses to run: these specs are never executed.
fn placeholder(_: usize, _: Vec<std::sync::Arc<Vec<u8>>>) -> Result<Vec<u8>, String> {
    Err("a simulated task of the scheduler benchmark cannot run".into())
}

/// A task `key` whose argument is the results of `deps`, in order, and one
/// small inline value.
pub fn task(key: Key, deps: &[Key]) -> TaskSpec {
    let mut parts: Vec<Part> = deps.iter().map(|&d| Part::Future(d)).collect();
    parts.push(Part::Inline(vec![1]));
    TaskSpec {
        key,
        function: FnRef::new(0, placeholder, 0),
        parts,
        priority: 0,
        retries: 0,
        workers: None,
        allow_other_workers: false,
    }
}
