//! The client's side of task events: turning recording on and off, and
//! fetching what the scheduler keeps (see [`crate::diagnostics::events`]).

use super::Client;
use crate::diagnostics::events::EventBatch;
use crate::error::{Error, Result};
use crate::protocol::ClientToScheduler;
use crate::task::shipping::FnRef;
use crate::task::Key;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Longest that turning recording on waits for every worker to confirm it.
const RECORD_CONFIRM_WAIT: Duration = Duration::from_secs(10);

impl Client {
    /// Workers record task events from now on (`true`), or stop. Tasks
    /// already queued on a worker may still be recorded (or not) as before.
    /// Turning it on returns once every worker records, so that what the
    /// client sends workers directly from then on (`run`, SPMD sections,
    /// broadcasts) is recorded too.
    pub fn record_task_events(&self, on: bool) -> Result<()> {
        self.inner
            .send_scheduler(&ClientToScheduler::EventSettings {
                record: Some(on),
                history: None,
            })?;
        self.inner.recording.store(on, Ordering::Relaxed);
        if on {
            self.until_workers_record()?;
        }
        Ok(())
    }

    /// Waits until every worker has taken the scheduler's word to record:
    /// the scheduler tells the workers, and a direct message from the client
    /// could reach a worker first. An events request is answered once every
    /// worker has answered the scheduler's flush, which it sends after that
    /// word on the same ordered channel. A worker busy in a long `run` or
    /// section answers only after it, so the wait is bounded by
    /// [`RECORD_CONFIRM_WAIT`]: past it recording is still on, with a
    /// warning that direct messages sent meanwhile may go unrecorded.
    fn until_workers_record(&self) -> Result<()> {
        let id = self.request_events(u64::MAX)?;
        let deadline = Instant::now() + RECORD_CONFIRM_WAIT;
        let answered = self
            .inner
            .wait_until(Some(deadline), |st| st.events.remove(&id).is_some())?;
        if !answered {
            log::warn!(
                "not every worker confirmed recording task events within {}s (a worker busy \
                 in a long run or section?); calls sent to workers directly meanwhile may \
                 go unrecorded",
                RECORD_CONFIRM_WAIT.as_secs()
            );
        }
        Ok(())
    }

    /// Asks the scheduler for the events that ended at or after `since_us`;
    /// the answer arrives under the returned id.
    fn request_events(&self, since_us: u64) -> Result<u64> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.inner
            .send_scheduler(&ClientToScheduler::GetEvents { id, since_us })?;
        Ok(id)
    }

    /// Whether workers were last told to record task events (the
    /// `task_events` setting, then [`record_task_events`](Self::record_task_events)).
    pub fn recording_task_events(&self) -> bool {
        self.inner.recording.load(Ordering::Relaxed)
    }

    /// Applies the configured `task_events` and `event_history`.
    pub(crate) fn apply_event_settings(&self, record: bool, history: usize) -> Result<()> {
        self.inner
            .send_scheduler(&ClientToScheduler::EventSettings {
                record: Some(record),
                history: Some(history),
            })?;
        self.inner.recording.store(record, Ordering::Relaxed);
        if record {
            self.until_workers_record()?;
        }
        Ok(())
    }

    /// The task events the scheduler holds that ended at or after `since_us`
    /// (µs since the Unix epoch, see
    /// [`now_us`](crate::diagnostics::events::now_us); 0 for all), after
    /// every worker has sent what it had recorded.
    pub fn task_events(&self, since_us: u64) -> Result<EventBatch> {
        let id = self.request_events(since_us)?;
        let mut answer = None;
        self.inner.wait_until(None, |st| {
            answer = st.events.remove(&id);
            answer.is_some()
        })?;
        answer.ok_or_else(|| Error::protocol("task_events ended without an answer"))
    }

    /// The function each of `keys` was submitted with here (`None` for data
    /// the client put on a worker, or a key this client does not track), for
    /// progress per function.
    pub(crate) fn functions_of(&self, keys: impl IntoIterator<Item = Key>) -> Vec<Option<FnRef>> {
        let st = self.inner.lock();
        keys.into_iter()
            .map(|k| st.entries.get(&k).and_then(|e| e.function))
            .collect()
    }
}
