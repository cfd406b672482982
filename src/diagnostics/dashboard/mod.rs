//! The live dashboard: an HTTP server on its own thread of the scheduler
//! rank, serving self-contained pages (no CDN: compute nodes are offline)
//! and the JSON they poll, read from the [`Shared`] state the scheduler's
//! loop publishes (see [`crate::scheduler::monitor`]). The loop never waits
//! for it.
//!
//! - Address: `127.0.0.1:8787` unless `dashboard_address` or
//!   `RANKFLOW_DASHBOARD` says otherwise (`off` turns it off). A port in use
//!   gives the next free one, with a log line; if none is free the dashboard
//!   is off, with a log line, never a failed start.
//! - Bound to anything other than loopback, every request needs a random
//!   token, printed in the link as Jupyter does (`?token=...`); the first
//!   page sets it as a cookie for the page's own requests. Without it: 403.
//! - Pages: `/status` (tasks by state, progress per function, memory and
//!   CPU per worker, the task stream), `/workers`, `/graph` (the current
//!   computation's tasks grouped by function, with the dependencies between
//!   groups); JSON: `/api/snapshot` (`?edges=1` to count the groups'
//!   dependencies too), `/api/stream?since=SEQ`.
//! - Functions carry the names the client sent once per function; the task
//!   stream comes from the workers' task events when they are recorded
//!   (`task_events`), else from the scheduler's own view of each finished
//!   task.

mod auth;
mod json;
mod pages;
mod server;

use crate::scheduler::monitor::Shared;
use std::net::SocketAddr;
use std::sync::Arc;

pub use auth::new_token;

/// Ports tried after the one asked for, before giving up.
pub const PORT_TRIES: u16 = 64;

/// A running dashboard; dropping it stops the server and joins its thread.
pub struct Dashboard {
    link: String,
    address: SocketAddr,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Dashboard {
    /// Serves the dashboard of `shared` at `wanted`, or the next free port
    /// after it. `host` names this machine in the link when `wanted` is an
    /// unspecified address (`0.0.0.0`). `None` (with a log line) when no port
    /// could be had.
    pub fn start(wanted: SocketAddr, host: &str, shared: Arc<Shared>) -> Option<Dashboard> {
        let (server, address) = bind(wanted)?;
        let server = Arc::new(server);
        let token = (!address.ip().is_loopback()).then(new_token);
        let shown_host = if address.ip().is_unspecified() {
            host.to_string()
        } else if address.is_ipv6() {
            format!("[{}]", address.ip())
        } else {
            address.ip().to_string()
        };
        let link = match &token {
            Some(t) => format!("http://{shown_host}:{}/status?token={t}", address.port()),
            None => format!("http://{shown_host}:{}/status", address.port()),
        };
        let serving = server::Serving {
            server: server.clone(),
            shared,
            token,
            host: host.to_string(),
        };
        let thread = std::thread::Builder::new()
            .name("rankflow-dashboard".into())
            .spawn(move || serving.run());
        match thread {
            Ok(t) => Some(Dashboard {
                link,
                address,
                server,
                thread: Some(t),
            }),
            Err(e) => {
                log::warn!("dashboard off: could not start its thread: {e}");
                None
            }
        }
    }

    /// The link to the status page (with the token, if one is needed).
    pub fn link(&self) -> &str {
        &self.link
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Binds `wanted`, else one of the next [`PORT_TRIES`] ports.
fn bind(wanted: SocketAddr) -> Option<(tiny_http::Server, SocketAddr)> {
    let tries = if wanted.port() == 0 {
        1
    } else {
        PORT_TRIES + 1
    };
    let mut first_error = None;
    for i in 0..tries {
        let Some(port) = wanted.port().checked_add(i) else {
            break;
        };
        let at = SocketAddr::new(wanted.ip(), port);
        match tiny_http::Server::http(at) {
            Ok(server) => {
                let address = server.server_addr().to_ip().unwrap_or(at);
                if i > 0 {
                    log::warn!(
                        "dashboard: {wanted} is in use ({}); serving on port {} instead",
                        first_error.as_deref().unwrap_or("?"),
                        address.port()
                    );
                }
                return Some((server, address));
            }
            Err(e) => {
                first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    log::warn!(
        "dashboard off: could not listen on {wanted} or the {PORT_TRIES} ports after it ({})",
        first_error.as_deref().unwrap_or("?")
    );
    None
}
