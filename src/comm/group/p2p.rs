//! Point-to-point calls that cannot deadlock on their own (mpi4py's
//! `sendrecv`, `Sendrecv_replace`) and message probes.
//!
//! A blocking send of a large message waits for its receive, so a ring of
//! `send` then `recv` hangs under MPI (and is a deadlock error in-process).
//! `sendrecv` sends and receives at once: every member of such a ring
//! completes whatever the size.

use super::{Backend, Group, Probe, RawGroup, Status, MAX_COUNT, MAX_TAG};
use crate::comm::codec;
use crate::comm::plain::Plain;
use crate::comm::transport::Tag;
use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

impl Group {
    /// Checks a receive's source (if given) and tag (if given).
    pub(super) fn check_source(&self, source: Option<usize>, tag: Option<Tag>) -> Result<()> {
        if let Some(s) = source {
            self.check_peer(s, tag.unwrap_or(0))?;
        }
        if let Some(t) = tag.filter(|&t| t > MAX_TAG) {
            return Err(Error::invalid(format!(
                "tag {t} is over the largest, {MAX_TAG}"
            )));
        }
        Ok(())
    }

    /// Sends `send` to `dest` with `sendtag` and receives one message from
    /// `source` with `recvtag` at once (MPI_Sendrecv; `None` matches any), so
    /// that exchanges in a ring or between pairs never deadlock. Returns the
    /// received bytes.
    fn sendrecv_bytes<T: Plain>(
        &self,
        send: &[T],
        dest: usize,
        sendtag: Tag,
        source: Option<usize>,
        recvtag: Option<Tag>,
    ) -> Result<(Vec<u8>, Status)> {
        self.check_peer(dest, sendtag)?;
        self.check_source(source, recvtag)?;
        if std::mem::size_of_val(send) > MAX_COUNT {
            return Err(Error::invalid("sendrecv of over 2 GiB"));
        }
        raw!(self, g => g.sendrecv(send, dest, sendtag, source, recvtag))
    }

    /// Sends any serde value to `dest` and receives one from `source`
    /// (mpi4py's `sendrecv`); `None` matches any source or tag. Neither side
    /// waits for the other's receive first, so a ring of these completes.
    ///
    /// # Examples — see `examples/ring_sendrecv.rs`.
    pub fn sendrecv<S, R>(
        &self,
        value: &S,
        dest: usize,
        sendtag: Tag,
        source: Option<usize>,
        recvtag: Option<Tag>,
    ) -> Result<(R, Status)>
    where
        S: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let _op = self.op("sendrecv");
        self.check_peer(dest, sendtag)?;
        let bytes = codec::encode(value)?;
        let (got, status) = self.sendrecv_bytes(&bytes, dest, sendtag, source, recvtag)?;
        let value = super::decode_serde(got, status)?;
        Ok((value, status))
    }

    /// Sends a slice of plain numbers to `dest` and receives a message of any
    /// length from `source` into a new vector (MPI_Sendrecv).
    ///
    /// # Examples — see `examples/ring_sendrecv.rs`.
    pub fn sendrecv_slice<T: Plain>(
        &self,
        send: &[T],
        dest: usize,
        sendtag: Tag,
        source: Option<usize>,
        recvtag: Option<Tag>,
    ) -> Result<(Vec<T>, Status)> {
        let _op = self.op("sendrecv_slice");
        let (bytes, status) = self.sendrecv_bytes(send, dest, sendtag, source, recvtag)?;
        let data = super::decode_plain(bytes, status)?;
        Ok((data, status))
    }

    /// Sends `buf` to `dest` and replaces its contents with a message from
    /// `source` (MPI_Sendrecv_replace). The incoming message must have
    /// exactly `buf.len()` elements: otherwise it is received and dropped,
    /// `buf` keeps what it had, and this rank gets an error (the sender's
    /// call completes normally). The message is received into a separate
    /// buffer and copied, as MPI implementations do.
    pub fn sendrecv_replace<T: Plain>(
        &self,
        buf: &mut [T],
        dest: usize,
        sendtag: Tag,
        source: Option<usize>,
        recvtag: Option<Tag>,
    ) -> Result<Status> {
        let _op = self.op("sendrecv_replace");
        let (bytes, status) = self.sendrecv_bytes(buf, dest, sendtag, source, recvtag)?;
        if bytes.len() != std::mem::size_of_val(buf) {
            return Err(Error::invalid(format!(
                "sendrecv_replace: rank {} sent {} bytes (tag {}) into a buffer of {} elements ({} bytes)",
                status.source,
                bytes.len(),
                status.tag,
                buf.len(),
                std::mem::size_of_val(buf)
            )));
        }
        crate::comm::codec::copy_plain_from_bytes(&bytes, buf)?;
        Ok(status)
    }

    /// Waits until a message from `source` with `tag` (`None`: any) can be
    /// received and returns its envelope without receiving it (MPI_Probe).
    /// The next receive with the envelope's source and tag gets that message.
    pub fn probe(&self, source: Option<usize>, tag: Option<Tag>) -> Result<Probe> {
        let _op = self.op("probe");
        self.check_source(source, tag)?;
        raw!(self, g => g.probe(source, tag, true))?
            .ok_or_else(|| Error::transport("probe returned without a message"))
    }

    /// The envelope of a matching message if one can be received now
    /// (MPI_Iprobe); never waits.
    pub fn iprobe(&self, source: Option<usize>, tag: Option<Tag>) -> Result<Option<Probe>> {
        let _op = self.op("iprobe");
        self.check_source(source, tag)?;
        raw!(self, g => g.probe(source, tag, false))
    }
}
