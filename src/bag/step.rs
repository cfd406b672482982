//! The fused chain a bag partition task runs: [`Stage`]s (a shipped
//! [`Step`] and its encoded state) applied in sequence by one generic task,
//! [`run_partition`], on values held in memory.
//!
//! A partition's records flow between the steps of a chain as an
//! [`Items<T>`], a boxed iterator of batches of up to [`BATCH`] records: a
//! `map` then a `filter` pull one batch at a time through both, so a
//! partition never lives whole in between, and the per-record loops are
//! plain monomorphised code (one dynamic call per batch and step, not per
//! record). The first step of a
//! chain turns the task's input bytes into records (decoding a list, making
//! a range, reading a file); the last turns the result back into bytes
//! ([`Part`]). User closures are zero-sized types, so the step monomorphised
//! for a closure names its code, and only the step's offset travels.

use crate::comm::codec;
use crate::task::shipping::{conjure_fn, require_zero_sized, Step, StepRef};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::any::Any;
use std::fmt;

/// Encoded bytes: a partition (an encoded `Vec<T>`), a partial result of a
/// reduction, or a step's input. Serialised as one byte string, not byte by
/// byte.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Part(pub Vec<u8>);

impl fmt::Debug for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Part({} bytes)", self.0.len())
    }
}

impl Serialize for Part {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Part {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Part, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Part;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Part, E> {
                Ok(Part(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Part, E> {
                Ok(Part(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

/// A step of a chain with its encoded state (a fold's initial value, `k`
/// of a top-k, a file name...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stage {
    step: StepRef,
    state: Part,
}

/// How a stage is described before it has a client's fingerprint: the step
/// function and its state.
#[derive(Clone)]
pub(crate) struct StageDef {
    pub step: Step,
    pub state: Vec<u8>,
    /// Shown by `visualize`.
    pub label: String,
}

impl StageDef {
    /// A stage with no state.
    pub fn new(step: Step, label: impl Into<String>) -> Self {
        StageDef {
            step,
            state: Vec::new(),
            label: label.into(),
        }
    }

    /// A stage whose state is `state`, encoded.
    pub fn with<S: Serialize>(step: Step, state: &S, label: impl Into<String>) -> Self {
        StageDef {
            step,
            state: codec::encode(state).unwrap_or_default(),
            label: label.into(),
        }
    }

    /// The stage to ship, for executables with fingerprint `key`.
    pub fn ship(&self, key: u64) -> Stage {
        Stage {
            step: StepRef::new(self.step, key),
            state: Part(self.state.clone()),
        }
    }
}

/// Records per batch between two steps of a chain.
pub(crate) const BATCH: usize = 4096;

/// A partition's records on their way through a chain, in batches.
pub(crate) struct Items<T>(pub Box<dyn Iterator<Item = Vec<T>>>);

/// The records of an iterator, [`BATCH`] at a time.
struct Batched<I>(I);

impl<I: Iterator> Iterator for Batched<I> {
    type Item = Vec<I::Item>;
    fn next(&mut self) -> Option<Vec<I::Item>> {
        let batch: Vec<I::Item> = self.0.by_ref().take(BATCH).collect();
        (!batch.is_empty()).then_some(batch)
    }
}

/// The fingerprint to check step references against, on the running worker.
pub(crate) fn fingerprint() -> u64 {
    crate::worker::executor::current_fingerprint().unwrap_or(0)
}

/// Applies `stages` in order to `first` on the running worker; the last
/// must leave a [`Part`].
pub(crate) fn run_stages(first: Box<dyn Any>, stages: &[Stage]) -> Result<Part, String> {
    run_stages_keyed(first, stages, fingerprint())
}

/// [`run_stages`] checking step references against the executable
/// fingerprint `key` (the client's, for a combine it runs itself).
pub(crate) fn run_stages_keyed(
    first: Box<dyn Any>,
    stages: &[Stage],
    key: u64,
) -> Result<Part, String> {
    let mut value = first;
    for stage in stages {
        value = (stage.step.get(key)?)(value, &stage.state.0)?;
    }
    value
        .downcast::<Part>()
        .map(|b| *b)
        .map_err(|_| "a bag chain did not end with encoded bytes".to_string())
}

/// The task every bag partition runs: its input bytes through `stages`. A
/// failure panics, which fails the task (and its dependents) with the
/// message.
pub(crate) fn run_partition(input: Part, stages: Vec<Stage>) -> Part {
    match run_stages(Box::new(input), &stages) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

/// Takes the value a previous step left, which must be a `V`.
pub(crate) fn take<V: 'static>(value: Box<dyn Any>, what: &str) -> Result<V, String> {
    value.downcast::<V>().map(|b| *b).map_err(|_| {
        format!(
            "bag step {what}: the previous step left another type than {}",
            std::any::type_name::<V>()
        )
    })
}

/// Takes the records a previous step left, in batches.
pub(crate) fn batches<T: 'static>(
    value: Box<dyn Any>,
) -> Result<Box<dyn Iterator<Item = Vec<T>>>, String> {
    take::<Items<T>>(value, "records").map(|i| i.0)
}

/// Takes the records a previous step left, one by one.
pub(crate) fn items<T: 'static>(
    value: Box<dyn Any>,
) -> Result<std::iter::Flatten<Box<dyn Iterator<Item = Vec<T>>>>, String> {
    batches(value).map(Iterator::flatten)
}

/// Wraps records for the next step, cutting them into batches.
pub(crate) fn boxed<T: 'static>(it: impl Iterator<Item = T> + 'static) -> Box<dyn Any> {
    boxed_batches(Batched(it))
}

/// Wraps batches of records for the next step.
pub(crate) fn boxed_batches<T: 'static>(
    it: impl Iterator<Item = Vec<T>> + 'static,
) -> Box<dyn Any> {
    Box::new(Items::<T>(Box::new(it)))
}

/// Wraps a whole partition's records for the next step.
pub(crate) fn boxed_vec<T: 'static>(all: Vec<T>) -> Box<dyn Any> {
    boxed_batches(std::iter::once(all))
}

/// Decodes a step's state.
pub(crate) fn state<S: DeserializeOwned>(bytes: &[u8]) -> Result<S, String> {
    codec::decode(bytes).map_err(|e| format!("bag step state: {}", e.message()))
}

/// Encodes a value as a [`Part`].
pub(crate) fn encode<V: Serialize + ?Sized>(v: &V) -> Result<Part, String> {
    codec::encode(v)
        .map(Part)
        .map_err(|e| format!("cannot encode a bag result: {}", e.message()))
}

/// Decodes a [`Part`].
pub(crate) fn decode<V: DeserializeOwned>(p: &Part) -> Result<V, String> {
    codec::decode(&p.0).map_err(|e| format!("cannot decode a bag partition: {}", e.message()))
}

// ---- sources: input bytes to records ----

/// Source: the input is an encoded `Vec<T>`.
pub(crate) fn decode_vec<T: DeserializeOwned + 'static>(
    v: Box<dyn Any>,
    _: &[u8],
) -> Result<Box<dyn Any>, String> {
    let part: Part = take(v, "decode")?;
    let items: Vec<T> = decode(&part)?;
    Ok(boxed_vec(items))
}

/// Source: the input is an encoded range `(start, end)` of `u64`.
pub(crate) fn range_source(v: Box<dyn Any>, _: &[u8]) -> Result<Box<dyn Any>, String> {
    let part: Part = take(v, "range")?;
    let (start, end): (u64, u64) = decode(&part)?;
    Ok(boxed(start..end))
}

// ---- user functions ----

/// `map(f)`.
pub(crate) fn map_step<T: 'static, U: 'static, F: Fn(T) -> U + Copy + 'static>(
    v: Box<dyn Any>,
    _: &[u8],
) -> Result<Box<dyn Any>, String> {
    let f = conjure_fn::<F>();
    Ok(boxed_batches(
        batches::<T>(v)?.map(move |b| b.into_iter().map(f).collect::<Vec<U>>()),
    ))
}

