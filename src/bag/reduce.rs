//! Reductions of a bag as trees: a first step inside each partition's task
//! (fused with the bag's chain) leaves a partial result, and inner nodes
//! combine up to [`SPLIT_EVERY`](super::SPLIT_EVERY) partials at a time.
//! Each partial carries the combine steps that merge it, so one generic
//! task runs every inner node.

use super::step::{self, check_fn, items, state, take, Part, Stage, StageDef};
use super::{step_error, Bag, SPLIT_EVERY};
use crate::compute::{Batch, Computable, Pending, Wait};
use crate::delayed::{self, delayed, Delayed, Done};
use crate::task::shipping::conjure_fn;
use crate::{Client, Error, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::path::Path;
use std::sync::Arc;

/// A partial result with the steps that combine several of them.
#[derive(Serialize, Deserialize)]
struct Partial {
    combine: Vec<Stage>,
    value: Part,
}

/// Last step of a partition's task in a reduction: wraps the encoded
/// partial with the combine steps (the step's state).
fn wrap_step(v: Box<dyn Any>, st: &[u8]) -> std::result::Result<Box<dyn Any>, String> {
    let value: Part = take(v, "wrap")?;
    let combine: Vec<Stage> = state(st)?;
    Ok(Box::new(step::encode(&Partial { combine, value })?))
}

/// Combines encoded [`Partial`]s into one, checking step references
/// against the executable fingerprint `key`.
fn combine_partials(parts: &[Part], key: u64) -> std::result::Result<Part, String> {
    let partials = parts
        .iter()
        .map(step::decode::<Partial>)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let combine = partials
        .first()
        .map(|p| p.combine.clone())
        .ok_or("a reduction tree node has no inputs")?;
    let values: Vec<Part> = partials.into_iter().map(|p| p.value).collect();
    let value = step::run_stages_keyed(Box::new(values), &combine, key)?;
    step::encode(&Partial { combine, value })
}

/// An inner node of a reduction tree: combines encoded [`Partial`]s.
fn run_combine(parts: Vec<Part>) -> Part {
    match combine_partials(&parts, step::fingerprint()) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

/// The last combine of a reduction, at the client: saves the cluster a
/// task, a transfer between workers and a round trip. A panic in a user
/// function is caught and becomes the error, as it would in a task.
fn combine_here(parts: &[Part], key: u64) -> Result<Partial> {
    let combined = match parts {
        [one] => Ok(one.clone()),
        _ => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            combine_partials(parts, key)
        }))
        .unwrap_or_else(|panic| Err(crate::error::panic_text(&*panic))),
    };
    step::decode::<Partial>(&combined.map_err(step_error)?).map_err(step_error)
}

/// Lowers a reduction: with `whole`, the tree up to its root; otherwise
/// only up to the level of at most `split_every` nodes that the client
/// combines.
type Lower = dyn Fn(Option<&Client>, bool) -> Result<Vec<Delayed<Part>>> + Send + Sync;
type Finish<A> = dyn Fn(Part) -> Result<A> + Send + Sync;

/// A lazy single value computed from a bag (dask's `Item`), such as
/// [`Bag::sum`]'s.
pub struct Item<A> {
    lower: Arc<Lower>,
    finish: Arc<Finish<A>>,
}

impl<A> Clone for Item<A> {
    fn clone(&self) -> Self {
        Item {
            lower: self.lower.clone(),
            finish: self.finish.clone(),
        }
    }
}

impl<A> Item<A> {
    /// Runs the reduction and returns its value.
    /// The tree's last combine (of at most [`SPLIT_EVERY`] partial results)
    /// runs at the client.
    pub fn compute(&self, client: &Client) -> Result<A>
    where
        A: 'static,
    {
        crate::compute(client, self)
    }

    /// Writes the reduction's task graph as Graphviz DOT (and SVG when
    /// Graphviz is installed); its root stands for the last combine, which
    /// [`compute`](Self::compute) runs at the client.
    pub fn visualize(&self, path: impl AsRef<Path>) -> Result<delayed::Visualization> {
        let mut root = (self.lower)(None, true)?;
        root.pop()
            .ok_or_else(|| Error::invalid("a bag has at least one partition"))?
            .visualize(path)
    }

