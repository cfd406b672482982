//! [`Future`]: a handle on one task's result, and the ways to wait for many
//! ([`as_completed`](super::Client::as_completed), [`wait`](super::Client::wait)).
//!
//! A future is cheap to clone and can move between threads. The result stays
//! on the worker that made it (a small result is also sent to the client at
//! once, if the client held a future for it when the task was handed out)
//! until the last handle to its key is dropped.

use super::state::{Inner, Status};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::ClientToWorker;
use crate::task::Key;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The result of a task, to come.
pub struct Future<T> {
    key: Key,
    inner: Arc<Inner>,
    _result: PhantomData<fn() -> T>,
}

/// Where a future stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FutureStatus {
    /// Not finished yet.
    Pending,
    /// Finished with a result.
    Finished,
    /// Failed (a panic, an `Err`, a failed dependency).
    Failed,
    /// Cancelled before it ran.
    Cancelled,
}

impl<T> Future<T> {
    /// A handle on `key`, whose reference the caller has already counted.
    pub(crate) fn counted(key: Key, inner: Arc<Inner>) -> Self {
        Future {
            key,
            inner,
            _result: PhantomData,
        }
    }

    /// The task's key.
    pub fn key(&self) -> Key {
        self.key
    }

    /// Where the task stands, after taking in any news that has arrived.
    pub fn status(&self) -> FutureStatus {
        self.inner.poll();
        match self.inner.lock().entries.get(&self.key).map(|e| &e.status) {
            Some(Status::Pending) | None => FutureStatus::Pending,
            Some(Status::Value(_) | Status::Stored { .. }) => FutureStatus::Finished,
            Some(Status::Failed(_)) => FutureStatus::Failed,
            Some(Status::Cancelled) => FutureStatus::Cancelled,
        }
    }

    /// Why the task failed, if it has (for progress, which shows each
    /// failure once); `None` while pending, finished or cancelled.
    pub(crate) fn failure(&self) -> Option<crate::task::TaskFailure> {
        match self.inner.lock().entries.get(&self.key).map(|e| &e.status) {
            Some(Status::Failed(f)) => Some(f.clone()),
            _ => None,
        }
    }

    /// Whether the task has finished, failed or been cancelled.
    pub fn done(&self) -> bool {
        self.status() != FutureStatus::Pending
    }

    /// Asks that the task not run. A task that has not started will not
    /// (also one already queued on a worker); one that is running or
    /// finished is left alone, but this future reports `Cancelled` from now
    /// on either way. [`Client::cancel`](super::Client::cancel) cancels many.
    pub fn cancel(&self) -> Result<()> {
        self.inner.cancel_keys(vec![self.key])
    }

    /// If the task failed, runs it again, with the failed tasks it depends
    /// on, and this future reports the new outcome (dask's `Future.retry`).
    /// A future that finished, is pending or was cancelled is left alone.
    /// See [`Client::retry`](super::Client::retry).
    pub fn retry(&self) -> Result<()> {
        self.inner.flush_releases()?;
        self.inner.retry_keys(&[self.key])
    }

    /// Waits up to `timeout` (forever if `None`) for the task to end;
    /// `Ok(false)` if it has not.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let key = self.key;
        self.inner.wait_until(deadline, |st| {
            !matches!(
                st.entries.get(&key).map(|e| &e.status),
                Some(Status::Pending)
            )
        })
    }
}

impl<T: DeserializeOwned + 'static> Future<T> {
    /// Waits for the task and returns its result, or the task's failure.
    pub fn result(&self) -> Result<T> {
        self.result_timeout(None)
    }

    /// Like [`result`](Self::result), giving up after `timeout` with an error
    /// of kind [`Timeout`](ErrorKind::Timeout).
    pub fn result_timeout(&self, timeout: Option<Duration>) -> Result<T> {
        self.decode_as(timeout)
    }
}

impl<T> Future<T> {
    /// The result read as another type `U` with the same serde shape (a
    /// newer version of a struct, say). A result that does not decode as `U`
    /// is an error of kind [`Codec`](ErrorKind::Codec), never a crash.
    pub fn result_as<U: DeserializeOwned + 'static>(&self) -> Result<U> {
        self.decode_as(None)
    }

    fn decode_as<U: DeserializeOwned + 'static>(&self, timeout: Option<Duration>) -> Result<U> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let bytes = self.bytes(deadline)?;
        crate::comm::codec::decode_value(&bytes).map_err(|e| {
            Error::new(
                ErrorKind::Codec,
                format!(
                    "the result of task {} does not decode as {}: {}",
                    self.key,
                    std::any::type_name::<U>(),
                    e.message()
                ),
            )
        })
    }

    /// The encoded result, fetched from its worker if it was kept there.
    pub(crate) fn bytes(&self, deadline: Option<Instant>) -> Result<Arc<Vec<u8>>> {
        let key = self.key;
        let mut fetch_from = None;
        let mut outcome = None;
        let arrived = self.inner.wait_until(deadline, |st| {
            let Some(e) = st.entries.get_mut(&key) else {
                outcome = Some(Err(Error::new(
                    ErrorKind::ShutDown,
                    format!("task {key} is no longer known to the client"),
                )));
                return true;
            };
            match &mut e.status {
                Status::Pending => false,
                Status::Value(b) => {
                    outcome = Some(Ok(b.clone()));
                    true
                }
                Status::Stored { worker, fetching } => {
                    if !*fetching {
                        *fetching = true;
                        fetch_from = Some(*worker);
                        return true;
                    }
                    false
                }
                Status::Failed(f) => {
                    outcome = Some(Err(Error::task(f.clone())));
                    true
                }
                Status::Cancelled => {
                    outcome = Some(Err(Error::new(
                        ErrorKind::Cancelled,
                        format!("task {key} was cancelled"),
                    )));
                    true
                }
            }
        })?;
        if let Some(o) = outcome {
            return o;
        }
        if !arrived {
            return Err(Error::new(
                ErrorKind::Timeout,
                format!("task {key} has not finished"),
            ));
        }
        if let Some(worker) = fetch_from {
            // The worker, or this client's transport, is gone only when the
            // cluster is going down (a fetch racing the shutdown).
            self.inner
                .send_worker(worker, &ClientToWorker::Fetch { key })
                .map_err(|e| match e.kind() {
                    ErrorKind::Transport => Error::new(
                        ErrorKind::ShutDown,
                        format!("cannot fetch task {key} from worker {worker}: {e}"),
                    ),
                    _ => e,
                })?;
        }
        self.bytes(deadline)
    }
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        if let Some(e) = self.inner.lock().entries.get_mut(&self.key) {
            e.refs += 1;
        }
        Future::counted(self.key, self.inner.clone())
    }
}