/// `filter(f)`.
pub(crate) fn filter_step<T: 'static, F: Fn(&T) -> bool + Copy + 'static>(
    v: Box<dyn Any>,
    _: &[u8],
) -> Result<Box<dyn Any>, String> {
    let f = conjure_fn::<F>();
    Ok(boxed_batches(batches::<T>(v)?.map(move |mut b| {
        b.retain(f);
        b
    })))
}

/// `flat_map(f)`.
pub(crate) fn flat_map_step<T, I, F>(v: Box<dyn Any>, _: &[u8]) -> Result<Box<dyn Any>, String>
where
    T: 'static,
    I: IntoIterator + 'static,
    I::Item: 'static,
    F: Fn(T) -> I + Copy + 'static,
{
    let f = conjure_fn::<F>();
    Ok(boxed_batches(batches::<T>(v)?.map(move |b| {
        b.into_iter().flat_map(f).collect::<Vec<I::Item>>()
    })))
}

/// `map_partitions(f)`.
pub(crate) fn map_partitions_step<T: 'static, U: 'static, F>(
    v: Box<dyn Any>,
    _: &[u8],
) -> Result<Box<dyn Any>, String>
where
    F: Fn(Vec<T>) -> Vec<U> + Copy + 'static,
{
    let f = conjure_fn::<F>();
    let all: Vec<T> = items::<T>(v)?.collect();
    Ok(boxed_vec(f(all)))
}

/// Checks at compile time that a user function is zero-sized.
pub(crate) const fn check_fn<F>() {
    require_zero_sized::<F>()
}

// ---- sinks: records to bytes ----

/// Sink: the records as an encoded `Vec<T>`.
pub(crate) fn collect_step<T: Serialize + 'static>(
    v: Box<dyn Any>,
    _: &[u8],
) -> Result<Box<dyn Any>, String> {
    let all: Vec<T> = items::<T>(v)?.collect();
    Ok(Box::new(encode(&all)?))
}

/// Sink: a single value `A` left by the previous step, encoded.
pub(crate) fn encode_step<A: Serialize + 'static>(
    v: Box<dyn Any>,
    _: &[u8],
) -> Result<Box<dyn Any>, String> {
    let a: A = take(v, "encode")?;
    Ok(Box::new(encode(&a)?))
}