    /// The same reduction with its value changed by `f` at the client.
    fn then<B>(self, f: impl Fn(A) -> Result<B> + Send + Sync + 'static) -> Item<B>
    where
        A: 'static,
    {
        let finish = self.finish;
        Item {
            lower: self.lower,
            finish: Arc::new(move |p| f(finish(p)?)),
        }
    }
}

/// The reduction's value.
impl<A: 'static> Computable for Item<A> {
    type Output = A;
    fn scan(&self, _: &mut Batch<'_>) {}
    fn lower(&self, batch: &mut Batch<'_>) -> Result<Pending<A>> {
        let key = batch.client().map(Client::fingerprint).unwrap_or(0);
        let top = (self.lower)(batch.client(), false)?.lower(batch)?;
        let finish = self.finish.clone();
        Ok(Pending::new(move |done: &Done| {
            let ready = top.take(done)?;
            Ok(Box::new(move || {
                let partial = combine_here(&ready.wait()?, key)?;
                finish(partial.value)
            }) as Wait<A>)
        }))
    }
}

/// A reduction's two step lists: per partition (ending with the encoded
/// partial value) and per inner node (from a `Vec<Part>` of partial values
/// to one encoded value).
struct Spec {
    per_partition: Vec<StageDef>,
    combine: Vec<StageDef>,
}

impl<T: 'static> Bag<T> {
    /// The tree reduction of this bag by `spec`, its value decoded as `A`.
    fn reduce_by<A: DeserializeOwned + 'static>(&self, spec: Spec, split_every: usize) -> Item<A> {
        let bag = self.clone();
        let split_every = split_every.max(2);
        let aggregate = format!(
            "{}-aggregate",
            spec.per_partition
                .first()
                .map_or("reduction", |s| s.label.as_str())
        );
        let lower = move |client: Option<&Client>, whole: bool| {
            let key = client.map(Client::fingerprint).unwrap_or(0);
            let combine: Vec<Stage> = spec.combine.iter().map(|s| s.ship(key)).collect();
            let mut tail = spec.per_partition.clone();
            tail.push(StageDef::with(wrap_step, &combine, "partial"));
            let mut level = bag.lower(client, &|_| tail.clone())?;
            while level.len() > if whole { 1 } else { split_every } {
                level = level
                    .chunks(split_every)
                    .map(|c| match c {
                        [one] => one.clone(),
                        _ => delayed(run_combine, c.to_vec()).labelled(&aggregate),
                    })
                    .collect();
            }
            Ok(level)
        };
        Item {
            lower: Arc::new(lower),
            finish: Arc::new(|p: Part| step::decode::<A>(&p).map_err(step_error)),
        }
    }

    /// Folds every partition with `binop` from `initial`, then the partial
    /// results with `combine` (dask's `fold(binop, combine, initial)`), in a
    /// tree. `initial` must be neutral for `combine`.
    pub fn fold<A, B, C>(&self, initial: A, binop: B, combine: C) -> Item<A>
    where
        A: Serialize + DeserializeOwned + 'static,
        B: Fn(A, T) -> A + Copy + Send + Sync + 'static,
        C: Fn(A, A) -> A + Copy + Send + Sync + 'static,
    {
        const { check_fn::<B>() };
        const { check_fn::<C>() };
        let (_, _) = (binop, combine);
        self.reduce_by(
            Spec {
                per_partition: vec![
                    StageDef::with(fold_step::<T, A, B>, &initial, "fold"),
                    encode_def::<A>(),
                ],
                combine: vec![
                    StageDef::new(combine_step::<A, C>, "combine"),
                    encode_def::<A>(),
                ],
            },
            SPLIT_EVERY,
        )
    }

    /// `perpartition` on each whole partition, then `aggregate` on lists of
    /// up to `split_every` of their results, in a tree (dask's
    /// `reduction`); `aggregate` must also accept its own results.
    pub fn reduction<A, P, G>(&self, perpartition: P, aggregate: G, split_every: usize) -> Item<A>
    where
        A: Serialize + DeserializeOwned + 'static,
        P: Fn(Vec<T>) -> A + Copy + Send + Sync + 'static,
        G: Fn(Vec<A>) -> A + Copy + Send + Sync + 'static,
    {
        const { check_fn::<P>() };
        const { check_fn::<G>() };
        let (_, _) = (perpartition, aggregate);
        self.reduce_by(
            Spec {
                per_partition: vec![
                    StageDef::new(perpartition_step::<T, A, P>, "reduction"),
                    encode_def::<A>(),
                ],
                combine: vec![
                    StageDef::new(aggregate_step::<A, G>, "aggregate"),
                    encode_def::<A>(),
                ],
            },
            split_every,
        )
    }

    /// How many records.
    pub fn count(&self) -> Item<u64> {
        self.reduce_by(
            Spec {
                per_partition: vec![StageDef::new(count_step::<T>, "count"), encode_def::<u64>()],
                combine: vec![
                    StageDef::new(sum_parts_step::<u64>, "sum"),
                    encode_def::<u64>(),
                ],
            },
            SPLIT_EVERY,
        )
    }

    /// The number of records for each distinct value (dask's
    /// `frequencies`), as a map.
    pub fn frequencies(&self) -> Item<HashMap<T, u64>>
    where
        T: Hash + Eq + Serialize + DeserializeOwned,
    {
        self.reduce_by(
            Spec {
                per_partition: vec![
                    StageDef::new(frequencies_step::<T>, "frequencies"),
                    encode_def::<HashMap<T, u64>>(),
                ],
                combine: vec![
                    StageDef::new(merge_counts_step::<T>, "merge"),
                    encode_def::<HashMap<T, u64>>(),
                ],
            },
            SPLIT_EVERY,
        )
    }

    /// The distinct records, in no particular order.
    pub fn distinct(&self) -> Item<Vec<T>>
    where
        T: Hash + Eq + Serialize + DeserializeOwned,
    {
        self.reduce_by::<Vec<T>>(
            Spec {
                per_partition: vec![
                    StageDef::new(distinct_step::<T>, "distinct"),
                    encode_def::<Vec<T>>(),
                ],
                combine: vec![
                    StageDef::new(merge_distinct_step::<T>, "merge"),
                    encode_def::<Vec<T>>(),
                ],
            },
            SPLIT_EVERY,
        )
    }

    /// The `k` records with the largest `key`, largest first (dask's
    /// `topk(k, key)`); ties keep no particular order.
    pub fn topk<K, F>(&self, k: usize, key: F) -> Item<Vec<T>>
    where
        T: Serialize + DeserializeOwned,
        K: Ord + 'static,
        F: Fn(&T) -> K + Copy + Send + Sync + 'static,
    {
        const { check_fn::<F>() };
        let _ = key;
        self.reduce_by(
            Spec {
                per_partition: vec![
                    StageDef::with(topk_step::<T, K, F>, &(k as u64), "topk"),
                    encode_def::<Vec<T>>(),
                ],
                combine: vec![
                    StageDef::with(merge_topk_step::<T, K, F>, &(k as u64), "topk"),
                    encode_def::<Vec<T>>(),
                ],
            },
            SPLIT_EVERY,
        )
    }

    /// Folds the records of each key separately without a shuffle (dask's
    /// `foldby(key, binop, initial, combine)`): each partition folds its own
    /// records per key from `initial`, and the per-key partials are merged
    /// with `combine` in a tree. The result maps each key to its value.
    pub fn foldby<K, A, KF, B, C>(
        &self,
        key: KF,
        initial: A,
        binop: B,
        combine: C,
    ) -> Item<HashMap<K, A>>
    where
        K: Hash + Eq + Serialize + DeserializeOwned + 'static,
        A: Clone + Serialize + DeserializeOwned + 'static,
        KF: Fn(&T) -> K + Copy + Send + Sync + 'static,
        B: Fn(A, T) -> A + Copy + Send + Sync + 'static,
        C: Fn(A, A) -> A + Copy + Send + Sync + 'static,
    {
        const { check_fn::<KF>() };
        const { check_fn::<B>() };
        const { check_fn::<C>() };
        let (_, _, _) = (key, binop, combine);
        self.reduce_by(
            Spec {
                per_partition: vec![
                    StageDef::with(foldby_step::<T, K, A, KF, B>, &initial, "foldby"),
                    encode_def::<HashMap<K, A>>(),
                ],
                combine: vec![
                    StageDef::new(merge_foldby_step::<K, A, C>, "merge"),
                    encode_def::<HashMap<K, A>>(),
                ],
            },
            SPLIT_EVERY,
        )
    }
}

