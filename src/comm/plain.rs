//! Plain numbers: the element types that collectives hand to MPI as their own
//! memory (the zero-copy, mpi4py-uppercase flavour), and the reduction
//! operations defined on them.

/// Element types that travel as raw memory: fixed size, no padding, any bit
/// pattern valid. Implemented for the primitive integer and float types.
#[cfg(feature = "mpi")]
pub trait Plain:
    bytemuck::Pod + mpi::traits::Equivalence + PartialOrd + Send + Sync + 'static + sealed::Sealed
{
    /// Combines two values with `op`.
    fn combine(op: Op, a: Self, b: Self) -> Self;
}

/// Element types that travel as raw memory: fixed size, no padding, any bit
/// pattern valid. Implemented for the primitive integer and float types.
#[cfg(not(feature = "mpi"))]
pub trait Plain: bytemuck::Pod + PartialOrd + Send + Sync + 'static + sealed::Sealed {
    /// Combines two values with `op`.
    fn combine(op: Op, a: Self, b: Self) -> Self;
}

mod sealed {
    pub trait Sealed: Sized {
        /// Whether the type is a float (no bitwise operations).
        const FLOAT: bool;
        /// The value 1, the result of a true logical operation.
        const ONE: Self;
    }
}

/// 1 for true and 0 for false, in `T`.
pub(crate) fn truth<T: Plain>(x: bool) -> T {
    if x {
        <T as sealed::Sealed>::ONE
    } else {
        T::zeroed()
    }
}

/// Whether `T` is `f32` or `f64`.
pub(crate) fn is_float<T: Plain>() -> bool {
    <T as sealed::Sealed>::FLOAT
}

/// A reduction operation for [`Plain`] elements, applied element by element.
///
/// The logical operations read nonzero as true and give 1 or 0 (`1.0` or
/// `0.0` for floats). The bitwise operations are for integer types only: on
/// `f32`/`f64` every collective returns an `InvalidArgument` error on every
/// member before anything is sent (MPI defines no bitwise operation on floats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Op {
    /// Sum (wrapping for integers, as MPI_SUM in practice).
    Sum,
    /// Product (wrapping for integers).
    Product,
    /// Minimum.
    Min,
    /// Maximum.
    Max,
    /// Logical and (MPI_LAND).
    LAnd,
    /// Logical or (MPI_LOR).
    LOr,
    /// Bitwise and (MPI_BAND), integers only.
    BAnd,
    /// Bitwise or (MPI_BOR), integers only.
    BOr,
}

impl Op {
    /// Whether this is a logical operation (`LAnd`, `LOr`).
    pub fn is_logical(self) -> bool {
        matches!(self, Op::LAnd | Op::LOr)
    }

    /// Whether this is a bitwise operation (`BAnd`, `BOr`).
    pub fn is_bitwise(self) -> bool {
        matches!(self, Op::BAnd | Op::BOr)
    }

    /// An error if this operation is not defined on `T` (bitwise on floats).
    pub(crate) fn check_for<T: Plain>(self, what: &str) -> crate::error::Result<()> {
        if self.is_bitwise() && is_float::<T>() {
            return Err(crate::error::Error::invalid(format!(
                "{what}: {self:?} is a bitwise operation, for integer types only, not {}",
                std::any::type_name::<T>()
            )));
        }
        Ok(())
    }

    /// Makes a logical result 1 or 0 where MPI copies a value through
    /// untouched (one member; rank 0 of a scan).
    pub(crate) fn normalize<T: Plain>(self, buf: &mut [T]) {
        if self.is_logical() {
            for x in buf {
                *x = truth(*x != T::zeroed());
            }
        }
    }

    /// Applies this operation element by element: `acc[i] = op(acc[i], x[i])`.
    pub fn fold_into<T: Plain>(self, acc: &mut [T], x: &[T]) {
        debug_assert_eq!(acc.len(), x.len());
        for (a, b) in acc.iter_mut().zip(x) {
            *a = T::combine(self, *a, *b);
        }
    }
}

macro_rules! plain_int {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {
            const FLOAT: bool = false;
            const ONE: Self = 1;
        }
        impl Plain for $t {
            fn combine(op: Op, a: Self, b: Self) -> Self {
                match op {
                    Op::Sum => a.wrapping_add(b),
                    Op::Product => a.wrapping_mul(b),
                    Op::Min => a.min(b),
                    Op::Max => a.max(b),
                    Op::LAnd => Self::from(a != 0 && b != 0),
                    Op::LOr => Self::from(a != 0 || b != 0),
                    Op::BAnd => a & b,
                    Op::BOr => a | b,
                }
            }
        }
    )*};
}

macro_rules! plain_float {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {
            const FLOAT: bool = true;
            const ONE: Self = 1.0;
        }
        impl Plain for $t {
            fn combine(op: Op, a: Self, b: Self) -> Self {
                let truth = |x: bool| if x { 1.0 } else { 0.0 };
                match op {
                    Op::Sum => a + b,
                    Op::Product => a * b,
                    Op::Min => a.min(b),
                    Op::Max => a.max(b),
                    Op::LAnd => truth(a != 0.0 && b != 0.0),
                    Op::LOr => truth(a != 0.0 || b != 0.0),
                    // Refused before any communication (`Op::check_for`); on
                    // the bits, so that this stays total.
                    Op::BAnd => Self::from_bits(a.to_bits() & b.to_bits()),
                    Op::BOr => Self::from_bits(a.to_bits() | b.to_bits()),
                }
            }
        }
    )*};
}

plain_int!(i8, i16, i32, i64, u8, u16, u32, u64);
plain_float!(f32, f64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold() {
        let mut acc = [1i64, 5, -3];
        Op::Sum.fold_into(&mut acc, &[2, 2, 2]);
        assert_eq!(acc, [3, 7, -1]);
        Op::Max.fold_into(&mut acc, &[4, 4, 4]);
        assert_eq!(acc, [4, 7, 4]);
        let mut f = [1.0f64, 2.0];
        Op::Product.fold_into(&mut f, &[3.0, 0.5]);
        assert_eq!(f, [3.0, 1.0]);
        Op::Min.fold_into(&mut f, &[2.0, 2.0]);
        assert_eq!(f, [2.0, 1.0]);
    }

    #[test]
    fn logical_and_bitwise() {
        let mut acc = [0i32, 3, -2, 0];
        Op::LOr.fold_into(&mut acc, &[0, 0, 5, 7]);
        assert_eq!(acc, [0, 1, 1, 1]);
        Op::LAnd.fold_into(&mut acc, &[1, 0, 9, 1]);
        assert_eq!(acc, [0, 0, 1, 1]);
        let mut bits = [0b1100u8, 0b1010];
        Op::BAnd.fold_into(&mut bits, &[0b1010, 0b0110]);
        assert_eq!(bits, [0b1000, 0b0010]);
        Op::BOr.fold_into(&mut bits, &[0b0001, 0b0001]);
        assert_eq!(bits, [0b1001, 0b0011]);
        let mut f = [0.5f32, 0.0];
        Op::LOr.fold_into(&mut f, &[0.0, 0.0]);
        assert_eq!(f, [1.0, 0.0]);
        assert!(Op::BOr.check_for::<f64>("x").is_err());
        assert!(Op::BOr.check_for::<u64>("x").is_ok());
        assert!(Op::LAnd.check_for::<f32>("x").is_ok());
    }
}
