//! The in-process transport: every rank is a thread, every message a channel
//! send. Serves the embedded cluster (no mpirun) and unit tests.
//!
//! Its channels are unbounded on purpose: a rank's thread sends straight into
//! its peer's inbox, with no progress thread in between, so a bound would let
//! two ranks that send to each other while behind (the scheduler handing out
//! tasks, a worker reporting them) wait on each other for ever. The MPI
//! transport bounds what its progress thread takes in instead
//! (`comm::inbound`).

use super::transport::{Envelope, Outbox, Rank, Tag, Transport};
use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

/// One rank's end of an in-process world made by [`LocalTransport::world`].
pub struct LocalTransport {
    rank: Rank,
    inbox: Receiver<Envelope>,
    outbox: Arc<LocalOutbox>,
}

struct LocalOutbox {
    rank: Rank,
    peers: Vec<Sender<Envelope>>,
    /// Set by `close`: later sends are refused, as on the MPI transport.
    closed: AtomicBool,
}

impl LocalTransport {
    /// A world of `size` connected ranks; element `i` is rank `i`'s end.
    pub fn world(size: usize) -> Vec<LocalTransport> {
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..size).map(|_| channel()).unzip();
        receivers
            .into_iter()
            .enumerate()
            .map(|(rank, inbox)| LocalTransport {
                rank,
                inbox,
                outbox: Arc::new(LocalOutbox {
                    rank,
                    peers: senders.clone(),
                    closed: AtomicBool::new(false),
                }),
            })
            .collect()
    }
}

impl Outbox for LocalOutbox {
    fn send(&self, dest: Rank, tag: Tag, payload: Vec<u8>) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::transport(format!(
                "rank {} has closed its transport: nothing more can be sent",
                self.rank
            )));
        }
        let peer = self.peers.get(dest).ok_or_else(|| {
            Error::invalid(format!(
                "rank {dest} does not exist in a world of {}",
                self.peers.len()
            ))
        })?;
        peer.send(Envelope {
            source: self.rank,
            tag,
            payload,
        })
        .map_err(|_| Error::transport(format!("rank {dest} has left")))
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
        match timeout {
            None => self
                .inbox
                .recv()
                .map(Some)
                .map_err(|_| Error::transport("every peer has left")),
            Some(t) => match self.inbox.recv_timeout(t) {
                Ok(e) => Ok(Some(e)),
                Err(RecvTimeoutError::Timeout) => Ok(None),
                Err(RecvTimeoutError::Disconnected) => Err(Error::transport("every peer has left")),
            },
        }
    }

    /// Refuses later sends from every clone of the outbox. Channel sends
    /// complete at once, so nothing is left in flight.
    fn close(self: Box<Self>) -> Result<()> {
        self.outbox.closed.store(true, Ordering::SeqCst);
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

    #[test]
    fn bad_destination_is_an_error() {
        let world = LocalTransport::world(2);
        let err = world[0].outbox().send(5, 1, vec![]).unwrap_err();
        assert!(err.to_string().contains("rank 5"));
    }
}
