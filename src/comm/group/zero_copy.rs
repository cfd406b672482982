//! The zero-copy flavour (mpi4py's uppercase `Bcast`, `Scatterv`, ...): slices
//! of [`Plain`] numbers handed to MPI as their own memory. Names say what
//! happens to the buffer: `bcast_into` fills it, `gather_into` fills the root's,
//! `_vec` variants allocate the result.

use super::{checked_total, Backend, Group, RawGroup, Refusal, BCAST_CHUNK, MAX_COUNT};
use crate::comm::group::Status;
use crate::comm::plain::{Op, Plain};
use crate::comm::transport::Tag;
use crate::error::{Error, Result};

impl Group {
    /// Fills every member's `buf` with the root's. A member whose `buf` has a
    /// different length than the root's still takes part, then gets an error.
    ///
    /// # Examples — see `examples/bcast_array.rs`.
    pub fn bcast_into<T: Plain>(&self, buf: &mut [T], root: usize) -> Result<()> {
        let _op = self.op("bcast_into");
        self.check_root(root)?;
        let len = self.bcast_header(buf.len() as u64, root)?;
        let len = super::header::count(len, "bcast_into", root)?;
        if len == buf.len() {
            self.bcast_chunked(buf, root)
        } else {
            let mut scratch = vec![T::zeroed(); len];
            self.bcast_chunked(&mut scratch, root)?;
            Err(Error::invalid(format!(
                "bcast_into: root {root} sent {len} elements into a buffer of {}",
                buf.len()
            )))
        }
    }

    /// The root's side of [`bcast_into`](Self::bcast_into), reading `buf`
    /// only, so the root need not own it mutably: the other members call
    /// `bcast_into` with this member's rank as root.
    pub(crate) fn bcast_from<T: Plain>(&self, buf: &[T]) -> Result<()> {
        let _op = self.op("bcast_into");
        let root = self.rank();
        self.bcast_header(buf.len() as u64, root)?;
        for chunk in buf.chunks(BCAST_CHUNK) {
            raw!(self, g => g.bcast_send(chunk))?;
        }
        Ok(())
    }

    pub(super) fn bcast_chunked<T: Plain>(&self, buf: &mut [T], root: usize) -> Result<()> {
        for chunk in buf.chunks_mut(BCAST_CHUNK) {
            raw!(self, g => g.bcast(chunk, root))?;
        }
        Ok(())
    }

    /// Sends the root's `send` in equal consecutive parts, part `i` into member
    /// `i`'s `recv`. `send` must hold `size × recv.len()` elements.
    pub fn scatter_into<T: Plain>(
        &self,
        send: Option<&[T]>,
        recv: &mut [T],
        root: usize,
    ) -> Result<()> {
        let _op = self.op("scatter_into");
        self.check_root(root)?;
        let counts = if self.rank() == root {
            send.map(|s| vec![s.len() / self.size(); self.size()])
        } else {
            None
        };
        let refusal = match (self.rank() == root, send) {
            (true, None) => Some(Refusal::Missing),
            (true, Some(s)) if s.len() % self.size() != 0 => Some(Refusal::WrongCount),
            _ => None,
        };
        self.scatterv_checked(send, counts.as_deref(), refusal, recv, root)
    }

    /// Sends `counts[i]` consecutive elements of the root's `data` into member
    /// `i`'s `recv` (MPI_Scatterv). Uneven parts are fine.
    pub fn scatterv_into<T: Plain>(
        &self,
        send: Option<(&[T], &[usize])>,
        recv: &mut [T],
        root: usize,
    ) -> Result<()> {
        let _op = self.op("scatterv_into");
        self.check_root(root)?;
        let refusal = self.scatterv_refusal(send, root);
        self.scatterv_checked(send.map(|s| s.0), send.map(|s| s.1), refusal, recv, root)
    }

