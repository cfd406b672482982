//! Task arguments: plain values, futures of earlier tasks, or tuples mixing
//! both. A future in an argument makes the new task depend on it; the worker
//! puts the future's value in its place before calling the function.
//!
//! `submit(add, (x, 5))`, `submit(add, (&fx, &fy))` and `submit(inc, &fx)`
//! call `fn add(a: u64, b: u64) -> u64` (or `fn add((a, b): (u64, u64))`) and
//! `fn inc(a: u64) -> u64`: the argument's type with every `Future<T>` (or
//! `&Future<T>`) replaced by `T` must be the function's parameters as one
//! value (see [`TaskFn`](super::TaskFn)). Tuples of up to four positions may
//! mix futures and values; a `Vec` or slice of futures becomes a `Vec` of
//! their values; a borrowed value (`&T`, as `map` over `&vec` yields) is
//! encoded like the value; any other serde value is passed as it is.

use super::Key;
use crate::client::Future;
use crate::comm::codec;
use crate::error::Result;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// One position of an argument: an encoded value, or the key of the task
/// whose result goes there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Part {
    /// An encoded value.
    Inline(Vec<u8>),
    /// The result of the task with this key.
    Future(Key),
}

/// Something that can be passed where a function takes an `A`.
pub trait Args<A> {
    /// The argument's positions, in order.
    fn parts(&self) -> Result<Vec<Part>>;
    /// Rebuilds the `A` from the encoded positions (on the worker).
    fn assemble(parts: &[&[u8]]) -> std::result::Result<A, String>;
}

fn decode_part<T: DeserializeOwned>(parts: &[&[u8]], i: usize) -> std::result::Result<T, String> {
    let bytes = parts
        .get(i)
        .ok_or_else(|| format!("argument position {i} is missing"))?;
    codec::decode(bytes).map_err(|e| format!("argument position {i}: {}", e.message()))
}

/// Checks that exactly `expected` argument positions arrived: a missing
/// input is an error, never a shorter argument.
fn check_count(parts: &[&[u8]], expected: usize) -> std::result::Result<(), String> {
    if parts.len() == expected {
        Ok(())
    } else {
        Err(format!(
            "expected {expected} argument positions, got {}: an input is missing",
            parts.len()
        ))
    }
}

/// A single position: exactly one part.
fn assemble_one<T: DeserializeOwned>(parts: &[&[u8]]) -> std::result::Result<T, String> {
    check_count(parts, 1)?;
    decode_part(parts, 0)
}

impl<T: Serialize + DeserializeOwned> Args<T> for T {
    fn parts(&self) -> Result<Vec<Part>> {
        Ok(vec![Part::Inline(codec::encode(self)?)])
    }
    fn assemble(parts: &[&[u8]]) -> std::result::Result<T, String> {
        assemble_one(parts)
    }
}

impl<T: Serialize + DeserializeOwned> Args<T> for &T {
    fn parts(&self) -> Result<Vec<Part>> {
        Ok(vec![Part::Inline(codec::encode(*self)?)])
    }
    fn assemble(parts: &[&[u8]]) -> std::result::Result<T, String> {
        assemble_one(parts)
    }
}

impl<T: DeserializeOwned> Args<T> for Future<T> {
    fn parts(&self) -> Result<Vec<Part>> {
        Ok(vec![Part::Future(self.key())])
    }
    fn assemble(parts: &[&[u8]]) -> std::result::Result<T, String> {
        assemble_one(parts)
    }
}

impl<T: DeserializeOwned> Args<T> for &Future<T> {
    fn parts(&self) -> Result<Vec<Part>> {
        Ok(vec![Part::Future(self.key())])
    }
    fn assemble(parts: &[&[u8]]) -> std::result::Result<T, String> {
        assemble_one(parts)
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
fn assemble_vec<T: DeserializeOwned>(parts: &[&[u8]]) -> std::result::Result<Vec<T>, String> {
    let len: u64 = decode_part(parts, 0)?;
    let expected = usize::try_from(len)
        .ok()
        .and_then(|n| n.checked_add(1))
        .ok_or_else(|| format!("a vector of {len} futures cannot be held here"))?;
    check_count(parts, expected)?;
    (1..parts.len()).map(|i| decode_part(parts, i)).collect()
}

impl<T: DeserializeOwned> Args<Vec<T>> for Vec<Future<T>> {
    fn parts(&self) -> Result<Vec<Part>> {
        vec_parts(self.iter())
    }
    fn assemble(parts: &[&[u8]]) -> std::result::Result<Vec<T>, String> {
        assemble_vec(parts)
    }
}

impl<T: DeserializeOwned> Args<Vec<T>> for &[Future<T>] {
    fn parts(&self) -> Result<Vec<Part>> {
        vec_parts(self.iter())
    }
    fn assemble(parts: &[&[u8]]) -> std::result::Result<Vec<T>, String> {
        assemble_vec(parts)
    }
}

impl<T: DeserializeOwned> Args<Vec<T>> for &Vec<Future<T>> {
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
        impl<'a, $($A: Serialize + DeserializeOwned),+> Args<($($A,)+)>
            for ($(args_tuple!(@ty $kind $A 'a),)+)
        {
            fn parts(&self) -> Result<Vec<Part>> {
                Ok(vec![$(args_tuple!(@part $kind self.$i)),+])
            }
            fn assemble(parts: &[&[u8]]) -> std::result::Result<($($A,)+), String> {
                check_count(parts, [$($i),+].len())?;
                Ok(($(decode_part::<$A>(parts, $i)?,)+))
            }
        }
    };
    (@ty V $A:ident $l:lifetime) => { $A };
    (@ty F $A:ident $l:lifetime) => { Future<$A> };
    (@ty R $A:ident $l:lifetime) => { &$l Future<$A> };
    (@part V $e:expr) => { Part::Inline(codec::encode(&$e)?) };
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
