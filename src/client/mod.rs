//! The client handle that `initialize` returns on rank 1 (or in the embedded
//! cluster): the task API (`submit`, `map`, `gather`, `as_completed`, `wait`),
//! the worker list, pings, and shutdown.
//!
//! Dropping the handle shuts the cluster down, also while a panic unwinds
//! through the user's `main`, so no rank is left waiting.

mod args;
#[cfg(test)]
mod beside_tests;
mod completion;
mod direct;
mod events;
mod future;
#[cfg(test)]
mod key_life_tests;
mod manage;
mod placed;
mod state;

pub use future::{AsCompleted, Future, FutureStatus, WaitFor, WaitResult};

use crate::comm::transport::{Rank, Transport, TAG_ABORT};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::INLINE_LIMIT;
use crate::protocol::SCHEDULER;
use crate::protocol::{
    ClientToScheduler, ClientToWorker, Placed, SchedulerToClient, TaskSpec, WorkerInfo,
};
use crate::task::args::{Args, Part};
use crate::task::shipping::FnRef;
use crate::task::{fallible_function_ref, task_function_ref, task_key, Key, TaskFn, TaskOptions};
use serde::de::DeserializeOwned;
use serde::Serialize;
use state::{Entry, Inner, Status};
use std::fmt::Display;
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Tasks per `Submit` message when mapping.
const SUBMIT_BATCH: usize = 4096;

/// How the rest of the cluster is stopped once the scheduler says `Finished`.
pub(crate) enum Finisher {
    /// Embedded cluster: join the scheduler and worker threads.
    Local(Vec<JoinHandle<Result<()>>>),
    /// MPI: finalize when the universe is dropped.
    #[cfg(feature = "mpi")]
    Mpi(mpi::environment::Universe),
}

impl Finisher {
    /// Stops the cluster. `clean` says whether every rank said goodbye; if
    /// not, the embedded cluster's threads are left to end on their own
    /// rather than joined.
    fn finish(self, clean: bool) -> Result<()> {
        match self {
            Finisher::Local(threads) if clean => {
                let mut first_err = None;
                for t in threads {
                    let outcome = t
                        .join()
                        .unwrap_or_else(|_| Err(Error::transport("a cluster thread panicked")));
                    if let Err(e) = outcome {
                        first_err.get_or_insert(e);
                    }
                }
                first_err.map_or(Ok(()), Err)
            }
            Finisher::Local(_) => Ok(()),
            #[cfg(feature = "mpi")]
            Finisher::Mpi(universe) => {
                drop(universe);
                Ok(())
            }
        }
    }

    /// Ends the job without the scheduler, which is stuck (`why`): under
    /// MPI it aborts every rank, as finalizing would wait for rank 0; the
    /// embedded cluster's threads are left to end on their own.
    fn abandon(self, why: &str) {
        match self {
            Finisher::Local(_) => log::debug!("leaving the cluster's threads: {why}"),
            #[cfg(feature = "mpi")]
            Finisher::Mpi(universe) => {
                use mpi::traits::Communicator;
                eprintln!("[rank 1 client] error: {why}; aborting the MPI job");
                universe.world().abort(1)
            }
        }
    }
}

/// A handle on a running cluster.
///
/// It is not `Send`: under MPI it finalizes MPI when dropped, which must
/// happen on the thread that initialised it. Its [`Future`]s can go anywhere.
pub struct Client {
    inner: Arc<Inner>,
    /// Its workers' memory limit, in force for arrays made on the thread
    /// that opened it until it shuts down.
    limit: Option<crate::array::OpenLimit>,
    finisher: Option<Finisher>,
    /// The client+workers group (the client is member 0), for broadcasts.
    members: Option<crate::Group>,
    workers: Vec<WorkerInfo>,
    dashboard: Option<String>,
    _not_send: PhantomData<*const ()>,
}

