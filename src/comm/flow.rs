//! Flow control on the send side: a window of bytes and messages per
//! destination, so that a rank producing faster than a peer consumes waits
//! instead of growing without limit.
//!
//! Each sending rank keeps, per destination, what it has handed to the
//! transport and the destination has not taken in yet (under MPI: queued
//! for the progress thread or posted and not matched; in-process: in the
//! peer's channel and not read). A send that would take a destination over
//! its window ([`Limits::window_bytes`], [`Limits::window_messages`]) waits
//! until the destination takes something in. A send to an empty window
//! always goes, so a message larger than the window is never starved.
//!
//! # Why this cannot deadlock
//!
//! A waiting sender waits for one thing: that the destination's transport
//! takes its messages in (under MPI, that the destination's progress thread
//! matches them; in-process, that the destination reads them or lets them
//! in over its bound). The destination takes messages in while its readers'
//! queue has room ([`inbound`](super::inbound)), and also, whatever the
//! queue holds:
//!
//! 1. **while one of its own threads waits to send.** Two ranks that flood
//!    each other (a client putting arguments on a worker while the worker
//!    pushes results to the client; two workers answering each other's
//!    fetches) would otherwise each wait on the other's full queue, with the
//!    threads that would empty it blocked in `send`. A rank with a waiting
//!    sender receives instead, so the other side's sends complete and its
//!    readers run again. This also covers a thread that waits to send while
//!    holding a lock the rank's reader needs.
//! 2. **when its readers have taken nothing for [`STALL`] while messages
//!    wait.** A reader can be busy with something that itself waits on the
//!    waiting sender (a worker's loop inside an SPMD section whose other
//!    members are blocked sending to it). After the stall the destination
//!    lets messages in over its bound, so the sender goes on.
//!
//! So every wait ends: either the destination's readers make room, or one of
//! the two rules lets the message in. The progress thread itself never
//! waits on a sender or a reader (it only takes the credit lock for a few
//! instructions), and the scheduler rank sends with no window at all
//! ([`Limits::unbounded`]): its loop serves every worker and must never wait
//! on one; what it sends is small control traffic its own state bounds.
//! Messages a rank sends itself and a failing rank's last word (`TAG_ABORT`)
//! never wait either.
//!
//! # What is bounded
//!
//! Per destination, what a sender holds in the transport: at most the
//! window, or one message when the message alone is larger. This is a hard
//! bound, counted in [`stats`]. On the receiving side the readers' queue is
//! bounded except while one of the two rules above lets messages in over
//! it; [`stats`] counts those messages too.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Bytes a sender may have queued or in flight to one destination by
/// default.
pub const DEFAULT_WINDOW_BYTES: usize = 256 << 20;

/// Messages a sender may have queued or in flight to one destination by
/// default.
pub const DEFAULT_WINDOW_MESSAGES: usize = 4096;

/// Payloads above this many bytes cross MPI in pieces of this size by
/// default (see `comm::pieces`).
pub const DEFAULT_PIECE_BYTES: usize = 64 << 20;

/// Smallest piece size accepted.
pub const MIN_PIECE_BYTES: usize = 1 << 10;

/// Largest piece size accepted (MPI counts are 32-bit).
pub const MAX_PIECE_BYTES: usize = 1 << 30;

/// How long a destination's readers may take nothing while messages wait
/// before its transport lets messages in over its bound (rule 2 above), by
/// default.
pub const STALL: Duration = Duration::from_millis(200);

/// A transport's flow settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes queued or in flight to one destination, most.
    pub window_bytes: usize,
    /// Messages queued or in flight to one destination, most.
    pub window_messages: usize,
    /// Payloads above this size cross MPI in pieces of this size.
    pub piece_bytes: usize,
    /// How long readers may take nothing while messages wait before
    /// messages go in over the bounds ([`STALL`]; tests change it).
    pub stall: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            window_bytes: DEFAULT_WINDOW_BYTES,
            window_messages: DEFAULT_WINDOW_MESSAGES,
            piece_bytes: DEFAULT_PIECE_BYTES,
            stall: STALL,
        }
    }
}

impl Limits {
    /// The same limits with no send window: sends never wait (the
    /// scheduler's).
    pub fn unbounded(self) -> Self {
        Limits {
            window_bytes: usize::MAX,
            window_messages: usize::MAX,
            ..self
        }
    }

    /// Whether sends ever wait under these limits.
    pub fn is_bounded(&self) -> bool {
        self.window_bytes != usize::MAX || self.window_messages != usize::MAX
    }

    /// The default limits with a window of `bytes` and `messages` (tests).
    #[cfg(test)]
    pub(crate) fn window(bytes: usize, messages: usize) -> Self {
        Limits {
            window_bytes: bytes,
            window_messages: messages,
            ..Limits::default()
        }
    }
}

/// What one sender has queued or in flight to one peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// Bytes.
    pub bytes: usize,
    /// Messages.
    pub messages: usize,
}

/// Per-peer windows: the accounting alone, no waiting.
#[derive(Debug)]
pub(crate) struct Windows {
    max_bytes: usize,
    max_messages: usize,
    used: Vec<Window>,
}

