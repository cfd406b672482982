//! MINLOC / MAXLOC reductions on the zero-copy flavour: (value, index)
//! pairs, as MPI_DOUBLE_INT and its kin carry them.
//!
//! rsmpi offers no paired datatypes for these, so both backends run them the
//! same way: every member's values and indices travel by allgather (or
//! gather to the root) and are folded locally in rank order. That moves
//! `size ×` the data a native MPI_MINLOC would; correctness first.

use super::{Group, MAX_COUNT};
use crate::comm::plain::Plain;
use crate::error::{Error, Result};

/// Which pair wins in [`Group::allreduce_loc`] and [`Group::reduce_loc`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocOp {
    /// The smallest value; among equal values, the smallest index (MPI_MINLOC).
    MinLoc,
    /// The largest value; among equal values, the smallest index (MPI_MAXLOC).
    MaxLoc,
}

impl LocOp {
    /// Whether `(v, i)` beats `(best_v, best_i)`. A NaN never beats anything
    /// and is beaten by nothing, so it wins only where it comes first.
    fn beats<T: Plain>(self, (v, i): (T, i32), (best_v, best_i): (T, i32)) -> bool {
        let better = match self {
            LocOp::MinLoc => v < best_v,
            LocOp::MaxLoc => v > best_v,
        };
        better || (v == best_v && i < best_i)
    }

    fn fold<T: Plain>(self, values: &[T], locs: &[i32], members: usize) -> Vec<(T, i32)> {
        let n = values.len() / members.max(1);
        (0..n)
            .map(|j| {
                (1..members).fold((values[j], locs[j]), |best, r| {
                    let cand = (values[r * n + j], locs[r * n + j]);
                    if self.beats(cand, best) {
                        cand
                    } else {
                        best
                    }
                })
            })
            .collect()
    }
}

impl Group {
    /// Element `j` of the result is the winning `(value, index)` pair among
    /// every member's `pairs[j]` under `op` (MPI_Allreduce with MPI_MINLOC or
    /// MPI_MAXLOC), on every member. All members pass the same length, else
    /// every member gets an error. See the module docs for the cost.
    pub fn allreduce_loc<T: Plain>(&self, pairs: &[(T, i32)], op: LocOp) -> Result<Vec<(T, i32)>> {
        let _op = self.op("allreduce_loc");
        self.agree_on_loc_length(pairs.len(), "allreduce_loc")?;
        let (values, locs): (Vec<T>, Vec<i32>) = pairs.iter().copied().unzip();
        let (all_values, _) = self.allgather_vec(&values)?;
        let (all_locs, _) = self.allgather_vec(&locs)?;
        Ok(op.fold(&all_values, &all_locs, self.size()))
    }

    /// [`allreduce_loc`](Self::allreduce_loc) with the result at `root` only
    /// (MPI_Reduce with MPI_MINLOC or MPI_MAXLOC); `None` elsewhere.
    pub fn reduce_loc<T: Plain>(
        &self,
        pairs: &[(T, i32)],
        op: LocOp,
        root: usize,
    ) -> Result<Option<Vec<(T, i32)>>> {
        let _op = self.op("reduce_loc");
        self.check_root(root)?;
        self.agree_on_loc_length(pairs.len(), "reduce_loc")?;
        let (values, locs): (Vec<T>, Vec<i32>) = pairs.iter().copied().unzip();
        let values = self.gatherv_vec(&values, root)?;
        let locs = self.gatherv_vec(&locs, root)?;
        Ok(values
            .zip(locs)
            .map(|((v, _), (l, _))| op.fold(&v, &l, self.size())))
    }

    /// Same length everywhere, and all of them gathered fit one MPI call.
    fn agree_on_loc_length(&self, len: usize, what: &str) -> Result<()> {
        self.agree_on_length(len, what)?;
        if len.saturating_mul(self.size()) > MAX_COUNT {
            return Err(Error::invalid(format!(
                "{what}: {len} pairs from {} members are over MPI's 2^31-element limit for one call",
                self.size()
            )));
        }
        Ok(())
    }
}
