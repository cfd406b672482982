//! Computing several collections at once, as `dask.compute(a, b)`:
//! [`compute`] takes a tuple (up to six) mixing arrays ([`DArray`](crate::array::DArray),
//! [`DScalar`](crate::array::DScalar)), delayed values ([`Delayed`](crate::delayed::Delayed),
//! or a `Vec` of them), bags ([`Bag`](crate::bag::Bag)) and bag reductions
//! ([`Item`](crate::bag::Item)), and returns a tuple of their values.
//!
//! ```
//! use rankflow::array::random;
//! use rankflow::delayed::delayed;
//!
//! fn double(x: f64) -> f64 { 2.0 * x }
//!
//! # fn main() -> Result<(), rankflow::Error> {
//! let x = random::random(7, &[200, 200], [100, 100])?;
//! let y = &x + 1.0;                      // shared by both results
//! let (total, largest) = (y.sum(), y.max());
//! let twice = delayed(double, 21.0);
//!
//! let client = rankflow::initialize(rankflow::Config::new())?;
//! // One batch; `x` and `y` are computed once for both reductions.
//! let (s, m, d) = rankflow::compute(&client, (&total, &largest, &twice))?;
//! assert!(s > 40_000.0 && m <= 2.0 && d == 42.0);
//! client.shutdown()
//! # }
//! ```
//!
//! **One batch.** Every collection is lowered to a graph of delayed tasks,
//! and all the graphs go to the scheduler in one message (a bag's shuffle,
//! which needs an SPMD section, runs first, when its bag is lowered).
//!
//! **Shared parts run once.** A delayed node reachable from several
//! results is submitted once. Array expressions are lowered together: a
//! sub-expression that several results use (the same random array, the
//! same `x + 1`, the same reduction) becomes one task per chunk whose
//! chunks those results read, instead of being fused into (and so
//! recomputed by) each of them; constants (`zeros`, `full`, `arange`) are
//! still made where they are used. Inside one result, fusion is as
//! [`DArray::compute`](crate::array::DArray::compute)'s. Bags reading the
//! same partitions through the same chain submit the same (pure) tasks,
//! which the scheduler runs once.

use crate::array::Lowering;
use crate::delayed::{Done, Node};
use crate::{Client, Result};
use std::sync::Arc;

/// What [`compute`] computes: a borrowed collection or a tuple of up to
/// six of them (nested tuples too). Implemented by `&DArray<T>`,
/// `&DScalar<T>`, `&Delayed<T>`, `&[Delayed<T>]`, `&Vec<Delayed<T>>`,
/// `&Bag<T>` and `&Item<A>`.
pub trait Computable {
    /// The computed values, in the same shape (a tuple for a tuple).
    type Output;
    /// Tells the batch about the arrays this will lower, so that parts
    /// several results share are found before any is lowered.
    #[doc(hidden)]
    fn scan(&self, batch: &mut Batch<'_>);
    /// Adds this collection's graph to the batch; the returned closure
    /// takes its futures once the batch is submitted.
    #[doc(hidden)]
    fn lower(&self, batch: &mut Batch<'_>) -> Result<Pending<Self::Output>>;
}

/// Takes a lowered collection's futures from a submitted batch and gives
/// back what waits for them.
#[doc(hidden)]
pub struct Pending<O>(Take<O>);

type Take<O> = Box<dyn FnOnce(&Done) -> Result<Ready<O>>>;

/// What waits for a collection's futures (the value of [`Pending`]'s
/// closure).
pub(crate) type Wait<O> = Box<dyn FnOnce() -> Result<O>>;

/// Waits for a collection's futures and makes its value.
#[doc(hidden)]
pub struct Ready<O>(Wait<O>);

impl<O: 'static> Pending<O> {
    /// `take` gets the futures after submission; the closure it returns
    /// waits for them.
    pub(crate) fn new(take: impl FnOnce(&Done) -> Result<Wait<O>> + 'static) -> Self {
        Pending(Box::new(move |done| take(done).map(Ready)))
    }
}

impl<O> Pending<O> {
    /// Takes the futures from the submitted batch.
    pub(crate) fn take(self, done: &Done) -> Result<Ready<O>> {
        (self.0)(done)
    }
}

impl<O> Ready<O> {
    /// Waits for the futures and makes the value.
    pub(crate) fn wait(self) -> Result<O> {
        (self.0)()
    }
}

/// The graphs of the collections being computed together.
#[doc(hidden)]
pub struct Batch<'c> {
    client: Option<&'c Client>,
    arrays: Vec<crate::array::Raw>,
    lowering: Option<Lowering>,
    roots: Vec<Arc<Node>>,
}

