//! Full shuffles (`groupby`, `repartition`): every record moves to the
//! output partition its key (or place) chooses, worker to worker through
//! one all-to-all over the workers group, never through the client or the
//! scheduler.
//!
//! # How
//!
//! 1. **Split.** One task per input partition runs the bag's chain, cuts its
//!    records into one encoded bucket per output partition and keeps the
//!    buckets on its worker (a worker variable); only a count goes back.
//! 2. **Exchange.** An SPMD section over the workers (`Client::spmd`): each
//!    worker sends every bucket to the worker that owns its output
//!    partition (output `j` belongs to the `j % workers`-th worker) with one
//!    `Group::alltoall`, an `MPI_Alltoallv` under mpirun and its in-process
//!    equivalent in the embedded cluster. Each record crosses the network
//!    at most once, as part of a bucket, and buckets for the sending worker
//!    itself stay in memory.
//! 3. **Load.** One task per output partition, pinned to its owner, turns
//!    the received buckets into an ordinary result; the bag's later steps
//!    (the grouping of `groupby`) run in tasks that read it.
//!
//! # Memory
//!
//! Memory grows linearly with the data: during the exchange a worker holds
//! its own input buckets (about the data of the partitions it split),
//! their send buffer (a second copy, built while the buckets are released
//! one by one), and what it receives (about its share of the output), so
//! at peak roughly two to three times its share of the data. The outputs
//! stay on their workers while the shuffled bag (or a bag made from it)
//! lives, like a persisted bag's.

use super::step::{self, boxed, check_fn, items, state, take, Part, StageDef};
use super::{Bag, Input, Inputs, Source};
use crate::delayed::{self, delayed, Delayed};
use crate::task::shipping::{conjure_fn, Step};
use crate::worker::executor::{current_worker, set_worker_var, var_bytes};
use crate::{Client, Error, Future, Group, Result, TaskOptions};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::any::Any;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

type Upstream = dyn Fn(Option<&Client>, &dyn Fn(usize) -> Vec<StageDef>) -> Result<Vec<Delayed<Part>>>
    + Send
    + Sync;

/// A shuffle of an upstream bag into `nout` partitions, run the first time
/// a bag reading it is computed; its outputs are then kept.
pub(crate) struct Shuffle {
    pub nout: usize,
    id: u64,
    upstream: Box<Upstream>,
    /// The step that buckets a partition (state: the [`SplitState`]).
    split: Step,
    outputs: Mutex<Option<Vec<Future<Part>>>>,
    /// Bytes that crossed between workers, once run.
    moved: AtomicU64,
}

/// What a split step needs: the shuffle, the input partition and the number
/// of outputs.
type SplitState = (u64, u64, u64);

static NEXT_SHUFFLE: AtomicU64 = AtomicU64::new(1);

fn input_var(id: u64, p: u64) -> String {
    format!("rankflow.bag.shuffle.{id}.in.{p}")
}

fn output_var(id: u64, j: u64) -> String {
    format!("rankflow.bag.shuffle.{id}.out.{j}")
}

/// Keeps `buckets` on this worker for the exchange and leaves their record
/// count.
fn keep_buckets(
    id: u64,
    p: u64,
    buckets: Vec<Part>,
    n: u64,
) -> std::result::Result<Box<dyn Any>, String> {
    set_worker_var(&input_var(id, p), &buckets).map_err(|e| e.message().to_string())?;
    Ok(Box::new(step::encode(&n)?))
}

/// Split step of `groupby`: bucket by a hash of the key.
fn hash_split<T, K, KF>(v: Box<dyn Any>, st: &[u8]) -> std::result::Result<Box<dyn Any>, String>
where
    T: Serialize + 'static,
    K: Hash,
    KF: Fn(&T) -> K + Copy + 'static,
{
    let (id, p, nout): SplitState = state(st)?;
    let key = conjure_fn::<KF>();
    let mut buckets: Vec<Vec<T>> = (0..nout).map(|_| Vec::new()).collect();
    let mut n = 0;
    for x in items::<T>(v)? {
        buckets[(hash_of(&key(&x)) % nout) as usize].push(x);
        n += 1;
    }
    let parts = buckets
        .iter()
        .map(step::encode)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    keep_buckets(id, p, parts, n)
}

