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
use crate::comm::codec;
use crate::error::Result;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

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
    /// [`assemble`](Self::assemble) from the positions as the worker holds
    /// them: a byte vector whose buffer no one else holds (an input that
    /// came from another worker) is taken, not copied. By default borrows
    /// them and calls `assemble`.
    #[doc(hidden)]
    fn assemble_shared(parts: Vec<Arc<Vec<u8>>>) -> std::result::Result<A, String> {
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        Self::assemble(&refs)
    }
}

/// Decodes argument position `i`.
pub(crate) fn decode_part<T: DeserializeOwned + 'static>(
    parts: &[&[u8]],
    i: usize,
) -> std::result::Result<T, String> {
    let bytes = parts
        .get(i)
        .ok_or_else(|| format!("argument position {i} is missing"))?;
    codec::decode_value(bytes).map_err(|e| format!("argument position {i}: {}", e.message()))
}

/// [`decode_part`] of a position held as the worker holds it, taking a
/// byte vector's buffer when no one else holds it.
pub(crate) fn decode_shared_part<T: DeserializeOwned + 'static>(
    part: Option<Arc<Vec<u8>>>,
    i: usize,
) -> std::result::Result<T, String> {
    let bytes = part.ok_or_else(|| format!("argument position {i} is missing"))?;
    codec::decode_value_shared(bytes).map_err(|e| format!("argument position {i}: {}", e.message()))
}

/// Checks that exactly `expected` argument positions arrived: a missing
/// input is an error, never a shorter argument.
pub(crate) fn check_count(parts: &[&[u8]], expected: usize) -> std::result::Result<(), String> {
    check_len(parts.len(), expected)
}

/// [`check_count`] on a number of positions.
pub(crate) fn check_len(got: usize, expected: usize) -> std::result::Result<(), String> {
    if got == expected {
        Ok(())
    } else {
        Err(format!(
            "expected {expected} argument positions, got {got}: an input is missing"
        ))
    }
}

/// [`assemble_one`] from positions as the worker holds them.
pub(crate) fn assemble_one_shared<T: DeserializeOwned + 'static>(
    parts: Vec<Arc<Vec<u8>>>,
) -> std::result::Result<T, String> {
    check_len(parts.len(), 1)?;
    decode_shared_part(parts.into_iter().next(), 0)
}

/// A single position: exactly one part.
pub(crate) fn assemble_one<T: DeserializeOwned + 'static>(
    parts: &[&[u8]],
) -> std::result::Result<T, String> {
    check_count(parts, 1)?;
    decode_part(parts, 0)
}

impl<T: Serialize + DeserializeOwned + 'static> Args<T> for T {
    fn parts(&self) -> Result<Vec<Part>> {
        Ok(vec![Part::Inline(codec::encode_value(self)?)])
    }
    fn assemble(parts: &[&[u8]]) -> std::result::Result<T, String> {
        assemble_one(parts)
    }
    fn assemble_shared(parts: Vec<Arc<Vec<u8>>>) -> std::result::Result<T, String> {
        assemble_one_shared(parts)
    }
}

impl<T: Serialize + DeserializeOwned + 'static> Args<T> for &T {
    fn parts(&self) -> Result<Vec<Part>> {
        Ok(vec![Part::Inline(codec::encode_value(*self)?)])
    }
    fn assemble(parts: &[&[u8]]) -> std::result::Result<T, String> {
        assemble_one(parts)
    }
    fn assemble_shared(parts: Vec<Arc<Vec<u8>>>) -> std::result::Result<T, String> {
        assemble_one_shared(parts)
    }
}