    /// Like [`scatterv_into`](Self::scatterv_into), into a new vector of the right length.
    pub fn scatterv_vec<T: Plain>(
        &self,
        send: Option<(&[T], &[usize])>,
        root: usize,
    ) -> Result<Vec<T>> {
        let _op = self.op("scatterv_vec");
        self.check_root(root)?;
        let refusal = self.scatterv_refusal(send, root);
        let (data, counts) = (send.map(|s| s.0), send.map(|s| s.1));
        let mine = self.send_scatter_headers(data, counts, refusal, root)?;
        let mut out = vec![T::zeroed(); mine];
        raw!(self, g => g.scatterv(data.zip(counts).filter(|_| self.rank() == root), &mut out, root))?;
        Ok(out)
    }

    /// A non-root's part of a byte scatterv, received straight after the
    /// bytes `prefix` makes from this member's count, in one buffer.
    pub(crate) fn scatterv_bytes_after(
        &self,
        root: usize,
        prefix: impl FnOnce(usize) -> Result<Vec<u8>>,
    ) -> Result<Vec<u8>> {
        self.check_root(root)?;
        let mine = self.send_scatter_headers::<u8>(None, None, None, root)?;
        let head = prefix(mine)?;
        // `vec!` of zeros gets pages the OS zeroes lazily, so the bytes MPI
        // writes are not written twice.
        let mut buf = vec![0u8; head.len() + mine];
        buf[..head.len()].copy_from_slice(&head);
        raw!(self, g => g.scatterv(None, &mut buf[head.len()..], root))?;
        Ok(buf)
    }

    /// Why the root refuses a scatterv of `send`, if it does.
    fn scatterv_refusal<T>(&self, send: Option<(&[T], &[usize])>, root: usize) -> Option<Refusal> {
        match (self.rank() == root, send) {
            (true, None) => Some(Refusal::Missing),
            (true, Some((data, counts)))
                if counts.len() != self.size() || checked_total(counts) != Some(data.len()) =>
            {
                Some(Refusal::BadCounts)
            }
            _ => None,
        }
    }

    /// Root: checks and scatters the counts (or a refusal); everyone: returns
    /// their own count or the refusal as an error.
    pub(super) fn send_scatter_headers<T: Plain>(
        &self,
        data: Option<&[T]>,
        counts: Option<&[usize]>,
        mut refusal: Option<Refusal>,
        root: usize,
    ) -> Result<usize> {
        let headers = if self.rank() == root {
            if refusal.is_none() {
                let total = data.map_or(0, |d| d.len());
                if total > MAX_COUNT {
                    refusal = Some(Refusal::TooLarge);
                }
            }
            Some(match (refusal, counts) {
                (None, Some(c)) => c.iter().map(|&n| n as u64).collect::<Vec<_>>(),
                (r, _) => vec![r.unwrap_or(Refusal::Missing).code(); self.size()],
            })
        } else {
            None
        };
        let mine = self.scatter_headers(headers.as_deref(), root)?;
        super::header::count(mine, "scatter", root)
    }

    pub(super) fn scatterv_checked<T: Plain>(
        &self,
        data: Option<&[T]>,
        counts: Option<&[usize]>,
        refusal: Option<Refusal>,
        recv: &mut [T],
        root: usize,
    ) -> Result<()> {
        let mine = self.send_scatter_headers(data, counts, refusal, root)?;
        let send = data.zip(counts).filter(|_| self.rank() == root);
        if mine == recv.len() {
            raw!(self, g => g.scatterv(send, recv, root))
        } else {
            let mut scratch = vec![T::zeroed(); mine];
            raw!(self, g => g.scatterv(send, &mut scratch, root))?;
            Err(Error::invalid(format!(
                "scatter: root {root} sent {mine} elements into a buffer of {}",
                recv.len()
            )))
        }
    }

