//! The MPI backend of [`Group`](super::Group): every operation is the
//! matching MPI call on the group's communicator, handed the caller's own
//! memory. Arguments arrive already checked by `group.rs` (counts agreed by
//! every member, element totals within MPI's 32-bit counts).
//!
//! MPI defines the logical operations for integers only: on floats they run
//! on bytes holding 0 or 1 and the result is converted back (`ops.rs`).

mod immediate;
mod ops;

pub(crate) use immediate::RawSend;
use ops::{from_truth, lowered, mpi_op, truth_bytes};

use super::{Probe, RawGroup, Status};
use crate::comm::plain::{Op, Plain};
use crate::comm::transport::Tag;
use crate::error::{Error, Result};
use mpi::datatype::{Partition, PartitionMut};
use mpi::point_to_point::{Destination, MatchedReceiveVec, Message, Source};
use mpi::raw::AsRaw;
use mpi::topology::{Color, Communicator, SimpleCommunicator};
use mpi::traits::{CommunicatorCollectives, Equivalence, Root};

/// A group backed by an MPI communicator.
pub struct MpiGroup {
    comm: SimpleCommunicator,
}

impl MpiGroup {
    /// The communicator underneath.
    pub fn communicator(&self) -> &SimpleCommunicator {
        &self.comm
    }

    /// The world communicator of an initialised MPI.
    pub fn world() -> Self {
        MpiGroup {
            comm: SimpleCommunicator::world(),
        }
    }

    /// Ends the whole MPI job, saying why.
    pub fn abort(&self, why: &str) -> ! {
        eprintln!(
            "[rank {}] error: {why}; aborting the MPI job",
            SimpleCommunicator::world().rank()
        );
        self.comm.abort(1)
    }

    fn matched_probe(
        &self,
        source: Option<usize>,
        tag: Option<Tag>,
    ) -> (Message, mpi::point_to_point::Status) {
        match (source, tag) {
            (Some(s), Some(t)) => self
                .comm
                .process_at_rank(s as i32)
                .matched_probe_with_tag(i32::from(t)),
            (Some(s), None) => self.comm.process_at_rank(s as i32).matched_probe(),
            (None, Some(t)) => self.comm.any_process().matched_probe_with_tag(i32::from(t)),
            (None, None) => self.comm.any_process().matched_probe(),
        }
    }
}

/// Open MPI takes the address 1 for `MPI_IN_PLACE`, and an empty slice of
/// bytes has exactly that dangling address; so an empty slice goes to MPI as
/// an empty view of a real local instead.
fn real<'a, T>(s: &'a [T], spare: &'a [T; 1]) -> &'a [T] {
    if s.is_empty() {
        &spare[..0]
    } else {
        s
    }
}

/// [`real`] for a buffer MPI writes.
fn real_mut<'a, T>(s: &'a mut [T], spare: &'a mut [T; 1]) -> &'a mut [T] {
    if s.is_empty() {
        &mut spare[..0]
    } else {
        s
    }
}

fn counts_and_displs(counts: &[usize]) -> (Vec<i32>, Vec<i32>) {
    let mut displs = Vec::with_capacity(counts.len());
    let mut at = 0i32;
    for &c in counts {
        displs.push(at);
        at += c as i32;
    }
    (counts.iter().map(|&c| c as i32).collect(), displs)
}

impl RawGroup for MpiGroup {
    fn rank(&self) -> usize {
        self.comm.rank() as usize
    }

    fn size(&self) -> usize {
        self.comm.size() as usize
    }

    fn barrier(&self) -> Result<()> {
        self.comm.barrier();
        Ok(())
    }

    fn bcast<T: Plain>(&self, buf: &mut [T], root: usize) -> Result<()> {
        let mut spare = [T::zeroed()];
        let buf = real_mut(buf, &mut spare);
        self.comm.process_at_rank(root as i32).broadcast_into(buf);
        Ok(())
    }

    fn bcast_send<T: Plain>(&self, buf: &[T]) -> Result<()> {
        let spare = [T::zeroed()];
        let buf = real(buf, &spare);
        // Every caller passes at most MAX_COUNT elements (chunked above).
        let count = buf.len() as i32;
        // SAFETY: `buf` is a live slice of `count` elements of `T`, whose MPI
        // datatype is `T::equivalent_datatype()`. At the root MPI_Bcast only
        // reads its buffer (MPI 4.0, 6.4: "buffer" is input at the root), so
        // casting away const never leads to a write. `real` gives an empty
        // slice a real address (Open MPI reads 1 as MPI_IN_PLACE). The
        // communicator is live and this member is the root.
        unsafe {
            mpi::ffi::MPI_Bcast(
                buf.as_ptr() as *mut std::os::raw::c_void,
                count,
                T::equivalent_datatype().as_raw(),
                self.comm.rank(),
                self.comm.as_raw(),
            );
        }
        Ok(())
    }

