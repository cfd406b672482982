//! A rank's send windows under MPI ([`flow`](super::flow)), shared by the
//! threads that send and the progress thread, which gives credit back as
//! sends complete and reads [`Credit::someone_waits`] to know when to take
//! messages in over its readers' bound.

#[cfg(test)]
use super::flow::Window;
use super::flow::{note_wait, Limits, Windows};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

/// A rank's send windows shared by its sending threads and its MPI progress
/// thread, which gives credit back as messages complete.
#[derive(Debug)]
pub(crate) struct Credit {
    state: Mutex<CreditState>,
    room: Condvar,
    /// Threads of this rank waiting for a window (rule 1 of the module docs).
    waiting: AtomicUsize,
    bounded: bool,
}

#[derive(Debug)]
struct CreditState {
    windows: Windows,
    closed: bool,
}

/// Why [`Credit::acquire`] gave up.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Closed;

impl Credit {
    /// Windows to `peers` ranks under `limits`.
    pub fn new(peers: usize, limits: &Limits) -> Self {
        Credit {
            state: Mutex::new(CreditState {
                windows: Windows::new(peers, limits),
                closed: false,
            }),
            room: Condvar::new(),
            waiting: AtomicUsize::new(0),
            bounded: limits.is_bounded(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, CreditState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes room for `n` bytes to `dest`, waiting while the window is full
    /// (unless `exempt`). `started_waiting` runs once when this send starts
    /// to wait (to wake the progress thread, which now receives whatever its
    /// readers' queue holds). Fails once the rank has closed.
    pub fn acquire(
        &self,
        dest: usize,
        n: usize,
        exempt: bool,
        started_waiting: impl FnOnce(),
    ) -> Result<(), Closed> {
        let mut st = self.lock();
        let bounded = self.bounded && !exempt;
        if bounded && !st.closed && !st.windows.fits(dest, n) {
            note_wait();
            self.waiting.fetch_add(1, Ordering::SeqCst);
            started_waiting();
            while !st.closed && !st.windows.fits(dest, n) {
                st = self.room.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
        if st.closed {
            return Err(Closed);
        }
        st.windows.take(dest, n);
        if bounded {
            st.windows.note_peak(dest);
        }
        Ok(())
    }

    /// A message of `n` bytes to `dest` was taken in (or dropped).
    pub fn give_back(&self, dest: usize, n: usize) {
        self.lock().windows.give_back(dest, n);
        self.room.notify_all();
    }

    /// Whether a thread of this rank waits for a window now.
    pub fn someone_waits(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) > 0
    }

    /// Wakes every waiting sender with an error: the rank is closing.
    pub fn close(&self) {
        self.lock().closed = true;
        self.room.notify_all();
    }

    /// What `dest`'s window holds now.
    #[cfg(test)]
    fn used(&self, dest: usize) -> Window {
        self.lock().windows.used(dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn unbounded_limits_never_wait() {
        let c = Credit::new(2, &Limits::default().unbounded());
        for _ in 0..10_000 {
            c.acquire(1, 1 << 30, false, || panic!("waited")).unwrap();
        }
        assert_eq!(c.used(1).messages, 10_000);
    }

    #[test]
    fn a_full_window_waits_until_credit_comes_back() {
        let c = Arc::new(Credit::new(2, &Limits::window(100, 10)));
        c.acquire(1, 80, false, || panic!("the first send waited"))
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let sender = std::thread::spawn({
            let c = c.clone();
            move || {
                c.acquire(1, 50, false, move || tx.send(()).unwrap())
                    .unwrap();
            }
        });
        rx.recv().unwrap();
        assert!(c.someone_waits());
        assert_eq!(c.used(1).bytes, 80, "the waiting send has taken nothing");
        c.give_back(1, 80);
        sender.join().unwrap();
        assert!(!c.someone_waits());
        assert_eq!(
            c.used(1),
            Window {
                bytes: 50,
                messages: 1
            }
        );
    }

    #[test]
    fn exempt_sends_do_not_wait_and_closing_frees_waiters() {
        let c = Arc::new(Credit::new(2, &Limits::window(10, 10)));
        c.acquire(1, 10, false, || {}).unwrap();
        c.acquire(1, 10, true, || panic!("an exempt send waited"))
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let sender = std::thread::spawn({
            let c = c.clone();
            move || c.acquire(1, 5, false, move || tx.send(()).unwrap())
        });
        rx.recv().unwrap();
        c.close();
        assert_eq!(sender.join().unwrap(), Err(Closed));
        assert_eq!(c.acquire(0, 1, true, || {}), Err(Closed));
    }
}
