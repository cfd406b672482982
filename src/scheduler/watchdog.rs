//! The scheduler's watchdog for stuck workers: while the cluster runs, every
//! quarter of the watchdog time each worker is sent a `Heartbeat`; a worker
//! that has sent nothing at all (no answer, no result) for the whole
//! watchdog time is taken as stuck, and the job ends naming it.
//!
//! A worker's loop answers between messages; tasks run on executor threads
//! and do not hold it up. SPMD sections and the client's broadcasts and
//! array scatters run on the loop itself, which says `Alive` from a beat
//! thread meanwhile (`worker::busy`); a `run` function does too but gets no
//! beats, so the watchdog time must be longer than the longest of those. It
//! is off unless set (`Config::watchdog`, `RANKFLOW_WATCHDOG`).

use crate::comm::codec;
use crate::comm::transport::{Outbox, Rank, TAG_CONTROL};
use crate::error::Result;
use crate::protocol::SchedulerToWorker;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// When each worker was last heard from.
pub(super) struct Watchdog {
    after: Duration,
    /// How often heartbeats go out.
    pub every: Duration,
    last: BTreeMap<Rank, Instant>,
    next_beat: Instant,
    /// Whether a tick has run (the clocks start with the first).
    started: bool,
}

impl Watchdog {
    /// A watchdog over `workers` that ends the job after `after` of silence.
    pub fn new(after: Duration, workers: std::ops::Range<Rank>) -> Self {
        let now = Instant::now();
        Watchdog {
            after,
            every: (after / 4).max(Duration::from_millis(10)),
            last: workers.map(|r| (r, now)).collect(),
            next_beat: now,
            started: false,
        }
    }

    /// A message came from `rank`.
    pub fn heard(&mut self, rank: Rank) {
        if let Some(t) = self.last.get_mut(&rank) {
            *t = Instant::now();
        }
    }

    /// Sends heartbeats when due; the reason to end the job if a worker has
    /// been silent for the whole watchdog time.
    pub fn tick(&mut self, outbox: &dyn Outbox) -> Result<Option<String>> {
        let now = Instant::now();
        if !self.started {
            // Silence while the other workers registered does not count.
            self.started = true;
            self.last.values_mut().for_each(|t| *t = now);
        }
        if now < self.next_beat {
            return Ok(None);
        }
        self.next_beat = now + self.every;
        if let Some((rank, t)) = self.last.iter().min_by_key(|(_, t)| **t) {
            let silent = now.duration_since(*t);
            if silent > self.after {
                return Ok(Some(format!(
                    "worker rank {rank} has not answered the scheduler for {:.1} s \
                     (watchdog {:.1} s): it is alive but stuck",
                    silent.as_secs_f64(),
                    self.after.as_secs_f64()
                )));
            }
        }
        let beat = codec::encode(&SchedulerToWorker::Heartbeat)?;
        for &r in self.last.keys() {
            outbox.send(r, TAG_CONTROL, beat.clone())?;
        }
        Ok(None)
    }
}
