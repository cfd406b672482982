//! Full shuffles (`groupby`, `repartition`): every record moves to the
//! output partition its key (or place) chooses, worker to worker through
//! one all-to-all over the workers group, never through the client or the
//! scheduler.
//!
//! # How
//!
//! 1. **Split.** One task per input partition runs the bag's chain and cuts
//!    its records into one encoded bucket per output partition. The
//!    non-empty buckets stay in its worker's object store under keys no task
//!    has, so they count against the worker's memory limit and may be
//!    spilled like results; only a count goes back.
//! 2. **Exchange.** An SPMD section over the workers (`Client::spmd`): each
//!    worker sends every bucket to the worker that owns its output
//!    partition (output `j` belongs to the `j % workers`-th worker) through
//!    `Group::alltoallv_vec`, an `MPI_Alltoallv` under mpirun and its
//!    in-process equivalent in the embedded cluster. It goes in rounds: in
//!    each, a worker sends each peer buckets worth about one output
//!    partition divided by the number of peers (at least one bucket), taking
//!    them out of its store as it packs them, and keeps what arrives in its
//!    store. Each record crosses the network at most once, as part of a
//!    bucket; buckets for the sending worker itself do not move. A worker
//!    whose own part fails (a bucket its store cannot give back) says so
//!    at the start of the next round instead of leaving: every member stops
//!    there, the buckets are freed, and the shuffle is an error at the
//!    client naming the worker, while the cluster goes on serving.
//! 3. **Load.** One task per output partition, pinned to its owner, takes
//!    its buckets out of the store and turns them into an ordinary result;
//!    the bag's later steps (the grouping of `groupby`) run in tasks that
//!    read it.
//!
//! # Memory
//!
//! Memory grows linearly with the data. A worker holds its input buckets
//! (about the encoded data of the partitions it split) until they leave, and
//! its received buckets (its share of the output) from then on; as buckets
//! leave while others arrive, the store holds at most about the larger of
//! the two. On top of that a round holds its send buffer and what it
//! receives, each about one output partition, so the extra memory of the
//! exchange is about two partitions' worth per worker (measured by
//! [`Bag::shuffle_stats`]'s `peak_bytes`). Loading an output copies it once
//! more while it is made. The outputs stay on their workers while the
//! shuffled bag (or a bag made from it) lives, like a persisted bag's.

use super::step::{self, boxed, boxed_batches, check_fn, items, take, Part, StageDef};
use super::{Bag, Input, Inputs, Source};
use crate::delayed::{self, delayed, Delayed};
use crate::key::Key;
use crate::task::shipping::{conjure_fn, Step};
use crate::worker::executor::{
    current_worker, free_private, keep_private, private_len, take_private,
};
use crate::{Client, Error, Future, Group, Op, Result, TaskOptions};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
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
    /// What the exchange did, once run.
    stats: Mutex<Option<ShuffleStats>>,
}

/// What a shuffle's exchange did (see [`Bag::shuffle_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShuffleStats {
    /// Encoded bytes of every bucket, all workers together.
    pub total_bytes: u64,
    /// Bytes that crossed between workers (the buckets that changed worker).
    pub moved_bytes: u64,
    /// Most bytes one worker held for the exchange at once: its buckets in
    /// the store, sent and received, plus the round's buffers.
    pub peak_bytes: u64,
    /// Most bytes of buckets one worker held when the exchange began (its
    /// input share) or when it ended (its output share), whichever is more.
    pub share_bytes: u64,
    /// Rounds of the exchange.
    pub rounds: u64,
}

/// What a split step needs: the shuffle, the input partition and the number
/// of outputs.
type SplitState = (u64, u64, u64);

static NEXT_SHUFFLE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The store key of the bucket of input `p` for output `j` of shuffle `id`:
/// a hash no task key shares (in practice), the same on every rank.
fn bucket_key(id: u64, p: u64, j: u64) -> Key {
    Key(hash_of(&("rankflow.bag.shuffle", id, p, j)))
}

