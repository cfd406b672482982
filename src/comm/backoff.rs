//! How an idle progress thread waits without burning a core.
//!
//! Open MPI's blocking receive spins at 100% of a core. The scheduler and
//! client ranks are idle most of the time and often share cores with workers,
//! so the progress thread polls instead: it spins briefly (yielding the core)
//! right after activity, when the next message is likely close, then sleeps for
//! doubling periods up to [`MAX_SLEEP`]. Any activity resets it. A local thread
//! that queues a send unparks the progress thread, so sends never wait out a
//! sleep; only a message arriving from another rank can wait, at most
//! [`MAX_SLEEP`]. The README gives the measured CPU use of idle ranks.

use std::time::Duration;

/// Rounds of yielding before the first sleep.
const SPIN_ROUNDS: u32 = 50;
/// First sleep period.
const MIN_SLEEP: Duration = Duration::from_micros(8);
/// Longest sleep period: the worst added latency for a message from another rank.
pub const MAX_SLEEP: Duration = Duration::from_micros(500);

/// Spin-then-sleep state of one polling loop.
#[derive(Debug, Default)]
pub struct Backoff {
    idle_rounds: u32,
}

impl Backoff {
    /// Something happened: poll eagerly again.
    pub fn reset(&mut self) {
        self.idle_rounds = 0;
    }

    /// Nothing happened this round: yield or park for a while.
    pub fn idle(&mut self) {
        if self.idle_rounds < SPIN_ROUNDS {
            std::thread::yield_now();
        } else {
            let doublings = (self.idle_rounds - SPIN_ROUNDS).min(16);
            let sleep = MIN_SLEEP.saturating_mul(1 << doublings).min(MAX_SLEEP);
            std::thread::park_timeout(sleep);
        }
        self.idle_rounds = self.idle_rounds.saturating_add(1);
    }
}
