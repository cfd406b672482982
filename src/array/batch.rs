//! Arrays in a [`compute`](crate::compute()) batch: their expressions are
//! lowered together (shared parts once), and each result is assembled at
//! the client chunk by chunk as its futures finish.

use super::chunks::grid;
use super::dtype::Element;
use super::expr::Raw;
use super::{eval, memory, DArray, DScalar};
use crate::compute::{Batch, Computable, Pending, Wait};
use crate::delayed::Done;
use crate::ndarray::{ArrayD, IxDyn};
use crate::Result;

/// Lowers `raw` into `batch` (its chunk tasks are roots) and returns what
/// assembles its values.
fn lower<T: Element>(raw: &Raw, batch: &mut Batch<'_>) -> Result<Pending<ArrayD<T>>> {
    if let Some(client) = batch.client() {
        memory::check_graph([raw], client.workers())?;
    }
    let blocks = batch.lowering().blocks(raw);
    for b in &blocks {
        batch.root(b.node());
    }
    let raw = raw.clone();
    Ok(Pending::new(move |done: &Done| {
        let futures = blocks
            .iter()
            .map(|b| done.future::<super::block::Block>(&b.node()))
            .collect::<Result<Vec<_>>>()?;
        drop(blocks);
        Ok(Box::new(move || {
            let mut out: Option<ArrayD<T>> = None;
            for ((_, start, shape), future) in grid(&raw.chunks).into_iter().zip(futures) {
                let values = T::unwrap(future.result()?.finish());
                drop(future);
                let out = out.get_or_insert_with(|| {
                    ArrayD::from_elem(
                        IxDyn(&raw.shape),
                        values.first().copied().expect("a chunk is not empty"),
                    )
                });
                out.slice_mut(eval::region(&start, &shape).as_slice())
                    .assign(&values);
            }
            Ok(out.unwrap_or_else(|| {
                ArrayD::from_shape_vec(IxDyn(&raw.shape), Vec::new()).expect("an empty array")
            }))
        }) as Wait<ArrayD<T>>)
    }))
}

/// Its values as an ndarray.
impl<T: Element> Computable for DArray<T> {
    type Output = ArrayD<T>;
    fn scan(&self, batch: &mut Batch<'_>) {
        batch.scan_array(&self.raw);
    }
    fn lower(&self, batch: &mut Batch<'_>) -> Result<Pending<ArrayD<T>>> {
        lower(&self.raw, batch)
    }
}

/// Its value.
impl<T: Element> Computable for DScalar<T> {
    type Output = T;
    fn scan(&self, batch: &mut Batch<'_>) {
        batch.scan_array(&self.0.raw);
    }
    fn lower(&self, batch: &mut Batch<'_>) -> Result<Pending<T>> {
        let array = lower::<T>(&self.0.raw, batch)?;
        Ok(Pending::new(move |done: &Done| {
            let ready = array.take(done)?;
            Ok(Box::new(move || Ok(ready.wait()?[IxDyn(&[])])) as Wait<T>)
        }))
    }
}
