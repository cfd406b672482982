//! The in-process backend of [`Group`](super::Group): members are
//! threads of one process and collectives are linear exchanges through
//! per-member mailboxes. Serves `spmd` without mpirun and unit tests of the
//! collective layer.
//!
//! It behaves like MPI where a program could otherwise pass here and hang
//! under mpirun: a blocking send of more than [`EAGER_LIMIT`] bytes waits for
//! the matching receive (rendezvous), and a wait that nothing can end is an
//! [`ErrorKind::Deadlock`](crate::ErrorKind::Deadlock) error on the members
//! involved instead of a hang (see `shared.rs` for how it is detected).
//!
//! If one member panics, [`LocalGroup::poison`] marks the whole world (and
//! every group split from it) so that members waiting in a collective return
//! an error instead of waiting for a message that will never come. A member
//! that drops its `LocalGroup` has left: those waiting for it get an error.

mod exchange;
mod p2p;
mod shared;

use super::{Probe, RawGroup, Status};
use crate::comm::codec::{copy_plain_from_bytes, plain_bytes};
use crate::comm::plain::{Op, Plain};
use crate::comm::transport::Tag;
use crate::error::{Error, Result};
pub(crate) use p2p::{LocalWant, Rendezvous};
pub use shared::EAGER_LIMIT;
use shared::{Channel, Message, Poison, Shared, Want};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One member of an in-process group.
pub struct LocalGroup {
    rank: usize,
    shared: Arc<Shared>,
    splits: AtomicU64,
    /// The public call this member is in, for error reports.
    op: Mutex<Option<&'static str>>,
}

/// A handle that marks a local world as failed, waking every waiting member.
#[derive(Clone)]
pub struct PoisonHandle(Arc<Poison>);

impl PoisonHandle {
    /// Marks the world as failed with `why`; the first reason is kept.
    pub fn poison(&self, why: String) {
        self.0.set(why);
    }

    /// The first reason given to [`poison`](Self::poison), if any.
    pub fn reason(&self) -> Option<String> {
        self.0.reason()
    }
}

impl Drop for LocalGroup {
    fn drop(&mut self) {
        self.shared.leave(self.rank);
    }
}

fn peer_text(rank: Option<usize>) -> String {
    rank.map_or_else(|| "any".to_string(), |r| r.to_string())
}

fn user_channel(tag: Option<Tag>) -> Option<Channel> {
    tag.map(Channel::User)
}

impl LocalGroup {
    fn member(rank: usize, shared: Arc<Shared>) -> Self {
        LocalGroup {
            rank,
            shared,
            splits: AtomicU64::new(0),
            op: Mutex::new(None),
        }
    }

    /// A world of `size` members (element `i` is rank `i`) and its poison handle.
    pub fn world(size: usize) -> (Vec<LocalGroup>, PoisonHandle) {
        let poison = Arc::new(Poison::default());
        let shared = Shared::new(size, poison.clone());
        let members = (0..size)
            .map(|rank| LocalGroup::member(rank, shared.clone()))
            .collect();
        (members, PoisonHandle(poison))
    }

    /// Marks this group's world failed (see [`PoisonHandle::poison`]).
    pub fn poison(&self, why: &str) {
        self.shared.poison.set(why.to_string());
    }

    /// Names the public call this member is in, unless one is named already;
    /// returns whether it did (and so must [`end_op`](Self::end_op)).
    pub(crate) fn begin_op(&self, name: &'static str) -> bool {
        let mut op = self.op.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = op.is_none();
        if fresh {
            *op = Some(name);
        }
        fresh
    }