    fn gatherv<T: Plain>(
        &self,
        send: &[T],
        recv: Option<(&mut [T], &[usize])>,
        root: usize,
    ) -> Result<()> {
        let (spare_send, mut spare_recv) = ([T::zeroed()], [T::zeroed()]);
        let send = real(send, &spare_send);
        let root_process = self.comm.process_at_rank(root as i32);
        match recv {
            Some((buf, counts)) => {
                let buf = real_mut(buf, &mut spare_recv);
                let (c, d) = counts_and_displs(counts);
                let mut part = PartitionMut::new(buf, c, d);
                root_process.gather_varcount_into_root(send, &mut part);
            }
            None => root_process.gather_varcount_into(send),
        }
        Ok(())
    }

    fn scatterv<T: Plain>(
        &self,
        send: Option<(&[T], &[usize])>,
        recv: &mut [T],
        root: usize,
    ) -> Result<()> {
        let (spare_send, mut spare_recv) = ([T::zeroed()], [T::zeroed()]);
        let recv = real_mut(recv, &mut spare_recv);
        let root_process = self.comm.process_at_rank(root as i32);
        match send {
            Some((buf, counts)) => {
                let buf = real(buf, &spare_send);
                let (c, d) = counts_and_displs(counts);
                let part = Partition::new(buf, c, d);
                root_process.scatter_varcount_into_root(&part, recv);
            }
            None => root_process.scatter_varcount_into(recv),
        }
        Ok(())
    }

    fn allgatherv<T: Plain>(&self, send: &[T], recv: &mut [T], counts: &[usize]) -> Result<()> {
        let (spare_send, mut spare_recv) = ([T::zeroed()], [T::zeroed()]);
        let (send, recv) = (real(send, &spare_send), real_mut(recv, &mut spare_recv));
        let (c, d) = counts_and_displs(counts);
        let mut part = PartitionMut::new(recv, c, d);
        self.comm.all_gather_varcount_into(send, &mut part);
        Ok(())
    }

    fn reduce<T: Plain>(
        &self,
        send: &[T],
        recv: Option<&mut [T]>,
        op: Op,
        root: usize,
    ) -> Result<()> {
        if lowered::<T>(op) {
            let mut out = recv.as_ref().map(|r| vec![0u8; r.len()]);
            self.reduce(&truth_bytes(send), out.as_deref_mut(), op, root)?;
            if let (Some(r), Some(o)) = (recv, out) {
                from_truth(&o, r);
            }
            return Ok(());
        }
        let (spare_send, mut spare_recv) = ([T::zeroed()], [T::zeroed()]);
        let send = real(send, &spare_send);
        let root_process = self.comm.process_at_rank(root as i32);
        match recv {
            Some(buf) => {
                let buf = real_mut(buf, &mut spare_recv);
                root_process.reduce_into_root(send, buf, mpi_op(op))
            }
            None => root_process.reduce_into(send, mpi_op(op)),
        }
        Ok(())
    }

    fn allreduce<T: Plain>(&self, send: &[T], recv: &mut [T], op: Op) -> Result<()> {
        if lowered::<T>(op) {
            let mut out = vec![0u8; recv.len()];
            self.allreduce(&truth_bytes(send), &mut out, op)?;
            from_truth(&out, recv);
            return Ok(());
        }
        let (spare_send, mut spare_recv) = ([T::zeroed()], [T::zeroed()]);
        let (send, recv) = (real(send, &spare_send), real_mut(recv, &mut spare_recv));
        self.comm.all_reduce_into(send, recv, mpi_op(op));
        Ok(())
    }

    fn send<T: Plain>(&self, data: &[T], dest: usize, tag: Tag) -> Result<()> {
        let spare = [T::zeroed()];
        let data = real(data, &spare);
        self.comm
            .process_at_rank(dest as i32)
            .send_with_tag(data, i32::from(tag));
        Ok(())
    }

    fn recv_vec<T: Plain>(
        &self,
        source: Option<usize>,
        tag: Option<Tag>,
    ) -> Result<(Vec<T>, Status)> {
        // Received as bytes, so a message whose length is not a whole number
        // of `T` is an error here rather than an abort inside rsmpi.
        let (bytes, status) = self.matched_probe(source, tag).matched_receive_vec::<u8>();
        let status = Status {
            source: status.source_rank() as usize,
            tag: status.tag() as Tag,
        };
        let data = super::decode_plain(bytes, status)?;
        Ok((data, status))
    }

    fn recv_into<T: Plain>(
        &self,
        buf: &mut [T],
        source: Option<usize>,
        tag: Option<Tag>,
    ) -> Result<Status> {
        let (message, status) = self.matched_probe(source, tag);
        let bytes = status.count(u8::equivalent_datatype()).max(0) as usize;
        let from = status.source_rank() as usize;
        let tag_got = status.tag() as Tag;
        if bytes != std::mem::size_of_val(buf) {
            // Drain the message so it cannot match a later receive.
            let _ = (message, status).matched_receive_vec::<u8>();
            return Err(Error::invalid(format!(
                "rank {from} sent {bytes} bytes (tag {tag_got}) into a buffer of {} elements ({} bytes)",
                buf.len(),
                std::mem::size_of_val(buf)
            )));
        }
        if !buf.is_empty() {
            message.matched_receive_into(buf);
        } else {
            let _ = (message, status).matched_receive_vec::<u8>();
        }
        Ok(Status {
            source: from,
            tag: tag_got,
        })
    }

