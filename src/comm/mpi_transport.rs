//! The MPI transport: one progress thread per rank owns MPI point-to-point
//! traffic; every other thread talks to it through channels.
//!
//! Sends are non-blocking synchronous sends (`MPI_Issend`) on buffers the
//! progress thread owns until MPI reports them complete, so two ranks sending
//! large messages to each other never deadlock, and a completed send means the
//! receiver has matched it. Receives probe for any source (`MPI_Improbe`) and
//! receive the matched message whole, but only while the readers' queue has
//! room ([`inbound`](super::inbound)): readers that fall behind leave further
//! messages in MPI, with their senders. When idle the thread backs off (see
//! [`backoff`](super::backoff)) instead of spinning.
//!
//! # Termination
//!
//! Closing is a protocol (the "NBX" pattern of Hoefler, Siebert and Lumsdaine),
//! so that no rank finalizes MPI while a message to or from it is in flight:
//!
//! 1. [`Transport::close`] closes the outbox first: a later send is an error,
//!    never a send, and every send accepted before it is started.
//! 2. The progress thread keeps probing and receiving (and now discards what
//!    it receives: nobody reads this rank's inbox any more) while its own
//!    sends complete. Sends are synchronous, so each completion means the
//!    receiver has matched the message.
//! 3. Once its own sends are done, the rank enters a non-blocking barrier
//!    (`MPI_Ibarrier`) on the world and keeps draining until the barrier
//!    completes, that is until every rank has finished its own sends. Only
//!    then does `close` return, and the caller may finalize MPI.
//!
//! A rank whose peer never closes waits for it in `close`: every rank of a
//! job closes its transport on the way out, or the job is aborted.
//!
//! MPI must be initialised with at least `MPI_THREAD_SERIALIZED`: the thread that
//! called `MPI_Init` starts this one and does not call MPI again until
//! [`Transport::close`] has joined it.

use super::backoff::Backoff;
use super::inbound::{
    inbound, InboundReceiver, InboundSender, MAX_QUEUED_BYTES, MAX_QUEUED_MESSAGES,
};
use super::transport::{Envelope, Outbox, Rank, Tag, Transport};
use crate::error::{Error, Result};
use mpi::collective::CommunicatorCollectives;
use mpi::point_to_point::{Destination, MatchedReceiveVec, Source};
use mpi::request::{Request, StaticScope};
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::Equivalence;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

/// Incoming messages taken per round of the progress loop.
const PROBES_PER_ROUND: usize = 64;

enum Command {
    Send {
        dest: Rank,
        tag: Tag,
        payload: Vec<u8>,
    },
    Close,
}

/// A rank's MPI transport over `MPI_COMM_WORLD`.
pub struct MpiTransport {
    rank: Rank,
    size: usize,
    inbox: InboundReceiver,
    outbox: Arc<MpiOutbox>,
    thread: Option<JoinHandle<()>>,
}

struct MpiOutbox {
    rank: Rank,
    size: usize,
    /// `None` once the transport is closing: sends are refused from then on.
    /// The lock orders every accepted send before the `Close` command.
    commands: Mutex<Option<Sender<Command>>>,
    progress: Thread,
    /// Messages to this rank itself skip MPI.
    to_self: InboundSender,
}

impl MpiTransport {
    /// Starts the progress thread. MPI must be initialised with at least
    /// `MPI_THREAD_SERIALIZED`, and the calling thread must make no MPI calls
    /// until [`Transport::close`] returns. Messages over `max_message_bytes` are
    /// received (MPI needs them drained) and reported as errors.
    pub fn start(max_message_bytes: usize) -> Result<Self> {
        let world = SimpleCommunicator::world();
        let rank = world.rank() as Rank;
        let size = world.size() as usize;
        let (cmd_tx, cmd_rx) = channel();
        let (in_tx, in_rx) = inbound(MAX_QUEUED_MESSAGES, MAX_QUEUED_BYTES);
        let to_self = in_tx.clone();
        let thread = std::thread::Builder::new()
            .name(format!("rankflow-progress-{rank}"))
            .spawn(move || progress_loop(cmd_rx, in_tx, max_message_bytes))?;
        let progress = thread.thread().clone();
        to_self.set_waker(progress.clone());
        Ok(MpiTransport {
            rank,
            size,
            inbox: in_rx,
            outbox: Arc::new(MpiOutbox {
                rank,
                size,
                commands: Mutex::new(Some(cmd_tx)),
                progress,
                to_self,
            }),
            thread: Some(thread),
        })
    }
}