/// Split step of `repartition`: contiguous, even slices.
fn even_split<T: Serialize + 'static>(
    v: Box<dyn Any>,
    st: &[u8],
) -> std::result::Result<Box<dyn Any>, String> {
    let (id, p, nout): SplitState = state(st)?;
    let all: Vec<T> = items::<T>(v)?.collect();
    let n = all.len() as u64;
    let parts = super::split_evenly(all.len(), nout as usize)
        .into_iter()
        .map(|r| step::encode(&all[r]))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    keep_buckets(id, p, parts, n)
}

/// The same hash on every rank: `DefaultHasher::new()` has fixed keys, and
/// every rank runs the same executable.
fn hash_of<K: Hash>(k: &K) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    k.hash(&mut h);
    h.finish()
}

/// The exchange, on every worker: sends each kept bucket to the owner of
/// its output partition with one all-to-all and keeps what arrives, by
/// output partition. Returns this worker's rank and the bytes it sent to
/// other workers.
fn exchange(group: &Group, (id, nin, nout): (u64, u64, u64)) -> Result<(u64, u64)> {
    let size = group.size() as u64;
    let me = group.rank() as u64;
    let mut send: Vec<Vec<(u64, u64, Part)>> = (0..size).map(|_| Vec::new()).collect();
    for p in 0..nin {
        let name = input_var(id, p);
        let Ok(buckets) = crate::worker_var::<Vec<Part>>(&name) else {
            continue;
        };
        set_worker_var(&name, &Vec::<Part>::new())?;
        for (j, bucket) in buckets.into_iter().enumerate() {
            let j = j as u64;
            send[(j % size) as usize].push((j, p, bucket));
        }
    }
    let moved: u64 = send
        .iter()
        .enumerate()
        .filter(|(dest, _)| *dest as u64 != me)
        .flat_map(|(_, v)| v.iter().map(|(_, _, b)| b.0.len() as u64))
        .sum();
    let received = group.alltoall(send)?;
    let mut by_output: HashMap<u64, Vec<(u64, Part)>> = HashMap::new();
    for (j, p, bucket) in received.into_iter().flatten() {
        by_output.entry(j).or_default().push((p, bucket));
    }
    for j in (0..nout).filter(|j| j % size == me) {
        let mut chunks = by_output.remove(&j).unwrap_or_default();
        chunks.sort_by_key(|(p, _)| *p);
        let chunks: Vec<Part> = chunks.into_iter().map(|(_, b)| b).collect();
        set_worker_var(&output_var(id, j), &chunks)?;
    }
    let rank =
        current_worker().ok_or_else(|| Error::invalid("the exchange ran outside a worker"))?;
    Ok((rank as u64, moved))
}

/// Empties the kept buckets of shuffle `id` on every worker, after a split
/// failed.
fn forget_inputs(_: &Group, (id, nin): (u64, u64)) -> Result<()> {
    for p in 0..nin {
        let name = input_var(id, p);
        if crate::worker_var::<Vec<Part>>(&name).is_ok() {
            set_worker_var(&name, &Vec::<Part>::new())?;
        }
    }
    Ok(())
}

/// Output partition `j`'s received buckets (an encoded `Vec<Part>`), as a
/// result on its owner; the worker variable is emptied.
fn load_output((id, j): (u64, u64)) -> Part {
    let name = output_var(id, j);
    let bytes = match var_bytes("shuffle", &name) {
        Ok(b) => b,
        Err(e) => panic!("shuffle output {j}: {}", e.message()),
    };
    if let Err(e) = set_worker_var(&name, &Vec::<Part>::new()) {
        panic!("shuffle output {j}: {}", e.message());
    }
    Part(bytes.to_vec())
}

/// Source of a shuffled bag: the received buckets, each an encoded
/// `Vec<T>`, in input partition order.
fn chunks_source<T: DeserializeOwned + 'static>(
    v: Box<dyn Any>,
    _: &[u8],
) -> std::result::Result<Box<dyn Any>, String> {
    let part: Part = take(v, "shuffle")?;
    let chunks: Vec<Part> = step::decode(&part)?;
    let mut all = Vec::new();
    for c in &chunks {
        all.extend(step::decode::<Vec<T>>(c)?);
    }
    Ok(boxed(all.into_iter()))
}

/// The stand-in `visualize` draws for a shuffle not run yet.
fn shuffle(inputs: Vec<Part>) -> Part {
    Part(inputs.into_iter().flat_map(|p| p.0).collect())
}

