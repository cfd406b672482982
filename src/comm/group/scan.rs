//! Prefix reductions and reduce-scatter (mpi4py's `scan`, `exscan`, `Scan`,
//! `Exscan`, `Reduce_scatter_block`).

use super::{Backend, Group, RawGroup};
use crate::comm::plain::{Op, Plain};
use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

impl Group {
    /// Member `r`'s `recv` gets the element-by-element `op` of the `send`s of
    /// members `0..=r` (MPI_Scan). All `send`s have one length, else every
    /// member gets an error; a `recv` of another length is an error on that
    /// member alone.
    pub fn scan_into<T: Plain>(&self, send: &[T], recv: &mut [T], op: Op) -> Result<()> {
        let _op = self.op("scan_into");
        self.scan_checked(send, recv, op, false, "scan_into")
    }

    /// Member `r`'s `recv` gets the `op` of the `send`s of members `0..r`
    /// (MPI_Exscan). Member 0 has no predecessors: its `recv` is left as it
    /// was (MPI leaves it undefined). Arguments as for
    /// [`scan_into`](Self::scan_into).
    pub fn exscan_into<T: Plain>(&self, send: &[T], recv: &mut [T], op: Op) -> Result<()> {
        let _op = self.op("exscan_into");
        self.scan_checked(send, recv, op, true, "exscan_into")
    }

    fn scan_checked<T: Plain>(
        &self,
        send: &[T],
        recv: &mut [T],
        op: Op,
        exclusive: bool,
        what: &str,
    ) -> Result<()> {
        op.check_for::<T>(what)?;
        self.agree_on_length(send.len(), what)?;
        if recv.len() == send.len() {
            raw!(self, g => g.scan(send, recv, op, exclusive))?;
            if !(exclusive && self.rank() == 0) {
                op.normalize(recv);
            }
            Ok(())
        } else {
            let mut scratch = vec![T::zeroed(); send.len()];
            raw!(self, g => g.scan(send, &mut scratch, op, exclusive))?;
            Err(Error::invalid(format!(
                "{what}: result of {} elements for a buffer of {}",
                send.len(),
                recv.len()
            )))
        }
    }

    /// Reduces every member's `send` element by element with `op` and leaves
    /// block `i` of the result in member `i`'s `recv`
    /// (MPI_Reduce_scatter_block: equal blocks only). Every `send` has the
    /// same length, `size × n`; every `recv` has `n` elements.
    pub fn reduce_scatter_block_into<T: Plain>(
        &self,
        send: &[T],
        recv: &mut [T],
        op: Op,
    ) -> Result<()> {
        let what = "reduce_scatter_block_into";
        let _op = self.op(what);
        op.check_for::<T>(what)?;
        self.agree_on_length(send.len(), what)?;
        let size = self.size();
        if send.len() % size != 0 {
            return Err(Error::invalid(format!(
                "{what}: {} elements do not split into {size} equal blocks",
                send.len()
            )));
        }
        let n = send.len() / size;
        if recv.len() == n {
            raw!(self, g => g.reduce_scatter_block(send, recv, op))?;
            op.normalize(recv);
            Ok(())
        } else {
            let mut scratch = vec![T::zeroed(); n];
            raw!(self, g => g.reduce_scatter_block(send, &mut scratch, op))?;
            Err(Error::invalid(format!(
                "{what}: a block of {n} elements for a buffer of {}",
                recv.len()
            )))
        }
    }

    /// Folds the values of members `0..=r` with `op`, in rank order, on
    /// member `r` (mpi4py's `scan`). Implemented as an allgather and a
    /// local fold: every member receives every value.
    pub fn scan<T, F>(&self, value: T, op: F) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        F: Fn(T, T) -> T,
    {
        let _op = self.op("scan");
        let upto = self.rank() + 1;
        self.allgather(&value)?
            .into_iter()
            .take(upto)
            .reduce(op)
            .ok_or_else(|| Error::invalid("scan over an empty group"))
    }

    /// Folds the values of members `0..r` with `op` on member `r`; `None` on
    /// member 0 (mpi4py's `exscan`). An allgather and a local fold.
    pub fn exscan<T, F>(&self, value: T, op: F) -> Result<Option<T>>
    where
        T: Serialize + DeserializeOwned,
        F: Fn(T, T) -> T,
    {
        let _op = self.op("exscan");
        let upto = self.rank();
        Ok(self.allgather(&value)?.into_iter().take(upto).reduce(op))
    }
}
