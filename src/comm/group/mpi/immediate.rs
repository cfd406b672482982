//! What the requests of `requests.rs` need from MPI: sends on an owned
//! buffer (`MPI_Isend` from a heap buffer the request keeps, so no borrow of
//! the caller's data outlives the call that started it; rsmpi's scoped
//! requests tie the buffer to a borrow instead, which a request returned to
//! the caller cannot hold), and receives matched when a request is completed.

use super::MpiGroup;
use crate::comm::codec::plain_bytes;
use crate::comm::group::Status;
use crate::comm::plain::Plain;
use crate::comm::transport::Tag;
use mpi::ffi;
use mpi::point_to_point::{MatchedReceiveVec, Source};
use mpi::raw::AsRaw;
use mpi::topology::Communicator;
use mpi::traits::Equivalence;
use std::os::raw::c_void;

/// A buffer whose bytes stay at one address while it lives.
pub(crate) trait OwnedBytes {
    fn bytes(&self) -> &[u8];
}

impl<T: Plain> OwnedBytes for Vec<T> {
    fn bytes(&self) -> &[u8] {
        plain_bytes(self)
    }
}

/// One byte that gives an empty send a real address: Open MPI reads the
/// dangling address of an empty slice (1) as `MPI_IN_PLACE`.
static SPARE: u8 = 0;

/// An `MPI_Isend` in flight, with the buffer it reads.
pub(crate) struct RawSend {
    request: ffi::MPI_Request,
    buf: Option<Box<dyn OwnedBytes>>,
}

impl RawSend {
    /// Starts sending `buf`'s bytes to `dest` with `tag`.
    pub fn start(group: &MpiGroup, buf: Box<dyn OwnedBytes>, dest: usize, tag: Tag) -> Self {
        let bytes = buf.bytes();
        let ptr: *const u8 = if bytes.is_empty() {
            &SPARE
        } else {
            bytes.as_ptr()
        };
        // At most 2^31 - 1 bytes: checked by the caller.
        let count = bytes.len() as i32;
        let mut request = std::mem::MaybeUninit::<ffi::MPI_Request>::uninit();
        // SAFETY: `ptr` points at `count` readable bytes owned by the boxed
        // buffer (or at `SPARE` for zero bytes). The box moves into the
        // returned `RawSend`, which never hands it out and keeps it alive
        // until MPI reports the send complete, or leaks it if the request is
        // dropped unfinished; the heap allocation does not move when the box
        // does. The datatype, rank and communicator are live MPI handles.
        unsafe {
            ffi::MPI_Isend(
                ptr as *const c_void,
                count,
                u8::equivalent_datatype().as_raw(),
                dest as i32,
                i32::from(tag),
                group.comm.as_raw(),
                request.as_mut_ptr(),
            );
        }
        RawSend {
            // SAFETY: MPI_Isend wrote the request handle (MPI aborts the job
            // on failure under the default error handler).
            request: unsafe { request.assume_init() },
            buf: Some(buf),
        }
    }

    /// Whether the send has completed (MPI_Test); frees the buffer if so.
    pub fn test(&mut self) -> bool {
        if self.buf.is_none() {
            return true;
        }
        let mut flag = 0;
        // SAFETY: `self.request` is an active request from MPI_Isend (the
        // buffer is still held, so it has not completed); MPI_Test sets it to
        // MPI_REQUEST_NULL on completion, and we drop the buffer only then.
        unsafe {
            ffi::MPI_Test(&mut self.request, &mut flag, ffi::RSMPI_STATUS_IGNORE);
        }
        if flag != 0 {
            self.buf = None;
        }
        flag != 0
    }

    /// Waits until the send has completed (MPI_Wait).
    pub fn wait(&mut self) {
        if self.buf.is_none() {
            return;
        }
        // SAFETY: as in `test`; MPI_Wait returns once the send is complete,
        // after which the buffer may be freed.
        unsafe {
            ffi::MPI_Wait(&mut self.request, ffi::RSMPI_STATUS_IGNORE);
        }
        self.buf = None;
    }
}

impl Drop for RawSend {
    /// A send dropped unfinished is not waited for (that could hang the
    /// process if nobody ever receives it): the request is freed with
    /// MPI_Request_free, MPI still delivers the message, and the buffer is
    /// leaked because MPI may read it until then.
    fn drop(&mut self) {
        if self.test() {
            return;
        }
        // SAFETY: the request is active (not completed: `test` said so).
        // MPI_Request_free lets the send finish on its own; the buffer it
        // reads is leaked below, so it stays valid for as long as MPI needs.
        unsafe {
            ffi::MPI_Request_free(&mut self.request);
        }
        if let Some(buf) = self.buf.take() {
            log::warn!(
                "an unfinished isend of {} bytes was dropped: its buffer is leaked until exit",
                buf.bytes().len()
            );
            std::mem::forget(buf);
        }
    }
}

impl MpiGroup {
    /// Waits for and receives the first matching message, as bytes.
    pub(crate) fn recv_bytes(&self, source: Option<usize>, tag: Option<Tag>) -> (Vec<u8>, Status) {
        let (bytes, status) = self.matched_probe(source, tag).matched_receive_vec::<u8>();
        (
            bytes,
            Status {
                source: status.source_rank() as usize,
                tag: status.tag() as Tag,
            },
        )
    }

    /// Receives the first matching message if one has arrived (MPI_Improbe,
    /// then MPI_Mrecv: nobody else can take it in between).
    pub(crate) fn try_recv_bytes(
        &self,
        source: Option<usize>,
        tag: Option<Tag>,
    ) -> Option<(Vec<u8>, Status)> {
        let found = match (source, tag) {
            (Some(s), Some(t)) => self
                .comm
                .process_at_rank(s as i32)
                .immediate_matched_probe_with_tag(i32::from(t)),
            (Some(s), None) => self
                .comm
                .process_at_rank(s as i32)
                .immediate_matched_probe(),
            (None, Some(t)) => self
                .comm
                .any_process()
                .immediate_matched_probe_with_tag(i32::from(t)),
            (None, None) => self.comm.any_process().immediate_matched_probe(),
        };
        let (bytes, status) = found?.matched_receive_vec::<u8>();
        Some((
            bytes,
            Status {
                source: status.source_rank() as usize,
                tag: status.tag() as Tag,
            },
        ))
    }
}