/// Numbers a bag can sum and average.
pub trait Number: Copy + Serialize + DeserializeOwned + std::iter::Sum + 'static {
    /// As an `f64`, for `mean` and `std`.
    fn to_f64(self) -> f64;
}

macro_rules! number {
    ($($t:ty),*) => {$(
        impl Number for $t {
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    )*};
}
number!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize, f32, f64);

/// Count, mean and sum of squared deviations (Chan et al.'s parallel
/// variance), the partial result of `mean` and `std`.
type Moments = (u64, f64, f64);

impl<T: Number> Bag<T> {
    /// The sum of the records (zero for an empty bag).
    pub fn sum(&self) -> Item<T> {
        self.reduce_by(
            Spec {
                per_partition: vec![StageDef::new(sum_step::<T>, "sum"), encode_def::<T>()],
                combine: vec![StageDef::new(sum_parts_step::<T>, "sum"), encode_def::<T>()],
            },
            SPLIT_EVERY,
        )
    }

    fn moments(&self) -> Item<Moments> {
        self.reduce_by(
            Spec {
                per_partition: vec![
                    StageDef::new(moments_step::<T>, "moments"),
                    encode_def::<Moments>(),
                ],
                combine: vec![
                    StageDef::new(merge_moments_step, "merge"),
                    encode_def::<Moments>(),
                ],
            },
            SPLIT_EVERY,
        )
    }