impl Shuffle {
    /// The output partitions as inputs of the shuffled bag; runs the
    /// shuffle the first time (with a client).
    pub(crate) fn outputs(&self, client: Option<&Client>) -> Result<Vec<Input>> {
        let Some(client) = client else {
            let ups = (self.upstream)(None, &|_| Vec::new())?;
            return Ok((0..self.nout)
                .map(|_| Input::Node(delayed(shuffle, ups.clone())))
                .collect());
        };
        let mut outputs = self.outputs.lock().unwrap_or_else(|p| p.into_inner());
        if outputs.is_none() {
            *outputs = Some(self.run(client)?);
        }
        Ok(outputs
            .iter()
            .flatten()
            .map(|f| Input::Node(delayed::from_future(f.clone())))
            .collect())
    }

    fn run(&self, client: &Client) -> Result<Vec<Future<Part>>> {
        let (id, nout) = (self.id, self.nout as u64);
        let split = self.split;
        let tail = move |p: usize| {
            let st: SplitState = (id, p as u64, nout);
            vec![StageDef::with(split, &st, "shuffle split")]
        };
        let parts = (self.upstream)(Some(client), &tail)?;
        let nin = parts.len() as u64;
        if let Err(e) = delayed::compute(client, &parts) {
            // Buckets of the partitions that did split would stay on their
            // workers otherwise.
            client.spmd(forget_inputs, (id, nin))?;
            return Err(e);
        }
        let owners = client.spmd(exchange, (id, nin, nout))?;
        self.moved
            .store(owners.iter().map(|(_, m)| m).sum(), Ordering::Relaxed);
        (0..nout)
            .map(|j| {
                let (rank, _) = owners[(j % owners.len() as u64) as usize];
                let options = TaskOptions::new().pure(false).workers(&[rank as usize]);
                client.submit_with_options(load_output, (id, j), &options)
            })
            .collect()
    }
}

impl<T: Serialize + DeserializeOwned + 'static> Bag<T> {
    fn shuffled(&self, nout: usize, split: Step) -> (Bag<T>, Arc<Shuffle>) {
        let up = self.clone();
        let shuffle = Arc::new(Shuffle {
            nout,
            id: NEXT_SHUFFLE.fetch_add(1, Ordering::Relaxed) ^ (std::process::id() as u64) << 32,
            upstream: Box::new(move |client, tail| up.lower(client, tail)),
            split,
            outputs: Mutex::new(None),
            moved: AtomicU64::new(0),
        });
        let bag = Bag {
            source: Arc::new(Source {
                inputs: Inputs::Shuffle(shuffle.clone()),
                first: StageDef::new(chunks_source::<T>, "shuffled"),
            }),
            stages: Vec::new(),
            _t: PhantomData,
        };
        (bag, shuffle)
    }

    /// The records grouped by `key`: one `(key, records)` pair per distinct
    /// key, in as many partitions as this bag (dask's `groupby`). A full
    /// shuffle (see the module docs): prefer [`foldby`](Bag::foldby) when
    /// a fold per key is all you need.
    pub fn groupby<K, KF>(&self, key: KF) -> Bag<(K, Vec<T>)>
    where
        K: Hash + Eq + 'static,
        KF: Fn(&T) -> K + Copy + Send + Sync + 'static,
    {
        const { check_fn::<KF>() };
        let _ = key;
        let (bag, _) = self.shuffled(self.npartitions(), hash_split::<T, K, KF>);
        bag.then(StageDef::new(group_step::<T, K, KF>, "group"))
    }

    /// The same records in `n` partitions of nearly equal size, through a
    /// full shuffle. Partition `j` holds the `j`-th slice of every input
    /// partition, so the records' overall order is not kept.
    pub fn repartition(&self, n: usize) -> Result<Bag<T>> {
        super::check_npartitions("repartition", n)?;
        Ok(self.shuffled(n, even_split::<T>).0)
    }

    /// Bytes that crossed between workers in the shuffle that made this bag,
    /// once computed (0 before, or for a bag not made by a shuffle).
    pub fn shuffled_bytes(&self) -> u64 {
        match &self.source.inputs {
            Inputs::Shuffle(s) => s.moved.load(Ordering::Relaxed),
            Inputs::Fixed(_) => 0,
        }
    }
}

fn group_step<T: 'static, K: Hash + Eq + 'static, KF: Fn(&T) -> K + Copy + 'static>(
    v: Box<dyn Any>,
    _: &[u8],
) -> std::result::Result<Box<dyn Any>, String> {
    let key = conjure_fn::<KF>();
    let mut groups: HashMap<K, Vec<T>> = HashMap::new();
    for x in items::<T>(v)? {
        groups.entry(key(&x)).or_default().push(x);
    }
    Ok(boxed(groups.into_iter()))
}
