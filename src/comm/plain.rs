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
    pub trait Sealed {}
}

/// A reduction operation for [`Plain`] elements, applied element by element.
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
}

impl Op {
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
        impl sealed::Sealed for $t {}
        impl Plain for $t {
            fn combine(op: Op, a: Self, b: Self) -> Self {
                match op {
                    Op::Sum => a.wrapping_add(b),
                    Op::Product => a.wrapping_mul(b),
                    Op::Min => a.min(b),
                    Op::Max => a.max(b),
                }
            }
        }
    )*};
}

macro_rules! plain_float {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl Plain for $t {
            fn combine(op: Op, a: Self, b: Self) -> Self {
                match op {
                    Op::Sum => a + b,
                    Op::Product => a * b,
                    Op::Min => a.min(b),
                    Op::Max => a.max(b),
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
}