    /// The mean; an error for an empty bag.
    pub fn mean(&self) -> Item<f64> {
        self.moments().then(|(n, mean, _)| {
            if n == 0 {
                return Err(Error::invalid("mean of an empty bag"));
            }
            Ok(mean)
        })
    }

    /// The variance with `ddof` delta degrees of freedom (dask's
    /// `var(ddof)`); an error when there are not more than `ddof` records.
    pub fn var(&self, ddof: u64) -> Item<f64> {
        self.moments().then(move |(n, _, m2)| {
            if n <= ddof {
                return Err(Error::invalid(format!(
                    "variance with ddof={ddof} of a bag of {n} records"
                )));
            }
            Ok(m2 / (n - ddof) as f64)
        })
    }

    /// The standard deviation with `ddof` delta degrees of freedom.
    pub fn std(&self, ddof: u64) -> Item<f64> {
        self.var(ddof).then(|v| Ok(v.sqrt()))
    }
}

impl<T: PartialOrd + Serialize + DeserializeOwned + 'static> Bag<T> {
    /// The smallest record; an error for an empty bag.
    pub fn min(&self) -> Item<T> {
        self.extreme::<false>("min")
    }

    /// The largest record; an error for an empty bag.
    pub fn max(&self) -> Item<T> {
        self.extreme::<true>("max")
    }

    fn extreme<const MAX: bool>(&self, what: &'static str) -> Item<T> {
        self.reduce_by::<Option<T>>(
            Spec {
                per_partition: vec![
                    StageDef::new(extreme_step::<T, MAX>, what),
                    encode_def::<Option<T>>(),
                ],
                combine: vec![
                    StageDef::new(merge_extreme_step::<T, MAX>, what),
                    encode_def::<Option<T>>(),
                ],
            },
            SPLIT_EVERY,
        )
        .then(move |v| v.ok_or_else(|| Error::invalid(format!("{what} of an empty bag"))))
    }
}

type StepResult = std::result::Result<Box<dyn Any>, String>;

fn encode_def<A: Serialize + 'static>() -> StageDef {
    StageDef::new(step::encode_step::<A>, "encode")
}

/// The partial values of an inner node, decoded.
fn partials<A: DeserializeOwned + 'static>(v: Box<dyn Any>) -> std::result::Result<Vec<A>, String> {
    take::<Vec<Part>>(v, "combine")?
        .iter()
        .map(step::decode::<A>)
        .collect()
}

fn fold_step<T: 'static, A: DeserializeOwned + 'static, B: Fn(A, T) -> A + Copy + 'static>(
    v: Box<dyn Any>,
    st: &[u8],
) -> StepResult {
    let initial: A = state(st)?;
    let f = conjure_fn::<B>();
    Ok(Box::new(items::<T>(v)?.fold(initial, f)))
}

