//! The queue from a rank's progress thread to the threads that read its
//! messages, bounded with backpressure.
//!
//! The progress thread asks [`InboundSender::has_room`] before it takes
//! another message off MPI; while the readers are behind (more than
//! [`MAX_QUEUED_MESSAGES`] messages or [`MAX_QUEUED_BYTES`] bytes queued) it
//! leaves incoming messages in MPI, so a large message stays with its sender
//! (MPI's rendezvous protocol) instead of piling up in this process. A reader
//! that takes the queue back under its bounds wakes the progress thread.
//! One message is always let in while the queue is under its bounds, so a
//! message larger than the byte bound is never starved.
//!
//! Small messages still reach this process's MPI library whatever the
//! queue's level (MPI's eager protocol buffers them at the receiver): what is
//! bounded here is what this layer holds, and large transfers.
//!
//! The progress thread also takes messages in over the bounds while one of
//! the rank's own threads waits to send, and when the readers have taken
//! nothing for a while although messages wait ([`InboundSender::stalled`]):
//! that is what keeps the send windows of [`flow`](super::flow) free of
//! deadlock (see its module docs).
//!
//! A message that crosses MPI in pieces counts while it is assembled
//! ([`InboundSender::add_partial`]), so pieces stop when the queue is full;
//! while the queue holds no whole message they always go on, so a message
//! being assembled is never starved.

use super::transport::Envelope;
use crate::error::Result;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// Most messages queued for the readers before the progress thread stops
/// taking more off MPI.
pub const MAX_QUEUED_MESSAGES: usize = 4096;

/// Most bytes queued for the readers before the progress thread stops taking
/// more off MPI.
pub const MAX_QUEUED_BYTES: usize = 256 << 20;

/// What is queued, shared by both ends.
#[derive(Debug)]
struct Level {
    messages: AtomicUsize,
    bytes: AtomicUsize,
    max_messages: usize,
    max_bytes: usize,
    /// The progress thread, to wake when the queue gets room again.
    waker: OnceLock<Thread>,
    /// Nanoseconds after `epoch` when a reader last took a message, or when
    /// the queue last went from empty to not empty.
    since: AtomicU64,
    epoch: Instant,
}

