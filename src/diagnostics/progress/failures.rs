//! The failures progress shows as they happen: each once, on a line of its
//! own above the bars (or among the plain lines of a log), since the
//! workers no longer print a task's panic to stderr (see
//! `worker::task_panics`). A dependent's failure repeats its root cause's,
//! so a root is shown once however many dependents fail with it; past
//! [`SHOWN`] roots the other failed tasks (but those failing with a root
//! shown) are only counted, and the count said at the end.

use crate::task::{Key, TaskFailure};
use std::collections::HashSet;

/// Failures shown one by one; the rest are counted.
pub(super) const SHOWN: usize = 10;

/// Longest message shown, in characters (the future holds all of it).
const MESSAGE_CHARS: usize = 500;

/// Which failures have been shown: the roots shown, and a count of the
/// failed tasks past those.
#[derive(Debug, Default)]
pub(super) struct Failures {
    roots: HashSet<Key>,
    shown: usize,
    not_shown: usize,
}

impl Failures {
    /// The line to show for a failed task of `function`
    /// (`simulate: task 00000000000004d2 failed on worker 3 (Panicked): task 99 fails on purpose`),
    /// or `None` when its root cause was shown already or [`SHOWN`] have
    /// been. A message of several lines is shown on one, its lines joined
    /// by ` | `.
    pub fn line(&mut self, function: &str, failure: &TaskFailure) -> Option<String> {
        let root = failure.root.unwrap_or(failure.key);
        if self.shown == SHOWN {
            // Only the shown roots are kept (a million failures keep ten
            // keys): the rest are counted task by task.
            self.not_shown += usize::from(!self.roots.contains(&root));
            return None;
        }
        if !self.roots.insert(root) {
            return None;
        }
        self.shown += 1;
        let text = failure.to_string();
        let mut one: String = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" | ");
        if one.chars().count() > MESSAGE_CHARS {
            one = one.chars().take(MESSAGE_CHARS).collect::<String>() + "…";
        }
        Some(format!("{function}: {one}"))
    }

    /// At the end, when some failures were not shown: how many.
    pub fn rest(&self) -> Option<String> {
        (self.not_shown > 0).then(|| {
            format!(
                "... and {} more failed tasks not shown (read their futures for the errors)",
                self.not_shown
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::FailureKind;

    fn failure(key: u64, root: Option<u64>, message: &str) -> TaskFailure {
        TaskFailure {
            kind: if root.is_some() {
                FailureKind::Dependency
            } else {
                FailureKind::Panicked
            },
            message: message.to_string(),
            key: Key(key),
            worker: Some(3),
            root: root.map(Key),
        }
    }

    #[test]
    fn each_root_cause_is_shown_once() {
        let mut f = Failures::default();
        let line = f.line(
            "simulate",
            &failure(0x4d2, None, "task 99 fails on purpose"),
        );
        assert_eq!(
            line.as_deref(),
            Some(
                "simulate: task 00000000000004d2 failed on worker 3 (Panicked): \
                 task 99 fails on purpose"
            )
        );
        assert_eq!(f.line("save", &failure(7, Some(0x4d2), "boom")), None);
        let other = f.line("save", &failure(8, Some(9), "it broke")).unwrap();
        assert!(
            other.starts_with("save: task 0000000000000008 did not run: task 0000000000000009"),
            "{other}"
        );
        assert_eq!(f.rest(), None);
    }

    #[test]
    fn lines_of_a_message_are_joined_and_a_long_one_is_cut() {
        let mut f = Failures::default();
        let text = "assertion `left == right` failed\n  left: 1\n right: 2";
        let line = f.line("check", &failure(1, None, text)).unwrap();
        assert!(line.ends_with("failed | left: 1 | right: 2"), "{line}");
        let long = f
            .line("check", &failure(2, None, &"x".repeat(2000)))
            .unwrap();
        assert!(long.ends_with("x…"), "{long}");
        assert!(long.chars().count() < MESSAGE_CHARS + 20, "{}", long.len());
    }

    #[test]
    fn past_the_limit_failures_are_counted() {
        let mut f = Failures::default();
        let shown = (0..SHOWN as u64 + 5)
            .filter_map(|k| f.line("f", &failure(k, None, "no")))
            .count();
        assert_eq!(shown, SHOWN);
        // A dependent of a shown root is not counted again.
        assert_eq!(f.line("f", &failure(100, Some(1), "again")), None);
        assert_eq!(
            f.rest().as_deref(),
            Some("... and 5 more failed tasks not shown (read their futures for the errors)")
        );
    }
}