    /// Gathers every member's `send` into the root's `recv`, in rank order
    /// (MPI_Gatherv). Members may send different lengths; the root's `recv`
    /// must hold their sum. Returns the counts on every member.
    pub fn gather_into<T: Plain>(
        &self,
        send: &[T],
        recv: Option<&mut [T]>,
        root: usize,
    ) -> Result<Vec<usize>> {
        let _op = self.op("gather_into");
        self.check_root(root)?;
        let (counts, total) = self.counts_and_total(send.len(), "gather")?;
        if self.rank() != root {
            raw!(self, g => g.gatherv(send, None, root))?;
            return Ok(counts);
        }
        match recv {
            Some(buf) if buf.len() == total => {
                raw!(self, g => g.gatherv(send, Some((buf, &counts)), root))?;
                Ok(counts)
            }
            other => {
                let mut scratch = vec![T::zeroed(); total];
                raw!(self, g => g.gatherv(send, Some((&mut scratch, &counts)), root))?;
                Err(Error::invalid(format!(
                    "gather_into: {total} elements arrived at root {root} for a buffer of {}",
                    other.map_or(0, |b| b.len())
                )))
            }
        }
    }

    /// Gathers every member's `send` at the root into a new vector, with each
    /// member's count. Non-roots get `None`.
    pub fn gatherv_vec<T: Plain>(
        &self,
        send: &[T],
        root: usize,
    ) -> Result<Option<(Vec<T>, Vec<usize>)>> {
        let _op = self.op("gatherv_vec");
        self.check_root(root)?;
        let (counts, total) = self.counts_and_total(send.len(), "gather")?;
        if self.rank() == root {
            let mut out = vec![T::zeroed(); total];
            raw!(self, g => g.gatherv(send, Some((&mut out, &counts)), root))?;
            Ok(Some((out, counts)))
        } else {
            raw!(self, g => g.gatherv(send, None, root))?;
            Ok(None)
        }
    }

    /// Every member's `send`, concatenated in rank order, into every member's
    /// `recv` (MPI_Allgatherv). Returns the counts.
    pub fn allgather_into<T: Plain>(&self, send: &[T], recv: &mut [T]) -> Result<Vec<usize>> {
        let _op = self.op("allgather_into");
        let (counts, total) = self.counts_and_total(send.len(), "allgather")?;
        if recv.len() == total {
            raw!(self, g => g.allgatherv(send, recv, &counts))?;
            Ok(counts)
        } else {
            let mut scratch = vec![T::zeroed(); total];
            raw!(self, g => g.allgatherv(send, &mut scratch, &counts))?;
            Err(Error::invalid(format!(
                "allgather_into: {total} elements arrived for a buffer of {}",
                recv.len()
            )))
        }
    }

    /// Every member's `send`, concatenated in rank order, as a new vector.
    pub fn allgather_vec<T: Plain>(&self, send: &[T]) -> Result<(Vec<T>, Vec<usize>)> {
        let _op = self.op("allgather_vec");
        let (counts, total) = self.counts_and_total(send.len(), "allgather")?;
        let mut out = vec![T::zeroed(); total];
        raw!(self, g => g.allgatherv(send, &mut out, &counts))?;
        Ok((out, counts))
    }

    /// Every member's count `n` (a small allgather) and their sum, which must
    /// fit one MPI call; every member reaches the same verdict.
    fn counts_and_total(&self, n: usize, what: &str) -> Result<(Vec<usize>, usize)> {
        let counts = self.all_counts(n)?;
        let total = counts.iter().fold(0usize, |a, &c| a.saturating_add(c));
        if total > MAX_COUNT {
            return Err(Error::invalid(format!(
                "{what} of {total} elements is over MPI's 2^31-element limit for one call"
            )));
        }
        Ok((counts, total))
    }

