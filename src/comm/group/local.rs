//! The in-process backend of [`Group`](super::Group): members are
//! threads of one process and collectives are linear exchanges through
//! per-member mailboxes. Serves `spmd` without mpirun and unit tests of the
//! collective layer.
//!
//! If one member panics, [`LocalGroup::poison`] marks the whole world (and
//! every group split from it) so that members waiting in a collective return
//! an error instead of waiting for a message that will never come.

use super::{RawGroup, Status};
use crate::comm::codec::{copy_plain_from_bytes, plain_bytes, plain_vec_from_bytes};
use crate::comm::plain::{Op, Plain};
use crate::comm::transport::Tag;
use crate::error::{Error, ErrorKind, Result};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How often a waiting member looks at the poison flag.
const POISON_CHECK: Duration = Duration::from_millis(20);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Channel {
    Collective,
    User(Tag),
}

struct Message {
    source: usize,
    channel: Channel,
    data: Vec<u8>,
}

#[derive(Default)]
struct Mailbox {
    queue: Mutex<VecDeque<Message>>,
    ready: Condvar,
}

/// A split group not yet taken by all its members: the group, and how many
/// have yet to take it.
type Pending = (Arc<Shared>, usize);

/// State shared by the members of one group.
struct Shared {
    mailboxes: Vec<Mailbox>,
    /// Groups split from this one, by (split number, color), with how many
    /// members have yet to take theirs; removed when the last one has.
    children: Mutex<HashMap<(u64, u16), Pending>>,
    /// Set when any member of the world panics; shared with every split.
    poison: Arc<Mutex<Option<String>>>,
}

impl Shared {
    fn new(size: usize, poison: Arc<Mutex<Option<String>>>) -> Arc<Self> {
        Arc::new(Shared {
            mailboxes: (0..size).map(|_| Mailbox::default()).collect(),
            children: Mutex::new(HashMap::new()),
            poison,
        })
    }
}

/// One member of an in-process group.
pub struct LocalGroup {
    rank: usize,
    shared: Arc<Shared>,
    splits: AtomicU64,
}

/// A handle that marks a local world as failed, waking every waiting member.
#[derive(Clone)]
pub struct PoisonHandle(Arc<Mutex<Option<String>>>);

impl PoisonHandle {
    /// Marks the world as failed with `why`; the first reason is kept.
    pub fn poison(&self, why: String) {
        let mut p = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if p.is_none() {
            *p = Some(why);
        }
    }

    /// The first reason given to [`poison`](Self::poison), if any.
    pub fn reason(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl LocalGroup {
    /// A world of `size` members (element `i` is rank `i`) and its poison handle.
    pub fn world(size: usize) -> (Vec<LocalGroup>, PoisonHandle) {
        let poison = Arc::new(Mutex::new(None));
        let shared = Shared::new(size, poison.clone());
        let members = (0..size)
            .map(|rank| LocalGroup {
                rank,
                shared: shared.clone(),
                splits: AtomicU64::new(0),
            })
            .collect();
        (members, PoisonHandle(poison))
    }

    /// Marks this group's world failed (see [`PoisonHandle::poison`]).
    pub fn poison(&self, why: &str) {
        PoisonHandle(self.shared.poison.clone()).poison(why.to_string());
    }

    fn post(&self, dest: usize, channel: Channel, data: Vec<u8>) {
        let mailbox = &self.shared.mailboxes[dest];
        let mut q = mailbox.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.push_back(Message {
            source: self.rank,
            channel,
            data,
        });
        mailbox.ready.notify_all();
    }

    fn take(&self, source: Option<usize>, channel: Option<Channel>) -> Result<Message> {
        let mailbox = &self.shared.mailboxes[self.rank];
        let mut q = mailbox.queue.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let hit = q.iter().position(|m| {
                source.is_none_or(|s| s == m.source)
                    && match channel {
                        Some(c) => c == m.channel,
                        None => matches!(m.channel, Channel::User(_)),
                    }
            });
            if let Some(i) = hit {
                if let Some(m) = q.remove(i) {
                    return Ok(m);
                }
            }
            if let Some(why) = self
                .shared
                .poison
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
            {
                return Err(Error::new(
                    ErrorKind::Transport,
                    format!("another member of the group failed: {why}"),
                ));
            }
            q = mailbox
                .ready
                .wait_timeout(q, POISON_CHECK)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
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
        self.shared.mailboxes.len()
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
            Some(acc) if self.rank == root => {
                let mut part = vec![T::zeroed(); send.len()];
                for r in 0..self.size() {
                    if r == root {
                        part.copy_from_slice(send);
                    } else {
                        self.take_collective(r, &mut part)?;
                    }
                    if r == 0 {
                        acc.copy_from_slice(&part);
                    } else {
                        op.fold_into(acc, &part);
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

    fn allreduce<T: Plain>(&self, send: &[T], recv: &mut [T], op: Op) -> Result<()> {
        for r in self.others() {
            self.post(r, Channel::Collective, plain_bytes(send).to_vec());
        }
        let mut part = vec![T::zeroed(); send.len()];
        for r in 0..self.size() {
            if r == self.rank {
                part.copy_from_slice(send);
            } else {
                self.take_collective(r, &mut part)?;
            }
            if r == 0 {
                recv.copy_from_slice(&part);
            } else {
                op.fold_into(recv, &part);
            }
        }
        Ok(())
    }

    fn send<T: Plain>(&self, data: &[T], dest: usize, tag: Tag) -> Result<()> {
        self.post(dest, Channel::User(tag), plain_bytes(data).to_vec());
        Ok(())
    }

    fn recv_vec<T: Plain>(
        &self,
        source: Option<usize>,
        tag: Option<Tag>,
    ) -> Result<(Vec<T>, Status)> {
        let m = self.take(source, tag.map(Channel::User))?;
        let tag = match m.channel {
            Channel::User(t) => t,
            Channel::Collective => 0,
        };
        let data = plain_vec_from_bytes(&m.data).map_err(|e| {
            Error::invalid(format!(
                "rank {} sent {} bytes (tag {tag}): {}",
                m.source,
                m.data.len(),
                e.message()
            ))
        })?;
        Ok((
            data,
            Status {
                source: m.source,
                tag,
            },
        ))
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
        Ok(Some(LocalGroup {
            rank,
            shared,
            splits: AtomicU64::new(0),
        }))
    }
}
