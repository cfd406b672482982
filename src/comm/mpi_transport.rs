//! The MPI transport: one progress thread per rank owns MPI point-to-point
//! traffic; every other thread talks to it through channels.
//!
//! Sends are non-blocking synchronous sends (`MPI_Issend`) on buffers the
//! progress thread owns until MPI reports them complete, so two ranks sending
//! large messages to each other never deadlock, and a completed send means the
//! receiver has matched it. What a rank has queued or in flight to each
//! destination is bounded by a send window ([`flow`](super::flow)): a send
//! over it waits until earlier ones complete. Payloads over the piece size,
//! and messages with bodies beside them, cross as pieces
//! ([`pieces`](super::pieces)), so a multi-gigabyte message never holds up
//! the messages behind it and no MPI count passes 32 bits; a body is sent
//! from the caller's shared buffer and received into one of its own, never
//! copied. Receives probe for any source
//! (`MPI_Improbe`) and receive the matched message (or piece), but only
//! while the readers' queue has room ([`inbound`](super::inbound)): readers
//! that fall behind leave further messages in MPI, with their senders
//! (except while a thread of this rank waits for a send window, or the
//! readers have stalled: see [`flow`](super::flow) for why). When idle the
//! thread backs off (see [`backoff`](super::backoff)) instead of spinning,
//! and a peer on the same host nudges it awake ([`wake`](super::wake)).
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
use super::credit::Credit;
use super::flow::{self, Limits};
use super::inbound::{
    inbound, InboundReceiver, InboundSender, MAX_QUEUED_BYTES, MAX_QUEUED_MESSAGES,
};
use super::pieces::{self, Assembler, Wire, TAG_PIECE, TAG_PIECES};
use super::transport::{message_len, Envelope, Outbox, Rank, Tag, Transport, TAG_ABORT};
use super::wake::Wake;
use crate::error::{Error, Result};
use mpi::collective::CommunicatorCollectives;
use mpi::point_to_point::{Destination, MatchedReceiveVec, Message, Source, Status};
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
        bodies: Vec<Arc<Vec<u8>>>,
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
    /// Send windows per destination, given back by the progress thread.
    credit: Arc<Credit>,
    /// Messages to this rank itself skip MPI.
    to_self: InboundSender,
    /// The largest message the ranks accept (`RANKFLOW_MAX_MESSAGE`).
    max_message_bytes: usize,
}

impl MpiTransport {
    /// Starts the progress thread. MPI must be initialised with at least
    /// `MPI_THREAD_SERIALIZED`, and the calling thread must make no MPI calls
    /// until [`Transport::close`] returns. Messages over `max_message_bytes` are
    /// received (MPI needs them drained) and reported as errors. `limits` sets
    /// the send windows and the piece size ([`Limits::unbounded`] for a rank
    /// whose sends must never wait).
    pub fn start(max_message_bytes: usize, limits: Limits) -> Result<Self> {
        let world = SimpleCommunicator::world();
        let rank = world.rank() as Rank;
        let size = world.size() as usize;
        let (cmd_tx, cmd_rx) = channel();
        let (in_tx, in_rx) = inbound(MAX_QUEUED_MESSAGES, MAX_QUEUED_BYTES);
        let to_self = in_tx.clone();
        let credit = Arc::new(Credit::new(size, &limits));
        let progress = Progress {
            commands: cmd_rx,
            inbox: in_tx,
            max_message_bytes,
            credit: credit.clone(),
            stall: limits.stall,
            piece_bytes: limits
                .piece_bytes
                .clamp(flow::MIN_PIECE_BYTES, flow::MAX_PIECE_BYTES),
        };
        let thread = std::thread::Builder::new()
            .name(format!("rankflow-progress-{rank}"))
            .spawn(move || progress.run())?;
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
                credit,
                to_self,
                max_message_bytes,
            }),
            thread: Some(thread),
        })
    }
}

impl Outbox for MpiOutbox {
    fn send(&self, dest: Rank, tag: Tag, payload: Vec<u8>) -> Result<()> {
        self.send_with_bodies(dest, tag, payload, Vec::new())
    }

    fn max_message_bytes(&self) -> usize {
        self.max_message_bytes
    }

