//! Non-blocking point-to-point (mpi4py's `isend`/`irecv`, `Isend`/`Irecv`):
//! calls that return a request at once, completed later with `wait`, `test`
//! or [`wait_all`].
//!
//! * **Sends own their data.** [`Group::isend`] encodes the value and
//!   [`Group::isend_vec`] takes the vector, so no borrow outlives the call.
//!   Under MPI the request holds an `MPI_Isend` on that heap buffer.
//! * **Receives are matched when completed.** [`Group::irecv`] posts nothing:
//!   `test` and `wait` match the first message that fits (under MPI with
//!   `MPI_Improbe`/`MPI_Mprobe` and `MPI_Mrecv`, so messages of any length are
//!   received whole). So complete a set of requests with [`wait_all`], which
//!   tests each in turn, or wait for the receives first: waiting for a large
//!   send before starting the receive that its peer waits for is a deadlock,
//!   in-process (an error) as under MPI (a hang).
//! * **Dropping an unfinished request never blocks.** A dropped send is still
//!   delivered; under MPI its request is freed (`MPI_Request_free`) and its
//!   buffer leaked, since MPI may read it until the peer receives. A dropped
//!   receive matched nothing, so the message stays for a later receive.
//!
//! Requests borrow their group, so the group outlives them.

use super::{decode_plain, decode_serde};
use super::{Backend, Group, Status, MAX_COUNT};
use crate::comm::backoff::Backoff;
use crate::comm::codec::{self, plain_bytes};
use crate::comm::group::local::{LocalGroup, LocalWant, Rendezvous};
use crate::comm::plain::Plain;
use crate::comm::transport::Tag;
use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

mod sealed {
    use super::{LocalGroup, LocalWant};

    /// What a pending request waits for in-process, so that [`super::wait_all`]
    /// can sleep until one of them can move.
    pub struct Pending<'a> {
        pub(crate) group: &'a LocalGroup,
        pub(crate) call: String,
        pub(crate) want: LocalWant,
    }

    pub trait Waits {
        /// `None` when done, or when the backend cannot say (MPI).
        fn pending(&self) -> Option<Pending<'_>>;
    }
}

/// A non-blocking operation in progress: a [`SendRequest`] or a [`RecvRequest`].
pub trait Request: sealed::Waits {
    /// Completes the operation if it can without waiting; returns whether it
    /// is done. A receive that completes keeps its message for `wait`.
    fn test(&mut self) -> Result<bool>;
}

/// Waits until every request in `requests` has completed, testing each in
/// turn so that none waits for another (a ring of `isend` + `irecv` completes
/// in any order). In-process it sleeps until one of them can move, and a wait
/// nothing can end is a `Deadlock` error; under MPI, or for requests of
/// several in-process groups, it polls with the crate's backoff (see
/// [`crate::comm::backoff`]). Completed receives then return their message
/// from `wait` at once.
pub fn wait_all(requests: &mut [&mut dyn Request]) -> Result<()> {
    let mut backoff = Backoff::default();
    let mut left = usize::MAX;
    loop {
        let mut pending = Vec::new();
        let mut all_local = true;
        let mut open = 0;
        for r in requests.iter_mut() {
            if !r.test()? {
                open += 1;
                match r.pending() {
                    Some(p) => pending.push(p),
                    None => all_local = false,
                }
            }
        }
        if open == 0 {
            return Ok(());
        }
        if open < left {
            backoff.reset();
        }
        left = open;
        let group = pending.first().map(|p| p.group);
        match group {
            Some(g) if all_local && pending.iter().all(|p| p.group.same_group(g)) => {
                let calls: Vec<&str> = pending.iter().map(|p| p.call.as_str()).collect();
                let wants: Vec<LocalWant> = pending.iter().map(|p| p.want).collect();
                let call = match calls[..] {
                    [one] => format!("wait on {one}"),
                    _ => format!("wait_all on [{}]", calls.join(", ")),
                };
                g.wait_any(&call, &wants)?;
            }
            _ => backoff.idle(),
        }
    }
}

enum SendState {
    Done,
    Local(Rendezvous),
    #[cfg(feature = "mpi")]
    Mpi(super::mpi::RawSend),
}

/// A send started by [`Group::isend`] or [`Group::isend_vec`]. It owns the
/// data being sent. Dropping it unfinished does not wait: see the module docs.
#[must_use = "a send request completes with `wait`, `test` or `wait_all`"]
pub struct SendRequest<'g> {
    group: &'g Group,
    state: SendState,
}

impl SendRequest<'_> {
    /// Waits until the send is complete: at once for a small message, once
    /// the receiver has taken it for a large one (as MPI_Wait).
    pub fn wait(mut self) -> Result<()> {
        match std::mem::replace(&mut self.state, SendState::Done) {
            SendState::Done => Ok(()),
            SendState::Local(r) => match &self.group.backend {
                Backend::Local(g) => g.finish_send(&r),
                #[cfg(feature = "mpi")]
                Backend::Mpi(_) => Ok(()),
            },
            #[cfg(feature = "mpi")]
            SendState::Mpi(mut s) => {
                s.wait();
                Ok(())
            }
        }
    }
}

impl sealed::Waits for SendRequest<'_> {
    fn pending(&self) -> Option<sealed::Pending<'_>> {
        match (&self.state, &self.group.backend) {
            (SendState::Local(r), Backend::Local(g)) => {
                let (call, want) = LocalGroup::send_want(r);
                Some(sealed::Pending {
                    group: g,
                    call,
                    want,
                })
            }
            _ => None,
        }
    }
}

