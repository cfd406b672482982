//! The task API's argument forms that hold futures: a `Future<T>` or
//! `&Future<T>` where the function takes a `T`, a `Vec` or slice of futures
//! where it takes a `Vec<T>`, and tuples of up to four positions mixing
//! futures and values (see [`Args`]). Here, beside [`Future`], because the
//! task layer below does not know the client's types.

use super::Future;
use crate::comm::codec;
use crate::error::Result;
use crate::task::args::{
    assemble_one, assemble_one_shared, check_count, check_len, decode_part, decode_shared_part,
    Args, Part,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

impl<T: DeserializeOwned + 'static> Args<T> for Future<T> {
    fn parts(&self) -> Result<Vec<Part>> {
        Ok(vec![Part::Future(self.key())])
    }
    fn assemble(parts: &[&[u8]]) -> std::result::Result<T, String> {
        assemble_one(parts)
    }
    fn assemble_shared(parts: Vec<Arc<Vec<u8>>>) -> std::result::Result<T, String> {
        assemble_one_shared(parts)
    }
}

impl<T: DeserializeOwned + 'static> Args<T> for &Future<T> {
    fn parts(&self) -> Result<Vec<Part>> {
        Ok(vec![Part::Future(self.key())])
    }
    fn assemble(parts: &[&[u8]]) -> std::result::Result<T, String> {
        assemble_one(parts)
    }
    fn assemble_shared(parts: Vec<Arc<Vec<u8>>>) -> std::result::Result<T, String> {
        assemble_one_shared(parts)
    }
}

/// The positions of a vector of futures: its length first (so that the
/// worker can tell a missing input from a shorter vector), then one future
/// per element.
fn vec_parts<'a, T: 'a>(
    futures: impl ExactSizeIterator<Item = &'a Future<T>>,
) -> Result<Vec<Part>> {
    let mut parts = Vec::with_capacity(futures.len() + 1);
    parts.push(Part::Inline(codec::encode(&(futures.len() as u64))?));
    parts.extend(futures.map(|f| Part::Future(f.key())));
    Ok(parts)
}

/// Rebuilds a vector from [`vec_parts`]'s positions; refuses one whose
/// positions do not match the length it was submitted with.
fn assemble_vec<T: DeserializeOwned + 'static>(
    parts: &[&[u8]],
) -> std::result::Result<Vec<T>, String> {
    let len: u64 = decode_part(parts, 0)?;
    let expected = usize::try_from(len)
        .ok()
        .and_then(|n| n.checked_add(1))
        .ok_or_else(|| format!("a vector of {len} futures cannot be held here"))?;
    check_count(parts, expected)?;
    (1..parts.len()).map(|i| decode_part(parts, i)).collect()
}

impl<T: DeserializeOwned + 'static> Args<Vec<T>> for Vec<Future<T>> {
    fn parts(&self) -> Result<Vec<Part>> {
        vec_parts(self.iter())
    }
    fn assemble(parts: &[&[u8]]) -> std::result::Result<Vec<T>, String> {
        assemble_vec(parts)
    }
}

impl<T: DeserializeOwned + 'static> Args<Vec<T>> for &[Future<T>] {
    fn parts(&self) -> Result<Vec<Part>> {
        vec_parts(self.iter())
    }
    fn assemble(parts: &[&[u8]]) -> std::result::Result<Vec<T>, String> {
        assemble_vec(parts)
    }
}

impl<T: DeserializeOwned + 'static> Args<Vec<T>> for &Vec<Future<T>> {
    fn parts(&self) -> Result<Vec<Part>> {
        vec_parts(self.iter())
    }
    fn assemble(parts: &[&[u8]]) -> std::result::Result<Vec<T>, String> {
        assemble_vec(parts)
    }
}

