//! A panic inside a task, a `run` function or an SPMD section is that
//! call's failure, not news for the terminal: it reaches the client as the
//! task's error (its message, key and worker) and the progress bars count
//! it as erred, so it is not printed to stderr as well.
//!
//! Printed, it would arrive in the middle of the progress bars: the
//! standard panic hook writes to stderr while indicatif redraws them there,
//! and under mpirun every worker rank's stderr is merged into the same
//! terminal, so each failing task left an old copy of the bars above its
//! message. Instead the worker logs it at `info` (`RANKFLOW_LOG=info`), with
//! where it panicked and, when `RUST_BACKTRACE` asks for one, the backtrace;
//! [`progress`](crate::diagnostics::progress) shows each failure once, above
//! the bars.
//!
//! [`install`] chains a hook in front of the one already set: a panic on a
//! thread inside [`catching`] is logged, any other panic (the user's own
//! threads, rankflow's own bugs) goes to the previous hook as before. So do
//! panics that cannot be caught and end the process, whose text would
//! otherwise be lost: every panic in a binary built with `panic = "abort"`,
//! and a second panic on a thread still unwinding from a diverted one (a
//! `Drop` panicking during the unwind). A hook the user installed before
//! [`install`] does not see the task panics diverted here.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe, PanicHookInfo};
use std::sync::Once;

thread_local! {
    /// Set while this thread runs user code whose panic is caught and
    /// reported as a task's failure.
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    /// Set from a diverted panic until its `catch_unwind` returns: a panic
    /// meanwhile aborts the process and goes to the previous hook.
    static DIVERTED: Cell<bool> = const { Cell::new(false) };
}

/// Puts the hook in front of the current one, once per process.
pub(crate) fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if cfg!(panic = "unwind")
                && CATCHING.with(Cell::get)
                && !DIVERTED.with(|d| d.replace(true))
            {
                log_task_panic(info);
            } else {
                previous(info);
            }
        }));
    });
}

/// Calls `f`, catching a panic, which is logged rather than printed (see the
/// module docs).
pub(crate) fn catching<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    let outer = CATCHING.with(|c| c.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    DIVERTED.with(|d| d.set(false));
    CATCHING.with(|c| c.set(outer));
    result
}

fn log_task_panic(info: &PanicHookInfo<'_>) {
    if !log::log_enabled!(log::Level::Info) {
        return;
    }
    let message = crate::error::panic_text(info.payload());
    let at = info.location().map_or_else(
        || "at an unknown place".to_string(),
        |l| format!("at {}:{}:{}", l.file(), l.line(), l.column()),
    );
    let trace = std::backtrace::Backtrace::capture();
    let trace = match trace.status() {
        std::backtrace::BacktraceStatus::Captured => format!("\n{trace}"),
        _ => String::new(),
    };
    log::info!("a task panicked ({at}; reported to the client as its error): {message}{trace}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_panic_is_returned_and_the_flag_restored() {
        install();
        let caught = catching(|| -> u32 { panic!("quietly") });
        let text = crate::error::panic_text(caught.unwrap_err().as_ref());
        assert_eq!(text, "quietly");
        assert!(!CATCHING.with(Cell::get));
        let nested = catching(|| {
            let inner = catching(|| 7);
            (inner.ok(), CATCHING.with(Cell::get))
        });
        assert_eq!(nested.ok(), Some((Some(7), true)));
        assert!(!CATCHING.with(Cell::get));
        assert!(!DIVERTED.with(Cell::get));
    }

    #[test]
    fn a_panic_while_a_diverted_one_unwinds_goes_to_the_previous_hook() {
        install();
        // A second caught panic on the same thread after the first one's
        // catch_unwind returned is diverted again ...
        for _ in 0..2 {
            assert!(catching(|| panic!("first")).is_err());
            assert!(!DIVERTED.with(Cell::get));
        }
        // ... while one raised during the first's unwind (here: from a
        // Drop, caught by an inner catch_unwind so the test survives) is
        // not: DIVERTED is still set when it reaches the hook.
        struct PanicsOnDrop;
        impl Drop for PanicsOnDrop {
            fn drop(&mut self) {
                assert!(DIVERTED.with(Cell::get), "the first panic was diverted");
                let inner = catch_unwind(|| panic!("during the unwind"));
                assert!(inner.is_err());
            }
        }
        let outer = catching(|| {
            let _guard = PanicsOnDrop;
            panic!("first");
        });
        assert!(outer.is_err());
        assert!(!DIVERTED.with(Cell::get));
    }
}
