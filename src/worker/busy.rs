//! Heartbeats while the worker's loop is busy in a collective: an SPMD
//! section, a broadcast from the client, or a scatter or gather of array
//! rows. These run on the loop itself, so it cannot answer the scheduler's
//! watchdog (`scheduler::watchdog`) until they end; a beat thread sends
//! `Alive` every [`BEAT`] meanwhile, so that only a worker whose loop is
//! stuck elsewhere is reported. `run` functions get no beats: a `run`
//! function that never returns is a stuck worker.
//!
//! The beat thread sleeps on a condition variable while the loop is not in
//! a collective: an idle worker pays nothing for it, and entering one costs
//! a lock and a notify.

use crate::comm::codec;
use crate::comm::transport::{Outbox, TAG_CONTROL};
use crate::protocol::{WorkerToScheduler, SCHEDULER};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often a busy worker says it is alive: a watchdog time of more than
/// this never takes a worker in a long collective for a stuck one.
pub(crate) const BEAT: Duration = Duration::from_millis(50);

#[derive(Default)]
struct State {
    /// Collectives the loop is in (0 or 1: they do not nest).
    busy: usize,
    stop: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The beat thread of one worker; stopped when dropped.
pub(crate) struct Heart {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// The loop is in a collective until this is dropped.
pub(crate) struct Busy(Arc<Shared>);

impl Heart {
    /// Starts the beat thread of worker `rank`, sending through `outbox`.
    pub fn start(rank: usize, outbox: Arc<dyn Outbox>) -> Self {
        let shared = Arc::new(Shared::default());
        let beating = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("rankflow-beat-{rank}"))
            .spawn(move || beat(&beating, outbox.as_ref()))
            .map_err(|e| {
                log::warn!("worker {rank}: no beat thread ({e}); long collectives may look stuck")
            })
            .ok();
        Heart { shared, thread }
    }

    /// Marks the loop busy in a collective until the guard is dropped.
    pub fn enter(&self) -> Busy {
        self.shared.lock().busy += 1;
        self.shared.changed.notify_all();
        Busy(self.shared.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.busy = s.busy.saturating_sub(1);
        drop(s);
        self.0.changed.notify_all();
    }
}

impl Drop for Heart {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sends `Alive` (without a CPU reading) every `BEAT` while the loop is
/// busy, until stopped.
fn beat(shared: &Shared, outbox: &dyn Outbox) {
    let Ok(alive) = codec::encode(&WorkerToScheduler::Alive { cpu_us: None }) else {
        return;
    };
    let mut s = shared.lock();
    loop {
        if s.stop {
            return;
        }
        if s.busy == 0 {
            s = shared.changed.wait(s).unwrap_or_else(|e| e.into_inner());
            continue;
        }
        s = shared
            .changed
            .wait_timeout(s, BEAT)
            .unwrap_or_else(|e| e.into_inner())
            .0;
        if s.busy > 0 && !s.stop {
            drop(s);
            let _ = outbox.send(SCHEDULER, TAG_CONTROL, alive.clone());
            s = shared.lock();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comm::transport::{Rank, Tag};

    #[derive(Default)]
    struct Count(Mutex<usize>);

    impl Outbox for Count {
        fn send(&self, dest: Rank, _: Tag, payload: Vec<u8>) -> crate::Result<()> {
            assert_eq!(dest, SCHEDULER);
            let m: WorkerToScheduler = codec::decode(&payload).unwrap();
            assert_eq!(m, WorkerToScheduler::Alive { cpu_us: None });
            *self.0.lock().unwrap() += 1;
            Ok(())
        }
    }

    #[test]
    fn beats_only_while_busy() {
        let count = Arc::new(Count::default());
        let heart = Heart::start(2, count.clone());
        std::thread::sleep(BEAT * 4);
        assert_eq!(*count.0.lock().unwrap(), 0, "idle: no beats");
        let busy = heart.enter();
        std::thread::sleep(BEAT * 6);
        drop(busy);
        let beats = *count.0.lock().unwrap();
        assert!(beats >= 2, "{beats} beats in 6 periods");
        std::thread::sleep(BEAT * 4);
        assert!(*count.0.lock().unwrap() <= beats + 1, "stopped beating");
        drop(heart);
    }
}