/// `impl Args<(A0, A1, ..)>` for a tuple whose positions are values (`V`),
/// futures (`F`) or borrowed futures (`R`).
macro_rules! args_tuple {
    ($( ($kind:ident $A:ident $i:tt) )+) => {
        impl<'a, $($A: Serialize + DeserializeOwned + 'static),+> Args<($($A,)+)>
            for ($(args_tuple!(@ty $kind $A 'a),)+)
        {
            fn parts(&self) -> Result<Vec<Part>> {
                Ok(vec![$(args_tuple!(@part $kind self.$i)),+])
            }
            fn assemble(parts: &[&[u8]]) -> std::result::Result<($($A,)+), String> {
                check_count(parts, [$($i),+].len())?;
                Ok(($(decode_part::<$A>(parts, $i)?,)+))
            }
            fn assemble_shared(
                parts: Vec<Arc<Vec<u8>>>,
            ) -> std::result::Result<($($A,)+), String> {
                check_len(parts.len(), [$($i),+].len())?;
                let mut parts = parts.into_iter();
                Ok(($(decode_shared_part::<$A>(parts.next(), $i)?,)+))
            }
        }
    };
    (@ty V $A:ident $l:lifetime) => { $A };
    (@ty F $A:ident $l:lifetime) => { Future<$A> };
    (@ty R $A:ident $l:lifetime) => { &$l Future<$A> };
    (@part V $e:expr) => { Part::Inline(codec::encode_value(&$e)?) };
    (@part F $e:expr) => { Part::Future($e.key()) };
    (@part R $e:expr) => { Part::Future($e.key()) };
}

/// [`args_tuple!`] for every mix of `V`, `F` and `R` over the given
/// positions that has at least one future; a tuple of values only is a
/// value, served by the blanket impl.
macro_rules! args_tuples {
    ($(($A:ident $i:tt))+) => { args_tuples!(@go no [] [$(($A $i))+]); };
    (@go no [$($done:tt)*] []) => {};
    (@go yes [$($done:tt)*] []) => { args_tuple!($($done)*); };
    (@go $seen:ident [$($done:tt)*] [($A:ident $i:tt) $($rest:tt)*]) => {
        args_tuples!(@go $seen [$($done)* (V $A $i)] [$($rest)*]);
        args_tuples!(@go yes [$($done)* (F $A $i)] [$($rest)*]);
        args_tuples!(@go yes [$($done)* (R $A $i)] [$($rest)*]);
    };
}

args_tuples!((A0 0) (A1 1));
args_tuples!((A0 0) (A1 1) (A2 2));
args_tuples!((A0 0) (A1 1) (A2 2) (A3 3));

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(values: &[u64]) -> Vec<Vec<u8>> {
        values.iter().map(|v| codec::encode(v).unwrap()).collect()
    }

    fn refs(parts: &[Vec<u8>]) -> Vec<&[u8]> {
        parts.iter().map(Vec::as_slice).collect()
    }

    #[test]
    fn a_vector_assembles_from_its_length_and_elements() {
        let parts = encoded(&[3, 10, 11, 12]);
        let v = <Vec<Future<u64>> as Args<Vec<u64>>>::assemble(&refs(&parts)).unwrap();
        assert_eq!(v, vec![10, 11, 12]);
        let empty = encoded(&[0]);
        let v = <Vec<Future<u64>> as Args<Vec<u64>>>::assemble(&refs(&empty)).unwrap();
        assert!(v.is_empty());
    }

    #[test]
    fn a_vector_with_a_missing_input_is_refused() {
        // Three futures were submitted; one input did not arrive.
        let parts = encoded(&[3, 10, 12]);
        let e = <Vec<Future<u64>> as Args<Vec<u64>>>::assemble(&refs(&parts)).unwrap_err();
        assert!(e.contains("expected 4 argument positions, got 3"), "{e}");
        let e = <&[Future<u64>] as Args<Vec<u64>>>::assemble(&[]).unwrap_err();
        assert!(e.contains("position 0 is missing"), "{e}");
    }

    #[test]
    fn a_single_position_takes_exactly_one_part() {
        let parts = encoded(&[1, 2]);
        let e = <Future<u64> as Args<u64>>::assemble(&refs(&parts)).unwrap_err();
        assert!(e.contains("expected 1 argument positions, got 2"), "{e}");
        assert!(<u64 as Args<u64>>::assemble(&[]).is_err());
        assert_eq!(
            <&Future<u64> as Args<u64>>::assemble(&refs(&parts[..1])),
            Ok(1)
        );
    }

    #[test]
    fn a_tuple_with_a_missing_input_is_refused() {
        let parts = encoded(&[1]);
        let e = <(Future<u64>, u64) as Args<(u64, u64)>>::assemble(&refs(&parts)).unwrap_err();
        assert!(e.contains("expected 2 argument positions, got 1"), "{e}");
    }
}