impl Outbox for MpiOutbox {
    fn send(&self, dest: Rank, tag: Tag, payload: Vec<u8>) -> Result<()> {
        if dest >= self.size {
            return Err(Error::invalid(format!(
                "rank {dest} does not exist in a world of {}",
                self.size
            )));
        }
        let commands = self.commands.lock().unwrap_or_else(|e| e.into_inner());
        let Some(commands) = commands.as_ref() else {
            return Err(Error::transport(format!(
                "rank {} has closed its transport: nothing more can be sent",
                self.rank
            )));
        };
        if dest == self.rank {
            return self
                .to_self
                .send(Ok(Envelope {
                    source: dest,
                    tag,
                    payload,
                }))
                .map_err(|_| Error::transport("this rank's inbox is closed"));
        }
        if payload.len() > super::codec::MAX_MESSAGE_CEILING {
            return Err(Error::codec(format!(
                "message of {} bytes is over MPI's 2 GiB count limit",
                payload.len()
            )));
        }
        commands
            .send(Command::Send { dest, tag, payload })
            .map_err(|_| Error::transport("the MPI progress thread has stopped"))?;
        self.progress.unpark();
        Ok(())
    }
}

impl MpiOutbox {
    /// Refuses every later send and tells the progress thread to close.
    fn close(&self) {
        let taken = self
            .commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(commands) = taken {
            let _ = commands.send(Command::Close);
        }
        self.progress.unpark();
    }
}

impl Transport for MpiTransport {
    fn rank(&self) -> Rank {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn outbox(&self) -> Arc<dyn Outbox> {
        self.outbox.clone()
    }

    fn recv_timeout(&mut self, timeout: Option<Duration>) -> Result<Option<Envelope>> {
        match self.inbox.recv_timeout(timeout) {
            Ok(r) => r.map(Some),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => {
                Err(Error::transport("the MPI progress thread has stopped"))
            }
        }
    }

    fn close(mut self: Box<Self>) -> Result<()> {
        self.stop()
    }
}

impl MpiTransport {
    /// Refuses later sends, completes the queued ones, waits until every
    /// rank has done the same (see the module docs) and joins the progress
    /// thread.
    fn stop(&mut self) -> Result<()> {
        self.outbox.close();
        if let Some(t) = self.thread.take() {
            t.join()
                .map_err(|_| Error::transport("the MPI progress thread panicked"))?;
        }
        Ok(())
    }
}

impl Drop for MpiTransport {
    /// A transport dropped without `close` (a panic unwinding) still stops
    /// its progress thread, so MPI is never finalized under it.
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            log::error!("{e}");
        }
    }
}

/// A send in flight: the request and the buffer it reads.
struct InFlight {
    request: Request<'static, [u8], StaticScope>,
    buffer: *mut [u8],
}

impl InFlight {
    fn start(world: &SimpleCommunicator, dest: Rank, tag: Tag, payload: Vec<u8>) -> Self {
        let buffer: &'static mut [u8] = Box::leak(payload.into_boxed_slice());
        let raw: *mut [u8] = buffer;
        let request = world
            .process_at_rank(dest as i32)
            .immediate_synchronous_send_with_tag(StaticScope, &*buffer, i32::from(tag));
        InFlight {
            request,
            buffer: raw,
        }
    }