fn combine_step<A: DeserializeOwned + 'static, C: Fn(A, A) -> A + Copy + 'static>(
    v: Box<dyn Any>,
    _: &[u8],
) -> StepResult {
    let f = conjure_fn::<C>();
    let mut all = partials::<A>(v)?.into_iter();
    let first = all.next().ok_or("a reduction tree node has no inputs")?;
    Ok(Box::new(all.fold(first, f)))
}

fn perpartition_step<T: 'static, A: 'static, P: Fn(Vec<T>) -> A + Copy + 'static>(
    v: Box<dyn Any>,
    _: &[u8],
) -> StepResult {
    let f = conjure_fn::<P>();
    Ok(Box::new(f(items::<T>(v)?.collect())))
}

fn aggregate_step<A: DeserializeOwned + 'static, G: Fn(Vec<A>) -> A + Copy + 'static>(
    v: Box<dyn Any>,
    _: &[u8],
) -> StepResult {
    let f = conjure_fn::<G>();
    Ok(Box::new(f(partials::<A>(v)?)))
}

fn count_step<T: 'static>(v: Box<dyn Any>, _: &[u8]) -> StepResult {
    Ok(Box::new(items::<T>(v)?.count() as u64))
}

fn sum_step<T: Number>(v: Box<dyn Any>, _: &[u8]) -> StepResult {
    Ok(Box::new(items::<T>(v)?.sum::<T>()))
}

fn sum_parts_step<T: DeserializeOwned + std::iter::Sum + 'static>(
    v: Box<dyn Any>,
    _: &[u8],
) -> StepResult {
    Ok(Box::new(partials::<T>(v)?.into_iter().sum::<T>()))
}

fn moments_step<T: Number>(v: Box<dyn Any>, _: &[u8]) -> StepResult {
    let (mut n, mut mean, mut m2) = (0u64, 0.0f64, 0.0f64);
    for x in items::<T>(v)? {
        let x = x.to_f64();
        n += 1;
        let d = x - mean;
        mean += d / n as f64;
        m2 += d * (x - mean);
    }
    Ok(Box::new((n, mean, m2)))
}

/// Merges two partial moments (Chan et al.).
fn merge_moments(a: Moments, b: Moments) -> Moments {
    let (na, ma, sa) = a;
    let (nb, mb, sb) = b;
    if na == 0 {
        return b;
    }
    if nb == 0 {
        return a;
    }
    let n = na + nb;
    let d = mb - ma;
    let mean = ma + d * nb as f64 / n as f64;
    let m2 = sa + sb + d * d * (na as f64) * (nb as f64) / n as f64;
    (n, mean, m2)
}

fn merge_moments_step(v: Box<dyn Any>, _: &[u8]) -> StepResult {
    let all = partials::<Moments>(v)?;
    Ok(Box::new(all.into_iter().fold((0, 0.0, 0.0), merge_moments)))
}

fn better<T: PartialOrd, const MAX: bool>(a: Option<T>, b: T) -> Option<T> {
    match a {
        Some(a) if (MAX && a >= b) || (!MAX && a <= b) => Some(a),
        _ => Some(b),
    }
}

fn extreme_step<T: PartialOrd + 'static, const MAX: bool>(v: Box<dyn Any>, _: &[u8]) -> StepResult {
    Ok(Box::new(items::<T>(v)?.fold(None, better::<T, MAX>)))
}

fn merge_extreme_step<T: PartialOrd + DeserializeOwned + 'static, const MAX: bool>(
    v: Box<dyn Any>,
    _: &[u8],
) -> StepResult {
    let all = partials::<Option<T>>(v)?;
    Ok(Box::new(
        all.into_iter().flatten().fold(None, better::<T, MAX>),
    ))
}

fn frequencies_step<T: Hash + Eq + 'static>(v: Box<dyn Any>, _: &[u8]) -> StepResult {
    let mut counts: HashMap<T, u64> = HashMap::new();
    for x in items::<T>(v)? {
        *counts.entry(x).or_insert(0) += 1;
    }
    Ok(Box::new(counts))
}

fn merge_counts_step<T: Hash + Eq + DeserializeOwned + 'static>(
    v: Box<dyn Any>,
    _: &[u8],
) -> StepResult {
    let mut all = partials::<HashMap<T, u64>>(v)?.into_iter();
    let mut counts = all.next().unwrap_or_default();
    for other in all {
        for (k, n) in other {
            *counts.entry(k).or_insert(0) += n;
        }
    }
    Ok(Box::new(counts))
}