impl Client {
    /// Says hello to the scheduler and waits until every worker is registered.
    pub(crate) fn connect(
        mut transport: Box<dyn Transport>,
        fingerprint: u64,
        finisher: Finisher,
        members: Option<crate::Group>,
    ) -> Result<Self> {
        let outbox = transport.outbox();
        let hello = ClientToScheduler::Hello { fingerprint };
        let welcome = crate::comm::codec::encode(&hello)
            .and_then(|b| outbox.send(SCHEDULER, crate::comm::transport::TAG_CONTROL, b))
            .and_then(|()| wait_for_welcome(transport.as_mut()));
        match welcome {
            Ok((workers, dashboard)) => {
                match &dashboard {
                    Some(link) => {
                        log::info!("{} workers registered; dashboard at {link}", workers.len())
                    }
                    None => log::info!("{} workers registered", workers.len()),
                }
                let inner = Arc::new(Inner::new(
                    Some(transport),
                    outbox,
                    fingerprint,
                    workers.iter().map(|w| w.rank).collect(),
                ));
                Ok(Client {
                    inner,
                    // So that arrays made on this thread check their chunks
                    // against the workers' memory while the client is open.
                    limit: Some(crate::array::note_workers(&workers)),
                    finisher: Some(finisher),
                    members,
                    workers,
                    dashboard,
                    _not_send: PhantomData,
                })
            }
            Err(e) => {
                // Best effort: let the scheduler stop the others.
                if let Ok(b) = crate::comm::codec::encode(&ClientToScheduler::Shutdown) {
                    let _ = outbox.send(SCHEDULER, crate::comm::transport::TAG_CONTROL, b);
                }
                drop(members);
                if let Err(close) = transport.close().and(finisher.finish(false)) {
                    log::warn!("while closing after a failed start: {close}");
                }
                Err(e)
            }
        }
    }

    /// The executable fingerprint shared by every rank (for the bag's step
    /// references).
    pub(crate) fn fingerprint(&self) -> u64 {
        self.inner.fingerprint
    }

    /// Every worker, by rank, as it registered.
    pub fn workers(&self) -> &[WorkerInfo] {
        &self.workers
    }

    /// The live dashboard's link, as the scheduler serves it
    /// (`http://127.0.0.1:8787/status` by default; with `?token=...` when it
    /// listens on more than loopback), or `None` when the dashboard is off
    /// (`RANKFLOW_DASHBOARD=off`) or could not listen anywhere. See the
    /// README's Diagnostics section for reaching it from a login node.
    pub fn dashboard_link(&self) -> Option<&str> {
        self.dashboard.as_deref()
    }

    /// How many task results workers have pushed to this client so far: the
    /// value of a small result, or word that a large one is ready. Only tasks
    /// whose futures the client held when they were handed to a worker are
    /// pushed; the inside of a graph whose futures were dropped is not.
    pub fn pushed_results(&self) -> u64 {
        self.inner.poll();
        self.inner.lock().pushed
    }

    fn next_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn wait_pong(&self, id: u64) -> Result<()> {
        self.inner.wait_until(None, |st| st.pongs.remove(&id))?;
        Ok(())
    }

    /// Watches the scheduler while this client waits for the cluster: one
    /// that answers nothing for `after` (the `watchdog` setting) closes the
    /// cluster with an error naming rank 0.
    pub(crate) fn watch_scheduler(&self, after: Option<Duration>) {
        self.inner.lock().watchdog = after;
    }

    /// Round trip to the scheduler and back.
    pub fn ping(&self) -> Result<Duration> {
        let id = self.next_id();
        let start = Instant::now();
        self.inner.send_scheduler(&ClientToScheduler::Ping { id })?;
        self.wait_pong(id)?;
        Ok(start.elapsed())
    }

    /// Round trip to worker `rank` and back, directly (not through the scheduler).
    pub fn ping_worker(&self, rank: Rank) -> Result<Duration> {
        if !self.inner.worker_ranks.contains(&rank) {
            return Err(Error::invalid(format!("rank {rank} is not a worker")));
        }
        let id = self.next_id();
        let start = Instant::now();
        self.inner.send_worker(rank, &ClientToWorker::Ping { id })?;
        self.wait_pong(id)?;
        Ok(start.elapsed())
    }

    // ----- submitting -----------------------------------------------------------

    /// Runs `f` on a worker with `arg` and returns a future of its result.
    ///
    /// `f` is a function item or a closure that captures nothing, with 0 to
    /// 4 parameters ([`TaskFn`]): `submit(inc, 1)`, `submit(add, (x, y))` for
    /// `fn add(a: i64, b: i64)`, `submit(now, ())` for `fn now() -> u64`.
    /// Any position of `arg` may be a future of an earlier task
    /// (`submit(add, (&x, 5))`), which makes this task wait for it; see
    /// [`Args`].
    ///
    /// # Examples — see `examples/tree_sum.rs`.
    pub fn submit<F, M, X>(&self, f: F, arg: X) -> Result<Future<F::Output>>
    where
        F: TaskFn<M>,
        X: Args<F::Params>,
        F::Output: Serialize + DeserializeOwned + 'static,
    {
        self.submit_with_options(f, arg, &TaskOptions::default())
    }