    /// Tests for completion; frees the buffer when MPI is done with it.
    fn poll(self) -> Option<Self> {
        match self.request.test() {
            Ok(_) => {
                // SAFETY: `buffer` came from `Box::leak` in `start`, and the only
                // borrow of it was held by the request, which has completed and
                // been consumed by `test`; MPI no longer reads it and nothing
                // else points to it, so the box can be rebuilt and dropped once.
                drop(unsafe { Box::from_raw(self.buffer) });
                None
            }
            Err(request) => Some(InFlight { request, ..self }),
        }
    }
}

/// Where the progress thread is in its life (see the module docs).
enum Phase {
    /// Sending and delivering.
    Running,
    /// Closed: finishing this rank's own sends, draining incoming messages.
    Draining,
    /// Own sends done: in the world's barrier, still draining.
    Barrier(Request<'static, ()>),
}

fn progress_loop(commands: Receiver<Command>, inbox: InboundSender, max_message_bytes: usize) {
    let world = SimpleCommunicator::world();
    let mut in_flight: Vec<InFlight> = Vec::new();
    let mut phase = Phase::Running;
    let mut discarded = 0usize;
    let mut backoff = Backoff::default();
    loop {
        let mut active = false;
        while matches!(phase, Phase::Running) {
            match commands.try_recv() {
                Ok(Command::Send { dest, tag, payload }) => {
                    in_flight.push(InFlight::start(&world, dest, tag, payload));
                    active = true;
                }
                // The outbox refuses sends once it has queued `Close`, so
                // every accepted send has been started by now.
                Ok(Command::Close) | Err(TryRecvError::Disconnected) => {
                    phase = Phase::Draining;
                    active = true;
                }
                Err(TryRecvError::Empty) => break,
            }
        }
        if !in_flight.is_empty() {
            let before = in_flight.len();
            in_flight = in_flight.into_iter().filter_map(InFlight::poll).collect();
            active |= in_flight.len() != before;
        }
        // A bounded number per round, so queued sends are never starved,
        // and none while the readers are behind (backpressure). After close
        // nobody reads: what arrives is drained and dropped, whatever the
        // queue holds.
        for _ in 0..PROBES_PER_ROUND {
            if matches!(phase, Phase::Running) && !inbox.has_room() {
                break;
            }
            let Some(delivered) = receive_one(&world, max_message_bytes) else {
                break;
            };
            active = true;
            if matches!(phase, Phase::Running) {
                let _ = inbox.send(delivered);
            } else {
                discarded += 1;
            }
        }
        phase = match phase {
            Phase::Draining if in_flight.is_empty() => {
                active = true;
                Phase::Barrier(world.immediate_barrier())
            }
            Phase::Barrier(request) => match request.test() {
                Ok(_) => {
                    if discarded > 0 {
                        log::debug!("closed; {discarded} messages arrived after close");
                    }
                    return;
                }
                Err(request) => Phase::Barrier(request),
            },
            other => other,
        };
        if active {
            backoff.reset();
        } else {
            backoff.idle();
        }
    }
}

/// Receives one message if one has arrived: the envelope, or an error for a
/// message over `max_message_bytes` or with a foreign tag (received anyway,
/// as MPI needs it drained).
fn receive_one(world: &SimpleCommunicator, max_message_bytes: usize) -> Option<Result<Envelope>> {
    let (message, status) = world.any_process().immediate_matched_probe()?;
    let count = status.count(u8::equivalent_datatype()).max(0) as usize;
    let (payload, status) = (message, status).matched_receive_vec::<u8>();
    let source = status.source_rank() as Rank;
    Some(if count > max_message_bytes {
        Err(Error::codec(format!(
            "rank {source} sent a message of {count} bytes, over the \
             {max_message_bytes}-byte limit (RANKFLOW_MAX_MESSAGE); it was dropped"
        )))
    } else {
        match Tag::try_from(status.tag()) {
            Ok(tag) => Ok(Envelope {
                source,
                tag,
                payload,
            }),
            Err(_) => Err(Error::protocol(format!(
                "rank {source} sent a message with tag {}, outside rankflow's range",
                status.tag()
            ))),
        }
    })
}
