//! Bags, as dask.bag: a lazy, partitioned collection of records of any serde
//! type, for semi-structured data (log lines, JSON records, text).
//!
//! ```
//! use rankflow::bag::{self, Bag};
//!
//! # fn main() -> Result<(), rankflow::Error> {
//! let b: Bag<u64> = bag::range(1000, 4)?;
//! let odd_squares = b.filter(|x| x % 2 == 1).map(|x: u64| x * x); // one task per partition
//! let total = odd_squares.sum();
//!
//! let client = rankflow::initialize(rankflow::Config::new())?;
//! let serial: u64 = (0..1000u64).filter(|x| x % 2 == 1).map(|x| x * x).sum();
//! assert_eq!(total.compute(&client)?, serial);
//! assert_eq!(odd_squares.take(&client, 3)?, vec![1, 9, 25]);
//! client.shutdown()
//! # }
//! ```
//!
//! **Fusion.** `map`, `filter`, `flat_map` and `map_partitions` only add a
//! step to the bag's chain; computing runs the whole chain in one task per
//! partition, records streaming from step to step as an iterator of
//! batches. `visualize` labels each such task by the operations fused into
//! it (`range-map-filter-frequencies`), as dask names tasks. User
//! functions are closures that capture nothing (or function items), like
//! task functions: each step's code is named by its place in the
//! executable, so a chain travels as a list of step offsets (see
//! `task::shipping`'s `StepRef`), applied in sequence by one generic task.
//!
//! **Reductions** (`fold`, `sum`, `frequencies`, `topk`, ...) run their
//! first step inside each partition's task and combine partial results in
//! a tree, [`SPLIT_EVERY`] at a time, the last combine at the client;
//! they return an [`Item`].
//!
//! **Shuffles** (`groupby`, `repartition`) move records worker to worker
//! with all-to-alls over the workers group, in rounds: see the `shuffle`
//! module and [`Bag::shuffle_stats`].
//!
//! Built on the public API: compute lowers the bag to a
//! [`delayed`](mod@crate::delayed) graph and submits it in one batch; the
//! scheduler never learns what a bag is. A failing user function (a panic)
//! fails the compute with its message.

mod reduce;
mod shuffle;
mod step;
mod text;

pub use reduce::Item;
pub use shuffle::ShuffleStats;
pub use text::{read_json, read_json_with, read_text, ReadOptions};

