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
    Inline(#[serde(with = "crate::comm::bytes")] Vec<u8>),
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

impl<T: Serialize + DeserializeOwned> Args<T> for T {
    fn parts(&self) -> Result<Vec<Part>> {
        Ok(vec![Part::Inline(codec::encode(self)?)])
    }
    fn assemble(parts: &[&[u8]]) -> std::result::Result<T, String> {
        decode_part(parts, 0)
    }
}

impl<T: Serialize + DeserializeOwned> Args<T> for &T {
    fn parts(&self) -> Result<Vec<Part>> {
        Ok(vec![Part::Inline(codec::encode(*self)?)])
    }
    fn assemble(parts: &[&[u8]]) -> std::result::Result<T, String> {
        decode_part(parts, 0)
    }
}

impl<T: DeserializeOwned> Args<T> for Future<T> {
    fn parts(&self) -> Result<Vec<Part>> {
        Ok(vec![Part::Future(self.key())])
    }
    fn assemble(parts: &[&[u8]]) -> std::result::Result<T, String> {
        decode_part(parts, 0)
    }
}

impl<T: DeserializeOwned> Args<T> for &Future<T> {
    fn parts(&self) -> Result<Vec<Part>> {
        Ok(vec![Part::Future(self.key())])
    }
    fn assemble(parts: &[&[u8]]) -> std::result::Result<T, String> {
        decode_part(parts, 0)
    }
}

fn assemble_vec<T: DeserializeOwned>(parts: &[&[u8]]) -> std::result::Result<Vec<T>, String> {
    (0..parts.len()).map(|i| decode_part(parts, i)).collect()
}

impl<T: DeserializeOwned> Args<Vec<T>> for Vec<Future<T>> {
    fn parts(&self) -> Result<Vec<Part>> {
        Ok(self.iter().map(|f| Part::Future(f.key())).collect())
    }
    fn assemble(parts: &[&[u8]]) -> std::result::Result<Vec<T>, String> {
        assemble_vec(parts)
    }
}

impl<T: DeserializeOwned> Args<Vec<T>> for &[Future<T>] {
    fn parts(&self) -> Result<Vec<Part>> {
        Ok(self.iter().map(|f| Part::Future(f.key())).collect())
    }
    fn assemble(parts: &[&[u8]]) -> std::result::Result<Vec<T>, String> {
        assemble_vec(parts)
    }
}

impl<T: DeserializeOwned> Args<Vec<T>> for &Vec<Future<T>> {
    fn parts(&self) -> Result<Vec<Part>> {
        Ok(self.iter().map(|f| Part::Future(f.key())).collect())
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
                if parts.len() != [$($i),+].len() {
                    return Err(format!("expected {} argument positions, got {}", [$($i),+].len(), parts.len()));
                }
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