impl Level {
    fn has_room(&self) -> bool {
        let messages = self.messages.load(Ordering::Acquire);
        messages == 0
            || (messages < self.max_messages && self.bytes.load(Ordering::Acquire) < self.max_bytes)
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

fn size(item: &Result<Envelope>) -> usize {
    item.as_ref().map_or(0, Envelope::len)
}

/// The progress thread's end (and the rank's own threads, for messages to
/// itself).
#[derive(Debug, Clone)]
pub struct InboundSender {
    tx: Sender<Result<Envelope>>,
    level: Arc<Level>,
}

/// The readers' end.
#[derive(Debug)]
pub struct InboundReceiver {
    rx: Receiver<Result<Envelope>>,
    level: Arc<Level>,
}

/// A queue bounded at `max_messages` messages and `max_bytes` bytes.
pub fn inbound(max_messages: usize, max_bytes: usize) -> (InboundSender, InboundReceiver) {
    let (tx, rx) = channel();
    let level = Arc::new(Level {
        messages: AtomicUsize::new(0),
        bytes: AtomicUsize::new(0),
        max_messages: max_messages.max(1),
        max_bytes: max_bytes.max(1),
        waker: OnceLock::new(),
        since: AtomicU64::new(0),
        epoch: Instant::now(),
    });
    (
        InboundSender {
            tx,
            level: level.clone(),
        },
        InboundReceiver { rx, level },
    )
}

impl InboundSender {
    /// Whether the readers have room for another message.
    pub fn has_room(&self) -> bool {
        self.level.has_room()
    }

    /// Whether messages wait and the readers have taken none for `after`.
    pub fn stalled(&self, after: Duration) -> bool {
        let since = self.level.since.load(Ordering::Acquire);
        self.level.messages.load(Ordering::Acquire) > 0
            && self.level.now().saturating_sub(since) >= after.as_nanos() as u64
    }

    /// Counts `n` bytes of a message being assembled from pieces.
    pub fn add_partial(&self, n: usize) {
        self.level.bytes.fetch_add(n, Ordering::AcqRel);
    }

    /// Stops counting `n` bytes of a message being assembled (it is whole
    /// and about to be queued, or dropped).
    pub fn sub_partial(&self, n: usize) {
        self.level.bytes.fetch_sub(n, Ordering::AcqRel);
    }

    /// Names the thread to wake when the queue gets room again.
    pub fn set_waker(&self, thread: Thread) {
        let _ = self.level.waker.set(thread);
    }

    /// Queues a message (whatever the level: the caller checked
    /// [`has_room`](Self::has_room) if it can wait). Fails when the readers'
    /// end is gone, handing the message back.
    pub fn send(&self, item: Result<Envelope>) -> std::result::Result<(), Result<Envelope>> {
        let n = size(&item);
        if self.level.messages.fetch_add(1, Ordering::AcqRel) == 0 {
            self.level.since.store(self.level.now(), Ordering::Release);
        }
        self.level.bytes.fetch_add(n, Ordering::AcqRel);
        self.tx.send(item).map_err(|e| {
            self.level.messages.fetch_sub(1, Ordering::AcqRel);
            self.level.bytes.fetch_sub(n, Ordering::AcqRel);
            e.0
        })
    }
}

impl InboundReceiver {
    /// The next message, waiting at most `timeout` (forever if `None`).
    pub fn recv_timeout(
        &self,
        timeout: Option<Duration>,
    ) -> std::result::Result<Result<Envelope>, RecvTimeoutError> {
        let item = match timeout {
            None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected)?,
            Some(t) => self.rx.recv_timeout(t)?,
        };
        let was_full = !self.level.has_room();
        self.level.since.store(self.level.now(), Ordering::Release);
        self.level.messages.fetch_sub(1, Ordering::AcqRel);
        self.level.bytes.fetch_sub(size(&item), Ordering::AcqRel);
        if was_full && self.level.has_room() {
            if let Some(t) = self.level.waker.get() {
                t.unpark();
            }
        }
        Ok(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(bytes: usize) -> Result<Envelope> {
        Ok(Envelope::new(2, 1, vec![0; bytes]))
    }

    #[test]
    fn full_by_count_until_a_reader_takes_one() {
        let (tx, rx) = inbound(3, 1 << 20);
        for _ in 0..3 {
            assert!(tx.has_room());
            tx.send(message(10)).unwrap();
        }
        assert!(!tx.has_room());
        rx.recv_timeout(Some(Duration::ZERO)).unwrap().unwrap();
        assert!(tx.has_room());
    }

    #[test]
    fn full_by_bytes_but_one_large_message_always_gets_in() {
        let (tx, rx) = inbound(100, 1000);
        assert!(tx.has_room());
        tx.send(message(5000)).unwrap();
        assert!(!tx.has_room(), "over the byte bound");
        let got = rx.recv_timeout(None).unwrap().unwrap();
        assert_eq!(got.payload.len(), 5000);
        assert!(tx.has_room());
        // Errors count as messages of no bytes.
        tx.send(Err(crate::Error::protocol("bad"))).unwrap();
        assert!(rx.recv_timeout(None).unwrap().is_err());
        assert!(tx.has_room());
    }

    #[test]
    fn a_reader_that_makes_room_wakes_the_progress_thread() {
        let (tx, rx) = inbound(1, 1 << 20);
        let progress = std::thread::spawn({
            let tx = tx.clone();
            move || {
                tx.send(message(1)).unwrap();
                // Parks until the reader makes room (no timeout: a missed
                // wake-up would hang the test, and the harness report it).
                while !tx.has_room() {
                    std::thread::park();
                }
                tx.send(message(2)).unwrap();
            }
        });
        tx.set_waker(progress.thread().clone());
        assert_eq!(rx.recv_timeout(None).unwrap().unwrap().payload.len(), 1);
        assert_eq!(rx.recv_timeout(None).unwrap().unwrap().payload.len(), 2);
        progress.join().unwrap();
    }

    #[test]
    fn readers_that_take_nothing_for_a_while_are_stalled() {
        let (tx, rx) = inbound(10, 1 << 20);
        assert!(!tx.stalled(Duration::ZERO), "nothing waits");
        tx.send(message(1)).unwrap();
        assert!(!tx.stalled(Duration::from_secs(60)));
        std::thread::sleep(Duration::from_millis(20));
        assert!(tx.stalled(Duration::from_millis(10)));
        tx.send(message(1)).unwrap();
        rx.recv_timeout(None).unwrap().unwrap();
        assert!(
            !tx.stalled(Duration::from_millis(10)),
            "a reader just took one"
        );
    }

    #[test]
    fn pieces_being_assembled_count_but_never_starve() {
        let (tx, rx) = inbound(10, 1000);
        tx.add_partial(2000);
        assert!(tx.has_room(), "no whole message queued: pieces go on");
        tx.send(message(10)).unwrap();
        assert!(
            !tx.has_room(),
            "a message queued and the bytes over the bound"
        );
        rx.recv_timeout(None).unwrap().unwrap();
        assert!(tx.has_room());
        tx.sub_partial(2000);
        tx.send(message(10)).unwrap();
        assert!(tx.has_room());
    }

    #[test]
    fn a_send_to_a_closed_queue_gives_the_message_back() {
        let (tx, rx) = inbound(10, 1 << 20);
        drop(rx);
        let back = tx.send(message(7)).unwrap_err().unwrap();
        assert_eq!(back.payload.len(), 7);
        assert!(tx.has_room());
    }
}