use crate::compute::{Batch, Computable, Pending, Wait};
use crate::delayed::{self, delayed, Delayed, Done};
use crate::{Client, Error, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;
use step::{check_fn, Stage, StageDef};

/// How many partial results one node of a reduction tree combines (dask's
/// `split_every`).
pub const SPLIT_EVERY: usize = 8;

/// A lazy partitioned collection of `T`s. Cheap to clone.
pub struct Bag<T> {
    source: Arc<Source>,
    stages: Vec<StageDef>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Bag<T> {
    fn clone(&self) -> Self {
        Bag {
            source: self.source.clone(),
            stages: self.stages.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: 'static> std::fmt::Debug for Bag<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let steps: Vec<&str> = self.stages.iter().map(|s| s.label.as_str()).collect();
        write!(
            f,
            "Bag<{}>({} partitions, steps [{}])",
            std::any::type_name::<T>(),
            self.npartitions(),
            steps.join(", ")
        )
    }
}

/// Where a bag's partitions come from, and the step that turns each input
/// into records.
struct Source {
    inputs: Inputs,
    first: StageDef,
}

enum Inputs {
    /// One input per partition.
    Fixed(Vec<Input>),
    /// The outputs of a shuffle, run when first computed.
    Shuffle(Arc<shuffle::Shuffle>),
}

/// A partition's input: bytes shipped with its task, or the result of
/// another node.
#[derive(Clone)]
enum Input {
    Bytes(step::Part),
    Node(Delayed<step::Part>),
}

/// The short name of a closure or function type, for labels.
fn label_of<F>(what: &str) -> String {
    let full = std::any::type_name::<F>();
    let trimmed = full.trim_end_matches("::{{closure}}");
    let name = trimmed.rsplit("::").next().unwrap_or(trimmed);
    format!("{what}({name})")
}

fn bag_from<T>(inputs: Vec<Input>, first: StageDef) -> Bag<T> {
    Bag {
        source: Arc::new(Source {
            inputs: Inputs::Fixed(inputs),
            first,
        }),
        stages: Vec::new(),
        _t: PhantomData,
    }
}

fn check_npartitions(what: &str, n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::invalid(format!(
            "{what}: npartitions must be at least 1"
        )));
    }
    Ok(())
}

/// Splits `0..len` into `n` contiguous ranges as even as possible (the
/// first ones one longer).
fn split_evenly(len: usize, n: usize) -> Vec<std::ops::Range<usize>> {
    let (base, extra) = (len / n, len % n);
    let mut at = 0;
    (0..n)
        .map(|i| {
            let size = base + usize::from(i < extra);
            let r = at..at + size;
            at += size;
            r
        })
        .collect()
}

/// A bag of `items` in `npartitions` partitions (fewer when there are fewer
/// items, at least one), as dask's `from_sequence`. The items travel with
/// their partitions' tasks.
pub fn from_vec<T>(items: Vec<T>, npartitions: usize) -> Result<Bag<T>>
where
    T: Serialize + DeserializeOwned + 'static,
{
    check_npartitions("from_vec", npartitions)?;
    let n = npartitions.min(items.len()).max(1);
    let mut inputs = Vec::with_capacity(n);
    for r in split_evenly(items.len(), n) {
        let bytes = step::encode(&items[r]).map_err(Error::invalid)?;
        inputs.push(Input::Bytes(bytes));
    }
    Ok(bag_from(
        inputs,
        StageDef::new(step::decode_vec::<T>, "from_vec"),
    ))
}

/// The bag `0..n` in `npartitions` partitions (dask's `range`); each
/// partition makes its numbers inside its task.
pub fn range(n: u64, npartitions: usize) -> Result<Bag<u64>> {
    check_npartitions("range", npartitions)?;
    let parts = (npartitions as u64).min(n).max(1);
    let mut inputs = Vec::new();
    let (base, extra) = (n / parts, n % parts);
    let mut at = 0u64;
    for i in 0..parts {
        let size = base + u64::from(i < extra);
        inputs.push(Input::Bytes(
            step::encode(&(at, at + size)).map_err(Error::invalid)?,
        ));
        at += size;
    }
    Ok(bag_from(inputs, StageDef::new(step::range_source, "range")))
}

fn to_part<T: Serialize>(items: Vec<T>) -> step::Part {
    match step::encode(&items) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

/// A bag with one partition per delayed list (dask's `from_delayed`).
pub fn from_delayed<T>(parts: Vec<Delayed<Vec<T>>>) -> Result<Bag<T>>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    if parts.is_empty() {
        return Err(Error::invalid("from_delayed: no partitions given"));
    }
    let inputs = parts
        .into_iter()
        .map(|d| Input::Node(delayed(to_part::<T>, d)))
        .collect();
    Ok(bag_from(
        inputs,
        StageDef::new(step::decode_vec::<T>, "from_delayed"),
    ))
}

impl<T: 'static> Bag<T> {
    /// How many partitions (tasks) computing this bag runs.
    pub fn npartitions(&self) -> usize {
        match &self.source.inputs {
            Inputs::Fixed(v) => v.len(),
            Inputs::Shuffle(s) => s.nout,
        }
    }

    fn then<U>(&self, stage: StageDef) -> Bag<U> {
        let mut stages = self.stages.clone();
        stages.push(stage);
        Bag {
            source: self.source.clone(),
            stages,
            _t: PhantomData,
        }
    }

    /// Applies `f` to every record (lazy; fused with its neighbours).
    pub fn map<U: 'static, F>(&self, f: F) -> Bag<U>
    where
        F: Fn(T) -> U + Copy + Send + Sync + 'static,
    {
        const { check_fn::<F>() };
        let _ = f;
        self.then(StageDef::new(
            step::map_step::<T, U, F>,
            label_of::<F>("map"),
        ))
    }

    /// Keeps the records for which `f` is true.
    pub fn filter<F>(&self, f: F) -> Bag<T>
    where
        F: Fn(&T) -> bool + Copy + Send + Sync + 'static,
    {
        const { check_fn::<F>() };
        let _ = f;
        self.then(StageDef::new(
            step::filter_step::<T, F>,
            label_of::<F>("filter"),
        ))
    }

    /// Replaces every record with the items of `f(record)` (dask's
    /// `map(f).flatten()`).
    pub fn flat_map<I, F>(&self, f: F) -> Bag<I::Item>
    where
        I: IntoIterator + 'static,
        I::Item: 'static,
        F: Fn(T) -> I + Copy + Send + Sync + 'static,
    {
        const { check_fn::<F>() };
        let _ = f;
        self.then(StageDef::new(
            step::flat_map_step::<T, I, F>,
            label_of::<F>("flat_map"),
        ))
    }

    /// Applies `f` to each whole partition.
    pub fn map_partitions<U: 'static, F>(&self, f: F) -> Bag<U>
    where
        F: Fn(Vec<T>) -> Vec<U> + Copy + Send + Sync + 'static,
    {
        const { check_fn::<F>() };
        let _ = f;
        self.then(StageDef::new(
            step::map_partitions_step::<T, U, F>,
            label_of::<F>("map_partitions"),
        ))
    }

    /// One delayed node per partition running the bag's chain then `tail`.
    /// Without a client (for `visualize`), a shuffle not run yet is drawn as
    /// a node per output depending on every input.
    fn lower(
        &self,
        client: Option<&Client>,
        tail: &dyn Fn(usize) -> Vec<StageDef>,
    ) -> Result<Vec<Delayed<step::Part>>> {
        let key = client.map(Client::fingerprint).unwrap_or(0);
        let mut chain: Vec<Stage> = vec![self.source.first.ship(key)];
        chain.extend(self.stages.iter().map(|s| s.ship(key)));
        let inputs = match &self.source.inputs {
            Inputs::Fixed(v) => v.clone(),
            Inputs::Shuffle(s) => s.outputs(client)?,
        };
        let defs = || std::iter::once(&self.source.first).chain(&self.stages);
        Ok(inputs
            .into_iter()
            .enumerate()
            .map(|(i, input)| {
                let mut chain = chain.clone();
                let tail = tail(i);
                chain.extend(tail.iter().map(|s| s.ship(key)));
                let node = match input {
                    Input::Bytes(b) => delayed(step::run_partition, (b, chain)),
                    Input::Node(d) => delayed(step::run_partition, (d, chain)),
                };
                node.labelled(fused_label(defs().chain(&tail)))
            })
            .collect())
    }

    /// Writes the task graph of computing this bag as Graphviz DOT (and SVG
    /// when Graphviz is installed), as [`Delayed::visualize`].
    pub fn visualize(&self, path: impl AsRef<Path>) -> Result<delayed::Visualization>
    where
        T: Serialize,
    {
        let parts = self.lower(None, &|_| vec![collect_stage::<T>()])?;
        delayed(compute_parts, parts).visualize(path)
    }
}

