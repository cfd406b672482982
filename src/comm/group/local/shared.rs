//! The state one in-process group shares between its members: every member's
//! mailbox, who is blocked and for what, who has left. All of it sits under one
//! lock with one condvar, so a blocked member sleeps until something changes
//! and the question "can anybody still move?" has one consistent answer.
//!
//! # Deadlock detection
//!
//! In-process every member is in view, so a wait that MPI would turn into a
//! hang becomes an error. A member that must block registers what it waits
//! for (a [`Want`]) and the call it is in, then checks the whole group:
//!
//! * a member waiting for a specific rank that has **left** (dropped its
//!   `LocalGroup`) with nothing from it queued gets an error naming that rank;
//! * if **every** member that has not left is blocked, and none of their
//!   waits can be met by what is queued, that is a **deadlock**: every blocked
//!   member gets an [`ErrorKind::Deadlock`] error naming each rank and the
//!   call it is blocked in.
//!
//! A member that is running (in no call of this group) means no deadlock:
//! it may still send. So detection never guesses with timeouts; it happens
//! when the last member blocks or leaves. It assumes, as
//! `MPI_THREAD_SERIALIZED` does, that a member blocked in a call makes no other
//! call until it returns.
//!
//! Detection is per group. A member blocked in a subgroup counts as running in
//! the parent, so a cycle that crosses groups (one member waits in a split,
//! its peer in the parent) is never reported as a deadlock, and is not
//! detected either: it hangs, as under MPI.

use super::super::Status;
use crate::comm::transport::Tag;
use crate::error::{Error, ErrorKind, Result};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};

/// Point-to-point messages of more bytes than this are sent by rendezvous: a
/// blocking send returns only once a matching receive has taken the message,
/// as MPI's `MPI_Send` does for large messages. Smaller ones are buffered
/// (eager). The value is Open MPI's smallest: on one node (shared memory) a
/// ring of blocking 4,000-byte sends completes under Open MPI 4.1.4 and one of
/// 4,064-byte sends hangs; over TCP the limit is 64 KiB. A program that is
/// correct under MPI works with any limit.
pub const EAGER_LIMIT: usize = 4000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Channel {
    Collective,
    User(Tag),
}

pub(crate) struct Message {
    pub id: u64,
    pub source: usize,
    pub channel: Channel,
    pub data: Vec<u8>,
}

impl Message {
    pub fn status(&self) -> Status {
        let tag = match self.channel {
            Channel::User(t) => t,
            Channel::Collective => 0,
        };
        Status {
            source: self.source,
            tag,
        }
    }
}

/// What a blocked member waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Want {
    /// A message in its own mailbox from `source` (`None`: any) on `channel`
    /// (`None`: any user tag).
    Message {
        source: Option<usize>,
        channel: Option<Channel>,
    },
    /// Its message `id`, posted to `dest`, taken by a receive there.
    Taken { dest: usize, id: u64 },
}

impl Want {
    /// The rank that must act for this wait to end, if it is a single one.
    fn peer(self) -> Option<usize> {
        match self {
            Want::Message { source, .. } => source,
            Want::Taken { dest, .. } => Some(dest),
        }
    }
}

fn matches(m: &Message, source: Option<usize>, channel: Option<Channel>) -> bool {
    source.is_none_or(|s| s == m.source)
        && match channel {
            Some(c) => c == m.channel,
            None => matches!(m.channel, Channel::User(_)),
        }
}

/// One blocked call of a member.
struct Blocked {
    ticket: u64,
    call: String,
    wants: Vec<Want>,
}

/// Everything behind the group's lock.
pub(crate) struct State {
    queues: Vec<VecDeque<Message>>,
    blocked: Vec<Vec<Blocked>>,
    left: Vec<bool>,
    /// Blocked calls found deadlocked, with the report they return.
    doomed: HashMap<u64, String>,
    next_id: u64,
}

impl State {
    fn new(size: usize) -> Self {
        State {
            queues: (0..size).map(|_| VecDeque::new()).collect(),
            blocked: (0..size).map(|_| Vec::new()).collect(),
            left: vec![false; size],
            doomed: HashMap::new(),
            next_id: 0,
        }
    }