    /// Checks that every member passes the same length; the same verdict on all.
    pub(super) fn agree_on_length(&self, len: usize, what: &str) -> Result<()> {
        let counts = self.all_counts(len)?;
        if counts.iter().any(|&c| c != counts[0]) {
            return Err(Error::invalid(format!(
                "{what}: members passed different lengths {counts:?}"
            )));
        }
        if len > MAX_COUNT {
            return Err(Error::invalid(format!(
                "{what} of {len} elements is over MPI's 2^31-element limit for one call"
            )));
        }
        Ok(())
    }

    /// Combines every member's `send` element by element with `op` into the
    /// root's `recv` (MPI_Reduce). All `send`s must have one length. A
    /// bitwise `op` on floats is an error before anything is sent.
    pub fn reduce_into<T: Plain>(
        &self,
        send: &[T],
        recv: Option<&mut [T]>,
        op: Op,
        root: usize,
    ) -> Result<()> {
        let _op = self.op("reduce_into");
        op.check_for::<T>("reduce_into")?;
        self.check_root(root)?;
        self.agree_on_length(send.len(), "reduce")?;
        if self.rank() != root {
            return raw!(self, g => g.reduce(send, None, op, root));
        }
        match recv {
            Some(buf) if buf.len() == send.len() => {
                raw!(self, g => g.reduce(send, Some(&mut *buf), op, root))?;
                op.normalize(buf);
                Ok(())
            }
            other => {
                let mut scratch = vec![T::zeroed(); send.len()];
                raw!(self, g => g.reduce(send, Some(&mut scratch), op, root))?;
                Err(Error::invalid(format!(
                    "reduce_into: result of {} elements for a buffer of {}",
                    send.len(),
                    other.map_or(0, |b| b.len())
                )))
            }
        }
    }

    /// Combines every member's `send` element by element with `op` into every
    /// member's `recv` (MPI_Allreduce).
    pub fn allreduce_into<T: Plain>(&self, send: &[T], recv: &mut [T], op: Op) -> Result<()> {
        let _op = self.op("allreduce_into");
        op.check_for::<T>("allreduce_into")?;
        self.agree_on_length(send.len(), "allreduce")?;
        if recv.len() == send.len() {
            raw!(self, g => g.allreduce(send, recv, op))?;
            op.normalize(recv);
            Ok(())
        } else {
            let mut scratch = vec![T::zeroed(); send.len()];
            raw!(self, g => g.allreduce(send, &mut scratch, op))?;
            Err(Error::invalid(format!(
                "allreduce_into: result of {} elements for a buffer of {}",
                send.len(),
                recv.len()
            )))
        }
    }

    /// Sends a slice of plain numbers to `dest` (MPI_Send semantics: may wait
    /// for the matching receive when the message is large).
    pub fn send_slice<T: Plain>(&self, data: &[T], dest: usize, tag: Tag) -> Result<()> {
        let _op = self.op("send_slice");
        self.check_peer(dest, tag)?;
        if data.len() > MAX_COUNT {
            return Err(Error::invalid("send of over 2^31 elements"));
        }
        raw!(self, g => g.send(data, dest, tag))
    }

    /// Receives a message of exactly `buf.len()` elements into `buf`. `None`
    /// matches any source or tag. A message of another length is received,
    /// dropped and reported as an error.
    pub fn recv_into<T: Plain>(
        &self,
        buf: &mut [T],
        source: Option<usize>,
        tag: Option<Tag>,
    ) -> Result<Status> {
        let _op = self.op("recv_into");
        if let Some(s) = source {
            self.check_peer(s, tag.unwrap_or(0))?;
        }
        raw!(self, g => g.recv_into(buf, source, tag))
    }

    /// Receives a message of plain numbers of any length.
    pub fn recv_vec<T: Plain>(
        &self,
        source: Option<usize>,
        tag: Option<Tag>,
    ) -> Result<(Vec<T>, Status)> {
        let _op = self.op("recv_vec");
        if let Some(s) = source {
            self.check_peer(s, tag.unwrap_or(0))?;
        }
        raw!(self, g => g.recv_vec(source, tag))
    }
}
