//! Progress per function: how many of each function's futures have ended,
//! and how many of those failed.

use crate::task::Key;
use std::collections::HashMap;

/// How the futures of one function stand (see [`ProgressSummary::functions`](super::ProgressSummary::functions)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionProgress {
    /// The function's short name (`simulate`; see
    /// [`function_name`](crate::task::names::function_name)), `data` for
    /// data the client put on a worker.
    pub name: String,
    /// Futures watched.
    pub total: usize,
    /// Ended, the erred included.
    pub done: usize,
    /// Failed or cancelled.
    pub erred: usize,
}

/// Counts per function, in the order each function first appears among
/// the futures.
#[derive(Debug, Default)]
pub(super) struct Tally {
    groups: Vec<FunctionProgress>,
    group_of: HashMap<Key, usize>,
}

impl Tally {
    /// One group per distinct name among `futures` (a key and its
    /// function's name each).
    pub fn new(futures: impl IntoIterator<Item = (Key, String)>) -> Self {
        let mut t = Tally::default();
        let mut index: HashMap<String, usize> = HashMap::new();
        for (key, name) in futures {
            let i = *index.entry(name.clone()).or_insert_with(|| {
                t.groups.push(FunctionProgress {
                    name,
                    total: 0,
                    done: 0,
                    erred: 0,
                });
                t.groups.len() - 1
            });
            t.groups[i].total += 1;
            t.group_of.insert(key, i);
        }
        t
    }

    /// Counts one end of `key`'s future (`erred`: failed or cancelled). A
    /// key not watched is ignored.
    pub fn ended(&mut self, key: Key, erred: bool) {
        if let Some(g) = self.group_of.get(&key).map(|&i| &mut self.groups[i]) {
            g.done += 1;
            g.erred += usize::from(erred);
        }
    }

    /// The name of `key`'s function, if `key` is watched.
    pub fn name_of(&self, key: Key) -> Option<&str> {
        self.group_of
            .get(&key)
            .map(|&i| self.groups[i].name.as_str())
    }

    /// The groups, in order of first appearance.
    pub fn groups(&self) -> &[FunctionProgress] {
        &self.groups
    }

    /// Ended, erred and watched futures over all groups.
    pub fn totals(&self) -> (usize, usize, usize) {
        self.groups.iter().fold((0, 0, 0), |(d, e, t), g| {
            (d + g.done, e + g.erred, t + g.total)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally() -> Tally {
        let names = ["load", "simulate", "load", "simulate", "simulate", "save"];
        Tally::new(
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (Key(i as u64), n.to_string())),
        )
    }

    #[test]
    fn groups_follow_first_appearance_with_their_totals() {
        let t = tally();
        let shape: Vec<(&str, usize)> = t
            .groups()
            .iter()
            .map(|g| (g.name.as_str(), g.total))
            .collect();
        assert_eq!(shape, [("load", 2), ("simulate", 3), ("save", 1)]);
        assert_eq!(t.totals(), (0, 0, 6));
    }

    #[test]
    fn ends_count_in_their_function_and_errors_apart() {
        let mut t = tally();
        t.ended(Key(0), false);
        t.ended(Key(1), true);
        t.ended(Key(4), false);
        t.ended(Key(99), true);
        let g = t.groups();
        assert_eq!((g[0].done, g[0].erred), (1, 0));
        assert_eq!((g[1].done, g[1].erred), (2, 1));
        assert_eq!((g[2].done, g[2].erred), (0, 0));
        assert_eq!(t.totals(), (3, 1, 6));
    }
}