/// Keeps the non-empty `buckets` in this worker's store for the exchange
/// and leaves their record count.
fn keep_buckets(
    id: u64,
    p: u64,
    buckets: Vec<Option<Part>>,
    n: u64,
) -> std::result::Result<Box<dyn Any>, String> {
    for (j, bucket) in buckets.into_iter().enumerate() {
        if let Some(b) = bucket {
            keep_private(bucket_key(id, p, j as u64), b.0).map_err(|e| e.message().to_string())?;
        }
    }
    Ok(Box::new(step::encode(&n)?))
}

/// Encodes a bucket, `None` when it is empty.
fn encode_bucket<T: Serialize>(b: &[T]) -> std::result::Result<Option<Part>, String> {
    if b.is_empty() {
        return Ok(None);
    }
    step::encode(b).map(Some)
}

/// Split step of `groupby`: bucket by a hash of the key.
fn hash_split<T, K, KF>(v: Box<dyn Any>, st: &[u8]) -> std::result::Result<Box<dyn Any>, String>
where
    T: Serialize + 'static,
    K: Hash,
    KF: Fn(&T) -> K + Copy + 'static,
{
    let (id, p, nout): SplitState = step::state(st)?;
    let key = conjure_fn::<KF>();
    let mut buckets: Vec<Vec<T>> = (0..nout).map(|_| Vec::new()).collect();
    let mut n = 0;
    for x in items::<T>(v)? {
        buckets[(bucket_hash(&key(&x)) % nout) as usize].push(x);
        n += 1;
    }
    let parts = buckets
        .iter()
        .map(|b| encode_bucket(b))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    keep_buckets(id, p, parts, n)
}

/// Split step of `repartition`: contiguous, even slices.
fn even_split<T: Serialize + 'static>(
    v: Box<dyn Any>,
    st: &[u8],
) -> std::result::Result<Box<dyn Any>, String> {
    let (id, p, nout): SplitState = step::state(st)?;
    let all: Vec<T> = items::<T>(v)?.collect();
    let n = all.len() as u64;
    let parts = super::split_evenly(all.len(), nout as usize)
        .into_iter()
        .map(|r| encode_bucket(&all[r]))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    keep_buckets(id, p, parts, n)
}

/// A record's key hashed to pick its output partition: cheaper per record
/// than SipHash (about a multiply per 8 bytes of key, then a final mix so
/// that the low bits a modulo keeps are spread), with no keys, so the same
/// on every rank. Partitioning needs no resistance to chosen keys.
fn bucket_hash<K: Hash>(k: &K) -> u64 {
    let mut h = MixHasher(0);
    k.hash(&mut h);
    h.finish()
}

/// The hasher of [`bucket_hash`]: FxHash's word step, splitmix64's finish.
struct MixHasher(u64);