    /// [`submit`](Self::submit) with options: purity, priority, retries,
    /// target workers.
    pub fn submit_with_options<F, M, X>(
        &self,
        f: F,
        arg: X,
        options: &TaskOptions,
    ) -> Result<Future<F::Output>>
    where
        F: TaskFn<M>,
        X: Args<F::Params>,
        F::Output: Serialize + DeserializeOwned + 'static,
    {
        let function = task_function_ref::<F, M, X>(f, self.inner.fingerprint);
        self.submit_one(function, arg, options)
    }

    /// Runs a function that returns `Result`: an `Err` fails the task, and
    /// its future, with the error's text.
    pub fn submit_fallible<F, M, X, T, E>(
        &self,
        f: F,
        arg: X,
        options: &TaskOptions,
    ) -> Result<Future<T>>
    where
        F: TaskFn<M, Output = std::result::Result<T, E>>,
        X: Args<F::Params>,
        T: Serialize + DeserializeOwned + 'static,
        E: Display,
    {
        let function = fallible_function_ref::<F, M, X, T, E>(f, self.inner.fingerprint);
        self.submit_one(function, arg, options)
    }

    /// Runs `f(state, arg)` (or `f((state, arg))`): the way to give a task
    /// what a closure would capture. `state` travels as a serde value.
    pub fn submit_with<F, M, S, X, A>(&self, state: S, f: F, arg: X) -> Result<Future<F::Output>>
    where
        F: TaskFn<M, Params = (S, A)>,
        (S, X): Args<(S, A)>,
        F::Output: Serialize + DeserializeOwned + 'static,
    {
        self.submit(f, (state, arg))
    }

    /// Runs `f` on every item, in batches of thousands of tasks per message.
    /// The futures come back in the items' order. Items may be borrowed
    /// (`map(inc, &values)`) or futures (`map(inc, &futures)`).
    ///
    /// # Examples — see `examples/pi.rs`.
    pub fn map<F, M, X, I>(&self, f: F, items: I) -> Result<Vec<Future<F::Output>>>
    where
        F: TaskFn<M>,
        I: IntoIterator<Item = X>,
        X: Args<F::Params>,
        F::Output: Serialize + DeserializeOwned + 'static,
    {
        self.map_with_options(f, items, &TaskOptions::default())
    }

    /// [`map`](Self::map) with options for every task.
    pub fn map_with_options<F, M, X, I>(
        &self,
        f: F,
        items: I,
        options: &TaskOptions,
    ) -> Result<Vec<Future<F::Output>>>
    where
        F: TaskFn<M>,
        I: IntoIterator<Item = X>,
        X: Args<F::Params>,
        F::Output: Serialize + DeserializeOwned + 'static,
    {
        let function = task_function_ref::<F, M, X>(f, self.inner.fingerprint);
        let items: Vec<X> = items.into_iter().collect();
        let mut all = Vec::with_capacity(items.len());
        for chunk in items.chunks(SUBMIT_BATCH) {
            let parts = chunk.iter().map(Args::parts).collect::<Result<Vec<_>>>()?;
            all.extend(self.submit_batch(function, parts, options)?);
        }
        drop(items);
        Ok(all)
    }

    /// One task calling `function` on `arg`. The argument (and any future in
    /// it) is dropped only after the submit is sent, so the scheduler hears of
    /// the task before any release of its inputs.
    fn submit_one<X: Args<A>, A, R>(
        &self,
        function: FnRef,
        arg: X,
        options: &TaskOptions,
    ) -> Result<Future<R>> {
        let parts = arg.parts()?;
        let mut futures = self.submit_batch(function, vec![parts], options)?;
        drop(arg);
        futures
            .pop()
            .ok_or_else(|| Error::protocol("submit produced no future"))
    }