/// What `visualize` calls a partition's task: the operations fused into
/// it, joined by `-` as dask names tasks (`range-map-filter-frequencies`),
/// without the steps that only decode or encode.
fn fused_label<'a>(stages: impl Iterator<Item = &'a StageDef>) -> String {
    stages
        .map(|s| s.label.split('(').next().unwrap_or(&s.label))
        .filter(|l| !matches!(*l, "encode" | "partial" | "collect"))
        .collect::<Vec<_>>()
        .join("-")
}

/// The root `visualize` draws above a bag's partitions.
fn compute_parts(parts: Vec<step::Part>) -> Vec<step::Part> {
    parts
}

fn collect_stage<T: Serialize + 'static>() -> StageDef {
    StageDef::new(step::collect_step::<T>, "collect")
}

/// A task failure's text, as the error a bag operation returns.
pub(crate) fn step_error(e: String) -> Error {
    Error::invalid(e)
}

impl<T: Serialize + DeserializeOwned + 'static> Bag<T> {
    /// Computes every partition and returns all records in partition order.
    pub fn compute(&self, client: &Client) -> Result<Vec<T>> {
        crate::compute(client, self)
    }

    /// Computes every partition and keeps the results on the workers
    /// (dask's `persist`): the returned bag reads them from there while it
    /// (or a bag made from it) lives.
    pub fn persist(&self, client: &Client) -> Result<Bag<T>> {
        let parts = self.lower(Some(client), &|_| vec![collect_stage::<T>()])?;
        let futures = parts
            .iter()
            .map(|p| p.submit(client))
            .collect::<Result<Vec<_>>>()?;
        for f in &futures {
            f.wait(None)?;
            if f.status() == crate::FutureStatus::Failed {
                f.result()?;
            }
        }
        let inputs = futures
            .into_iter()
            .map(|f| Input::Node(delayed::from_future(f)))
            .collect();
        Ok(bag_from(
            inputs,
            StageDef::new(step::decode_vec::<T>, "persisted"),
        ))
    }

    /// The first `n` records, computing partitions in order only until it
    /// has them. Asking for more records than the bag holds is an error
    /// that says how many there are (dask warns and returns fewer).
    pub fn take(&self, client: &Client, n: usize) -> Result<Vec<T>> {
        let parts = self.lower(Some(client), &|_| vec![collect_stage::<T>()])?;
        let mut out = Vec::with_capacity(n);
        for p in &parts {
            if out.len() >= n {
                break;
            }
            let part = p.compute(client)?;
            let items: Vec<T> = step::decode(&part).map_err(step_error)?;
            out.extend(items.into_iter().take(n - out.len()));
        }
        if out.len() < n {
            return Err(Error::invalid(format!(
                "take({n}): the bag holds only {} records in {} partitions",
                out.len(),
                parts.len()
            )));
        }
        Ok(out)
    }
}

/// Every record, in partition order.
impl<T: Serialize + DeserializeOwned + 'static> Computable for Bag<T> {
    type Output = Vec<T>;
    fn scan(&self, _: &mut Batch<'_>) {}
    fn lower(&self, batch: &mut Batch<'_>) -> Result<Pending<Vec<T>>> {
        let parts = self.lower(batch.client(), &|_| vec![collect_stage::<T>()])?;
        let parts = parts.lower(batch)?;
        Ok(Pending::new(move |done: &Done| {
            let ready = parts.take(done)?;
            Ok(Box::new(move || {
                let mut out = Vec::new();
                for p in &ready.wait()? {
                    out.extend(step::decode::<Vec<T>>(p).map_err(step_error)?);
                }
                Ok(out)
            }) as Wait<Vec<T>>)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_splits_cover_everything() {
        assert_eq!(split_evenly(10, 3), vec![0..4, 4..7, 7..10]);
        assert_eq!(split_evenly(0, 1), vec![0..0]);
    }

    #[test]
    fn labels_name_the_function() {
        fn double(x: u64) -> u64 {
            x * 2
        }
        fn l<F>(_: F) -> String {
            label_of::<F>("map")
        }
        assert_eq!(l(double), "map(double)");
    }
}
