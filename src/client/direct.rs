//! The direct interface (ipyparallel's DirectView, dask's `run` and
//! `scatter`): requests the client sends straight to workers, not through the
//! scheduler, and SPMD sections in which all workers run one function
//! together with the workers-only [`Group`].

use super::state::Status;
use super::{Client, Future};
use crate::comm::codec;
use crate::comm::transport::Rank;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::{ClientToScheduler, ClientToWorker};
use crate::task::shipping::FnRef;
use crate::task::{section_ref, task_function_ref, Key};
use crate::{Group, Plain};
use ndarray::{ArrayBase, ArrayD, Data, Dimension, IxDyn};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A worker's answer to a direct request: the encoded result, or why not.
type Answer = super::state::Reply;

/// Each worker's result of a `run`, in the replies' order; if the function
/// failed anywhere, one error naming every worker where it did, with the
/// first failure attached.
fn run_results<R: DeserializeOwned>(replies: Vec<(Rank, Answer)>) -> Result<Vec<(Rank, R)>> {
    let mut values = Vec::with_capacity(replies.len());
    let mut failures = Vec::new();
    for (rank, outcome) in replies {
        match outcome {
            Ok(bytes) => values.push((rank, bytes)),
            Err(f) => failures.push((rank, f)),
        }
    }
    if let Some((rank, first)) = failures.first() {
        let message = if failures.len() == 1 {
            format!("run failed on worker {rank}: {}", first.message)
        } else {
            let ranks: Vec<String> = failures.iter().map(|(r, _)| r.to_string()).collect();
            let each: Vec<String> = failures
                .iter()
                .map(|(r, f)| format!("worker {r}: {}", f.message))
                .collect();
            format!(
                "run failed on workers {}: {}",
                ranks.join(", "),
                each.join("; ")
            )
        };
        return Err(Error::task_with_message(first.clone(), message));
    }
    values
        .into_iter()
        .map(|(rank, bytes)| Ok((rank, codec::decode(&bytes)?)))
        .collect()
}

/// Whether the codec writes a `Vec<T>` as a length then the elements' own
/// bytes (so a slice's memory can be broadcast as it is).
fn raw_in_codec<T: Plain>() -> bool {
    use std::any::TypeId;
    let t = TypeId::of::<T>();
    cfg!(target_endian = "little")
        && [
            TypeId::of::<f64>(),
            TypeId::of::<f32>(),
            TypeId::of::<u8>(),
            TypeId::of::<i8>(),
        ]
        .contains(&t)
}

impl Client {
    /// The ranks a direct request goes to: `workers`, or every worker.
    fn targets(&self, workers: Option<&[Rank]>) -> Result<Vec<Rank>> {
        match workers {
            None => Ok(self.inner.worker_ranks.clone()),
            Some(list) => {
                if let Some(bad) = list.iter().find(|r| !self.inner.worker_ranks.contains(r)) {
                    return Err(Error::invalid(format!("rank {bad} is not a worker")));
                }
                Ok(list.to_vec())
            }
        }
    }

    /// Sends one request per target (built by `message` from the request id)
    /// and waits for every reply; returns them in the targets' order.
    fn ask_each(
        &self,
        targets: &[Rank],
        message: impl Fn(u64) -> ClientToWorker,
    ) -> Result<Vec<(Rank, Answer)>> {
        let ids = self.tell_each(targets, message)?;
        self.answers(&ids)
    }

    /// Sends one request per target; returns their ids.
    fn tell_each(
        &self,
        targets: &[Rank],
        message: impl Fn(u64) -> ClientToWorker,
    ) -> Result<Vec<u64>> {
        let ids: Vec<u64> = targets
            .iter()
            .map(|_| self.inner.next_id.fetch_add(1, Ordering::Relaxed))
            .collect();
        for (&rank, &id) in targets.iter().zip(&ids) {
            self.inner.send_worker(rank, &message(id))?;
        }
        Ok(ids)
    }

