//! The in-process all-to-all, prefix and reduce-scatter exchanges: linear,
//! one message per pair, as the other in-process collectives.

use super::shared::Channel;
use super::{offsets, LocalGroup};
use crate::comm::codec::plain_bytes;
use crate::comm::group::RawGroup;
use crate::comm::plain::{Op, Plain};
use crate::error::Result;

impl LocalGroup {
    pub(super) fn alltoallv_linear<T: Plain>(
        &self,
        send: &[T],
        send_counts: &[usize],
        recv: &mut [T],
        recv_counts: &[usize],
    ) -> Result<()> {
        let (sat, rat) = (offsets(send_counts), offsets(recv_counts));
        for r in self.others() {
            let part = &send[sat[r]..sat[r] + send_counts[r]];
            self.post(r, Channel::Collective, plain_bytes(part).to_vec());
        }
        for r in 0..self.size() {
            let part = &mut recv[rat[r]..rat[r] + recv_counts[r]];
            if r == self.rank {
                part.copy_from_slice(&send[sat[r]..sat[r] + send_counts[r]]);
            } else {
                self.take_collective(r, part)?;
            }
        }
        Ok(())
    }

    pub(super) fn scan_linear<T: Plain>(
        &self,
        send: &[T],
        recv: &mut [T],
        op: Op,
        exclusive: bool,
    ) -> Result<()> {
        for r in self.rank + 1..self.size() {
            self.post(r, Channel::Collective, plain_bytes(send).to_vec());
        }
        let upto = if exclusive { self.rank } else { self.rank + 1 };
        self.fold_parts(0..upto, send, recv, op)
    }

    /// Folds with `op`, in rank order, the parts of ranks in `ranks` into
    /// `recv`: `mine` for this rank, a collective message from each other.
    /// `ranks` starts at 0, whose part is copied rather than folded.
    pub(super) fn fold_parts<T: Plain>(
        &self,
        ranks: std::ops::Range<usize>,
        mine: &[T],
        recv: &mut [T],
        op: Op,
    ) -> Result<()> {
        let mut part = vec![T::zeroed(); mine.len()];
        for r in ranks {
            if r == self.rank {
                part.copy_from_slice(mine);
            } else {
                self.take_collective(r, &mut part)?;
            }
            if r == 0 {
                recv.copy_from_slice(&part);
            } else {
                op.fold_into(recv, &part);
            }
        }
        Ok(())
    }

    pub(super) fn reduce_scatter_block_linear<T: Plain>(
        &self,
        send: &[T],
        recv: &mut [T],
        op: Op,
    ) -> Result<()> {
        let n = recv.len();
        for r in self.others() {
            self.post(
                r,
                Channel::Collective,
                plain_bytes(&send[r * n..(r + 1) * n]).to_vec(),
            );
        }
        let mine = &send[self.rank * n..(self.rank + 1) * n];
        self.fold_parts(0..self.size(), mine, recv, op)
    }
}