fn distinct_step<T: Hash + Eq + 'static>(v: Box<dyn Any>, _: &[u8]) -> StepResult {
    let set: HashSet<T> = items::<T>(v)?.collect();
    Ok(Box::new(set.into_iter().collect::<Vec<T>>()))
}

fn merge_distinct_step<T: Hash + Eq + DeserializeOwned + 'static>(
    v: Box<dyn Any>,
    _: &[u8],
) -> StepResult {
    let set: HashSet<T> = partials::<Vec<T>>(v)?.into_iter().flatten().collect();
    Ok(Box::new(set.into_iter().collect::<Vec<T>>()))
}

/// The `k` largest of `all` by `key`, largest first.
fn top<T, K: Ord, F: Fn(&T) -> K>(mut all: Vec<T>, k: usize, key: F) -> Vec<T> {
    all.sort_by_key(|x| std::cmp::Reverse(key(x)));
    all.truncate(k);
    all
}

fn topk_step<T: 'static, K: Ord, F: Fn(&T) -> K + Copy + 'static>(
    v: Box<dyn Any>,
    st: &[u8],
) -> StepResult {
    let k: u64 = state(st)?;
    Ok(Box::new(top(
        items::<T>(v)?.collect(),
        k as usize,
        conjure_fn::<F>(),
    )))
}

fn merge_topk_step<T: DeserializeOwned + 'static, K: Ord, F: Fn(&T) -> K + Copy + 'static>(
    v: Box<dyn Any>,
    st: &[u8],
) -> StepResult {
    let k: u64 = state(st)?;
    let all: Vec<T> = partials::<Vec<T>>(v)?.into_iter().flatten().collect();
    Ok(Box::new(top(all, k as usize, conjure_fn::<F>())))
}

fn foldby_step<T, K, A, KF, B>(v: Box<dyn Any>, st: &[u8]) -> StepResult
where
    T: 'static,
    K: Hash + Eq + 'static,
    A: Clone + DeserializeOwned + 'static,
    KF: Fn(&T) -> K + Copy + 'static,
    B: Fn(A, T) -> A + Copy + 'static,
{
    let initial: A = state(st)?;
    let (key, binop) = (conjure_fn::<KF>(), conjure_fn::<B>());
    let mut acc: HashMap<K, A> = HashMap::new();
    for x in items::<T>(v)? {
        let k = key(&x);
        let a = acc.remove(&k).unwrap_or_else(|| initial.clone());
        acc.insert(k, binop(a, x));
    }
    Ok(Box::new(acc))
}

fn merge_foldby_step<K, A, C>(v: Box<dyn Any>, _: &[u8]) -> StepResult
where
    K: Hash + Eq + DeserializeOwned + 'static,
    A: DeserializeOwned + 'static,
    C: Fn(A, A) -> A + Copy + 'static,
{
    let combine = conjure_fn::<C>();
    let mut all = partials::<HashMap<K, A>>(v)?.into_iter();
    let mut acc = all.next().unwrap_or_default();
    for other in all {
        for (k, a) in other {
            let merged = match acc.remove(&k) {
                Some(b) => combine(b, a),
                None => a,
            };
            acc.insert(k, merged);
        }
    }
    Ok(Box::new(acc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_moments_match_one_pass() {
        let xs: Vec<f64> = (0..100).map(|i| (i * i % 17) as f64).collect();
        let one = |s: &[f64]| {
            let n = s.len() as f64;
            let mean = s.iter().sum::<f64>() / n;
            (
                s.len() as u64,
                mean,
                s.iter().map(|x| (x - mean).powi(2)).sum::<f64>(),
            )
        };
        let (a, b) = xs.split_at(37);
        let m = merge_moments(one(a), one(b));
        let whole = one(&xs);
        assert_eq!(m.0, whole.0);
        assert!((m.1 - whole.1).abs() < 1e-9 && (m.2 - whole.2).abs() < 1e-6);
        assert_eq!(merge_moments((0, 0.0, 0.0), whole), whole);
    }

    #[test]
    fn top_keeps_the_largest_first() {
        assert_eq!(top(vec![3, 1, 4, 1, 5], 2, |x: &i32| *x), vec![5, 4]);
    }
}
