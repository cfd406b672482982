//! Log lines carry the rank and role of whoever wrote them
//! (`[rank 2 worker] INFO rankflow::worker: ...`). The role is per thread, so
//! the threads of the embedded cluster each say who they are.

use std::cell::Cell;
use std::fmt;
use std::io::Write;
use std::sync::Mutex;

/// What a rank (or a thread of the embedded cluster) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Rank 0.
    Scheduler,
    /// Rank 1: the user's program.
    Client,
    /// Ranks 2 and up.
    Worker,
    /// A rank of an `spmd` program.
    Spmd,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Scheduler => "scheduler",
            Role::Client => "client",
            Role::Worker => "worker",
            Role::Spmd => "spmd",
        })
    }
}

thread_local! {
    static THREAD_ROLE: Cell<Option<(usize, Role)>> = const { Cell::new(None) };
}

static PROCESS_ROLE: Mutex<Option<(usize, Role)>> = Mutex::new(None);

/// Sets the rank and role shown in this process's log lines.
#[cfg(feature = "mpi")]
pub fn set_process_role(rank: usize, role: Role) {
    *PROCESS_ROLE.lock().unwrap_or_else(|e| e.into_inner()) = Some((rank, role));
}

/// Sets the rank and role shown in this thread's log lines.
pub fn set_thread_role(rank: usize, role: Role) {
    THREAD_ROLE.with(|r| r.set(Some((rank, role))));
}

fn current_role() -> Option<(usize, Role)> {
    THREAD_ROLE
        .with(Cell::get)
        .or_else(|| *PROCESS_ROLE.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Installs the logger with `filter` (env_logger syntax). Does nothing if a
/// logger is already installed, so a program may install its own first.
pub fn init(filter: &str) {
    let _ = env_logger::Builder::new()
        .parse_filters(filter)
        .format(|buf, record| {
            let who = match current_role() {
                Some((rank, role)) => format!("rank {rank} {role}"),
                None => "rankflow".to_string(),
            };
            writeln!(
                buf,
                "[{who}] {} {}: {}",
                record.level(),
                record.target(),
                record.args()
            )
        })
        .try_init();
}