    /// Removes and returns the first message for `rank` that matches.
    pub fn take(
        &mut self,
        rank: usize,
        source: Option<usize>,
        channel: Option<Channel>,
    ) -> Option<Message> {
        let q = &mut self.queues[rank];
        let i = q.iter().position(|m| matches(m, source, channel))?;
        q.remove(i)
    }

    /// The first message for `rank` that matches, left in place.
    pub fn peek(
        &self,
        rank: usize,
        source: Option<usize>,
        channel: Option<Channel>,
    ) -> Option<&Message> {
        self.queues[rank]
            .iter()
            .find(|m| matches(m, source, channel))
    }

    /// Whether message `id` still waits in `dest`'s mailbox.
    pub fn queued(&self, dest: usize, id: u64) -> bool {
        self.queues[dest].iter().any(|m| m.id == id)
    }

    /// Takes back message `id` from `dest`'s mailbox (a send that failed).
    pub fn withdraw(&mut self, dest: usize, id: u64) {
        self.queues[dest].retain(|m| m.id != id);
    }

    /// Whether `want` of member `rank` can be met now.
    pub fn met(&self, rank: usize, want: Want) -> bool {
        match want {
            Want::Message { source, channel } => self.peek(rank, source, channel).is_some(),
            Want::Taken { dest, id } => !self.queued(dest, id),
        }
    }

    /// A wait of `rank` for a member that has left, if it has no other way out.
    fn departed(&self, rank: usize, call: &str, wants: &[Want]) -> Option<Error> {
        let gone = wants
            .iter()
            .filter_map(|w| w.peer())
            .find(|&p| p != rank && self.left[p])?;
        Some(Error::new(
            ErrorKind::Deadlock,
            format!("rank {gone} left the group while rank {rank} waits for it in {call}"),
        ))
    }

    /// The report of a deadlock, if every member still in the group is
    /// blocked and none of their waits can be met.
    fn deadlock(&self) -> Option<String> {
        let mut parts = Vec::new();
        for (rank, calls) in self.blocked.iter().enumerate() {
            if self.left[rank] {
                continue;
            }
            if calls.is_empty() {
                return None;
            }
            for b in calls {
                let can_move = b.wants.iter().any(|&w| {
                    self.met(rank, w) || w.peer().is_some_and(|p| p != rank && self.left[p])
                });
                if can_move {
                    return None;
                }
                let peer = match b.wants[..] {
                    [Want::Message {
                        source: Some(s),
                        channel: Some(Channel::Collective),
                    }] => format!(" for rank {s}"),
                    _ => String::new(),
                };
                parts.push(format!("rank {rank} blocked in {}{peer}", b.call));
            }
        }
        let gone: Vec<String> = (0..self.left.len())
            .filter(|&r| self.left[r])
            .map(|r| r.to_string())
            .collect();
        let mut report = parts.join(", ");
        if !gone.is_empty() {
            report.push_str(&format!("; rank {} left the group", gone.join(", ")));
        }
        Some(report)
    }
}

/// The world-wide failure flag, shared by a world and every group split from
/// it, with the groups to wake when it is set.
#[derive(Default)]
pub(crate) struct Poison {
    reason: Mutex<Option<String>>,
    groups: Mutex<Vec<Weak<Shared>>>,
}

impl Poison {
    pub fn set(&self, why: String) {
        {
            let mut r = lock(&self.reason);
            if r.is_some() {
                return;
            }
            *r = Some(why);
        }
        let groups: Vec<Arc<Shared>> = lock(&self.groups)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for g in groups {
            // Taking the lock orders this wake-up after any member's check.
            let _st = g.lock();
            g.changed.notify_all();
        }
    }

