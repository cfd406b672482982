//! The in-process transport: every rank is a thread, every message a channel
//! send. Serves the embedded cluster (no mpirun) and unit tests.
//!
//! Sends are bounded as on the MPI transport ([`flow`](super::flow)): each
//! sender has a window of bytes and messages per destination, counting what
//! it sent that the destination has not read yet, and a send over it waits
//! until the destination reads. With no progress thread in between, the
//! destination's inbox itself plays its part in the deadlock argument: a
//! send goes in over the window while a thread of the destination rank waits
//! to send, or while the destination's readers have read nothing for
//! [`Limits::stall`] although messages wait. Messages a rank sends itself, failing
//! ranks' last words (`TAG_ABORT`) and the sends of ranks built without a
//! window ([`LocalTransport::world_with`]) never wait.

use super::flow::{self, Limits, Windows};
use super::transport::{message_len, Envelope, Outbox, Rank, Tag, Transport, TAG_ABORT};
use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often a waiting sender looks at the destination's readers again (for
/// the stall rule).
const RECHECK: Duration = Duration::from_millis(50);

/// A message in a rank's channel, and whether it counts in its sender's
/// window.
type Item = (Envelope, bool);

/// One rank's end of an in-process world made by [`LocalTransport::world`].
pub struct LocalTransport {
    rank: Rank,
    inbox: Receiver<Item>,
    outbox: Arc<LocalOutbox>,
}

struct LocalOutbox {
    rank: Rank,
    peers: Vec<Sender<Item>>,
    /// Every rank's inbox accounting, shared by the whole world.
    inboxes: Arc<[Inbox]>,
    /// Whether this rank's sends wait for their window.
    bounded: bool,
    /// Set by `close`: later sends are refused, as on the MPI transport.
    closed: AtomicBool,
}

/// What a rank's channel holds, by sender.
struct Inbox {
    state: Mutex<InboxState>,
    /// Signalled when the rank reads, leaves, or starts waiting to send.
    room: Condvar,
    /// Threads of this rank waiting for a window to some peer.
    waiting: AtomicUsize,
    /// How long readers may stall before sends go in over their windows.
    stall: Duration,
}

struct InboxState {
    /// Per sender: sent through a window and not read yet.
    windows: Windows,
    /// Messages in the channel, in windows or not.
    queued: usize,
    /// When a reader last read, or the channel last went from empty to not.
    since: Instant,
    /// The rank's end was dropped.
    gone: bool,
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, InboxState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether sends to this rank go in over their windows now (see the
    /// module docs).
    fn lets_in(&self, st: &InboxState) -> bool {
        self.waiting.load(Ordering::SeqCst) > 0
            || (st.queued > 0 && st.since.elapsed() >= self.stall)
    }
}

impl LocalTransport {
    /// A world of `size` connected ranks with the default limits; element
    /// `i` is rank `i`'s end.
    pub fn world(size: usize) -> Vec<LocalTransport> {
        Self::world_with(size, Limits::default(), &[])
    }

    /// A world of `size` ranks whose sends are bounded by `limits`, except
    /// the sends of the ranks in `unbounded` (the scheduler's).
    pub fn world_with(size: usize, limits: Limits, unbounded: &[Rank]) -> Vec<LocalTransport> {
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..size).map(|_| channel()).unzip();
        let inboxes: Arc<[Inbox]> = (0..size)
            .map(|_| Inbox {
                state: Mutex::new(InboxState {
                    windows: Windows::new(size, &limits),
                    queued: 0,
                    since: Instant::now(),
                    gone: false,
                }),
                room: Condvar::new(),
                waiting: AtomicUsize::new(0),
                stall: limits.stall,
            })
            .collect();
        receivers
            .into_iter()
            .enumerate()
            .map(|(rank, inbox)| LocalTransport {
                rank,
                inbox,
                outbox: Arc::new(LocalOutbox {
                    rank,
                    peers: senders.clone(),
                    inboxes: inboxes.clone(),
                    bounded: limits.is_bounded() && !unbounded.contains(&rank),
                    closed: AtomicBool::new(false),
                }),
            })
            .collect()
    }

