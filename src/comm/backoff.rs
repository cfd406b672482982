//! How an idle progress thread waits without burning a core.
//!
//! Open MPI's blocking receive spins at 100% of a core. The scheduler and
//! client ranks are idle most of the time and often share cores with workers,
//! so the progress thread polls instead, in three stages after its last
//! activity:
//!
//! 1. **spin**: yielding the core for [`SPIN_FOR`], when the next message (a
//!    reply, the next task) is most likely;
//! 2. **doze**: sleeps doubling from [`MIN_SLEEP`] to [`DOZE_SLEEP`], for up to
//!    [`DOZE_FOR`] of idleness;
//! 3. **sleep**: [`DEEP_SLEEP`] per poll after that, for ranks idle for long
//!    stretches (a client running user code, a scheduler between phases).
//!
//! Any activity starts again at stage 1. A local thread that queues a send
//! unparks the progress thread, so sends never wait out a sleep; a rank on
//! the same host that sends this one a message nudges it awake too
//! ([`wake`](super::wake)), which also starts stage 1 again. Only a message
//! from a rank that cannot nudge (another host) waits, at most one sleep
//! period. The README gives the measured CPU use of idle ranks
//! (`examples/idle_cpu.rs`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a thread yields before its first sleep.
pub const SPIN_FOR: Duration = Duration::from_micros(500);
/// First sleep period.
pub const MIN_SLEEP: Duration = Duration::from_micros(8);
/// Longest sleep while dozing.
pub const DOZE_SLEEP: Duration = Duration::from_micros(250);
/// How long a thread dozes before it sleeps deeply.
pub const DOZE_FOR: Duration = Duration::from_millis(20);
/// Sleep period of a long-idle thread: the worst added latency for a message
/// from another rank to a rank that has been idle for a while.
pub const DEEP_SLEEP: Duration = Duration::from_millis(2);

/// Spin-then-sleep state of one polling loop.
#[derive(Debug)]
pub struct Backoff {
    idle_rounds: u32,
    dozes: u32,
    idle_since: Instant,
    /// Set by whoever unparks this thread because a message is on its way.
    nudged: Option<Arc<AtomicBool>>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            idle_rounds: 0,
            dozes: 0,
            idle_since: Instant::now(),
            nudged: None,
        }
    }
}

impl Backoff {
    /// A backoff that starts spinning again whenever `nudged` is found set
    /// (and clears it).
    pub fn nudged_by(nudged: Arc<AtomicBool>) -> Self {
        Backoff {
            nudged: Some(nudged),
            ..Backoff::default()
        }
    }

    /// Something happened: poll eagerly again.
    pub fn reset(&mut self) {
        self.idle_rounds = 0;
        self.dozes = 0;
    }

    /// Nothing happened this round: yield or park for a while.
    pub fn idle(&mut self) {
        if self
            .nudged
            .as_ref()
            .is_some_and(|n| n.swap(false, Ordering::AcqRel))
        {
            self.reset();
        }
        if self.idle_rounds == 0 {
            self.idle_since = Instant::now();
        }
        let idle = self.idle_since.elapsed();
        if idle < SPIN_FOR {
            std::thread::yield_now();
        } else if idle < DOZE_FOR {
            let doublings = self.dozes.min(16);
            self.dozes += 1;
            let sleep = MIN_SLEEP.saturating_mul(1 << doublings).min(DOZE_SLEEP);
            std::thread::park_timeout(sleep);
        } else {
            std::thread::park_timeout(DEEP_SLEEP);
        }
        self.idle_rounds = self.idle_rounds.saturating_add(1);
    }
}