    /// Waits for the replies to `ids`, in order.
    fn answers(&self, ids: &[u64]) -> Result<Vec<(Rank, Answer)>> {
        self.inner
            .wait_until(None, |st| ids.iter().all(|id| st.replies.contains_key(id)))?;
        let mut st = self.inner.lock();
        Ok(ids.iter().filter_map(|id| st.replies.remove(id)).collect())
    }

    /// Calls `f` on every worker (or on `workers`) right away, on the
    /// worker's own loop rather than its task queue, and returns each result
    /// with the worker's rank, in rank order. If `f` panics on some workers,
    /// the error names every one of them with its panic message
    /// (`run failed on workers 2, 4: worker 2: ...; worker 4: ...`).
    ///
    /// # Examples — see `examples/direct_view.rs`.
    pub fn run<F, R>(&self, f: F, workers: Option<&[Rank]>) -> Result<Vec<(Rank, R)>>
    where
        F: Fn() -> R + Copy + Send + Sync + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        let function = task_function_ref::<F, fn() -> R, ()>(f, self.inner.fingerprint);
        self.run_function(function, codec::encode(&())?, workers)
    }

    /// [`run`](Self::run) with an argument: calls `f(arg)` on every worker
    /// (or on `workers`), each getting its own copy of `arg`, like dask's
    /// `client.run(f, *args)`. Failures are reported as by `run`.
    ///
    /// # Examples — see `examples/manage_tasks.rs`.
    pub fn run_with<F, A, R>(
        &self,
        f: F,
        arg: A,
        workers: Option<&[Rank]>,
    ) -> Result<Vec<(Rank, R)>>
    where
        F: Fn(A) -> R + Copy + Send + Sync + 'static,
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        let function = task_function_ref::<F, fn(A) -> R, A>(f, self.inner.fingerprint);
        self.run_function(function, codec::encode(&arg)?, workers)
    }

    /// ipyparallel's name for [`run_with`](Self::run_with)
    /// (`dview.apply_sync(f, arg)`): the same call, answered the same way.
    pub fn apply<F, A, R>(&self, f: F, arg: A, workers: Option<&[Rank]>) -> Result<Vec<(Rank, R)>>
    where
        F: Fn(A) -> R + Copy + Send + Sync + 'static,
        A: Serialize + DeserializeOwned + 'static,
        R: Serialize + DeserializeOwned + 'static,
    {
        self.run_with(f, arg, workers)
    }

    /// Calls `function` with the encoded `arg` on every target's loop.
    fn run_function<R: DeserializeOwned>(
        &self,
        function: FnRef,
        arg: Vec<u8>,
        workers: Option<&[Rank]>,
    ) -> Result<Vec<(Rank, R)>> {
        let targets = self.targets(workers)?;
        let replies = self.ask_each(&targets, |id| ClientToWorker::Run {
            id,
            function,
            arg: arg.clone(),
        })?;
        run_results(replies)
    }

    /// Sets the worker variable `name` to `value` on every worker (or on
    /// `workers`), like ipyparallel's `dview.push({name: value})`. Returns
    /// once every target holds it, so tasks submitted afterwards see it
    /// through [`worker_var`](crate::worker_var).
    pub fn push<T: Serialize>(
        &self,
        name: &str,
        value: &T,
        workers: Option<&[Rank]>,
    ) -> Result<()> {
        let targets = self.targets(workers)?;
        let bytes = codec::encode(value)?;
        let replies = self.ask_each(&targets, |id| ClientToWorker::SetVar {
            id,
            name: name.to_string(),
            bytes: bytes.clone(),
        })?;
        for (_, outcome) in replies {
            outcome.map_err(Error::task)?;
        }
        Ok(())
    }

    /// The worker variable `name` from every worker (or from `workers`), in
    /// rank order, like ipyparallel's `dview.pull(name)`. A worker that never
    /// got the name is an error naming the worker and the variable.
    pub fn pull<T: DeserializeOwned>(
        &self,
        name: &str,
        workers: Option<&[Rank]>,
    ) -> Result<Vec<T>> {
        let targets = self.targets(workers)?;
        let replies = self.ask_each(&targets, |id| ClientToWorker::GetVar {
            id,
            name: name.to_string(),
        })?;
        replies
            .into_iter()
            .map(|(_, outcome)| {
                let bytes = outcome.map_err(|f| Error::invalid(f.message))?;
                codec::decode(&bytes).map_err(|e| {
                    Error::new(
                        ErrorKind::Codec,
                        format!("worker variable {name:?}: {}", e.message()),
                    )
                })
            })
            .collect()
    }

    /// Sends each item straight to a worker (round robin over all workers,
    /// never through the scheduler) and returns a future per item, to pass
    /// to tasks like any other future (dask's `client.scatter`).
    ///
    /// Before anything is sent, the bytes each worker would receive are
    /// checked against its memory limit (see [`WorkerInfo::memory_limit`](crate::WorkerInfo));
    /// too much for one worker is an error naming it, not an out-of-memory kill.
    pub fn scatter<T: Serialize>(&self, items: Vec<T>) -> Result<Vec<Future<T>>> {
        let ranks = &self.inner.worker_ranks;
        if ranks.is_empty() {
            return Err(Error::invalid("there are no workers to scatter to"));
        }
        let encoded = items
            .iter()
            .map(|item| codec::encode(item))
            .collect::<Result<Vec<_>>>()?;
        let start = self
            .inner
            .next_worker
            .fetch_add(encoded.len(), Ordering::Relaxed);
        let target = |i: usize| ranks[(start + i) % ranks.len()];
        let mut load: std::collections::BTreeMap<Rank, u64> = Default::default();
        for (i, b) in encoded.iter().enumerate() {
            *load.entry(target(i)).or_default() += b.len() as u64;
        }
        for (rank, bytes) in &load {
            let limit = self
                .workers
                .iter()
                .find(|w| w.rank == *rank)
                .map_or(u64::MAX, |w| w.memory_limit);
            if *bytes > limit {
                return Err(Error::invalid(format!(
                    "scatter would put {bytes} bytes on worker {rank}, over its memory \
                     limit of {limit} bytes; nothing was sent"
                )));
            }
        }
        let mut placed = Vec::with_capacity(items.len());
        let mut futures = Vec::with_capacity(items.len());
        for (i, bytes) in encoded.into_iter().enumerate() {
            let mut h = DefaultHasher::new();
            (
                "rankflow-scatter",
                self.inner.nonce.fetch_add(1, Ordering::Relaxed),
                i,
            )
                .hash(&mut h);
            let key = Key(h.finish());
            let worker = target(i);
            let status = if bytes.len() <= crate::protocol::INLINE_LIMIT {
                Status::Value(Arc::new(bytes.clone()))
            } else {
                Status::Stored {
                    worker,
                    fetching: false,
                }
            };
            self.inner.hold(key, status);
            placed.push(self.inner.put_on(worker, key, bytes)?);
            futures.push(Future::counted(key, self.inner.clone()));
        }
        self.inner
            .send_scheduler(&ClientToScheduler::Adopt { placed })?;
        Ok(futures)
    }

    /// Makes sure at least `n` workers (at most all of them) hold a copy of
    /// `future`'s result, copying worker to worker; waits for the task first.
    /// Returns how many workers hold it (dask's `client.replicate`).
    pub fn replicate<T>(&self, future: &Future<T>, n: usize) -> Result<usize> {
        future.wait(None)?;
        if let Some(Status::Failed(f)) = self
            .inner
            .lock()
            .entries
            .get(&future.key())
            .map(|e| &e.status)
        {
            return Err(Error::task(f.clone()));
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.inner.send_scheduler(&ClientToScheduler::Replicate {
            id,
            key: future.key(),
            n,
        })?;
        let mut outcome = None;
        self.inner.wait_until(None, |st| {
            outcome = st.replicated.remove(&id);
            outcome.is_some()
        })?;
        match outcome {
            Some(Ok(copies)) => Ok(copies),
            Some(Err(why)) => Err(Error::invalid(why)),
            None => Err(Error::protocol("replicate ended without an answer")),
        }
    }

    /// Places `value` on every worker with one MPI broadcast over the
    /// client+workers group (log P steps, not P sends), and returns a future
    /// that tasks on any worker read locally. See also [`broadcast_slice`](Self::broadcast_slice).
    pub fn broadcast<T: Serialize>(&self, value: &T) -> Result<Future<T>> {
        let bytes = codec::encode(value)?;
        let key = self.fresh_key("rankflow-broadcast");
        self.broadcast_parts(&[], &bytes, Some(key))?;
        Ok(Future::counted(key, self.inner.clone()))
    }

    /// Broadcasts a slice of plain numbers, which tasks receive as a
    /// `Vec<T>`. For `f64`, `f32`, `u8` and `i8` the slice's own memory goes
    /// to MPI, read in place and never copied on the client; other types are
    /// encoded first.
    ///
    /// # Examples — see `examples/broadcast_big.rs`.
    pub fn broadcast_slice<T: Plain + Serialize>(&self, data: &[T]) -> Result<Future<Vec<T>>> {
        let key = self.fresh_key("rankflow-broadcast");
        if raw_in_codec::<T>() {
            let prefix = codec::encode(&(data.len() as u64))?;
            let bytes: &[u8] = bytemuck::cast_slice(data);
            self.broadcast_parts(&prefix, bytes, Some(key))?;
        } else {
            let bytes = codec::encode(data)?;
            self.broadcast_parts(&[], &bytes, Some(key))?;
        }
        Ok(Future::counted(key, self.inner.clone()))
    }

    /// Runs an SPMD section over the client and every worker: each worker
    /// calls `f(&group, arg)` while this thread calls `here(&group)`, on the
    /// group of the client (member 0) and the workers (members 1..). The
    /// way to write a collective of your own between the client and the
    /// workers, for instance a broadcast with raw MPI through
    /// [`Group::as_mpi`] (the benchmarks' baselines do that). `f` travels
    /// like an SPMD section's function; `here` runs on the calling thread.
    /// Returns what `here` returned and the workers' results in rank order.
    ///
    /// # Errors
    /// A member whose side fails fails the group, as an SPMD section does:
    /// in-process the other members' collectives return errors instead of
    /// waiting (and later uses of the client+workers group, such as
    /// `broadcast`, fail too), under MPI the job is aborted with the
    /// member's message. The first failure is the error. Without a
    /// client+workers group it is `InvalidArgument`.
    pub fn with_workers<F, A, R, H, C>(&self, f: F, arg: A, here: H) -> Result<(C, Vec<R>)>
    where
        F: Fn(&Group, A) -> Result<R> + Copy + Send + Sync + 'static,
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned + 'static,
        H: FnOnce(&Group) -> Result<C>,
    {
        let members = self
            .members
            .as_ref()
            .ok_or_else(|| Error::invalid("this client has no client+workers group"))?;
        let targets = self.inner.worker_ranks.clone();
        let function = section_ref(f, self.inner.fingerprint);
        let bytes = codec::encode(&arg)?;
        let ids = self.tell_each(&targets, |id| ClientToWorker::MembersSection {
            id,
            function,
            arg: bytes.clone(),
        })?;
        let mine = here(members);
        if let Err(e) = &mine {
            members.fail(&format!("the client's side of a section failed: {e}"));
        }
        let answers = self.answers(&ids)?;
        let mine = mine?;
        let theirs = answers
            .into_iter()
            .map(|(_, outcome)| codec::decode(&outcome.map_err(Error::task)?))
            .collect::<Result<Vec<R>>>()?;
        Ok((mine, theirs))
    }

    fn fresh_key(&self, what: &str) -> Key {
        let mut h = DefaultHasher::new();
        (what, self.inner.nonce.fetch_add(1, Ordering::Relaxed)).hash(&mut h);
        Key(h.finish())
    }

    /// Broadcasts `prefix` then `data` from the client to every worker, which
    /// keep the two together under `key`; returns once every worker has them.
    fn broadcast_parts(&self, prefix: &[u8], data: &[u8], key: Option<Key>) -> Result<()> {
        let members = self
            .members
            .as_ref()
            .ok_or_else(|| Error::invalid("this client has no client+workers group"))?;
        let nbytes = (prefix.len() + data.len()) as u64;
        if let Some(w) = self.workers.iter().find(|w| w.memory_limit < nbytes) {
            return Err(Error::invalid(format!(
                "a broadcast of {nbytes} bytes is over worker {}'s memory limit of {} bytes; \
                 nothing was sent",
                w.rank, w.memory_limit
            )));
        }
        let targets = self.inner.worker_ranks.clone();
        let ids = self.tell_each(&targets, |id| ClientToWorker::Bcast {
            id,
            key,
            prefix_len: prefix.len() as u64,
            data_len: data.len() as u64,
        })?;
        members.bcast_from(prefix)?;
        members.bcast_from(data)?;
        for (_, answer) in self.answers(&ids)? {
            answer.map_err(Error::task)?;
        }
        if let Some(key) = key {
            let status = match targets.first() {
                Some(&worker) => Status::Stored {
                    worker,
                    fetching: false,
                },
                None => return Err(Error::invalid("there are no workers to broadcast to")),
            };
            self.inner.hold(key, status);
            self.inner
                .send_scheduler(&ClientToScheduler::AdoptReplicated {
                    key,
                    workers: targets,
                    nbytes,
                })?;
        }
        Ok(())
    }

    /// Splits `array` along axis 0 over the workers with one MPI scatterv
    /// over the client+workers group (ipyparallel's `dview.scatter(name, a)`):
    /// worker `i` keeps its rows as variable `name`, readable in tasks with
    /// [`worker_array`](crate::worker_array). Rows are split as evenly as
    /// possible (the first workers get one more). The array's own memory goes
    /// to MPI when it is in standard layout. Elements: any [`Plain`] type.
    /// Returns the rows each worker got, in rank order.
    pub fn scatter_array<T, S, D>(&self, name: &str, array: &ArrayBase<S, D>) -> Result<Vec<usize>>
    where
        T: Plain,
        S: Data<Elem = T>,
        D: Dimension,
    {
        if array.ndim() == 0 {
            return Err(Error::invalid("scatter_array needs at least one axis"));
        }
        let members = self
            .members
            .as_ref()
            .ok_or_else(|| Error::invalid("this client has no client+workers group"))?;
        let standard = array.as_standard_layout();
        let elements = standard
            .as_slice()
            .ok_or_else(|| Error::invalid("the array is not contiguous"))?;
        let bytes: &[u8] = bytemuck::cast_slice(elements);
        let nrows = array.shape()[0];
        let trailing: Vec<u64> = array.shape()[1..].iter().map(|&d| d as u64).collect();
        let row_bytes = array.shape()[1..].iter().product::<usize>() * std::mem::size_of::<T>();
        let workers = &self.inner.worker_ranks;
        let (base, extra) = (nrows / workers.len().max(1), nrows % workers.len().max(1));
        let rows: Vec<usize> = (0..workers.len())
            .map(|i| base + usize::from(i < extra))
            .collect();
        for (w, r) in self.workers.iter().zip(&rows) {
            if (r * row_bytes) as u64 > w.memory_limit {
                return Err(Error::invalid(format!(
                    "scatter_array would put {} bytes on worker {}, over its memory limit of {} bytes; \
                     nothing was sent",
                    r * row_bytes,
                    w.rank,
                    w.memory_limit
                )));
            }
        }
        // Member 0 is this client, which keeps no rows.
        let counts: Vec<usize> = std::iter::once(0)
            .chain(rows.iter().map(|r| r * row_bytes))
            .collect();
        let ids = self.tell_each(workers, |id| ClientToWorker::ScatterArray {
            id,
            name: name.to_string(),
            trailing: trailing.clone(),
            elem_size: std::mem::size_of::<T>() as u64,
        })?;
        members.scatterv_into::<u8>(Some((bytes, &counts)), &mut [], 0)?;
        for (_, answer) in self.answers(&ids)? {
            answer.map_err(Error::task)?;
        }
        Ok(rows)
    }

    /// Reassembles array variable `name` from every worker's rows, in rank
    /// order, with one MPI gatherv straight into the new array's memory
    /// (ipyparallel's `dview.gather(name)`). A worker without the variable,
    /// or rows of different shapes, is an error before any data moves.
    pub fn gather_array<T: Plain>(&self, name: &str) -> Result<ArrayD<T>> {
        let members = self
            .members
            .as_ref()
            .ok_or_else(|| Error::invalid("this client has no client+workers group"))?;
        let workers = self.inner.worker_ranks.clone();
        let shapes = self
            .ask_each(&workers, |id| ClientToWorker::ArrayShape {
                id,
                name: name.to_string(),
            })?
            .into_iter()
            .map(|(_, answer)| {
                let bytes = answer.map_err(|f| Error::invalid(f.message))?;
                codec::decode::<Vec<u64>>(&bytes)
            })
            .collect::<Result<Vec<_>>>()?;
        let trailing = shapes.first().map(|s| s[1..].to_vec()).unwrap_or_default();
        if shapes
            .iter()
            .any(|s| s.is_empty() || s[1..] != trailing[..])
        {
            return Err(Error::invalid(format!(
                "the workers' rows of {name:?} have different shapes: {shapes:?}"
            )));
        }
        let nrows: u64 = shapes.iter().map(|s| s[0]).sum();
        let dims: Vec<usize> = std::iter::once(nrows)
            .chain(trailing)
            .map(|d| d as usize)
            .collect();
        // `vec!` of zeros gets memory the OS zeroes lazily; no extra pass.
        let total = dims.iter().product::<usize>();
        let mut out = ArrayD::from_shape_vec(IxDyn(&dims), vec![T::zeroed(); total])
            .map_err(|e| Error::invalid(format!("gather_array: {e}")))?;
        let ids = self.tell_each(&workers, |id| ClientToWorker::GatherArray {
            id,
            name: name.to_string(),
        })?;
        let dest: &mut [u8] = bytemuck::cast_slice_mut(
            out.as_slice_mut()
                .ok_or_else(|| Error::invalid("a new array is contiguous"))?,
        );
        members.gather_into::<u8>(&[], Some(dest), 0)?;
        for (_, answer) in self.answers(&ids)? {
            answer.map_err(Error::task)?;
        }
        Ok(out)
    }

    /// An SPMD section: every worker calls `f(group, arg)` at once, where
    /// `group` is the workers-only [`Group`] (its rank 0 is the first worker),
    /// so a task program can enter a tightly coupled phase (an allreduce, a
    /// halo exchange) and come back. Returns each worker's value in rank
    /// order. `f` is a function item or a closure that captures nothing, and
    /// returns a [`Result`], so `?` works on the group's calls inside it.
    ///
    /// Sections reach every worker in the order the client starts them, so
    /// they cannot deadlock one another. If `f` returns `Err` or panics on one
    /// worker, the section ends for every member with an error naming the
    /// workers where it failed and why: in the embedded cluster the other
    /// members' calls fail instead of waiting (and the workers group stays
    /// failed), while under MPI, where a member blocked inside an MPI
    /// collective cannot be woken, the job is aborted with the member's
    /// message on stderr.
    ///
    /// # Examples — see `examples/spmd_allreduce.rs`.
    pub fn spmd<F, A, R>(&self, f: F, arg: A) -> Result<Vec<R>>
    where
        F: Fn(&Group, A) -> Result<R> + Copy + Send + Sync + 'static,
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned + 'static,
    {
        let targets = self.inner.worker_ranks.clone();
        let function = section_ref(f, self.inner.fingerprint);
        let bytes = codec::encode(&arg)?;
        let replies = self.ask_each(&targets, |id| ClientToWorker::Section {
            id,
            function,
            arg: bytes.clone(),
        })?;
        replies
            .into_iter()
            .map(|(_, outcome)| {
                let bytes = outcome.map_err(Error::task)?;
                codec::decode(&bytes)
            })
            .collect()
    }
}
