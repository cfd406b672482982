//! Array variables: the rows of an ndarray that `Client::scatter_array` split
//! along axis 0 over the workers. A worker keeps its rows as an ordinary
//! worker variable whose bytes are exactly the codec's encoding of
//! `(shape: Vec<u64>, data: Vec<T>)`, with `data` the rows' own bytes (for
//! element types the codec writes as raw little-endian bytes), so tasks read
//! it with [`worker_array`] and the rows go back to the client with one
//! gatherv, without being copied or re-encoded.

use crate::comm::codec;
use crate::error::{Error, Result};
use ndarray::{ArrayBase, ArrayD, Data, Dimension, IxDyn};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The encoding of `(shape, data)` for `rows` of raw element bytes.
pub(crate) fn encode_rows(shape: &[u64], elements: u64, rows: &[u8]) -> Result<Vec<u8>> {
    let mut out = codec::encode(&shape)?;
    out.extend(codec::encode(&elements)?);
    out.extend_from_slice(rows);
    Ok(out)
}

/// The shape and the raw element bytes of an array variable's encoding.
pub(crate) fn split_rows(bytes: &[u8]) -> Result<(Vec<u64>, &[u8])> {
    let (shape, rest) = postcard::take_from_bytes::<Vec<u64>>(bytes)
        .map_err(|e| Error::codec(format!("not an array variable: {e}")))?;
    let (_elements, data) = postcard::take_from_bytes::<u64>(rest)
        .map_err(|e| Error::codec(format!("not an array variable: {e}")))?;
    Ok((shape, data))
}

/// Inside a task, a `run` function or an SPMD section: this worker's rows of
/// the array scattered as `name` (see `Client::scatter_array`).
pub fn worker_array<T: DeserializeOwned>(name: &str) -> Result<ArrayD<T>> {
    let (shape, data): (Vec<u64>, Vec<T>) = crate::worker_var(name)?;
    let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    ArrayD::from_shape_vec(IxDyn(&dims), data)
        .map_err(|e| Error::invalid(format!("array variable {name:?}: {e}")))
}

/// Inside a task, a `run` function or an SPMD section: keeps `array` as
/// array variable `name` on this worker, for `Client::gather_array`.
pub fn set_worker_array<T, S, D>(name: &str, array: &ArrayBase<S, D>) -> Result<()>
where
    T: Serialize + Clone,
    S: Data<Elem = T>,
    D: Dimension,
{
    let shape: Vec<u64> = array.shape().iter().map(|&d| d as u64).collect();
    let data: Vec<T> = array.iter().cloned().collect();
    crate::set_worker_var(name, &(shape, data))
}