impl Windows {
    /// `peers` windows of the sizes in `limits`.
    pub fn new(peers: usize, limits: &Limits) -> Self {
        Windows {
            max_bytes: limits.window_bytes.max(1),
            max_messages: limits.window_messages.max(1),
            used: vec![Window::default(); peers],
        }
    }

    /// Whether a message of `n` bytes to `peer` fits: it does when the window
    /// is empty, whatever its size.
    pub fn fits(&self, peer: usize, n: usize) -> bool {
        let w = self.used[peer];
        w.messages == 0
            || (w.messages < self.max_messages && w.bytes.saturating_add(n) <= self.max_bytes)
    }

    /// Counts a message of `n` bytes to `peer`.
    pub fn take(&mut self, peer: usize, n: usize) {
        let w = &mut self.used[peer];
        w.bytes += n;
        w.messages += 1;
    }

    /// A message of `n` bytes to `peer` was taken in.
    pub fn give_back(&mut self, peer: usize, n: usize) {
        let w = &mut self.used[peer];
        debug_assert!(w.messages > 0 && w.bytes >= n, "gave back more than taken");
        w.bytes = w.bytes.saturating_sub(n);
        w.messages = w.messages.saturating_sub(1);
    }

    /// What `peer`'s window holds now.
    #[cfg(test)]
    pub fn used(&self, peer: usize) -> Window {
        self.used[peer]
    }

    /// Records `peer`'s window in the peaks of [`stats`] (for sends that
    /// went through a window, not exempt ones): a message larger than the
    /// window, alone in it, counts apart.
    pub fn note_peak(&self, peer: usize) {
        let w = self.used[peer];
        if w.bytes > self.max_bytes && w.messages == 1 {
            PEAK_ALONE.fetch_max(w.bytes, Ordering::Relaxed);
        } else {
            PEAK_BYTES.fetch_max(w.bytes, Ordering::Relaxed);
        }
        PEAK_MESSAGES.fetch_max(w.messages, Ordering::Relaxed);
    }
}

static PEAK_BYTES: AtomicUsize = AtomicUsize::new(0);
static PEAK_MESSAGES: AtomicUsize = AtomicUsize::new(0);
static PEAK_ALONE: AtomicUsize = AtomicUsize::new(0);
static WAITS: AtomicU64 = AtomicU64::new(0);
static OVER_BOUND: AtomicU64 = AtomicU64::new(0);

/// This process's flow counters since it started (every rank of an embedded
/// cluster together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FlowStats {
    /// Most bytes one sender ever had queued or in flight to one
    /// destination through a window (a message larger than the window,
    /// which goes alone, is counted in `largest_alone` instead).
    pub peak_window_bytes: usize,
    /// Most messages one sender ever had queued or in flight to one
    /// destination through a window.
    pub peak_window_messages: usize,
    /// The largest message that went alone through a window smaller than
    /// it (0 if none did).
    pub largest_alone: usize,
    /// Sends that waited for their window.
    pub waits: u64,
    /// Messages let in over the readers' bound (a rank with a waiting
    /// sender, or readers that stalled).
    pub over_bound: u64,
}

/// This process's flow counters.
pub fn stats() -> FlowStats {
    FlowStats {
        peak_window_bytes: PEAK_BYTES.load(Ordering::Relaxed),
        peak_window_messages: PEAK_MESSAGES.load(Ordering::Relaxed),
        largest_alone: PEAK_ALONE.load(Ordering::Relaxed),
        waits: WAITS.load(Ordering::Relaxed),
        over_bound: OVER_BOUND.load(Ordering::Relaxed),
    }
}

/// Counts a message let in over the readers' bound.
pub(crate) fn note_over_bound() {
    OVER_BOUND.fetch_add(1, Ordering::Relaxed);
}

/// Counts a send that waited.
pub(crate) fn note_wait() {
    WAITS.fetch_add(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_holds_its_bytes_and_messages_and_one_large_message() {
        let mut w = Windows::new(3, &Limits::window(100, 3));
        assert!(w.fits(1, 60));
        w.take(1, 60);
        assert!(w.fits(1, 40), "up to the bound");
        assert!(!w.fits(1, 41), "over the bound");
        assert!(
            w.fits(2, 1000),
            "an empty window takes a message of any size"
        );
        w.take(2, 1000);
        assert!(!w.fits(2, 1));
        w.take(1, 10);
        w.take(1, 10);
        assert!(!w.fits(1, 0), "three messages: full by count");
        w.give_back(1, 60);
        assert_eq!(
            w.used(1),
            Window {
                bytes: 20,
                messages: 2
            }
        );
        assert!(w.fits(1, 80));
        w.give_back(1, 10);
        w.give_back(1, 10);
        w.give_back(2, 1000);
        assert_eq!(w.used(1), Window::default());
        assert_eq!(w.used(2), Window::default());
    }

    #[test]
    fn a_message_alone_over_the_window_counts_apart() {
        let mut w = Windows::new(2, &Limits::window(1 << 40, 3));
        w.take(1, (1 << 40) + 5);
        w.note_peak(1);
        let s = stats();
        assert!(s.largest_alone >= (1 << 40) + 5);
        assert!(s.peak_window_bytes < 1 << 40, "{s:?}");
    }
}