impl<'c> Batch<'c> {
    fn new(client: Option<&'c Client>) -> Self {
        Batch {
            client,
            arrays: Vec::new(),
            lowering: None,
            roots: Vec::new(),
        }
    }

    /// The client, when the batch will be submitted (bags run their
    /// shuffles while they are lowered).
    pub(crate) fn client(&self) -> Option<&'c Client> {
        self.client
    }

    /// An array result the batch will lower (during [`Computable::scan`]).
    pub(crate) fn scan_array(&mut self, raw: &crate::array::Raw) {
        self.arrays.push(raw.clone());
    }

    /// The lowering every array of the batch shares (after the scan).
    pub(crate) fn lowering(&mut self) -> &mut Lowering {
        let arrays = &self.arrays;
        self.lowering
            .get_or_insert_with(|| Lowering::shared(arrays))
    }

    /// A graph node whose result a collection will take.
    pub(crate) fn root(&mut self, node: Arc<Node>) {
        self.roots.push(node);
    }
}

impl<C: Computable + ?Sized> Computable for &C {
    type Output = C::Output;
    fn scan(&self, batch: &mut Batch<'_>) {
        (**self).scan(batch)
    }
    fn lower(&self, batch: &mut Batch<'_>) -> Result<Pending<C::Output>> {
        (**self).lower(batch)
    }
}

macro_rules! computable_tuple {
    ($($C:ident $i:tt),+) => {
        impl<$($C: Computable),+> Computable for ($($C,)+)
        where
            $($C::Output: 'static,)+
        {
            type Output = ($($C::Output,)+);
            fn scan(&self, batch: &mut Batch<'_>) {
                $(self.$i.scan(batch);)+
            }
            fn lower(&self, batch: &mut Batch<'_>) -> Result<Pending<Self::Output>> {
                let parts = ($(self.$i.lower(batch)?,)+);
                Ok(Pending::new(move |done| {
                    let ready = ($(parts.$i.take(done)?,)+);
                    Ok(Box::new(move || Ok(($(ready.$i.wait()?,)+))))
                }))
            }
        }
    };
}

computable_tuple!(A 0);
computable_tuple!(A 0, B 1);
computable_tuple!(A 0, B 1, C 2);
computable_tuple!(A 0, B 1, C 2, D 3);
computable_tuple!(A 0, B 1, C 2, D 3, E 4);
computable_tuple!(A 0, B 1, C 2, D 3, E 4, F 5);

/// Lowers `what` into one batch of graphs, its parts shared.
fn lower<'c, C: Computable>(
    client: Option<&'c Client>,
    what: &C,
) -> Result<(Batch<'c>, Pending<C::Output>)> {
    let mut batch = Batch::new(client);
    what.scan(&mut batch);
    let pending = what.lower(&mut batch)?;
    Ok((batch, pending))
}

/// Computes several collections at once (dask's `dask.compute(a, b)`):
/// their graphs go to the cluster in one batch, parts they share run
/// once, and the values come back in the same shape (a tuple for a
/// tuple). See the [module docs](self).
pub fn compute<C: Computable>(client: &Client, what: C) -> Result<C::Output> {
    let (batch, pending) = lower(Some(client), &what)?;
    let done = crate::delayed::submit_graph(client, &batch.roots)?;
    drop(batch);
    let ready = pending.take(&done)?;
    // Only the futures the results hold keep their data on the workers.
    drop(done);
    ready.wait()
}

/// The number of tasks [`compute`] would run for `what` (chunks already
/// persisted count, though they do not run again). A bag whose shuffle has
/// not run counts one stand-in task per output partition.
pub fn tasks<C: Computable>(what: C) -> Result<usize> {
    let (batch, _) = lower(None, &what)?;
    Ok(crate::delayed::count_graph(&batch.roots))
}

/// Writes the task graph of computing `what` as Graphviz DOT to `path`
/// with the extension `.dot`, and as SVG beside it when the `dot` program
/// is installed (dask's `dask.visualize(a, b)`); see
/// [`Visualization`](crate::delayed::Visualization).
pub fn visualize<C: Computable>(
    what: C,
    path: impl AsRef<std::path::Path>,
) -> Result<crate::delayed::Visualization> {
    let (batch, _) = lower(None, &what)?;
    crate::delayed::visualize_nodes(&batch.roots, path.as_ref())
}
