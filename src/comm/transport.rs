//! The transport: tagged byte messages between ranks.
//!
//! One trait, two backends: [`MpiTransport`](super::mpi_transport::MpiTransport),
//! where one progress thread per rank owns MPI, and
//! [`LocalTransport`](super::local::LocalTransport), channels between threads of
//! one process for the embedded cluster and unit tests. Nothing above this layer
//! knows which one it talks to.

use crate::error::Result;
use std::sync::Arc;
use std::time::Duration;

/// A process's index in the world (0 = scheduler, 1 = client, 2.. = workers).
pub type Rank = usize;

/// A message tag; different tags never match one another.
pub type Tag = u16;

/// Tag of control messages (protocol enums).
pub const TAG_CONTROL: Tag = 1;

/// Tag of a rank's last word when it fails: the payload is the reason as UTF-8.
/// Whoever gets one stops waiting for that rank.
pub const TAG_ABORT: Tag = 2;

/// Tag of a message a rank sends itself (a wake-up from its own threads); it
/// never leaves the process.
pub const TAG_LOCAL: Tag = 3;

// Tags 4 and 5 carry large payloads in pieces inside the MPI transport
// (`comm::pieces`); they never reach a reader.

/// One received message.
#[derive(Debug)]
pub struct Envelope {
    /// The sender's rank.
    pub source: Rank,
    /// The tag it was sent with.
    pub tag: Tag,
    /// The bytes.
    pub payload: Vec<u8>,
    /// Large byte buffers sent beside the payload
    /// ([`Outbox::send_with_bodies`]), in order; each crosses MPI as its own
    /// pieces and is received straight into its own buffer, never copied
    /// into or out of the payload.
    pub bodies: Vec<Arc<Vec<u8>>>,
}

impl Envelope {
    /// A message with no bodies.
    pub fn new(source: Rank, tag: Tag, payload: Vec<u8>) -> Self {
        Envelope {
            source,
            tag,
            payload,
            bodies: Vec::new(),
        }
    }

    /// Bytes of the payload and the bodies together.
    pub fn len(&self) -> usize {
        message_len(&self.payload, &self.bodies)
    }

    /// Whether the payload and every body are empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Bytes of a payload and its bodies together (what a send window counts).
pub fn message_len(payload: &[u8], bodies: &[Arc<Vec<u8>>]) -> usize {
    bodies
        .iter()
        .fold(payload.len(), |n, b| n.saturating_add(b.len()))
}

/// The sending half of a transport: cheap to clone, usable from any thread.
pub trait Outbox: Send + Sync {
    /// Queues `payload` for `dest`. Returns once the transport owns the bytes,
    /// which may mean waiting while this rank's send window to `dest` is
    /// full ([`flow`](super::flow)); delivery happens in order per (sender,
    /// receiver) pair. After the transport is closed every send is an
    /// error, never a send.
    fn send(&self, dest: Rank, tag: Tag, payload: Vec<u8>) -> Result<()>;

    /// [`send`](Self::send) with byte buffers beside the payload, delivered
    /// in [`Envelope::bodies`] in the same order. The transport shares the
    /// buffers (no copy) until they are sent; the window counts the payload
    /// and the bodies together. Outboxes that carry no bodies (test doubles)
    /// refuse a send with any.
    fn send_with_bodies(
        &self,
        dest: Rank,
        tag: Tag,
        payload: Vec<u8>,
        bodies: Vec<Arc<Vec<u8>>>,
    ) -> Result<()> {
        if bodies.is_empty() {
            self.send(dest, tag, payload)
        } else {
            Err(crate::error::Error::invalid(
                "this outbox cannot send bodies beside a message",
            ))
        }
    }

    /// The largest message (payload and bodies together) the ranks accept
    /// (`RANKFLOW_MAX_MESSAGE`): a sender splitting values over several
    /// messages keeps each under it. Unbounded unless the transport says.
    fn max_message_bytes(&self) -> usize {
        usize::MAX
    }
}

/// A rank's connection to all the others.
pub trait Transport: Send {
    /// This rank.
    fn rank(&self) -> Rank;
    /// Ranks in the world.
    fn size(&self) -> usize;
    /// A handle for sending, shareable across threads.
    fn outbox(&self) -> Arc<dyn Outbox>;
    /// Waits for the next message, at most `timeout` (forever if `None`).
    /// `Ok(None)` means the time ran out.
    fn recv_timeout(&mut self, timeout: Option<Duration>) -> Result<Option<Envelope>>;
    /// Waits for the next message.
    fn recv(&mut self) -> Result<Envelope> {
        loop {
            if let Some(e) = self.recv_timeout(None)? {
                return Ok(e);
            }
        }
    }
    /// Refuses later sends, completes every queued one, and stops the
    /// transport. Under MPI it also waits until every rank has done the same
    /// (receiving and discarding what arrives meanwhile), so that MPI can be
    /// finalized with nothing in flight.
    fn close(self: Box<Self>) -> Result<()>;
}