    /// Takes the message's place out of its sender's window.
    fn taken(&self, (envelope, charged): Item) -> Envelope {
        let inbox = &self.outbox.inboxes[self.rank];
        let mut st = inbox.lock();
        st.queued = st.queued.saturating_sub(1);
        st.since = Instant::now();
        if charged {
            st.windows.give_back(envelope.source, envelope.len());
        }
        drop(st);
        inbox.room.notify_all();
        envelope
    }
}

impl Drop for LocalTransport {
    /// Senders waiting on this rank give up: it has left.
    fn drop(&mut self) {
        let inbox = &self.outbox.inboxes[self.rank];
        inbox.lock().gone = true;
        inbox.room.notify_all();
    }
}

impl LocalOutbox {
    fn closed_error(&self) -> Error {
        Error::transport(format!(
            "rank {} has closed its transport: nothing more can be sent",
            self.rank
        ))
    }

    /// Waits until a message of `n` bytes may go to `dest`; returns the
    /// inbox state, locked, and whether the message goes through the window.
    fn wait_for_room<'a>(
        &self,
        inbox: &'a Inbox,
        mut st: MutexGuard<'a, InboxState>,
        n: usize,
    ) -> (MutexGuard<'a, InboxState>, bool) {
        if st.windows.fits(self.rank, n) || inbox.lets_in(&st) {
            let fits = st.windows.fits(self.rank, n);
            return (st, fits);
        }
        flow::note_wait();
        drop(st);
        // Senders to this rank go in over their windows from now on.
        let own = &self.inboxes[self.rank];
        own.waiting.fetch_add(1, Ordering::SeqCst);
        drop(own.lock());
        own.room.notify_all();
        st = inbox.lock();
        while !st.gone
            && !self.closed.load(Ordering::SeqCst)
            && !st.windows.fits(self.rank, n)
            && !inbox.lets_in(&st)
        {
            st = inbox
                .room
                .wait_timeout(st, RECHECK.min(inbox.stall))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        own.waiting.fetch_sub(1, Ordering::SeqCst);
        let fits = st.windows.fits(self.rank, n);
        (st, fits)
    }
}

impl Outbox for LocalOutbox {
    fn send(&self, dest: Rank, tag: Tag, payload: Vec<u8>) -> Result<()> {
        self.send_with_bodies(dest, tag, payload, Vec::new())
    }

    /// A body held nowhere else is handed over as it is; one still held by
    /// the sender (a value in a worker's store) is copied once, as MPI
    /// copies it over the wire, so that each rank's store owns what it
    /// holds: it can spill it, and its memory figures are its own.
    fn send_with_bodies(
        &self,
        dest: Rank,
        tag: Tag,
        payload: Vec<u8>,
        bodies: Vec<Arc<Vec<u8>>>,
    ) -> Result<()> {
        let bodies: Vec<Arc<Vec<u8>>> = bodies
            .into_iter()
            .map(|b| Arc::try_unwrap(b).map_or_else(|b| Arc::new((*b).clone()), Arc::new))
            .collect();
        if self.closed.load(Ordering::SeqCst) {
            return Err(self.closed_error());
        }
        let peer = self.peers.get(dest).ok_or_else(|| {
            Error::invalid(format!(
                "rank {dest} does not exist in a world of {}",
                self.peers.len()
            ))
        })?;
        let n = message_len(&payload, &bodies);
        let inbox = &self.inboxes[dest];
        let exempt = !self.bounded || dest == self.rank || tag == TAG_ABORT;
        let mut st = inbox.lock();
        let mut charged = false;
        if !exempt {
            let (locked, fits) = self.wait_for_room(inbox, st, n);
            st = locked;
            charged = fits;
            if self.closed.load(Ordering::SeqCst) {
                return Err(self.closed_error());
            }
        }
        let left = || Error::transport(format!("rank {dest} has left"));
        if st.gone {
            return Err(left());
        }
        if charged {
            st.windows.take(self.rank, n);
            st.windows.note_peak(self.rank);
        } else if !exempt {
            flow::note_over_bound();
        }
        if st.queued == 0 {
            st.since = Instant::now();
        }
        st.queued += 1;
        let envelope = Envelope {
            source: self.rank,
            tag,
            payload,
            bodies,
        };
        if peer.send((envelope, charged)).is_err() {
            st.queued -= 1;
            if charged {
                st.windows.give_back(self.rank, n);
            }
            return Err(left());
        }
        Ok(())
    }
}