impl MixHasher {
    fn word(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for MixHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in chunks.by_ref() {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.word(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.word(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.word(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.word(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.word(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.word(i as u64);
    }
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The same hash on every rank: `DefaultHasher::new()` has fixed keys, and
/// every rank runs the same executable.
fn hash_of<K: Hash>(k: &K) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    k.hash(&mut h);
    h.finish()
}

/// Bytes of a bucket's frame header in an exchange buffer: output,
/// input, length.
const FRAME: usize = 24;

/// What one worker's exchange reports.
#[derive(Serialize, Deserialize)]
struct Exchanged {
    rank: u64,
    moved: u64,
    held: u64,
    peak: u64,
    share: u64,
    rounds: u64,
    /// Why this worker's own part failed, if it did (see [`exchange`]).
    failed: Option<String>,
}

/// Each member's bucket queues: `(output, input, length)` per destination
/// member, and the bytes of buckets this worker holds.
type Queues = (Vec<VecDeque<(u64, u64, u64)>>, u64);

/// The buckets this worker holds for shuffle `id`, queued by the member
/// that owns their output.
fn queue_buckets(id: u64, nin: u64, nout: u64, size: u64, me: u64) -> Result<Queues> {
    let mut queues: Vec<VecDeque<(u64, u64, u64)>> = (0..size).map(|_| VecDeque::new()).collect();
    let mut held = 0u64;
    for p in 0..nin {
        for j in 0..nout {
            if let Some(len) = private_len(bucket_key(id, p, j))? {
                held += len;
                if j % size != me {
                    queues[(j % size) as usize].push_back((j, p, len));
                }
            }
        }
    }
    Ok((queues, held))
}

/// The exchange, on every worker: sends each kept bucket to the owner of
/// its output partition, in rounds of about one output partition per
/// worker, and keeps what arrives in the store.
///
/// A failure of this worker's own part (its store cannot give a bucket
/// back, a received frame is cut) is not returned as an error, which would
/// leave the other members waiting in the next collective (under mpirun the
/// job would be aborted): it is told to every member at the next
/// allreduce, which each round starts with, so that all of them stop at
/// the same point and the shuffle is an error at the client. Only a failed
/// collective is an error here.
fn exchange(group: &Group, (id, nin, nout): (u64, u64, u64)) -> Result<Exchanged> {
    let size = group.size() as u64;
    let me = group.rank() as u64;
    let rank = current_worker();
    let mut failed = match rank {
        None => Some("the exchange ran outside a worker".to_string()),
        Some(r) => failure_hook(id, me, r),
    };
    let (mut queues, mut held) = match failed {
        Some(_) => ((0..size).map(|_| VecDeque::new()).collect(), 0),
        None => queue_buckets(id, nin, nout, size, me).unwrap_or_else(|e| {
            failed = Some(e.message().to_string());
            ((0..size).map(|_| VecDeque::new()).collect(), 0)
        }),
    };
    let mut sums = [0u64; 2];
    group.allreduce_into(&[held, u64::from(failed.is_some())], &mut sums, Op::Sum)?;
    let partition = (sums[0] / nout.max(1)).max(1);
    let per_peer = (partition / (size - 1).max(1)).max(1);
    let (mut moved, mut peak, mut rounds, start) = (0u64, held, 0u64, held);
    let mut anyone_failed = sums[1] > 0;
    while !anyone_failed {
        let left = queues.iter().any(|q| !q.is_empty());
        let mut flags = [0u64; 2];
        group.allreduce_into(
            &[u64::from(left), u64::from(failed.is_some())],
            &mut flags,
            Op::Max,
        )?;
        anyone_failed = flags[1] > 0;
        if anyone_failed || flags[0] == 0 {
            break;
        }
        rounds += 1;
        let mut flat: Vec<u8> = Vec::new();
        let mut counts = vec![0usize; size as usize];
        let mut payload = 0u64;
        for (dest, queue) in queues.iter_mut().enumerate() {
            let before = flat.len();
            let mut sent = 0u64;
            while sent < per_peer && failed.is_none() {
                let Some((j, p, _)) = queue.pop_front() else {
                    break;
                };
                let bytes = match take_private(bucket_key(id, p, j)) {
                    Ok(Some(b)) => b,
                    Ok(None) => {
                        failed = Some(format!("bucket {p}->{j} vanished"));
                        break;
                    }
                    Err(e) => {
                        failed = Some(e.message().to_string());
                        break;
                    }
                };
                for x in [j, p, bytes.len() as u64] {
                    flat.extend_from_slice(&x.to_le_bytes());
                }
                flat.extend_from_slice(&bytes);
                sent += bytes.len() as u64;
            }
            payload += sent;
            counts[dest] = flat.len() - before;
        }
        moved += payload;
        held -= payload;
        let (recv, _) = group.alltoallv_vec::<u8>(&flat, &counts)?;
        peak = peak.max(held + (flat.len() + recv.len()) as u64);
        drop(flat);
        if let Err(e) = keep_received(id, &recv, &mut held) {
            failed.get_or_insert_with(|| e.message().to_string());
        }
        peak = peak.max(held + recv.len() as u64);
    }
    Ok(Exchanged {
        rank: rank.unwrap_or(0) as u64,
        moved,
        held,
        peak,
        share: start.max(held),
        rounds,
        failed,
    })
}

/// Keeps the buckets of a round's received buffer in the store, adding
/// their bytes to `held`.
fn keep_received(id: u64, recv: &[u8], held: &mut u64) -> Result<()> {
    for (j, p, bytes) in frames(id, recv)? {
        keep_private(bucket_key(id, p, j), bytes.to_vec())?;
        *held += bytes.len() as u64;
    }
    Ok(())
}

/// Test hooks that make the exchange fail on one worker before its first
/// message, as a bucket that cannot be read back would: under mpirun
/// `RANKFLOW_TEST_FAIL_EXCHANGE` (a worker's rank) names the worker, for
/// every shuffle; in unit tests the shuffle `tests::FAIL_EXCHANGE` names
/// fails on the first member of the group.
fn failure_hook(id: u64, member: u64, worker: usize) -> Option<String> {
    #[cfg(test)]
    if member == 0 && tests::FAIL_EXCHANGE.load(std::sync::atomic::Ordering::SeqCst) == id {
        return Some(format!("made to fail on worker {worker}"));
    }
    let _ = (id, member);
    let v = std::env::var("RANKFLOW_TEST_FAIL_EXCHANGE").ok()?;
    (v.trim().parse::<usize>().ok()? == worker).then(|| format!("made to fail on worker {worker}"))
}

/// The buckets (output, input, bytes) framed in `recv`, an exchange round's
/// received buffer; an error if a frame's length runs past its end.
fn frames(id: u64, recv: &[u8]) -> Result<Vec<(u64, u64, &[u8])>> {
    let cut = || Error::invalid(format!("shuffle {id}: a cut bucket arrived"));
    let mut out = Vec::new();
    let mut at = 0;
    while at + FRAME <= recv.len() {
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&recv[at + 8 * i..at + 8 * i + 8]);
            u64::from_le_bytes(b)
        };
        let (j, p) = (word(0), word(1));
        let len = usize::try_from(word(2)).map_err(|_| cut())?;
        let end = (at + FRAME).checked_add(len).ok_or_else(cut)?;
        out.push((j, p, recv.get(at + FRAME..end).ok_or_else(cut)?));
        at = end;
    }
    Ok(out)
}

/// Drops the kept buckets of shuffle `id` on every worker, after a split
/// failed.
fn forget_buckets(_: &Group, (id, nin, nout): (u64, u64, u64)) -> Result<()> {
    for p in 0..nin {
        for j in 0..nout {
            free_private(bucket_key(id, p, j))?;
        }
    }
    Ok(())
}

/// Output partition `j`'s received buckets (an encoded `Vec<Part>` in
/// input order), as a result on its owner; the buckets leave the store.
fn load_output((id, nin, j): (u64, u64, u64)) -> Part {
    let mut chunks = Vec::new();
    for p in 0..nin {
        match take_private(bucket_key(id, p, j)) {
            Ok(Some(b)) => chunks.push(Part(Arc::try_unwrap(b).unwrap_or_else(|b| (*b).clone()))),
            Ok(None) => {}
            Err(e) => panic!("shuffle output {j}: {}", e.message()),
        }
    }
    match step::encode(&chunks) {
        Ok(p) => p,
        Err(e) => panic!("shuffle output {j}: {e}"),
    }
}

/// Source of a shuffled bag: the received buckets, each an encoded
/// `Vec<T>`, in input partition order, one batch per bucket.
fn chunks_source<T: DeserializeOwned + 'static>(
    v: Box<dyn Any>,
    _: &[u8],
) -> std::result::Result<Box<dyn Any>, String> {
    let part: Part = take(v, "shuffle")?;
    let chunks: Vec<Part> = step::decode(&part)?;
    let all = chunks
        .iter()
        .map(step::decode::<Vec<T>>)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(boxed_batches(all.into_iter()))
}

/// Runs the split tasks of `parts` and waits until every one has ended,
/// failed or not; the first failure is the error. Returning at the first
/// failure, as `compute` does, would let splits still running keep their
/// buckets after the failure path forgot them, for good.
fn split_all(client: &Client, parts: &[Delayed<Part>]) -> Result<()> {
    let roots: Vec<_> = parts.iter().map(Delayed::node).collect();
    let done = delayed::submit_graph(client, &roots)?;
    let futures = roots
        .iter()
        .map(|n| done.future::<Part>(n))
        .collect::<Result<Vec<_>>>()?;
    drop(done);
    for f in &futures {
        f.wait(None)?;
    }
    futures.iter().try_for_each(|f| f.result().map(drop))
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
            let split = self.split;
            let ups = (self.upstream)(None, &|_| vec![StageDef::new(split, "split")])?;
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
            .map(|f| Input::Node(delayed::from_future(f.clone()).labelled("shuffled")))
            .collect())
    }

    fn run(&self, client: &Client) -> Result<Vec<Future<Part>>> {
        let (id, nout) = (self.id, self.nout as u64);
        let split = self.split;
        let tail = move |p: usize| {
            let st: SplitState = (id, p as u64, nout);
            vec![StageDef::with(split, &st, "split")]
        };
        let parts = (self.upstream)(Some(client), &tail)?;
        let nin = parts.len() as u64;
        if let Err(e) = split_all(client, &parts) {
            // Buckets of the partitions that did split would stay on their
            // workers otherwise.
            client.spmd(forget_buckets, (id, nin, nout))?;
            return Err(e);
        }
        let owners = match client.spmd(exchange, (id, nin, nout)) {
            Ok(owners) => owners,
            Err(e) => {
                // The buckets sent and received so far would stay on their
                // workers for good; the exchange's error is the one to report.
                let _ = client.spmd(forget_buckets, (id, nin, nout));
                return Err(e);
            }
        };
        let failures: Vec<String> = owners
            .iter()
            .filter_map(|o| Some(format!("worker {}: {}", o.rank, o.failed.as_ref()?)))
            .collect();
        if !failures.is_empty() {
            // Every member stopped at the same point: free what is left.
            client.spmd(forget_buckets, (id, nin, nout))?;
            return Err(Error::invalid(format!(
                "shuffle {id}: the exchange failed ({})",
                failures.join("; ")
            )));
        }
        let stats = ShuffleStats {
            total_bytes: owners.iter().map(|o| o.held).sum(),
            moved_bytes: owners.iter().map(|o| o.moved).sum(),
            peak_bytes: owners.iter().map(|o| o.peak).max().unwrap_or(0),
            share_bytes: owners.iter().map(|o| o.share).max().unwrap_or(0),
            rounds: owners.iter().map(|o| o.rounds).max().unwrap_or(0),
        };
        *self.stats.lock().unwrap_or_else(|p| p.into_inner()) = Some(stats);
        (0..nout)
            .map(|j| {
                let rank = owners[(j % owners.len() as u64) as usize].rank;
                let options = TaskOptions::new().pure(false).workers(&[rank as usize]);
                client.submit_with_options(load_output, (id, nin, j), &options)
            })
            .collect()
    }
}

impl<T: Serialize + DeserializeOwned + 'static> Bag<T> {
    fn shuffled(&self, nout: usize, split: Step) -> (Bag<T>, Arc<Shuffle>) {
        let up = self.clone();
        let shuffle = Arc::new(Shuffle {
            nout,
            id: NEXT_SHUFFLE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                ^ (std::process::id() as u64) << 32,
            upstream: Box::new(move |client, tail| up.lower(client, tail)),
            split,
            outputs: Mutex::new(None),
            stats: Mutex::new(None),
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
        self.shuffle_stats().map_or(0, |s| s.moved_bytes)
    }

    /// What the shuffle that made this bag did (bytes moved, peak memory
    /// per worker, rounds), once computed; `None` before, or for a bag not
    /// made by a shuffle.
    pub fn shuffle_stats(&self) -> Option<ShuffleStats> {
        match &self.source.inputs {
            Inputs::Shuffle(s) => *s.stats.lock().unwrap_or_else(|p| p.into_inner()),
            Inputs::Fixed(_) => None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Mode};
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn bucket_hashes_spread_small_keys_and_strings_evenly() {
        for nout in [2u64, 3, 8, 13] {
            let mut ints = vec![0u64; nout as usize];
            let mut strings = vec![0u64; nout as usize];
            for k in 0..10_000u64 {
                ints[(bucket_hash(&k) % nout) as usize] += 1;
                strings[(bucket_hash(&format!("name{k}")) % nout) as usize] += 1;
            }
            let fair = 10_000 / nout;
            for counts in [&ints, &strings] {
                assert!(
                    counts
                        .iter()
                        .all(|&c| c > fair * 9 / 10 && c < fair * 11 / 10),
                    "{nout} buckets: {counts:?}"
                );
            }
        }
        assert_ne!(bucket_hash(&"ab"), bucket_hash(&"ab\0"));
    }

    /// The shuffle whose exchange fails on the first worker only, before
    /// any message (`u64::MAX`: none).
    pub(super) static FAIL_EXCHANGE: AtomicU64 = AtomicU64::new(u64::MAX);

    fn held_here() -> (usize, u64) {
        crate::stored_results().unwrap()
    }

    #[test]
    fn a_failed_exchange_leaves_no_buckets_behind() {
        let client = crate::initialize(Config::new().mode(Mode::Local).local_workers(2)).unwrap();
        let b = crate::bag::range(2000, 4).unwrap().repartition(3).unwrap();
        let Inputs::Shuffle(s) = &b.source.inputs else {
            panic!("a shuffled bag")
        };
        FAIL_EXCHANGE.store(s.id, Ordering::SeqCst);
        let e = b.sum().compute(&client).unwrap_err();
        assert!(e.message().contains("made to fail on worker 2"), "{e}");
        drop(b);
        // The other worker did not fail the workers group: it still shuffles.
        let again = crate::bag::range(2000, 4).unwrap().repartition(3).unwrap();
        assert_eq!(again.sum().compute(&client).unwrap(), 1999 * 2000 / 2);
        drop(again);
        nothing_held(&client);
        client.shutdown().unwrap();
    }

    /// Waits until no worker holds anything (frees go out asynchronously).
    fn nothing_held(client: &Client) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            client.has_what().unwrap();
            let held = client.run(held_here, None).unwrap();
            if held.iter().all(|(_, (n, _))| *n == 0) {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "still held: {held:?}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Fails at once on the first record, slowly on the others.
    fn slow_key(x: &u64) -> u64 {
        assert!(*x != 0, "record 0 is bad");
        std::thread::sleep(std::time::Duration::from_micros(200));
        x % 5
    }

    fn noop(_: usize) {}

    #[test]
    fn a_failed_split_leaves_no_buckets_behind() {
        let config = Config::new()
            .mode(Mode::Local)
            .local_workers(2)
            .threads_per_worker(1);
        let client = crate::initialize(config).unwrap();
        let grouped = crate::bag::range(4000, 8).unwrap().groupby(slow_key);
        let e = grouped.count().compute(&client).unwrap_err();
        assert!(e.to_string().contains("record 0 is bad"), "{e}");
        // A split still running when the error came has ended once a task
        // submitted after it has run on its worker (one thread each).
        for w in client.workers().iter().map(|w| w.rank) {
            let on = TaskOptions::new().workers(&[w]).pure(false);
            client
                .submit_with_options(noop, w, &on)
                .unwrap()
                .result()
                .unwrap();
        }
        nothing_held(&client);
        client.shutdown().unwrap();
    }

    fn frame(j: u64, p: u64, len: u64, body: &[u8]) -> Vec<u8> {
        let mut v: Vec<u8> = [j, p, len].iter().flat_map(|x| x.to_le_bytes()).collect();
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn frames_read_back_what_was_framed() {
        let mut buf = frame(3, 1, 2, b"ab");
        buf.extend(frame(4, 0, 0, b""));
        let got = frames(7, &buf).unwrap();
        assert_eq!(got, vec![(3, 1, &b"ab"[..]), (4, 0, &b""[..])]);
    }

    #[test]
    fn a_huge_or_cut_length_is_a_clear_error() {
        for len in [u64::MAX, u64::MAX - 10, 3] {
            let buf = frame(0, 0, len, b"ab");
            let e = frames(7, &buf).unwrap_err();
            assert!(e.message().contains("cut bucket"), "{}", e.message());
        }
    }
}
