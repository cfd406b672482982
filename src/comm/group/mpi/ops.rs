//! Reduction operations as MPI takes them: the `MPI_Op` of each [`Op`],
//! and the byte form of logical operations on floats, which MPI defines for
//! integer types only.

use crate::comm::plain::{is_float, truth, Op, Plain};
use mpi::collective::SystemOperation;

pub(super) fn mpi_op(op: Op) -> SystemOperation {
    match op {
        Op::Sum => SystemOperation::sum(),
        Op::Product => SystemOperation::product(),
        Op::Min => SystemOperation::min(),
        Op::Max => SystemOperation::max(),
        Op::LAnd => SystemOperation::logical_and(),
        Op::LOr => SystemOperation::logical_or(),
        Op::BAnd => SystemOperation::bitwise_and(),
        Op::BOr => SystemOperation::bitwise_or(),
    }
}

/// Whether `op` on `T` must go through bytes (a logical operation on floats).
pub(super) fn lowered<T: Plain>(op: Op) -> bool {
    op.is_logical() && is_float::<T>()
}

/// 1 for every nonzero value, 0 for every zero.
pub(super) fn truth_bytes<T: Plain>(x: &[T]) -> Vec<u8> {
    x.iter().map(|&v| u8::from(v != T::zeroed())).collect()
}

pub(super) fn from_truth<T: Plain>(bytes: &[u8], out: &mut [T]) {
    for (o, &b) in out.iter_mut().zip(bytes) {
        *o = truth(b != 0);
    }
}
