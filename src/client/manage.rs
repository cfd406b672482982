//! Managing submitted tasks, as dask's client does: `retry` failed futures,
//! `cancel` many at once, `fire_and_forget`, and ask the scheduler where
//! results live (`who_has`, `has_what`).

use super::state::{Inner, Status};
use super::{Client, Future};
use crate::comm::transport::Rank;
use crate::error::{Error, Result};
use crate::protocol::ClientToScheduler;
use crate::task::Key;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

impl Inner {
    /// Marks the failed ones among `keys` pending and asks the scheduler to
    /// run them again; the others are left alone.
    pub(super) fn retry_keys(&self, keys: &[Key]) -> Result<()> {
        let mut failed = Vec::new();
        {
            let mut st = self.lock();
            for k in keys {
                if let Some(e) = st.entries.get_mut(k) {
                    if matches!(e.status, Status::Failed(_)) {
                        e.status = Status::Pending;
                        failed.push(*k);
                    }
                }
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        self.changed.notify_all();
        self.send_scheduler(&ClientToScheduler::Retry { keys: failed })
    }

    /// Marks `keys` cancelled here and asks the scheduler not to run them.
    /// The Cancel goes out under the state lock, as submits do: a resubmit
    /// of the same key by another thread (which resets it to pending) then
    /// reaches the scheduler after the Cancel, never before it.
    pub(super) fn cancel_keys(&self, keys: Vec<Key>) -> Result<()> {
        let sent = {
            let mut st = self.lock();
            for k in &keys {
                st.cancel(*k);
            }
            self.send_batch_locked(&mut st)
                .and_then(|()| self.send_scheduler(&ClientToScheduler::Cancel { keys }))
        };
        self.changed.notify_all();
        sent
    }
}

impl Client {
    /// Runs the failed ones among `futures` again, with the failed tasks
    /// they depend on (dask's `client.retry`); the same futures then report
    /// the new outcome. Futures that finished, are still pending or were
    /// cancelled are left alone. Each task runs once more: its `retries`
    /// budget was spent on the first round.
    pub fn retry<T>(&self, futures: &[Future<T>]) -> Result<()> {
        self.inner.flush_releases()?;
        let keys: Vec<Key> = futures.iter().map(Future::key).collect();
        self.inner.retry_keys(&keys)
    }

    /// Cancels every one of `futures` with one message (see
    /// [`Future::cancel`]): tasks that have not started will not run, also
    /// those already queued on a worker; they report `Cancelled` from now on.
    pub fn cancel<T>(&self, futures: &[Future<T>]) -> Result<()> {
        self.inner.flush_releases()?;
        self.inner
            .cancel_keys(futures.iter().map(Future::key).collect())
    }

    /// Lets go of `future` but has its task run to the end anyway, with the
    /// tasks it needs (dask's `fire_and_forget`): for tasks run for what
    /// they do (write a file, set a worker variable), not for their result.
    /// The result is dropped once it is made.
    pub fn fire_and_forget<T>(&self, future: Future<T>) -> Result<()> {
        self.inner
            .send_scheduler(&ClientToScheduler::FireAndForget {
                keys: vec![future.key()],
            })?;
        // The scheduler hears of the release after this message.
        drop(future);
        Ok(())
    }

    /// The worker ranks holding each future's result, by key, as the
    /// scheduler knows them (dask's `who_has`): one rank for a result, more
    /// after [`replicate`](Self::replicate) or a broadcast, none for a task
    /// that has not finished (or failed).
    pub fn who_has<T>(&self, futures: &[Future<T>]) -> Result<BTreeMap<Key, Vec<Rank>>> {
        let keys: Vec<Key> = futures.iter().map(Future::key).collect();
        Ok(self.holders(Some(keys))?.into_iter().collect())
    }

    /// For every worker, the keys of the results it holds (dask's
    /// `has_what`), as the scheduler knows them: results the client holds
    /// futures for, and intermediate results kept for tasks still to run.
    pub fn has_what(&self) -> Result<BTreeMap<Rank, Vec<Key>>> {
        let mut by_worker: BTreeMap<Rank, Vec<Key>> = self
            .inner
            .worker_ranks
            .iter()
            .map(|&r| (r, Vec::new()))
            .collect();
        for (key, ranks) in self.holders(None)? {
            for r in ranks {
                by_worker.entry(r).or_default().push(key);
            }
        }
        Ok(by_worker)
    }

    /// Asks the scheduler who holds `keys` (every result when `None`).
    fn holders(&self, keys: Option<Vec<Key>>) -> Result<Vec<(Key, Vec<Rank>)>> {
        self.inner.flush_releases()?;
        // Results this client has already seen: their worker told it before
        // telling the scheduler, so the answer waits for the scheduler.
        let done: Vec<Key> = {
            let st = self.inner.lock();
            let seen = |k: &Key| {
                st.entries
                    .get(k)
                    .is_some_and(|e| matches!(e.status, Status::Value(_) | Status::Stored { .. }))
            };
            match &keys {
                Some(list) => list.iter().copied().filter(|k| seen(k)).collect(),
                None => st.entries.keys().copied().filter(|k| seen(k)).collect(),
            }
        };
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.inner
            .send_scheduler(&ClientToScheduler::WhoHas { id, keys, done })?;
        let mut answer = None;
        self.inner.wait_until(None, |st| {
            answer = st.holders.remove(&id);
            answer.is_some()
        })?;
        answer.ok_or_else(|| Error::protocol("who_has ended without an answer"))
    }
}