    pub(crate) fn end_op(&self) {
        *self.op.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn op_name(&self, fallback: &'static str) -> &'static str {
        self.op
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or(fallback)
    }

    /// Whether two members belong to one group.
    pub(crate) fn same_group(&self, other: &LocalGroup) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    fn post(&self, dest: usize, channel: Channel, data: Vec<u8>) -> u64 {
        self.shared.post(self.rank, dest, channel, data)
    }

    /// Waits for and removes the first matching message.
    fn take(&self, source: Option<usize>, channel: Option<Channel>) -> Result<Message> {
        let call = || match channel {
            Some(Channel::Collective) => self.op_name("a collective").to_string(),
            _ => self.recv_text("recv", source, channel),
        };
        let want = Want::Message { source, channel };
        self.shared.wait_until(self.rank, &call, &[want], |st| {
            st.take(self.rank, source, channel)
        })
    }

    fn recv_text(
        &self,
        fallback: &'static str,
        source: Option<usize>,
        channel: Option<Channel>,
    ) -> String {
        let tag = match channel {
            Some(Channel::User(t)) => t.to_string(),
            _ => "any".to_string(),
        };
        format!(
            "{} from {} (tag {tag})",
            self.op_name(fallback),
            peer_text(source)
        )
    }

    fn take_collective<T: Plain>(&self, source: usize, into: &mut [T]) -> Result<()> {
        let m = self.take(Some(source), Some(Channel::Collective))?;
        copy_plain_from_bytes(&m.data, into)
    }

    fn others(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.size()).filter(move |&r| r != self.rank)
    }
}

fn offsets(counts: &[usize]) -> Vec<usize> {
    let mut at = 0;
    counts
        .iter()
        .map(|&c| {
            let o = at;
            at += c;
            o
        })
        .collect()
}

impl RawGroup for LocalGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.shared.size()
    }

    fn barrier(&self) -> Result<()> {
        for r in self.others() {
            self.post(r, Channel::Collective, Vec::new());
        }
        for r in self.others() {
            self.take(Some(r), Some(Channel::Collective))?;
        }
        Ok(())
    }

    fn bcast<T: Plain>(&self, buf: &mut [T], root: usize) -> Result<()> {
        if self.rank == root {
            for r in self.others() {
                self.post(r, Channel::Collective, plain_bytes(buf).to_vec());
            }
            Ok(())
        } else {
            self.take_collective(root, buf)
        }
    }

    fn bcast_send<T: Plain>(&self, buf: &[T]) -> Result<()> {
        for r in self.others() {
            self.post(r, Channel::Collective, plain_bytes(buf).to_vec());
        }
        Ok(())
    }

    fn gatherv<T: Plain>(
        &self,
        send: &[T],
        recv: Option<(&mut [T], &[usize])>,
        root: usize,
    ) -> Result<()> {
        match recv {
            Some((buf, counts)) if self.rank == root => {
                let at = offsets(counts);
                for r in 0..self.size() {
                    let part = &mut buf[at[r]..at[r] + counts[r]];
                    if r == root {
                        part.copy_from_slice(send);
                    } else {
                        self.take_collective(r, part)?;
                    }
                }
                Ok(())
            }
            _ => {
                self.post(root, Channel::Collective, plain_bytes(send).to_vec());
                Ok(())
            }
        }
    }

    fn scatterv<T: Plain>(
        &self,
        send: Option<(&[T], &[usize])>,
        recv: &mut [T],
        root: usize,
    ) -> Result<()> {
        match send {
            Some((data, counts)) if self.rank == root => {
                let at = offsets(counts);
                for r in 0..self.size() {
                    let part = &data[at[r]..at[r] + counts[r]];
                    if r == root {
                        recv.copy_from_slice(part);
                    } else {
                        self.post(r, Channel::Collective, plain_bytes(part).to_vec());
                    }
                }
                Ok(())
            }
            _ => self.take_collective(root, recv),
        }
    }

    fn allgatherv<T: Plain>(&self, send: &[T], recv: &mut [T], counts: &[usize]) -> Result<()> {
        for r in self.others() {
            self.post(r, Channel::Collective, plain_bytes(send).to_vec());
        }
        let at = offsets(counts);
        for r in 0..self.size() {
            let part = &mut recv[at[r]..at[r] + counts[r]];
            if r == self.rank {
                part.copy_from_slice(send);
            } else {
                self.take_collective(r, part)?;
            }
        }
        Ok(())
    }

    fn reduce<T: Plain>(
        &self,
        send: &[T],
        recv: Option<&mut [T]>,
        op: Op,
        root: usize,
    ) -> Result<()> {
        match recv {
            Some(acc) if self.rank == root => self.fold_parts(0..self.size(), send, acc, op),
            _ => {
                self.post(root, Channel::Collective, plain_bytes(send).to_vec());
                Ok(())
            }
        }
    }

    fn allreduce<T: Plain>(&self, send: &[T], recv: &mut [T], op: Op) -> Result<()> {
        for r in self.others() {
            self.post(r, Channel::Collective, plain_bytes(send).to_vec());
        }
        self.fold_parts(0..self.size(), send, recv, op)
    }

    fn send<T: Plain>(&self, data: &[T], dest: usize, tag: Tag) -> Result<()> {
        match self.start_send("send", plain_bytes(data).to_vec(), dest, tag) {
            Some(r) => self.finish_send(&r),
            None => Ok(()),
        }
    }

    fn recv_vec<T: Plain>(
        &self,
        source: Option<usize>,
        tag: Option<Tag>,
    ) -> Result<(Vec<T>, Status)> {
        let (bytes, status) = self.recv_bytes(source, tag)?;
        let data = super::decode_plain(bytes, status)?;
        Ok((data, status))
    }

    fn recv_into<T: Plain>(
        &self,
        buf: &mut [T],
        source: Option<usize>,
        tag: Option<Tag>,
    ) -> Result<Status> {
        let (data, status) = self.recv_vec::<T>(source, tag)?;
        if data.len() != buf.len() {
            return Err(Error::invalid(format!(
                "rank {} sent {} elements (tag {}) into a buffer of {}",
                status.source,
                data.len(),
                status.tag,
                buf.len()
            )));
        }
        buf.copy_from_slice(&data);
        Ok(status)
    }

    fn split(&self, color: Option<u16>, key: i32) -> Result<Option<Self>> {
        const NONE: u64 = u64::MAX;
        let epoch = self.splits.fetch_add(1, Ordering::Relaxed);
        let mine = [color.map_or(NONE, u64::from), key as i64 as u64];
        let size = self.size();
        let mut all = vec![0u64; 2 * size];
        self.allgatherv(&mine, &mut all, &vec![2; size])?;
        let Some(color) = color else { return Ok(None) };
        let mut members: Vec<(i64, usize)> = (0..size)
            .filter(|&r| all[2 * r] == u64::from(color))
            .map(|r| (all[2 * r + 1] as i64, r))
            .collect();
        members.sort();
        let rank = members
            .iter()
            .position(|&(_, r)| r == self.rank)
            .ok_or_else(|| Error::invalid("split: this rank is missing from its own color"))?;
        let shared = {
            let mut children = self
                .shared
                .children
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let entry = children.entry((epoch, color)).or_insert_with(|| {
                (
                    Shared::new(members.len(), self.shared.poison.clone()),
                    members.len(),
                )
            });
            entry.1 -= 1;
            let shared = entry.0.clone();
            if entry.1 == 0 {
                children.remove(&(epoch, color));
            }
            shared
        };
        Ok(Some(LocalGroup::member(rank, shared)))
    }

    fn sendrecv<T: Plain>(
        &self,
        send: &[T],
        dest: usize,
        sendtag: Tag,
        source: Option<usize>,
        recvtag: Option<Tag>,
    ) -> Result<(Vec<u8>, Status)> {
        let pending = self.start_send("sendrecv", plain_bytes(send).to_vec(), dest, sendtag);
        let got = self.recv_bytes(source, recvtag);
        match (&pending, &got) {
            (Some(r), Ok(_)) => self.finish_send(r)?,
            (Some(r), Err(_)) => self.shared.lock().withdraw(r.dest, r.id),
            (None, _) => {}
        }
        got
    }

    fn probe(&self, source: Option<usize>, tag: Option<Tag>, wait: bool) -> Result<Option<Probe>> {
        let channel = user_channel(tag);
        if !wait {
            return Ok(self
                .shared
                .lock()
                .peek(self.rank, source, channel)
                .map(Self::probe_of));
        }
        let call = || self.recv_text("probe", source, channel);
        let want = Want::Message { source, channel };
        self.shared
            .wait_until(self.rank, &call, &[want], |st| {
                st.peek(self.rank, source, channel).map(Self::probe_of)
            })
            .map(Some)
    }

    fn alltoallv<T: Plain>(
        &self,
        send: &[T],
        send_counts: &[usize],
        recv: &mut [T],
        recv_counts: &[usize],
    ) -> Result<()> {
        self.alltoallv_linear(send, send_counts, recv, recv_counts)
    }

    fn scan<T: Plain>(&self, send: &[T], recv: &mut [T], op: Op, exclusive: bool) -> Result<()> {
        self.scan_linear(send, recv, op, exclusive)
    }

    fn reduce_scatter_block<T: Plain>(&self, send: &[T], recv: &mut [T], op: Op) -> Result<()> {
        self.reduce_scatter_block_linear(send, recv, op)
    }
}