impl Transport for LocalTransport {
    fn rank(&self) -> Rank {
        self.rank
    }

    fn size(&self) -> usize {
        self.outbox.peers.len()
    }

    fn outbox(&self) -> Arc<dyn Outbox> {
        self.outbox.clone()
    }

    fn recv_timeout(&mut self, timeout: Option<Duration>) -> Result<Option<Envelope>> {
        let item = match timeout {
            None => self
                .inbox
                .recv()
                .map_err(|_| Error::transport("every peer has left"))?,
            Some(t) => match self.inbox.recv_timeout(t) {
                Ok(item) => item,
                Err(RecvTimeoutError::Timeout) => return Ok(None),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(Error::transport("every peer has left"))
                }
            },
        };
        Ok(Some(self.taken(item)))
    }

    /// Refuses later sends from every clone of the outbox, and wakes this
    /// rank's senders that wait for a window (they fail). Channel sends
    /// complete at once, so nothing is left in flight.
    fn close(self: Box<Self>) -> Result<()> {
        self.outbox.closed.store(true, Ordering::SeqCst);
        for inbox in self.outbox.inboxes.iter() {
            drop(inbox.lock());
            inbox.room.notify_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_arrive_in_order_with_source_and_tag() {
        let mut world = LocalTransport::world(3);
        let out = world[0].outbox();
        out.send(2, 7, vec![1]).unwrap();
        out.send(2, 8, vec![2, 3]).unwrap();
        let a = world[2].recv().unwrap();
        let b = world[2].recv().unwrap();
        assert_eq!((a.source, a.tag, a.payload), (0, 7, vec![1]));
        assert_eq!((b.source, b.tag, b.payload), (0, 8, vec![2, 3]));
        assert!(world[1]
            .recv_timeout(Some(Duration::from_millis(10)))
            .unwrap()
            .is_none());
    }

    #[test]
    fn sends_after_close_are_refused() {
        let mut world = LocalTransport::world(2).into_iter();
        let (a, mut b) = (world.next().unwrap(), world.next().unwrap());
        let out = a.outbox();
        out.send(1, 7, vec![1]).unwrap();
        Box::new(a).close().unwrap();
        let err = out.send(1, 7, vec![2]).unwrap_err();
        assert!(err.to_string().contains("closed"), "{err}");
        assert_eq!(b.recv().unwrap().payload, vec![1]);
        assert!(b
            .recv_timeout(Some(Duration::from_millis(10)))
            .unwrap()
            .is_none());
    }

    fn limits(bytes: usize, messages: usize, stall: Duration) -> Limits {
        Limits {
            window_bytes: bytes,
            window_messages: messages,
            stall,
            ..Limits::default()
        }
    }

    const NEVER: Duration = Duration::from_secs(3600);

    /// Waits (up to a minute) until `cond` holds.
    fn eventually(what: &str, cond: impl Fn() -> bool) {
        let start = std::time::Instant::now();
        while !cond() {
            assert!(start.elapsed() < Duration::from_secs(60), "never: {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_sender_over_its_window_waits_until_the_peer_reads() {
        let mut world = LocalTransport::world_with(2, limits(100, 10, NEVER), &[]).into_iter();
        let (a, mut b) = (world.next().unwrap(), world.next().unwrap());
        let out = a.outbox();
        out.send(1, 7, vec![1; 60]).unwrap();
        let inboxes = a.outbox.inboxes.clone();
        let sender = std::thread::spawn(move || out.send(1, 7, vec![2; 60]));
        eventually("rank 0 waits", || {
            inboxes[0].waiting.load(Ordering::SeqCst) == 1
        });
        {
            let st = inboxes[1].lock();
            assert_eq!(st.queued, 1, "the second message waits with its sender");
            assert_eq!(st.windows.used(0).bytes, 60);
        }
        assert_eq!(b.recv().unwrap().payload, vec![1; 60]);
        sender.join().unwrap().unwrap();
        assert_eq!(b.recv().unwrap().payload, vec![2; 60]);
        let st = inboxes[1].lock();
        assert_eq!((st.queued, st.windows.used(0).bytes), (0, 0));
    }

    #[test]
    fn two_ranks_flooding_each_other_complete() {
        // Each sends far more than its window before reading anything: only
        // the rule that lets messages in to a rank with a waiting sender
        // keeps this from deadlocking (stalls are never taken as such here).
        let world = LocalTransport::world_with(2, limits(4096, 4, NEVER), &[]);
        let count = 300usize;
        let handles: Vec<_> = world
            .into_iter()
            .map(|mut t| {
                std::thread::spawn(move || {
                    let out = t.outbox();
                    let peer = 1 - t.rank();
                    for i in 0..count {
                        out.send(peer, 1, vec![i as u8; 1000 + i]).unwrap();
                    }
                    for i in 0..count {
                        let e = t.recv().unwrap();
                        assert_eq!(e.payload, vec![i as u8; 1000 + i], "message {i}");
                    }
                    t
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert!(flow::stats().over_bound > 0);
    }

    #[test]
    fn a_stalled_reader_lets_a_waiting_sender_in() {
        // Rank 1's reader waits for rank 0 to finish sending before it reads
        // (as a worker inside an SPMD section waits on its peers): only the
        // stall rule lets rank 0 finish.
        let mut world =
            LocalTransport::world_with(2, limits(1000, 2, Duration::from_millis(20)), &[])
                .into_iter();
        let (a, mut b) = (world.next().unwrap(), world.next().unwrap());
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let sender = std::thread::spawn(move || {
            let out = a.outbox();
            for i in 0..50u8 {
                out.send(1, 1, vec![i; 600]).unwrap();
            }
            done_tx.send(()).unwrap();
            a
        });
        done_rx.recv().unwrap();
        for i in 0..50u8 {
            assert_eq!(b.recv().unwrap().payload, vec![i; 600]);
        }
        sender.join().unwrap();
    }

    #[test]
    fn unbounded_ranks_self_sends_and_aborts_never_wait() {
        let mut world = LocalTransport::world_with(3, limits(10, 1, NEVER), &[0]);
        for _ in 0..100 {
            world[0].outbox().send(2, 1, vec![0; 100]).unwrap();
            world[1].outbox().send(1, 1, vec![0; 100]).unwrap();
            world[1].outbox().send(2, TAG_ABORT, vec![0; 100]).unwrap();
        }
        for _ in 0..100 {
            world[1].recv().unwrap();
        }
        for _ in 0..200 {
            world[2].recv().unwrap();
        }
    }

    #[test]
    fn a_waiting_sender_fails_when_its_rank_closes_or_the_peer_leaves() {
        let mut world = LocalTransport::world_with(3, limits(10, 1, NEVER), &[]).into_iter();
        let (a, b, c) = (
            world.next().unwrap(),
            world.next().unwrap(),
            world.next().unwrap(),
        );
        let out = a.outbox();
        out.send(1, 1, vec![0; 10]).unwrap();
        out.send(2, 1, vec![0; 10]).unwrap();
        let inboxes = a.outbox.inboxes.clone();
        let to_b = std::thread::spawn({
            let out = out.clone();
            move || out.send(1, 1, vec![0; 10])
        });
        eventually("rank 0 waits", || {
            inboxes[0].waiting.load(Ordering::SeqCst) == 1
        });
        drop(b);
        let err = to_b.join().unwrap().unwrap_err();
        assert!(err.to_string().contains("rank 1 has left"), "{err}");
        let to_c = std::thread::spawn({
            let out = out.clone();
            move || out.send(2, 1, vec![0; 10])
        });
        eventually("rank 0 waits", || {
            inboxes[0].waiting.load(Ordering::SeqCst) == 1
        });
        Box::new(a).close().unwrap();
        let err = to_c.join().unwrap().unwrap_err();
        assert!(err.to_string().contains("closed"), "{err}");
        drop(c);
    }

    #[test]
    fn bad_destination_is_an_error() {
        let world = LocalTransport::world(2);
        let err = world[0].outbox().send(5, 1, vec![]).unwrap_err();
        assert!(err.to_string().contains("rank 5"));
    }
}