    /// Registers and sends tasks that call `function` on each argument.
    fn submit_batch<R>(
        &self,
        function: FnRef,
        args: Vec<Vec<Part>>,
        options: &TaskOptions,
    ) -> Result<Vec<Future<R>>> {
        if let Some(list) = &options.workers {
            if let Some(bad) = list.iter().find(|r| !self.inner.worker_ranks.contains(r)) {
                return Err(Error::invalid(format!("rank {bad} is not a worker")));
            }
        }
        let mut placed = Vec::new();
        let mut specs = Vec::new();
        let mut futures = Vec::with_capacity(args.len());
        // From here to the submit's send the state stays locked: releases
        // taken before it go out before it, and no other thread sees a key
        // registered here before the scheduler hears of its task.
        let mut st = self.inner.lock();
        if let Some(why) = &st.closed {
            return Err(Error::new(ErrorKind::ShutDown, why.clone()));
        }
        self.inner.flush_releases_locked(&mut st)?;
        for mut parts in args {
            // Large positions become keys of placed arguments: shared with
            // earlier tasks while those are held, put on a worker if new.
            let mut contents = Vec::new();
            let mut fresh = Vec::new();
            for part in parts.iter_mut() {
                if let Part::Inline(bytes) = part {
                    if bytes.len() > INLINE_LIMIT {
                        let content = placed::content_hash(bytes);
                        let (key, new) = st.placed.acquire(content);
                        contents.push(content);
                        if new {
                            fresh.push((key, std::mem::take(bytes)));
                        }
                        *part = Part::Future(key);
                    }
                }
            }
            let nonce = (!options.pure).then(|| self.inner.nonce.fetch_add(1, Ordering::Relaxed));
            let key = task_key(&function, &parts, nonce);
            let resubmit = match st.entries.get_mut(&key) {
                Some(e) => {
                    // Known already: it holds its placed arguments itself.
                    e.refs += 1;
                    let cancelled = matches!(e.status, Status::Cancelled);
                    if cancelled {
                        e.status = Status::Pending;
                    }
                    for content in contents {
                        st.placed.abandon(content);
                    }
                    cancelled
                }
                None => {
                    for (pkey, bytes) in fresh {
                        placed.push(self.place(pkey, bytes)?);
                    }
                    st.entries.insert(
                        key,
                        Entry {
                            refs: 1,
                            status: Status::Pending,
                            done_seq: 0,
                            placed: contents,
                            function: Some(function),
                        },
                    );
                    true
                }
            };
            if resubmit {
                specs.push(TaskSpec {
                    key,
                    function,
                    parts,
                    priority: options.priority,
                    retries: options.retries,
                    workers: options.workers.clone(),
                    allow_other_workers: options.allow_other_workers,
                });
            }
            futures.push(Future::counted(key, self.inner.clone()));
        }
        let me = std::thread::current().id();
        match st.batch.as_mut().filter(|b| b.thread == me) {
            Some(batch) => {
                batch.tasks.extend(specs);
                batch.placed.extend(placed);
            }
            None if !specs.is_empty() || !placed.is_empty() => {
                // Another thread's batch may hold keys this submit uses.
                self.inner.send_batch_locked(&mut st)?;
                self.inner.submit_locked(&mut st, specs, placed)?;
            }
            None => {}
        }
        drop(st);
        Ok(futures)
    }