    fn send_with_bodies(
        &self,
        dest: Rank,
        tag: Tag,
        payload: Vec<u8>,
        bodies: Vec<Arc<Vec<u8>>>,
    ) -> Result<()> {
        if dest >= self.size {
            return Err(Error::invalid(format!(
                "rank {dest} does not exist in a world of {}",
                self.size
            )));
        }
        if bodies.len() >= pieces::MAX_SEGMENTS {
            return Err(Error::invalid(format!(
                "{} bodies beside one message; at most {} may go",
                bodies.len(),
                pieces::MAX_SEGMENTS - 1
            )));
        }
        let closed = || {
            Error::transport(format!(
                "rank {} has closed its transport: nothing more can be sent",
                self.rank
            ))
        };
        if dest == self.rank {
            if self
                .commands
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_none()
            {
                return Err(closed());
            }
            return self
                .to_self
                .send(Ok(Envelope {
                    source: dest,
                    tag,
                    payload,
                    bodies,
                }))
                .map_err(|_| Error::transport("this rank's inbox is closed"));
        }
        // No size is refused here: whatever the size, a message crosses MPI
        // in pieces under the 32-bit count (`pieces`); the receiver's limit
        // (RANKFLOW_MAX_MESSAGE) decides what it accepts.
        let n = message_len(&payload, &bodies);
        // A failing rank's last word never waits for a window.
        self.credit
            .acquire(dest, n, tag == TAG_ABORT, || self.progress.unpark())
            .map_err(|_| closed())?;
        let commands = self.commands.lock().unwrap_or_else(|e| e.into_inner());
        let sent = match commands.as_ref() {
            Some(c) => c
                .send(Command::Send {
                    dest,
                    tag,
                    payload,
                    bodies,
                })
                .map_err(|_| Error::transport("the MPI progress thread has stopped")),
            None => Err(closed()),
        };
        drop(commands);
        if sent.is_err() {
            self.credit.give_back(dest, n);
        }
        self.progress.unpark();
        sent
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
        self.credit.close();
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

/// A buffer MPI reads until a send completes.
enum Held {
    /// Owned by the transport (a payload, a header).
    Owned(*mut [u8]),
    /// Shared with the sender's other owners (a body).
    Shared(*const Vec<u8>),
}

/// A message in flight: its requests (one, or a header and its pieces) and
/// the buffers they read.
struct InFlight {
    dest: Rank,
    bytes: usize,
    requests: Vec<Request<'static, [u8], StaticScope>>,
    buffers: Vec<Held>,
}

impl InFlight {
    fn start(
        world: &SimpleCommunicator,
        dest: Rank,
        tag: Tag,
        (payload, bodies): (Vec<u8>, Vec<Arc<Vec<u8>>>),
        piece_bytes: usize,
    ) -> Self {
        let bytes = message_len(&payload, &bodies);
        let to = world.process_at_rank(dest as i32);
        let mut lengths = vec![payload.len()];
        lengths.extend(bodies.iter().map(|b| b.len()));
        let owned: &'static mut [u8] = Box::leak(payload.into_boxed_slice());
        let mut buffers = vec![Held::Owned(owned as *mut [u8])];
        let mut segments: Vec<&'static [u8]> = vec![owned];
        for body in bodies {
            let shared = Arc::into_raw(body);
            buffers.push(Held::Shared(shared));
            // SAFETY: `shared` came from `Arc::into_raw` just above, so it
            // points at a live `Vec` that this in-flight message keeps alive
            // (one strong count) until `poll` rebuilds the `Arc` after every
            // request reading it has completed; no one mutates a `Vec`
            // behind a shared `Arc` while another count exists, so its
            // bytes stay where they are and unchanged for that long.
            segments.push(unsafe { (*shared).as_slice() });
        }
        let mut requests = Vec::new();
        for wire in pieces::plan(tag, &lengths, piece_bytes) {
            let (data, tag): (&'static [u8], Tag) = match wire {
                Wire::Whole(tag) => (segments[0], tag),
                Wire::Header(h) => {
                    let header: &'static mut [u8] = Box::leak(h.into_boxed_slice());
                    buffers.push(Held::Owned(header as *mut [u8]));
                    (header, TAG_PIECES)
                }
                Wire::Piece { segment, range } => (&segments[segment][range], TAG_PIECE),
            };
            requests.push(to.immediate_synchronous_send_with_tag(
                StaticScope,
                data,
                i32::from(tag),
            ));
        }
        InFlight {
            dest,
            bytes,
            requests,
            buffers,
        }
    }

    /// Tests for completion; frees the buffers when MPI is done with every
    /// request, and returns the destination and size for the send window.
    fn poll(mut self) -> std::result::Result<(Rank, usize), Self> {
        self.requests = std::mem::take(&mut self.requests)
            .into_iter()
            .filter_map(|r| r.test().err())
            .collect();
        if !self.requests.is_empty() {
            return Err(self);
        }
        for buffer in self.buffers.drain(..) {
            match buffer {
                // SAFETY: every owned buffer came from `Box::leak` in
                // `start`, and the only borrows of it were held by the
                // requests, which have all completed and been consumed by
                // `test`; MPI no longer reads it and nothing else points to
                // it, so each box is rebuilt and dropped once.
                Held::Owned(b) => drop(unsafe { Box::from_raw(b) }),
                // SAFETY: every shared buffer came from `Arc::into_raw` in
                // `start` and is given back here once, after the requests
                // that read it have completed, so its count is released once.
                Held::Shared(b) => drop(unsafe { Arc::from_raw(b) }),
            }
        }
        Ok((self.dest, self.bytes))
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

/// What the progress thread owns besides MPI.
struct Progress {
    commands: Receiver<Command>,
    inbox: InboundSender,
    max_message_bytes: usize,
    credit: Arc<Credit>,
    stall: Duration,
    piece_bytes: usize,
}

/// Wakes this rank's waiting senders (with an error) however the progress
/// thread ends, a panic included: nothing will give their windows back.
struct CloseCredit(Arc<Credit>);

impl Drop for CloseCredit {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl Progress {
    fn run(self) {
        let _close = CloseCredit(self.credit.clone());
        let world = SimpleCommunicator::world();
        let mut in_flight: Vec<InFlight> = Vec::new();
        let mut assembler = Assembler::new(self.max_message_bytes);
        let mut phase = Phase::Running;
        let mut discarded = 0usize;
        let mut wake = Wake::start(
            world.rank() as usize,
            world.size() as usize,
            std::thread::current(),
        );
        let mut backoff = Backoff::nudged_by(wake.flag());
        loop {
            let mut active = false;
            while matches!(phase, Phase::Running) {
                match self.commands.try_recv() {
                    Ok(Command::Send {
                        dest,
                        tag,
                        payload,
                        bodies,
                    }) => {
                        in_flight.push(InFlight::start(
                            &world,
                            dest,
                            tag,
                            (payload, bodies),
                            self.piece_bytes,
                        ));
                        wake.nudge(dest);
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
                let mut pending = Vec::with_capacity(in_flight.len());
                for f in in_flight {
                    match f.poll() {
                        Ok((dest, bytes)) => {
                            self.credit.give_back(dest, bytes);
                            active = true;
                        }
                        Err(f) => pending.push(f),
                    }
                }
                in_flight = pending;
            }
            // A bounded number per round, so queued sends are never starved,
            // and none while the readers are behind (backpressure), unless a
            // thread of this rank waits for a send window or the readers
            // have stalled (see `flow`). After close nobody reads: what
            // arrives is drained and dropped, whatever the queue holds.
            for _ in 0..PROBES_PER_ROUND {
                let running = matches!(phase, Phase::Running);
                let over = running && !self.inbox.has_room();
                if over && !self.credit.someone_waits() && !self.inbox.stalled(self.stall) {
                    break;
                }
                let before = assembler.in_progress();
                let Some(got) = receive_one(&world, self.max_message_bytes, &mut assembler) else {
                    break;
                };
                let after = assembler.in_progress();
                if after > before {
                    self.inbox.add_partial(after - before);
                } else {
                    self.inbox.sub_partial(before - after);
                }
                active = true;
                if over {
                    flow::note_over_bound();
                }
                match got {
                    Some(delivered) if running => {
                        let _ = self.inbox.send(delivered);
                    }
                    Some(_) => discarded += 1,
                    None => {}
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
}

/// Receives one message or piece if one has arrived: `Some(None)` for a
/// piece that did not complete its message; else the envelope, or an error
/// for a message over `max_message_bytes` or with a foreign tag (received
/// anyway, as MPI needs it drained).
fn receive_one(
    world: &SimpleCommunicator,
    max_message_bytes: usize,
    assembler: &mut Assembler,
) -> Option<Option<Result<Envelope>>> {
    let (message, status) = world.any_process().immediate_matched_probe()?;
    let count = status.count(u8::equivalent_datatype()).max(0) as usize;
    let source = status.source_rank() as Rank;
    if status.tag() == i32::from(TAG_PIECE) {
        return Some(receive_piece(message, status, source, count, assembler));
    }
    let (payload, status) = (message, status).matched_receive_vec::<u8>();
    if status.tag() == i32::from(TAG_PIECES) {
        return Some(assembler.header(source, &payload));
    }
    Some(Some(if count > max_message_bytes {
        Err(Error::codec(format!(
            "rank {source} sent a message of {count} bytes, over the \
             {max_message_bytes}-byte limit (RANKFLOW_MAX_MESSAGE); it was dropped"
        )))
    } else {
        match Tag::try_from(status.tag()) {
            Ok(tag) => Ok(Envelope::new(source, tag, payload)),
            Err(_) => Err(Error::protocol(format!(
                "rank {source} sent a message with tag {}, outside rankflow's range",
                status.tag()
            ))),
        }
    }))
}

/// Receives a piece straight into its message's buffer (or drops it when
/// it has no place there).
fn receive_piece(
    message: Message,
    status: Status,
    source: Rank,
    count: usize,
    assembler: &mut Assembler,
) -> Option<Result<Envelope>> {
    match assembler.slot(source, count) {
        Some(slot) => {
            message.matched_receive_into(slot);
            assembler.filled(source, count)
        }
        None => {
            let _ = (message, status).matched_receive_vec::<u8>();
            assembler.discarded(source, count)
        }
    }
}