    pub fn reason(&self) -> Option<String> {
        lock(&self.reason).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A split group not yet taken by all its members: the group, and how many
/// have yet to take it.
pub(crate) type Pending = (Arc<Shared>, usize);

/// State shared by the members of one group.
pub(crate) struct Shared {
    size: usize,
    state: Mutex<State>,
    changed: Condvar,
    /// Groups split from this one, by (split number, color), with how many
    /// members have yet to take theirs; removed when the last one has.
    pub children: Mutex<HashMap<(u64, u16), Pending>>,
    pub poison: Arc<Poison>,
}

impl Shared {
    pub fn new(size: usize, poison: Arc<Poison>) -> Arc<Self> {
        let shared = Arc::new(Shared {
            size,
            state: Mutex::new(State::new(size)),
            changed: Condvar::new(),
            children: Mutex::new(HashMap::new()),
            poison: poison.clone(),
        });
        let mut groups = lock(&poison.groups);
        groups.retain(|g| g.strong_count() > 0);
        groups.push(Arc::downgrade(&shared));
        shared
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Queues `data` in `dest`'s mailbox; returns the message's id.
    pub fn post(&self, source: usize, dest: usize, channel: Channel, data: Vec<u8>) -> u64 {
        let mut st = self.lock();
        let id = st.next_id;
        st.next_id += 1;
        st.queues[dest].push_back(Message {
            id,
            source,
            channel,
            data,
        });
        self.changed.notify_all();
        id
    }

    /// Removes the first matching message for `rank` if one is queued now,
    /// waking a sender that waits for it.
    pub fn try_take(
        &self,
        rank: usize,
        source: Option<usize>,
        channel: Option<Channel>,
    ) -> Option<Message> {
        let mut st = self.lock();
        let m = st.take(rank, source, channel)?;
        self.changed.notify_all();
        Some(m)
    }

    /// Marks `rank` as gone and wakes those who might wait for it.
    pub fn leave(&self, rank: usize) {
        let mut st = self.lock();
        st.left[rank] = true;
        self.changed.notify_all();
    }

    /// Runs `attempt` under the lock until it returns a value, sleeping on the
    /// condvar in between. While asleep, `rank` is registered as blocked in
    /// `call` waiting for any of `wants`, and the error paths of the module
    /// docs apply. Whatever `attempt` changes wakes the other members.
    pub fn wait_until<R>(
        &self,
        rank: usize,
        call: &dyn Fn() -> String,
        wants: &[Want],
        mut attempt: impl FnMut(&mut State) -> Option<R>,
    ) -> Result<R> {
        let mut st = self.lock();
        let mut ticket = None;
        let out = loop {
            // A failed world fails every later call, even one whose data is
            // all there already (as `Group::fail` promises): checked first.
            if let Some(why) = self.poison.reason() {
                break Err(Error::new(
                    ErrorKind::Transport,
                    format!("another member of the group failed: {why}"),
                ));
            }
            if let Some(r) = attempt(&mut st) {
                self.changed.notify_all();
                break Ok(r);
            }
            if let Some(report) = ticket.and_then(|t| st.doomed.remove(&t)) {
                break Err(Error::new(ErrorKind::Deadlock, report));
            }
            let call_text = ticket
                .and_then(|t| st.blocked[rank].iter().find(|b| b.ticket == t))
                .map(|b| b.call.clone())
                .unwrap_or_else(call);
            if let Some(e) = st.departed(rank, &call_text, wants) {
                break Err(e);
            }
            let t = match ticket {
                Some(t) => t,
                None => {
                    let t = st.next_id;
                    st.next_id += 1;
                    st.blocked[rank].push(Blocked {
                        ticket: t,
                        call: call_text,
                        wants: wants.to_vec(),
                    });
                    ticket = Some(t);
                    t
                }
            };
            if let Some(report) = st.deadlock() {
                let others: Vec<u64> = st
                    .blocked
                    .iter()
                    .flatten()
                    .map(|b| b.ticket)
                    .filter(|&o| o != t)
                    .collect();
                for o in others {
                    st.doomed.insert(o, report.clone());
                }
                self.changed.notify_all();
                break Err(Error::new(ErrorKind::Deadlock, report));
            }
            st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
        };
        if let Some(t) = ticket {
            st.blocked[rank].retain(|b| b.ticket != t);
            st.doomed.remove(&t);
        }
        out
    }
}
