//! The keys this worker was told to free most recently, so that a peer's
//! `Fetch` arriving after the `Free` is answered `Gone` instead of waiting
//! for data that will never come. Bounded: the oldest are forgotten first.

use crate::task::Key;
use std::collections::{HashSet, VecDeque};

/// Freed keys remembered at most.
pub(crate) const REMEMBERED: usize = 65_536;

/// Recently freed keys, oldest first.
#[derive(Default)]
pub(crate) struct Freed {
    order: VecDeque<Key>,
    keys: HashSet<Key>,
}

impl Freed {
    /// `key` was freed here.
    pub fn insert(&mut self, key: Key) {
        if !self.keys.insert(key) {
            return;
        }
        self.order.push_back(key);
        if self.order.len() > REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.keys.remove(&old);
            }
        }
    }

    /// `key` is held here again (put or computed anew).
    pub fn remove(&mut self, key: Key) {
        if self.keys.remove(&key) {
            self.order.retain(|k| *k != key);
        }
    }

    /// Whether `key` was freed here (and not held again since).
    pub fn contains(&self, key: Key) -> bool {
        self.keys.contains(&key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_a_bounded_number_oldest_forgotten_first() {
        let mut f = Freed::default();
        for k in 0..REMEMBERED as u64 + 2 {
            f.insert(Key(k));
        }
        assert!(!f.contains(Key(0)) && !f.contains(Key(1)));
        assert!(f.contains(Key(2)) && f.contains(Key(REMEMBERED as u64 + 1)));
        assert_eq!(f.order.len(), REMEMBERED);
        f.remove(Key(5));
        assert!(!f.contains(Key(5)));
        assert_eq!(f.order.len(), f.keys.len());
    }
}
