//! Array variables: the rows of an ndarray that `Client::scatter_array` split
//! along axis 0 over the workers. A worker keeps its rows as a worker
//! variable whose bytes are the codec's encoding of the shape (`Vec<u64>`)
//! and the element count (`u64`), zero-padded to [`ROW_ALIGN`] bytes,
//! followed by the elements' own bytes, so the rows of any [`Plain`] type
//! arrive with one scatterv and go back to the client with one gatherv,
//! without being copied or re-encoded. The padding puts the rows at an
//! offset aligned for any element type, so tasks can read them in place
//! with [`worker_array_view`] (or take a copy with [`worker_array`]).

use super::executor::{set_var_bytes, var_bytes};
use crate::comm::codec;
use crate::comm::plain::Plain;
use crate::error::{Error, Result};
use ndarray::{ArrayBase, ArrayD, ArrayViewD, Data, Dimension, IxDyn};
use std::marker::PhantomData;
use std::sync::Arc;

/// The rows start at a multiple of this many bytes from the start of the
/// variable's bytes (whose allocation the system allocator aligns to at
/// least 16 bytes, enough for every [`Plain`] type).
pub const ROW_ALIGN: usize = 64;

/// The encoding of `(shape, data)` for `rows` of raw element bytes.
pub(crate) fn encode_rows(shape: &[u64], elements: u64, rows: &[u8]) -> Result<Vec<u8>> {
    let mut out = codec::encode(&shape)?;
    out.extend(codec::encode(&elements)?);
    out.resize(out.len().next_multiple_of(ROW_ALIGN), 0);
    out.reserve_exact(rows.len());
    out.extend_from_slice(rows);
    Ok(out)
}

/// The shape and the raw element bytes of an array variable's encoding.
pub(crate) fn split_rows(bytes: &[u8]) -> Result<(Vec<u64>, &[u8])> {
    let (shape, start) = rows_start(bytes)?;
    Ok((shape, &bytes[start..]))
}

/// The shape, and the offset of the rows, of an array variable's encoding.
fn rows_start(bytes: &[u8]) -> Result<(Vec<u64>, usize)> {
    let (shape, rest) = postcard::take_from_bytes::<Vec<u64>>(bytes)
        .map_err(|e| Error::codec(format!("not an array variable: {e}")))?;
    let (_elements, rest) = postcard::take_from_bytes::<u64>(rest)
        .map_err(|e| Error::codec(format!("not an array variable: {e}")))?;
    let start = (bytes.len() - rest.len()).next_multiple_of(ROW_ALIGN);
    if start > bytes.len() {
        return Err(Error::codec(
            "not an array variable: its header is cut short",
        ));
    }
    Ok((shape, start))
}

/// An array variable's rows, read in place: [`view`](Self::view) borrows
/// them from the worker's copy, which this keeps alive (a later
/// `set_worker_array` of the same name does not change it).
pub struct WorkerArrayView<T: Plain> {
    bytes: Arc<Vec<u8>>,
    start: usize,
    dims: Vec<usize>,
    /// The rows, copied, when they were not aligned for `T` in place.
    copy: Option<Vec<T>>,
    elem: PhantomData<T>,
}

impl<T: Plain> WorkerArrayView<T> {
    /// The array, borrowed.
    pub fn view(&self) -> ArrayViewD<'_, T> {
        let elements: &[T] = match &self.copy {
            Some(c) => c,
            None => bytemuck::cast_slice(&self.bytes[self.start..]),
        };
        ArrayViewD::from_shape(IxDyn(&self.dims), elements)
            .expect("the shape was checked against the length")
    }

    /// Whether the rows are read in place (no copy was needed).
    pub fn in_place(&self) -> bool {
        self.copy.is_none()
    }
}

/// Inside a task, a `run` function or an SPMD section: this worker's rows of
/// the array scattered as `name`, read in place without a copy (see
/// [`worker_array`], which copies). Errors as [`worker_array`]'s.
pub fn worker_array_view<T: Plain>(name: &str) -> Result<WorkerArrayView<T>> {
    let bytes = var_bytes("worker_array_view", name)?;
    let (shape, start) = rows_start(&bytes)?;
    let data = &bytes[start..];
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
    let copy = match bytemuck::try_cast_slice::<u8, T>(data) {
        Ok(_) => None,
        Err(_) => {
            let mut aligned = vec![T::zeroed(); elements];
            bytemuck::cast_slice_mut::<T, u8>(&mut aligned).copy_from_slice(data);
            Some(aligned)
        }
    };
    Ok(WorkerArrayView {
        bytes,
        start,
        dims,
        copy,
        elem: PhantomData,
    })
}

/// Inside a task, a `run` function or an SPMD section: this worker's rows of
/// the array scattered as `name` (see `Client::scatter_array`), or kept with
/// [`set_worker_array`]. An error names the variable if it is missing, is
/// not an array variable, or holds elements of another size than `T`.
pub fn worker_array<T: Plain>(name: &str) -> Result<ArrayD<T>> {
    Ok(worker_array_view::<T>(name)?.view().to_owned())
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
