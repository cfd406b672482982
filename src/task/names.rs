//! Readable names of task functions, for diagnostics: each function's Rust
//! path (`std::any::type_name` of the function item's type), remembered at
//! the client when a task is submitted, a `run` is called or an SPMD section
//! is started (wherever the client ships a function). The name never
//! travels with a task; a report looks it up here by the task's [`FnRef`],
//! and the client sends the scheduler each task function's name once, for
//! the dashboard.

use super::shipping::FnRef;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

fn registry() -> &'static Mutex<HashMap<FnRef, &'static str>> {
    static NAMES: OnceLock<Mutex<HashMap<FnRef, &'static str>>> = OnceLock::new();
    NAMES.get_or_init(Default::default)
}

/// Remembers `F`'s path as the name of `function`.
pub(crate) fn remember<F>(function: FnRef) {
    let mut names = registry().lock().unwrap_or_else(|e| e.into_inner());
    names
        .entry(function)
        .or_insert_with(std::any::type_name::<F>);
}

/// The full Rust path of the function behind `function`
/// (`my_crate::simulate`), if this process shipped it (a task, a `run`, a
/// section).
pub fn function_path(function: &FnRef) -> Option<&'static str> {
    let names = registry().lock().unwrap_or_else(|e| e.into_inner());
    names.get(function).copied()
}

/// A short readable name for `function`: the last segment of its path
/// (`simulate`), the last two for a closure (`main::{{closure}}`), or
/// `"unknown"` if this process never shipped it.
pub fn function_name(function: &FnRef) -> String {
    function_path(function).map_or_else(|| "unknown".to_string(), short_name)
}

/// The short form of a Rust path (see [`function_name`]).
pub fn short_name(path: &str) -> String {
    let path = path.split('<').next().unwrap_or(path);
    let segments: Vec<&str> = path.split("::").collect();
    let keep = if path.ends_with("{{closure}}") { 2 } else { 1 };
    let start = segments.len().saturating_sub(keep);
    segments[start..].join("::")
}

#[cfg(test)]
mod tests {
    use super::short_name;

    #[test]
    fn short_names() {
        assert_eq!(short_name("my_crate::sim::simulate"), "simulate");
        assert_eq!(short_name("demo::main::{{closure}}"), "main::{{closure}}");
        assert_eq!(short_name("noop"), "noop");
    }
}
