//! Point-to-point pieces of the in-process backend that the blocking
//! calls and the requests of `requests.rs` share: starting and finishing a
//! send (rendezvous above [`EAGER_LIMIT`]), taking a message now or waiting
//! for one, and what a pending request waits for.

use super::shared::{Channel, Message, Want};
use super::{user_channel, LocalGroup, EAGER_LIMIT};
use crate::comm::group::{Probe, Status};
use crate::comm::transport::Tag;
use crate::error::Result;

/// A blocking send of more than [`EAGER_LIMIT`] bytes still waiting for its
/// receive: the message is queued at `dest` with `id`.
#[derive(Debug, Clone)]
pub(crate) struct Rendezvous {
    pub(super) dest: usize,
    pub(super) id: u64,
    call: String,
}

/// A wait of a pending request, opaque outside this backend.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LocalWant(Want);

impl LocalGroup {
    /// Queues a user message. Over [`EAGER_LIMIT`] bytes, returns what the
    /// sender must wait for before its send counts as done.
    pub(crate) fn start_send(
        &self,
        op: &'static str,
        data: Vec<u8>,
        dest: usize,
        tag: Tag,
    ) -> Option<Rendezvous> {
        let bytes = data.len();
        let id = self.post(dest, Channel::User(tag), data);
        (bytes > EAGER_LIMIT).then(|| Rendezvous {
            dest,
            id,
            call: format!("{} to {dest} (tag {tag}, {bytes} bytes)", self.op_name(op)),
        })
    }

    /// Whether a rendezvous send has been received.
    pub(crate) fn send_done(&self, r: &Rendezvous) -> bool {
        !self.shared.lock().queued(r.dest, r.id)
    }

    /// Waits until a rendezvous send has been received; on an error the
    /// message is taken back, so the failed send delivers nothing.
    pub(crate) fn finish_send(&self, r: &Rendezvous) -> Result<()> {
        let want = Want::Taken {
            dest: r.dest,
            id: r.id,
        };
        let call = || r.call.clone();
        let out = self.shared.wait_until(self.rank, &call, &[want], |st| {
            (!st.queued(r.dest, r.id)).then_some(())
        });
        if out.is_err() {
            self.shared.lock().withdraw(r.dest, r.id);
        }
        out
    }

    /// The first matching user message, removed, if one is queued now.
    pub(crate) fn try_recv(
        &self,
        source: Option<usize>,
        tag: Option<Tag>,
    ) -> Option<(Vec<u8>, Status)> {
        let m = self.shared.try_take(self.rank, source, user_channel(tag))?;
        let status = m.status();
        Some((m.data, status))
    }

    /// Waits for and removes the first matching user message.
    pub(crate) fn recv_bytes(
        &self,
        source: Option<usize>,
        tag: Option<Tag>,
    ) -> Result<(Vec<u8>, Status)> {
        let m = self.take(source, user_channel(tag))?;
        let status = m.status();
        Ok((m.data, status))
    }

    /// What a pending non-blocking receive waits for.
    pub(crate) fn recv_want(&self, source: Option<usize>, tag: Option<Tag>) -> (String, LocalWant) {
        let channel = user_channel(tag);
        (
            self.recv_text("irecv", source, channel),
            LocalWant(Want::Message { source, channel }),
        )
    }

    /// What a pending rendezvous send waits for.
    pub(crate) fn send_want(r: &Rendezvous) -> (String, LocalWant) {
        (
            r.call.clone(),
            LocalWant(Want::Taken {
                dest: r.dest,
                id: r.id,
            }),
        )
    }

    /// Blocks until at least one of `wants` can be met (`wait_all` over
    /// requests of this group), or fails as any blocked call does.
    pub(crate) fn wait_any(&self, call: &str, wants: &[LocalWant]) -> Result<()> {
        let wants: Vec<Want> = wants.iter().map(|w| w.0).collect();
        let text = || call.to_string();
        self.shared.wait_until(self.rank, &text, &wants, |st| {
            wants.iter().any(|&w| st.met(self.rank, w)).then_some(())
        })
    }

    pub(super) fn probe_of(m: &Message) -> Probe {
        let st = m.status();
        Probe {
            source: st.source,
            tag: st.tag,
            bytes: m.data.len(),
        }
    }
}
