//! ndarray broadcasts: standard-layout arrays go to MPI as their own memory,
//! others through one contiguous copy.

use super::{Backend, Group, RawGroup, Refusal};
use crate::comm::plain::Plain;
use crate::error::{Error, Result};
use ndarray::{ArrayBase, ArrayD, DataMut, Dimension, IxDyn};

impl Group {
    /// Broadcasts an ndarray in place: every member's array takes the root's
    /// values. Standard-layout arrays go to MPI as their own memory; others
    /// are copied through a contiguous buffer. Shapes must match the root's.
    pub fn bcast_array_into<T, S, D>(&self, array: &mut ArrayBase<S, D>, root: usize) -> Result<()>
    where
        T: Plain,
        S: DataMut<Elem = T>,
        D: Dimension,
    {
        let _op = self.op("bcast_array_into");
        let shape: Vec<u64> = array.shape().iter().map(|&n| n as u64).collect();
        let root_shape = self.bcast_vec_header(&shape, root)?;
        let shape_ok = root_shape == shape;
        if let (true, Some(slice)) = (shape_ok, array.as_slice_mut()) {
            return self.bcast_into(slice, root);
        }
        let mut tmp: Vec<T> = if self.rank() == root {
            array.iter().copied().collect()
        } else {
            vec![T::zeroed(); root_shape.iter().product::<u64>() as usize]
        };
        self.bcast_into(&mut tmp, root)?;
        if !shape_ok {
            return Err(Error::invalid(format!(
                "bcast_array_into: root {root} has shape {root_shape:?}, this rank {shape:?}"
            )));
        }
        array.iter_mut().zip(tmp).for_each(|(a, b)| *a = b);
        Ok(())
    }

    /// Broadcasts the root's array (shape and values) to every member, which
    /// gets a new array; non-roots pass `None`.
    pub fn bcast_array<T: Plain>(
        &self,
        array: Option<ArrayD<T>>,
        root: usize,
    ) -> Result<ArrayD<T>> {
        let _op = self.op("bcast_array");
        self.check_root(root)?;
        let is_root = self.rank() == root;
        let shape: Vec<u64> = match (&array, is_root) {
            (Some(a), true) => a.shape().iter().map(|&n| n as u64).collect(),
            _ => Vec::new(),
        };
        let missing = is_root && array.is_none();
        let header = if missing {
            vec![Refusal::Missing.code()]
        } else {
            shape
        };
        let shape = self.bcast_vec_header(&header, root)?;
        if shape.len() == 1 && Refusal::from_code(shape[0]).is_some() {
            return Err(Refusal::Missing.error("bcast_array", root));
        }
        let dims: Vec<usize> = shape.iter().map(|&n| n as usize).collect();
        match array.filter(|_| is_root) {
            Some(mut a) => {
                if !a.is_standard_layout() {
                    a = a.as_standard_layout().into_owned();
                }
                let slice = a
                    .as_slice_mut()
                    .ok_or_else(|| Error::invalid("array is not contiguous"))?;
                self.bcast_into(slice, root)?;
                Ok(a)
            }
            None => {
                let mut data = vec![T::zeroed(); dims.iter().product()];
                self.bcast_into(&mut data, root)?;
                ArrayD::from_shape_vec(IxDyn(&dims), data)
                    .map_err(|e| Error::invalid(format!("bcast_array: bad shape {dims:?}: {e}")))
            }
        }
    }

    /// The root's short `u64` list reaches every member (length, then values).
    pub(super) fn bcast_vec_header(&self, values: &[u64], root: usize) -> Result<Vec<u64>> {
        self.check_root(root)?;
        let n = self.bcast_header(values.len() as u64, root)?;
        let n = super::header::count(n, "bcast_array", root)?;
        let mut out = if self.rank() == root {
            values.to_vec()
        } else {
            vec![0u64; n]
        };
        raw!(self, g => g.bcast(&mut out, root))?;
        Ok(out)
    }
}