impl Request for SendRequest<'_> {
    fn test(&mut self) -> Result<bool> {
        let done = match (&mut self.state, &self.group.backend) {
            (SendState::Done, _) => true,
            (SendState::Local(r), Backend::Local(g)) => g.send_done(r),
            #[cfg(feature = "mpi")]
            (SendState::Mpi(s), _) => s.test(),
            #[cfg(feature = "mpi")]
            (SendState::Local(_), Backend::Mpi(_)) => true,
        };
        if done {
            self.state = SendState::Done;
        }
        Ok(done)
    }
}

/// A receive started by [`Group::irecv`] or [`Group::irecv_vec`]; `wait`
/// gives the value and its status.
#[must_use = "a receive request completes with `wait`, `test` or `wait_all`"]
pub struct RecvRequest<'g, T> {
    group: &'g Group,
    source: Option<usize>,
    tag: Option<Tag>,
    got: Option<(Vec<u8>, Status)>,
    decode: fn(Vec<u8>, Status) -> Result<T>,
}

impl<T> RecvRequest<'_, T> {
    /// Waits for the message (at once if `test` or `wait_all` completed the
    /// request) and decodes it.
    pub fn wait(mut self) -> Result<(T, Status)> {
        let (bytes, status) = match self.got.take() {
            Some(got) => got,
            None => {
                let _op = self.group.op("irecv");
                match &self.group.backend {
                    Backend::Local(g) => g.recv_bytes(self.source, self.tag)?,
                    #[cfg(feature = "mpi")]
                    Backend::Mpi(g) => g.recv_bytes(self.source, self.tag),
                }
            }
        };
        Ok(((self.decode)(bytes, status)?, status))
    }
}

impl<T> sealed::Waits for RecvRequest<'_, T> {
    fn pending(&self) -> Option<sealed::Pending<'_>> {
        match (&self.got, &self.group.backend) {
            (None, Backend::Local(g)) => {
                let (call, want) = g.recv_want(self.source, self.tag);
                Some(sealed::Pending {
                    group: g,
                    call,
                    want,
                })
            }
            _ => None,
        }
    }
}

impl<T> Request for RecvRequest<'_, T> {
    fn test(&mut self) -> Result<bool> {
        if self.got.is_none() {
            self.got = match &self.group.backend {
                Backend::Local(g) => g.try_recv(self.source, self.tag),
                #[cfg(feature = "mpi")]
                Backend::Mpi(g) => g.try_recv_bytes(self.source, self.tag),
            };
        }
        Ok(self.got.is_some())
    }
}

impl Group {
    /// Starts sending any serde value to `dest` (mpi4py's `isend`); the value
    /// is encoded now, so the caller keeps it.
    ///
    /// # Examples — see `tests/checks/collectives.rs` (`nonblocking_ring`).
    pub fn isend<T: Serialize + ?Sized>(
        &self,
        value: &T,
        dest: usize,
        tag: Tag,
    ) -> Result<SendRequest<'_>> {
        let _op = self.op("isend");
        self.check_peer(dest, tag)?;
        self.start_isend(codec::encode(value)?, dest, tag)
    }

    /// Starts sending a vector of plain numbers to `dest` (mpi4py's
    /// `Isend`); the request owns the vector until the send completes.
    pub fn isend_vec<T: Plain>(
        &self,
        data: Vec<T>,
        dest: usize,
        tag: Tag,
    ) -> Result<SendRequest<'_>> {
        let _op = self.op("isend_vec");
        self.check_peer(dest, tag)?;
        self.start_isend(data, dest, tag)
    }

    fn start_isend<T: Plain>(
        &self,
        data: Vec<T>,
        dest: usize,
        tag: Tag,
    ) -> Result<SendRequest<'_>> {
        if std::mem::size_of_val(&data[..]) > MAX_COUNT {
            return Err(Error::invalid("isend of over 2 GiB"));
        }
        let state = match &self.backend {
            Backend::Local(g) => g
                .start_send("isend", plain_bytes(&data).to_vec(), dest, tag)
                .map_or(SendState::Done, SendState::Local),
            #[cfg(feature = "mpi")]
            Backend::Mpi(g) => {
                SendState::Mpi(super::mpi::RawSend::start(g, Box::new(data), dest, tag))
            }
        };
        Ok(SendRequest { group: self, state })
    }

    /// Starts receiving a serde value from `source` with `tag` (`None`: any)
    /// (mpi4py's `irecv`). The message is matched when the request is tested
    /// or waited for: see the module docs.
    pub fn irecv<T: DeserializeOwned>(
        &self,
        source: Option<usize>,
        tag: Option<Tag>,
    ) -> Result<RecvRequest<'_, T>> {
        self.check_source(source, tag)?;
        Ok(RecvRequest {
            group: self,
            source,
            tag,
            got: None,
            decode: decode_serde::<T>,
        })
    }

    /// Starts receiving a message of plain numbers of any length (mpi4py's
    /// `Irecv`), matched when tested or waited for.
    pub fn irecv_vec<T: Plain>(
        &self,
        source: Option<usize>,
        tag: Option<Tag>,
    ) -> Result<RecvRequest<'_, Vec<T>>> {
        self.check_source(source, tag)?;
        Ok(RecvRequest {
            group: self,
            source,
            tag,
            got: None,
            decode: decode_plain::<T>,
        })
    }
}
