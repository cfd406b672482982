//! Completion queues: how `as_completed`, `wait` and `gather` learn which of
//! their keys ended without scanning all of them on every wake-up.
//!
//! A waiter subscribes with its keys. Keys that have already ended go into
//! its queue at once, in the order they ended; the others are watched, and
//! the message handler pushes each onto the queue of every waiter watching
//! it when it ends ([`Completions::ended`]). A waiter pops keys off its own
//! queue, so each end costs O(1) per waiter however many keys it holds.

use crate::task::Key;
use std::collections::{HashMap, VecDeque};

/// One waiter's keys: those still watched, and those ended but not yet taken.
#[derive(Debug, Default)]
struct Subscription {
    /// Keys not ended yet, with how many times the waiter holds each.
    watched: HashMap<Key, usize>,
    /// Keys that ended, in order, once per time the waiter holds each.
    ready: VecDeque<Key>,
}

/// Every waiter's completion queue, by subscription id.
#[derive(Debug, Default)]
pub(crate) struct Completions {
    next_id: u64,
    subscriptions: HashMap<u64, Subscription>,
    /// Which subscriptions watch each key.
    watchers: HashMap<Key, Vec<u64>>,
}

impl Completions {
    /// Subscribes to `keys` (a key may come more than once) and returns the
    /// subscription's id. With each key comes whether it has already ended
    /// and, if so, its place in the order of ends; those keys are queued at
    /// once in that order.
    pub fn subscribe(&mut self, keys: impl IntoIterator<Item = (Key, Option<u64>)>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut sub = Subscription::default();
        let mut done = Vec::new();
        for (k, ended) in keys {
            match ended {
                Some(seq) => done.push((seq, k)),
                None => {
                    let n = sub.watched.entry(k).or_insert(0);
                    *n += 1;
                    if *n == 1 {
                        self.watchers.entry(k).or_default().push(id);
                    }
                }
            }
        }
        done.sort_by_key(|&(seq, _)| seq);
        sub.ready.extend(done.into_iter().map(|(_, k)| k));
        self.subscriptions.insert(id, sub);
        id
    }

    /// `key` has ended: queue it for every subscription watching it.
    pub fn ended(&mut self, key: Key) {
        let Some(ids) = self.watchers.remove(&key) else {
            return;
        };
        for id in ids {
            if let Some(sub) = self.subscriptions.get_mut(&id) {
                let n = sub.watched.remove(&key).unwrap_or(0);
                sub.ready.extend(std::iter::repeat_n(key, n));
            }
        }
    }

    /// The next ended key of subscription `id`, if one is queued.
    pub fn pop(&mut self, id: u64) -> Option<Key> {
        self.subscriptions.get_mut(&id)?.ready.pop_front()
    }

    /// Ends subscription `id`.
    pub fn unsubscribe(&mut self, id: u64) {
        let Some(sub) = self.subscriptions.remove(&id) else {
            return;
        };
        for key in sub.watched.into_keys() {
            if let Some(ids) = self.watchers.get_mut(&key) {
                ids.retain(|&i| i != id);
                if ids.is_empty() {
                    self.watchers.remove(&key);
                }
            }
        }
    }

    /// Whether nothing is subscribed (for tests: no subscription leaks).
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.subscriptions.is_empty() && self.watchers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys none of which has ended yet.
    fn watch(keys: &[u64]) -> Vec<(Key, Option<u64>)> {
        keys.iter().map(|&k| (Key(k), None)).collect()
    }

    fn drain(c: &mut Completions, id: u64) -> Vec<u64> {
        std::iter::from_fn(|| c.pop(id)).map(|k| k.0).collect()
    }

    #[test]
    fn already_ended_keys_come_first_in_the_order_they_ended() {
        let mut c = Completions::default();
        let keys = [Key(1), Key(2), Key(3), Key(4)];
        let id = c.subscribe(keys.map(|k| {
            let ended = match k.0 {
                2 => Some(9),
                4 => Some(5),
                _ => None,
            };
            (k, ended)
        }));
        assert_eq!(drain(&mut c, id), vec![4, 2]);
        c.ended(Key(3));
        c.ended(Key(1));
        assert_eq!(drain(&mut c, id), vec![3, 1]);
        c.unsubscribe(id);
        assert!(c.is_empty());
    }

    #[test]
    fn each_key_is_queued_once_per_handle_and_once_only() {
        let mut c = Completions::default();
        let id = c.subscribe(watch(&[7, 7, 8]));
        c.ended(Key(7));
        // A second end (a retried task finishing again) queues nothing more.
        c.ended(Key(7));
        c.ended(Key(9));
        assert_eq!(drain(&mut c, id), vec![7, 7]);
        c.ended(Key(8));
        assert_eq!(drain(&mut c, id), vec![8]);
        assert_eq!(c.pop(id), None);
        c.unsubscribe(id);
        assert!(c.is_empty());
    }

    #[test]
    fn several_waiters_on_one_key_each_hear_of_it() {
        let mut c = Completions::default();
        let a = c.subscribe(watch(&[1, 2]));
        let b = c.subscribe(watch(&[1]));
        c.ended(Key(1));
        assert_eq!(drain(&mut c, a), vec![1]);
        assert_eq!(drain(&mut c, b), vec![1]);
        // Unsubscribing with keys still watched leaves nothing behind.
        c.unsubscribe(b);
        c.unsubscribe(a);
        assert!(c.is_empty());
        assert_eq!(c.pop(a), None);
    }

    #[test]
    fn many_keys_each_yielded_exactly_once() {
        let mut c = Completions::default();
        let keys: Vec<Key> = (0..20_000).map(Key).collect();
        let id = c.subscribe(keys.iter().map(|&k| (k, (k.0 % 3 == 0).then_some(k.0))));
        for k in keys.iter().rev() {
            c.ended(*k);
        }
        let mut seen = drain(&mut c, id);
        assert_eq!(seen.len(), keys.len());
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), keys.len());
        c.unsubscribe(id);
        assert!(c.is_empty());
    }
}
