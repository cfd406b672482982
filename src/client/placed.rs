//! The client's registry of placed arguments: large task arguments that the
//! client put on a worker itself, shared by every task that passes the same
//! bytes, in this batch or a later one.
//!
//! Each placed argument is counted once per task the client tracks that
//! uses it. While the count is above zero, later tasks reuse the copy on its
//! worker instead of sending the bytes again; when it falls to zero the
//! client releases the key, and the scheduler frees every copy once no task
//! still to run needs it.
//!
//! A placed argument's key is a hash of its bytes and of a generation that
//! changes each time the same bytes are placed anew, so a release of an
//! earlier placement, still on its way to a worker, can never free a later
//! one.

use crate::task::Key;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// A hash of an argument's bytes: what the registry looks arguments up by.
pub(crate) fn content_hash(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    ("rankflow-placed", bytes).hash(&mut h);
    h.finish()
}

#[derive(Debug)]
struct Held {
    key: Key,
    /// Tasks using it.
    refs: usize,
}

/// Placed arguments by content hash.
#[derive(Debug, Default)]
pub(crate) struct PlacedArgs {
    held: HashMap<u64, Held>,
    generation: u64,
}

impl PlacedArgs {
    /// One more task uses the argument with `content`: the key it is kept
    /// under, and whether it is new (the caller must put it on a worker, or
    /// [`abandon`](Self::abandon) it).
    pub fn acquire(&mut self, content: u64) -> (Key, bool) {
        if let Some(h) = self.held.get_mut(&content) {
            h.refs += 1;
            return (h.key, false);
        }
        self.generation += 1;
        let mut hasher = DefaultHasher::new();
        (content, self.generation).hash(&mut hasher);
        let key = Key(hasher.finish());
        self.held.insert(content, Held { key, refs: 1 });
        (key, true)
    }

    /// Takes back an [`acquire`](Self::acquire) whose task was not sent (the
    /// same task was already known); a new argument is forgotten, never put.
    pub fn abandon(&mut self, content: u64) {
        if let Some(h) = self.held.get_mut(&content) {
            h.refs -= 1;
            if h.refs == 0 {
                self.held.remove(&content);
            }
        }
    }

    /// One fewer task uses the argument with `content`: its key, when that
    /// was the last, for the caller to release.
    pub fn release(&mut self, content: u64) -> Option<Key> {
        let h = self.held.get_mut(&content)?;
        h.refs -= 1;
        if h.refs > 0 {
            return None;
        }
        self.held.remove(&content).map(|h| h.key)
    }

    /// Placed arguments held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_until_the_last_release() {
        let mut p = PlacedArgs::default();
        let c = content_hash(&[1, 2, 3]);
        let (k, new) = p.acquire(c);
        assert!(new);
        assert_eq!(p.acquire(c), (k, false));
        assert_eq!(p.acquire(c), (k, false));
        assert_eq!(p.release(c), None);
        assert_eq!(p.release(c), None);
        assert_eq!(p.release(c), Some(k));
        assert_eq!(p.len(), 0);
        assert_eq!(p.release(c), None, "released twice");
    }

    #[test]
    fn placed_again_after_release_gets_a_new_key() {
        let mut p = PlacedArgs::default();
        let c = content_hash(&[9; 100]);
        let (first, _) = p.acquire(c);
        assert_eq!(p.release(c), Some(first));
        let (second, new) = p.acquire(c);
        assert!(new);
        assert_ne!(first, second);
    }

    #[test]
    fn abandon_forgets_a_new_argument_and_keeps_a_held_one() {
        let mut p = PlacedArgs::default();
        let (a, b) = (content_hash(b"a"), content_hash(b"b"));
        p.acquire(a);
        p.abandon(a);
        assert_eq!(p.len(), 0);
        let (kb, _) = p.acquire(b);
        p.acquire(b);
        p.abandon(b);
        assert_eq!(p.len(), 1);
        assert_eq!(p.release(b), Some(kb));
    }
}
