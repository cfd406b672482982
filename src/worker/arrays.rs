//! Array variables: the rows of an ndarray that `Client::scatter_array` split
//! along axis 0 over the workers. A worker keeps its rows as a worker
//! variable whose bytes are the codec's encoding of the shape (`Vec<u64>`)
//! and the element count (`u64`), followed by the elements' own bytes, so
//! the rows of any [`Plain`] type arrive with one scatterv and go back to
//! the client with one gatherv, without being copied or re-encoded; tasks
//! read them with [`worker_array`].

use super::executor::{set_var_bytes, var_bytes};
use crate::comm::codec;
use crate::comm::plain::Plain;
use crate::error::{Error, Result};
use ndarray::{ArrayBase, ArrayD, Data, Dimension, IxDyn};

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
/// the array scattered as `name` (see `Client::scatter_array`), or kept with
/// [`set_worker_array`]. An error names the variable if it is missing, is
/// not an array variable, or holds elements of another size than `T`.
pub fn worker_array<T: Plain>(name: &str) -> Result<ArrayD<T>> {
    let bytes = var_bytes("worker_array", name)?;
    let (shape, data) = split_rows(&bytes)?;
    let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    let elements = dims.iter().product::<usize>();
    if data.len() != elements * std::mem::size_of::<T>() {
        return Err(Error::invalid(format!(
            "array variable {name:?} holds {} bytes for {elements} elements, not elements of \
             {} ({} bytes each)",
            data.len(),
            std::any::type_name::<T>(),
            std::mem::size_of::<T>()
        )));
    }
    // One copy into memory aligned for `T` (the variable's bytes follow a
    // variable-length header, so they are not).
    let mut aligned = vec![T::zeroed(); elements];
    bytemuck::cast_slice_mut::<T, u8>(&mut aligned).copy_from_slice(data);
    ArrayD::from_shape_vec(IxDyn(&dims), aligned)
        .map_err(|e| Error::invalid(format!("array variable {name:?}: {e}")))
}

/// Inside a task, a `run` function or an SPMD section: keeps `array` as
/// array variable `name` on this worker, for `Client::gather_array`.
pub fn set_worker_array<T, S, D>(name: &str, array: &ArrayBase<S, D>) -> Result<()>
where
    T: Plain,
    S: Data<Elem = T>,
    D: Dimension,
{
    let shape: Vec<u64> = array.shape().iter().map(|&d| d as u64).collect();
    let standard = array.as_standard_layout();
    let elements = standard
        .as_slice()
        .ok_or_else(|| Error::invalid("a standard-layout array is contiguous"))?;
    let bytes = encode_rows(
        &shape,
        elements.len() as u64,
        bytemuck::cast_slice(elements),
    )?;
    set_var_bytes("set_worker_array", name, bytes)
}