impl<T> Drop for Future<T> {
    fn drop(&mut self) {
        self.inner.drop_ref(self.key);
    }
}

impl<T> fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Future<{}>({}, {:?})",
            std::any::type_name::<T>(),
            self.key,
            self.status()
        )
    }
}

/// What [`Client::wait`](super::Client::wait) waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    /// Any one future ends.
    FirstCompleted,
    /// Any one future fails, or all end.
    FirstException,
    /// Every future ends.
    AllCompleted,
}

/// The futures split by whether they had ended when `wait` returned.
#[derive(Debug)]
pub struct WaitResult<T> {
    /// Ended (finished, failed or cancelled).
    pub done: Vec<Future<T>>,
    /// Still pending.
    pub not_done: Vec<Future<T>>,
}

impl Inner {
    /// Subscribes to `keys`' ends (see [`Completions`](super::completion)).
    pub(crate) fn subscribe(&self, keys: &[Key]) -> u64 {
        let mut st = self.lock();
        let ends: Vec<(Key, Option<u64>)> = keys.iter().map(|&k| (k, st.ended_at(k))).collect();
        st.queues.subscribe(ends)
    }

    /// Waits until `until` holds for `keys` or `deadline` passes (`Ok(false)`),
    /// popping ends off a completion queue rather than scanning the keys on
    /// every wake-up.
    pub(crate) fn wait_for_ends(
        &self,
        keys: &[Key],
        until: WaitFor,
        deadline: Option<Instant>,
    ) -> Result<bool> {
        if keys.is_empty() {
            return Ok(true);
        }
        let id = self.subscribe(keys);
        let mut ended = 0;
        let outcome = self.wait_until(deadline, |st| {
            while let Some(k) = st.queues.pop(id) {
                ended += 1;
                let failed = matches!(
                    st.entries.get(&k).map(|e| &e.status),
                    Some(Status::Failed(_) | Status::Cancelled)
                );
                let stop = match until {
                    WaitFor::FirstCompleted => true,
                    WaitFor::FirstException => failed,
                    WaitFor::AllCompleted => false,
                };
                if stop {
                    return true;
                }
            }
            ended == keys.len()
        });
        self.lock().queues.unsubscribe(id);
        outcome
    }
}

/// Futures in the order they end; see [`Client::as_completed`](super::Client::as_completed).
///
/// It pops keys off its own completion queue, so yielding all `n` futures
/// costs O(n), not O(n²).
pub struct AsCompleted<T> {
    /// Futures not yet yielded, by key (a key may be held more than once).
    pending: HashMap<Key, Vec<Future<T>>>,
    remaining: usize,
    /// The completion queue's subscription id.
    queue: u64,
    inner: Arc<Inner>,
}

impl<T> AsCompleted<T> {
    pub(crate) fn new(futures: Vec<Future<T>>, inner: Arc<Inner>) -> Self {
        let keys: Vec<Key> = futures.iter().map(|f| f.key).collect();
        let queue = inner.subscribe(&keys);
        let remaining = futures.len();
        let mut pending: HashMap<Key, Vec<Future<T>>> = HashMap::with_capacity(remaining);
        for f in futures {
            pending.entry(f.key).or_default().push(f);
        }
        AsCompleted {
            pending,
            remaining,
            queue,
            inner,
        }
    }

    /// Futures not yet yielded.
    pub fn remaining(&self) -> usize {
        self.remaining
    }

    /// Yields each future together with its result (dask's
    /// `as_completed(..., with_results=True)`).
    pub fn with_results(self) -> impl Iterator<Item = Result<(Future<T>, Result<T>)>>
    where
        T: DeserializeOwned + 'static,
    {
        self.map(|f| {
            f.map(|f| {
                let r = f.result();
                (f, r)
            })
        })
    }
}

impl<T> Iterator for AsCompleted<T> {
    type Item = Result<Future<T>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let queue = self.queue;
        let mut pick = None;
        let waited = self.inner.wait_until(None, |st| {
            pick = st.queues.pop(queue);
            pick.is_some()
        });
        if let Err(e) = waited {
            self.pending.clear();
            self.remaining = 0;
            return Some(Err(e));
        }
        let key = pick?;
        let future = self.pending.get_mut(&key).and_then(Vec::pop)?;
        if self.pending.get(&key).is_some_and(Vec::is_empty) {
            self.pending.remove(&key);
        }
        self.remaining -= 1;
        Some(Ok(future))
    }
}

impl<T> Drop for AsCompleted<T> {
    fn drop(&mut self) {
        self.inner.lock().queues.unsubscribe(self.queue);
    }
}