    fn split(&self, color: Option<u16>, key: i32) -> Result<Option<Self>> {
        let color = match color {
            Some(c) => Color::with_value(i32::from(c)),
            None => Color::undefined(),
        };
        Ok(self
            .comm
            .split_by_color_with_key(color, key)
            .map(|comm| MpiGroup { comm }))
    }

    fn sendrecv<T: Plain>(
        &self,
        send: &[T],
        dest: usize,
        sendtag: Tag,
        source: Option<usize>,
        recvtag: Option<Tag>,
    ) -> Result<(Vec<u8>, Status)> {
        // MPI_Sendrecv needs the receive length in advance: an MPI_Isend of
        // the caller's slice, a matched probe and receive of any length, then
        // the wait. The receive is posted before the wait, so a ring of these
        // completes whatever the message size.
        let spare = [T::zeroed()];
        let send = real(send, &spare);
        mpi::request::scope(|scope| {
            let request = self
                .comm
                .process_at_rank(dest as i32)
                .immediate_send_with_tag(scope, send, i32::from(sendtag));
            let got = self.recv_bytes(source, recvtag);
            request.wait_without_status();
            Ok(got)
        })
    }

    fn probe(&self, source: Option<usize>, tag: Option<Tag>, wait: bool) -> Result<Option<Probe>> {
        let status = match (source, wait) {
            (Some(s), true) => {
                let p = self.comm.process_at_rank(s as i32);
                Some(tag.map_or_else(|| p.probe(), |t| p.probe_with_tag(i32::from(t))))
            }
            (None, true) => {
                let p = self.comm.any_process();
                Some(tag.map_or_else(|| p.probe(), |t| p.probe_with_tag(i32::from(t))))
            }
            (Some(s), false) => {
                let p = self.comm.process_at_rank(s as i32);
                tag.map_or_else(
                    || p.immediate_probe(),
                    |t| p.immediate_probe_with_tag(i32::from(t)),
                )
            }
            (None, false) => {
                let p = self.comm.any_process();
                tag.map_or_else(
                    || p.immediate_probe(),
                    |t| p.immediate_probe_with_tag(i32::from(t)),
                )
            }
        };
        Ok(status.map(|st| Probe {
            source: st.source_rank() as usize,
            tag: st.tag() as Tag,
            bytes: st.count(u8::equivalent_datatype()).max(0) as usize,
        }))
    }

    fn alltoallv<T: Plain>(
        &self,
        send: &[T],
        send_counts: &[usize],
        recv: &mut [T],
        recv_counts: &[usize],
    ) -> Result<()> {
        let (spare_send, mut spare_recv) = ([T::zeroed()], [T::zeroed()]);
        let (send, recv) = (real(send, &spare_send), real_mut(recv, &mut spare_recv));
        let (sc, sd) = counts_and_displs(send_counts);
        let (rc, rd) = counts_and_displs(recv_counts);
        let send = Partition::new(send, sc, sd);
        let mut recv = PartitionMut::new(recv, rc, rd);
        self.comm.all_to_all_varcount_into(&send, &mut recv);
        Ok(())
    }

    fn scan<T: Plain>(&self, send: &[T], recv: &mut [T], op: Op, exclusive: bool) -> Result<()> {
        if lowered::<T>(op) {
            let mut out = vec![0u8; recv.len()];
            self.scan(&truth_bytes(send), &mut out, op, exclusive)?;
            if !(exclusive && self.rank() == 0) {
                from_truth(&out, recv);
            }
            return Ok(());
        }
        let (spare_send, mut spare_recv) = ([T::zeroed()], [T::zeroed()]);
        let send = real(send, &spare_send);
        if !exclusive {
            let recv = real_mut(recv, &mut spare_recv);
            self.comm.scan_into(send, recv, mpi_op(op));
        } else if self.rank() == 0 {
            // MPI leaves rank 0's result undefined: keep the caller's buffer.
            let mut scratch = vec![T::zeroed(); send.len()];
            let scratch = real_mut(&mut scratch, &mut spare_recv);
            self.comm.exclusive_scan_into(send, scratch, mpi_op(op));
        } else {
            let recv = real_mut(recv, &mut spare_recv);
            self.comm.exclusive_scan_into(send, recv, mpi_op(op));
        }
        Ok(())
    }

    fn reduce_scatter_block<T: Plain>(&self, send: &[T], recv: &mut [T], op: Op) -> Result<()> {
        if lowered::<T>(op) {
            let mut out = vec![0u8; recv.len()];
            self.reduce_scatter_block(&truth_bytes(send), &mut out, op)?;
            from_truth(&out, recv);
            return Ok(());
        }
        let (spare_send, mut spare_recv) = ([T::zeroed()], [T::zeroed()]);
        let (send, recv) = (real(send, &spare_send), real_mut(recv, &mut spare_recv));
        self.comm.reduce_scatter_block_into(send, recv, mpi_op(op));
        Ok(())
    }
}