    /// Runs `f`, holding back the submits this thread makes inside it, and
    /// sends them to the scheduler as one message when it returns (also when
    /// it fails: the futures it made are registered and must run). For
    /// collections, which submit a whole graph at once. A future made inside
    /// must not be waited for inside: its task is not sent yet.
    pub(crate) fn in_one_message<R>(&self, f: impl FnOnce() -> Result<R>) -> Result<R> {
        let me = std::thread::current().id();
        {
            let mut st = self.inner.lock();
            if st.batch.is_some() {
                drop(st);
                return f();
            }
            st.batch = Some(state::Batch {
                thread: me,
                tasks: Vec::new(),
                placed: Vec::new(),
            });
        }
        // Sent also when `f` panics: the futures it registered must run, and
        // this thread's later submits must not be held back forever.
        struct OnPanic<'a>(&'a Client);
        impl Drop for OnPanic<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    let _ = self.0.send_batch();
                }
            }
        }
        let guard = OnPanic(self);
        let outcome = f();
        drop(guard);
        let sent = self.send_batch();
        let value = outcome?;
        sent.map(|()| value)
    }

    /// Ends `in_one_message`'s batch: one Submit of what it held back.
    fn send_batch(&self) -> Result<()> {
        let mut st = self.inner.lock();
        let sent = self.inner.send_batch_locked(&mut st);
        st.batch = None;
        sent
    }

    /// Puts a large argument straight on a worker (round robin) under `key`.
    fn place(&self, key: Key, bytes: Vec<u8>) -> Result<Placed> {
        let ranks = &self.inner.worker_ranks;
        let i = self.inner.next_worker.fetch_add(1, Ordering::Relaxed) % ranks.len().max(1);
        let worker = *ranks
            .get(i)
            .ok_or_else(|| Error::invalid("there are no workers"))?;
        self.inner.put_on(worker, key, bytes)
    }

    // ----- collecting -------------------------------------------------------------

    /// Every future's result, in order; the first failure (in order) is the error.
    pub fn gather<T: DeserializeOwned + 'static>(&self, futures: &[Future<T>]) -> Result<Vec<T>> {
        self.inner.flush_releases()?;
        let keys: Vec<Key> = futures.iter().map(Future::key).collect();
        self.inner
            .wait_for_ends(&keys, WaitFor::AllCompleted, None)?;
        futures.iter().map(Future::result).collect()
    }

    /// Yields the futures in the order they end (finish, fail or are cancelled).
    ///
    /// # Examples — see `examples/sleeping_map.rs`.
    pub fn as_completed<T>(&self, futures: Vec<Future<T>>) -> AsCompleted<T> {
        AsCompleted::new(futures, self.inner.clone())
    }

    /// Waits until `until` holds for `futures` or `timeout` passes, and splits
    /// them into done and not done.
    pub fn wait<T>(
        &self,
        futures: Vec<Future<T>>,
        until: WaitFor,
        timeout: Option<Duration>,
    ) -> Result<WaitResult<T>> {
        self.inner.flush_releases()?;
        let keys: Vec<Key> = futures.iter().map(Future::key).collect();
        let deadline = timeout.map(|t| Instant::now() + t);
        self.inner.wait_for_ends(&keys, until, deadline)?;
        let st = self.inner.lock();
        let ended: Vec<bool> = keys
            .iter()
            .map(|k| !matches!(st.entries.get(k).map(|e| &e.status), Some(Status::Pending)))
            .collect();
        drop(st);
        let (mut done, mut not_done) = (Vec::new(), Vec::new());
        for (f, e) in futures.into_iter().zip(ended) {
            if e {
                done.push(f);
            } else {
                not_done.push(f);
            }
        }
        Ok(WaitResult { done, not_done })
    }

    // ----- shutting down --------------------------------------------------------------

    /// Stops every rank: the scheduler tells each worker, each worker says
    /// goodbye, then this returns. Dropping the client does the same.
    /// Futures that outlive it report [`ErrorKind::ShutDown`].
    pub fn shutdown(mut self) -> Result<()> {
        self.shutdown_inner()
    }

    fn shutdown_inner(&mut self) -> Result<()> {
        let Some(finisher) = self.finisher.take() else {
            return Ok(());
        };
        self.limit.take();
        let stuck = {
            let st = self.inner.lock();
            st.scheduler_stuck
                .then(|| st.closed.clone().unwrap_or_default())
        };
        if let Some(why) = stuck {
            finisher.abandon(&why);
            return Err(Error::new(ErrorKind::ShutDown, why));
        }
        let asked = self
            .inner
            .flush_releases()
            .and_then(|()| self.inner.send_scheduler(&ClientToScheduler::Shutdown))
            .and_then(|()| self.inner.wait_until(None, |st| st.finished));
        let clean = asked.is_ok();
        let transport = {
            let mut guard = self
                .inner
                .transport
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            guard.take()
        };
        self.inner.lock().closed = Some("the client has been shut down".to_string());
        self.inner.changed.notify_all();
        let closed = transport.map_or(Ok(()), |t| t.close());
        // Communicators are freed before MPI is finalized.
        drop(self.members.take());
        let finished = finisher.finish(clean);
        asked.map(|_| ()).and(closed).and(finished)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown_inner() {
            log::error!("shutdown failed: {e}");
        }
    }
}

/// Waits for the scheduler's `Welcome` (every worker registered); an `Abort`
/// or a failed rank's last word is an error.
fn wait_for_welcome(transport: &mut dyn Transport) -> Result<(Vec<WorkerInfo>, Option<String>)> {
    loop {
        let envelope = transport.recv()?;
        if envelope.tag == TAG_ABORT {
            return Err(Error::new(
                ErrorKind::Transport,
                format!(
                    "rank {} failed during start-up: {}",
                    envelope.source,
                    String::from_utf8_lossy(&envelope.payload)
                ),
            ));
        }
        if envelope.source != SCHEDULER {
            log::warn!("ignoring a message from rank {}", envelope.source);
            continue;
        }
        match crate::comm::codec::decode::<SchedulerToClient>(&envelope.payload) {
            Ok(SchedulerToClient::Welcome { workers, dashboard }) => {
                return Ok((workers, dashboard))
            }
            Ok(SchedulerToClient::Abort { reason }) => {
                return Err(Error::new(ErrorKind::BinaryMismatch, reason));
            }
            Ok(other) => log::warn!("ignoring {other:?} before start-up finished"),
            Err(e) => log::error!("dropping a malformed message from the scheduler: {e}"),
        }
    }
}
