//! Every setting rankflow reads, in one place: builder methods, `RANKFLOW_*`
//! environment variables, and what is taken from the batch system.
//!
//! A value is resolved in this order, first found wins:
//!
//! 1. a builder method on [`Config`] (`Config::new().threads_per_worker(4)`),
//! 2. the `RANKFLOW_*` environment variable,
//! 3. what the batch system exports (Slurm, PBS/Torque, SGE, LSF),
//! 4. the default.
//!
//! | setting | builder | variable | batch system | default |
//! |---|---|---|---|---|
//! | executor threads per worker rank | `threads_per_worker` | `RANKFLOW_THREADS` | `SLURM_CPUS_PER_TASK`; else `PBS_NUM_PPN`, `NCPUS` (PBS), `NSLOTS` (SGE), `LSB_DJOB_NUMPROC` (LSF) divided by the ranks that share them | 1 |
//! | memory limit per worker rank | `memory_limit` | `RANKFLOW_MEMORY_LIMIT` (`4GiB`, `500MB`, bytes; units are powers of 1024) | `SLURM_MEM_PER_CPU` × threads, else `SLURM_MEM_PER_NODE` ÷ local ranks | none |
//! | spill results to disk above this fraction of the memory limit | `spill_fraction` | `RANKFLOW_MEMORY_SPILL` (`0.6`) | — | 0.6 |
//! | take no new tasks above this fraction of the memory limit | `pause_fraction` | `RANKFLOW_MEMORY_PAUSE` (`0.8`) | — | 0.8 |
//! | local scratch directory (each worker spills to a directory of its own here, removed at exit) | `local_directory` | `RANKFLOW_LOCAL_DIR` | `TMPDIR` (Slurm and PBS point it at job scratch) | `/tmp` |
//! | log level | `log_level` | `RANKFLOW_LOG`, then `RUST_LOG` | — | `warn` |
//! | workers of the embedded cluster, ranks of a local `spmd` | `local_workers` | `RANKFLOW_LOCAL_WORKERS` | — | cores available, at least 1 (a local `spmd`: 4) |
//! | end the job when a worker has not answered the scheduler, or the scheduler the client, for this long | `watchdog` | `RANKFLOW_WATCHDOG` (seconds, `off`) | — | off |
//! | largest message accepted, payload and values sent beside it together (1 MiB to 1 TiB; over the piece size a message crosses in pieces, so it may pass MPI's 2 GiB count) | `max_message_bytes` | `RANKFLOW_MAX_MESSAGE` | — | 1 GiB |
//! | bytes a rank may have queued or in flight to one destination before its sends wait (the scheduler's never wait; see `comm::flow`) | `send_window_bytes` | `RANKFLOW_SEND_WINDOW` | — | 256 MiB |
//! | messages a rank may have queued or in flight to one destination before its sends wait | `send_window_messages` | `RANKFLOW_SEND_WINDOW_MESSAGES` | — | 4096 |
//! | payloads over this size cross MPI in pieces of this size, so they never hold up control messages (1 KiB to 1 GiB) | `piece_bytes` | `RANKFLOW_PIECE_SIZE` | — | 64 MiB |
//! | task events recorded all the time (a performance report turns them on for its block anyway) | `task_events` | `RANKFLOW_TASK_EVENTS` (`on`, `off`) | — | off |
//! | task events the scheduler keeps, per kind | `event_history` | `RANKFLOW_EVENT_HISTORY` | — | 100,000 |
//! | launch mode | `mode` | `RANKFLOW_MODE` (`auto`, `mpi`, `local`) | `auto` looks for `OMPI_COMM_WORLD_SIZE`, `PMI_SIZE`, `PMIX_RANK` | `auto` |
//! | live dashboard (on the scheduler rank) | `dashboard_address` | `RANKFLOW_DASHBOARD` (`HOST:PORT`, `:PORT`, `PORT`, or `off`) | — | `127.0.0.1:8787` |
//!
//! A bad value is an [`Error`] of kind [`ErrorKind::Config`](crate::ErrorKind::Config)
//! whose message names the variable and the value. Nothing here panics.

mod flow;
mod memory;
mod watchdog;

use crate::error::{Error, Result};
pub use memory::{DEFAULT_PAUSE_FRACTION, DEFAULT_SPILL_FRACTION};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

/// Most workers (threads) of the embedded cluster.
pub const MAX_LOCAL_WORKERS: usize = 4096;

/// Smallest message limit: control messages (a worker list, a task batch)
/// must always fit.
pub const MIN_MESSAGE_BYTES: usize = 1 << 20;

pub use crate::comm::codec::MAX_MESSAGE_CEILING;

/// How `initialize` decides between MPI and the embedded cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// MPI when a launcher's environment is present, else the embedded cluster.
    Auto,
    /// Always MPI (fails if rankflow was built without the `mpi` feature).
    Mpi,
    /// Always the embedded in-process cluster.
    Local,
}

/// Settings for `initialize`, built with chained methods; anything left unset is
/// resolved from the environment when the cluster starts.
#[derive(Debug, Clone, Default)]
pub struct Config {
    threads_per_worker: Option<usize>,
    memory_limit: Option<u64>,
    spill_fraction: Option<f64>,
    pause_fraction: Option<f64>,
    watchdog: Option<Option<std::time::Duration>>,
    local_directory: Option<PathBuf>,
    log_level: Option<String>,
    local_workers: Option<usize>,
    max_message_bytes: Option<usize>,
    flow: flow::Builder,
    mode: Option<Mode>,
    dashboard_address: Option<String>,
    task_events: Option<bool>,
    event_history: Option<usize>,
}

/// Where the live dashboard listens. The default address.
pub const DEFAULT_DASHBOARD: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8787);

/// Every setting with its final value, after builder, environment, batch system
/// and defaults have been applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Executor threads in each worker rank.
    pub threads_per_worker: usize,
    /// Memory limit per worker rank in bytes, if any.
    pub memory_limit: Option<u64>,
    /// Fraction of the memory limit above which a worker spills results.
    pub spill_fraction: f64,
    /// Fraction of the memory limit above which a worker takes no new tasks.
    pub pause_fraction: f64,
    /// How long a worker may leave the scheduler's heartbeats unanswered
    /// before the job ends naming it; `None`: never.
    pub watchdog: Option<std::time::Duration>,
    /// Scratch directory for spilled data.
    pub local_directory: PathBuf,
    /// Log filter in env_logger syntax (`info`, `rankflow=debug`).
    pub log_level: String,
    /// Worker count of the embedded cluster.
    pub local_workers: usize,
    /// Largest message a rank accepts, in bytes.
    pub max_message_bytes: usize,
    /// Send windows per destination and the piece size of large payloads.
    pub flow: crate::comm::flow::Limits,
    /// Launch mode.
    pub mode: Mode,
    /// Where the scheduler rank serves the live dashboard; `None` when it is
    /// off. A port in use gives the next free one.
    pub dashboard_address: Option<SocketAddr>,
    /// Workers record task events (for the performance report).
    pub task_events: bool,
    /// Task events of each kind the scheduler keeps (the oldest go first).
    pub event_history: usize,
    /// Where each value came from, by setting name (`"threads_per_worker"` ->
    /// `"SLURM_CPUS_PER_TASK"`), for `rankflow info` and logs.
    pub sources: Vec<(&'static str, String)>,
}

impl Config {
    /// A configuration with nothing set: everything comes from the environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Executor threads per worker rank.
    pub fn threads_per_worker(mut self, n: usize) -> Self {
        self.threads_per_worker = Some(n);
        self
    }

    /// Memory limit per worker rank, in bytes.
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Fraction of the memory limit (0 to 1) above which a worker writes its
    /// least recently used results to `local_directory` (default 0.6).
    pub fn spill_fraction(mut self, fraction: f64) -> Self {
        self.spill_fraction = Some(fraction);
        self
    }

    /// Fraction of the memory limit (0 to 1, not below the spill fraction)
    /// above which a worker takes no new tasks until it is back below
    /// (default 0.8).
    pub fn pause_fraction(mut self, fraction: f64) -> Self {
        self.pause_fraction = Some(fraction);
        self
    }

    /// How long a worker may leave the scheduler's heartbeats unanswered
    /// before the job ends with an error naming it (`None`: never, the
    /// default). A worker's loop answers between messages; `run` functions
    /// and SPMD sections run on it, so this must be longer than they take.
    pub fn watchdog(mut self, after: Option<std::time::Duration>) -> Self {
        self.watchdog = Some(after);
        self
    }

    /// Scratch directory for each rank.
    pub fn local_directory(mut self, dir: impl Into<PathBuf>) -> Self {
        self.local_directory = Some(dir.into());
        self
    }

    /// Log filter, in env_logger syntax.
    pub fn log_level(mut self, level: impl Into<String>) -> Self {
        self.log_level = Some(level.into());
        self
    }

    /// Worker count of the embedded cluster (no mpirun), and the number of
    /// ranks of a local [`spmd`](crate::spmd) world (4 when not set).
    pub fn local_workers(mut self, n: usize) -> Self {
        self.local_workers = Some(n);
        self
    }

    /// Largest message a rank accepts, in bytes.
    pub fn max_message_bytes(mut self, n: usize) -> Self {
        self.max_message_bytes = Some(n);
        self
    }

    /// Bytes a rank may have queued or in flight to one destination before
    /// its sends wait (default 256 MiB; a message larger than this still
    /// goes, alone). The scheduler's sends never wait.
    pub fn send_window_bytes(mut self, n: usize) -> Self {
        self.flow.window_bytes = Some(n);
        self
    }

    /// Messages a rank may have queued or in flight to one destination
    /// before its sends wait (default 4096).
    pub fn send_window_messages(mut self, n: usize) -> Self {
        self.flow.window_messages = Some(n);
        self
    }

    /// Payloads over this many bytes cross MPI in pieces of this size, so a
    /// large one never holds up the messages behind it (default 64 MiB;
    /// 1 KiB to 1 GiB).
    pub fn piece_bytes(mut self, n: usize) -> Self {
        self.flow.piece_bytes = Some(n);
        self
    }

    /// MPI, embedded, or decided from the environment.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Where the scheduler rank serves the live dashboard: `"HOST:PORT"`,
    /// `":PORT"` (loopback), `"PORT"`, or `"off"`. Anything but a loopback
    /// address makes every request need the token printed in the link.
    pub fn dashboard_address(mut self, address: impl Into<String>) -> Self {
        self.dashboard_address = Some(address.into());
        self
    }

    /// Whether workers record task events (start and stop of every task,
    /// transfers, collective sections) for the performance report.
    pub fn task_events(mut self, on: bool) -> Self {
        self.task_events = Some(on);
        self
    }

    /// How many task events of each kind the scheduler keeps, dropping the
    /// oldest (at least 1; turn recording off with
    /// [`task_events`](Self::task_events)).
    pub fn event_history(mut self, n: usize) -> Self {
        self.event_history = Some(n);
        self
    }

    /// Resolves every setting against this process's environment.
    pub fn resolve(&self) -> Result<Settings> {
        self.resolve_with(&|name| std::env::var(name).ok())
    }

    /// Resolves every setting against `env`, a lookup of environment variables.
    /// Tests pass a map here instead of changing the process environment.
    pub fn resolve_with(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings> {
        let mut sources = Vec::new();
        let local_ranks = local_rank_count(env)?;
        let world_ranks = world_rank_count(env)?;

        let threads_per_worker = match self.threads_per_worker {
            Some(n) => {
                sources.push(("threads_per_worker", "builder".to_string()));
                n
            }
            None => match env_threads(env, local_ranks, world_ranks)? {
                Some((n, var)) => {
                    sources.push(("threads_per_worker", var.to_string()));
                    n
                }
                None => {
                    sources.push(("threads_per_worker", "default".to_string()));
                    1
                }
            },
        };
        if threads_per_worker == 0 {
            return Err(Error::config(
                "threads_per_worker must be at least 1, got 0",
            ));
        }

        let memory_limit = match self.memory_limit {
            Some(b) => {
                sources.push(("memory_limit", "builder".to_string()));
                Some(b)
            }
            None => match env_memory(env, threads_per_worker, local_ranks)? {
                Some((b, var)) => {
                    sources.push(("memory_limit", var.to_string()));
                    Some(b)
                }
                None => {
                    sources.push(("memory_limit", "default".to_string()));
                    None
                }
            },
        };

        let (spill_fraction, from) = memory::resolve_fraction(
            "spill_fraction",
            self.spill_fraction,
            "RANKFLOW_MEMORY_SPILL",
            env,
            DEFAULT_SPILL_FRACTION,
        )?;
        sources.push(("spill_fraction", from.to_string()));
        let (pause_fraction, from) = memory::resolve_fraction(
            "pause_fraction",
            self.pause_fraction,
            "RANKFLOW_MEMORY_PAUSE",
            env,
            DEFAULT_PAUSE_FRACTION,
        )?;
        sources.push(("pause_fraction", from.to_string()));
        memory::check_order(spill_fraction, pause_fraction)?;
        let (watchdog, from) = watchdog::resolve(self.watchdog, env)?;
        sources.push(("watchdog", from.to_string()));

        let local_directory = match &self.local_directory {
            Some(p) => {
                sources.push(("local_directory", "builder".to_string()));
                p.clone()
            }
            None => {
                let (dir, var) = match (env("RANKFLOW_LOCAL_DIR"), env("TMPDIR")) {
                    (Some(d), _) if !d.is_empty() => (PathBuf::from(d), "RANKFLOW_LOCAL_DIR"),
                    (_, Some(d)) if !d.is_empty() => (PathBuf::from(d), "TMPDIR"),
                    _ => (PathBuf::from("/tmp"), "default"),
                };
                sources.push(("local_directory", var.to_string()));
                dir
            }
        };

        let log_level = match &self.log_level {
            Some(l) => {
                sources.push(("log_level", "builder".to_string()));
                l.clone()
            }
            None => {
                let (level, var) = match (env("RANKFLOW_LOG"), env("RUST_LOG")) {
                    (Some(l), _) if !l.is_empty() => (l, "RANKFLOW_LOG"),
                    (_, Some(l)) if !l.is_empty() => (l, "RUST_LOG"),
                    _ => ("warn".to_string(), "default"),
                };
                sources.push(("log_level", var.to_string()));
                level
            }
        };
        let log_source = sources.last().map(|(_, s)| s.as_str()).unwrap_or("default");
        validate_log_level(&log_level, log_source == "RUST_LOG")?;

        let local_workers = match self.local_workers {
            Some(n) => {
                sources.push(("local_workers", "builder".to_string()));
                n
            }
            None => match env("RANKFLOW_LOCAL_WORKERS") {
                Some(v) => {
                    sources.push(("local_workers", "RANKFLOW_LOCAL_WORKERS".to_string()));
                    parse_count("RANKFLOW_LOCAL_WORKERS", &v)?
                }
                None => {
                    sources.push(("local_workers", "default".to_string()));
                    std::thread::available_parallelism().map_or(1, |n| n.get())
                }
            },
        };
        if !(1..=MAX_LOCAL_WORKERS).contains(&local_workers) {
            return Err(Error::config(format!(
                "local_workers must be between 1 and {MAX_LOCAL_WORKERS}, got {local_workers}"
            )));
        }

        let max_message_bytes = match self.max_message_bytes {
            Some(n) => {
                sources.push(("max_message_bytes", "builder".to_string()));
                n
            }
            None => match env("RANKFLOW_MAX_MESSAGE") {
                Some(v) => {
                    sources.push(("max_message_bytes", "RANKFLOW_MAX_MESSAGE".to_string()));
                    let b = parse_bytes("RANKFLOW_MAX_MESSAGE", &v)?;
                    usize::try_from(b).map_err(|_| {
                        Error::config(format!("RANKFLOW_MAX_MESSAGE={v:?} does not fit in memory"))
                    })?
                }
                None => {
                    sources.push(("max_message_bytes", "default".to_string()));
                    1 << 30
                }
            },
        };
        if !(MIN_MESSAGE_BYTES..=MAX_MESSAGE_CEILING).contains(&max_message_bytes) {
            return Err(Error::config(format!(
                "max_message_bytes must be between 1 MiB and {MAX_MESSAGE_CEILING} bytes (1 TiB), \
                 got {max_message_bytes}"
            )));
        }

        let flow = flow::resolve(self.flow, env, &mut sources)?;

        let mode = match self.mode {
            Some(m) => {
                sources.push(("mode", "builder".to_string()));
                m
            }
            None => match env("RANKFLOW_MODE") {
                Some(v) => {
                    sources.push(("mode", "RANKFLOW_MODE".to_string()));
                    parse_mode(&v)?
                }
                None => {
                    sources.push(("mode", "default".to_string()));
                    Mode::Auto
                }
            },
        };

        let dashboard_address = match &self.dashboard_address {
            Some(a) => {
                sources.push(("dashboard_address", "builder".to_string()));
                parse_dashboard("dashboard_address", a)?
            }
            None => match env("RANKFLOW_DASHBOARD") {
                Some(v) => {
                    sources.push(("dashboard_address", "RANKFLOW_DASHBOARD".to_string()));
                    parse_dashboard("RANKFLOW_DASHBOARD", &v)?
                }
                None => {
                    sources.push(("dashboard_address", "default".to_string()));
                    Some(DEFAULT_DASHBOARD)
                }
            },
        };
        let (task_events, event_history) = self.resolve_events(env, &mut sources)?;

        Ok(Settings {
            threads_per_worker,
            memory_limit,
            spill_fraction,
            pause_fraction,
            watchdog,
            local_directory,
            log_level,
            local_workers,
            max_message_bytes,
            flow,
            mode,
            dashboard_address,
            task_events,
            event_history,
            sources,
        })
    }

    /// `task_events` and `event_history`.
    fn resolve_events(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        sources: &mut Vec<(&'static str, String)>,
    ) -> Result<(bool, usize)> {
        let task_events = match (self.task_events, env("RANKFLOW_TASK_EVENTS")) {
            (Some(on), _) => {
                sources.push(("task_events", "builder".to_string()));
                on
            }
            (None, Some(v)) => {
                sources.push(("task_events", "RANKFLOW_TASK_EVENTS".to_string()));
                match v.trim().to_ascii_lowercase().as_str() {
                    "on" | "1" | "true" | "yes" => true,
                    "off" | "0" | "false" | "no" => false,
                    _ => {
                        return Err(Error::config(format!(
                            "RANKFLOW_TASK_EVENTS={v:?} is not one of on, off"
                        )))
                    }
                }
            }
            (None, None) => {
                sources.push(("task_events", "default".to_string()));
                false
            }
        };
        let zero = "event_history must be at least 1 (the scheduler keeps that many task \
                    events of each kind); to record none, turn task_events off \
                    (RANKFLOW_TASK_EVENTS=off)";
        let event_history = match (self.event_history, env("RANKFLOW_EVENT_HISTORY")) {
            (Some(0), _) => return Err(Error::config(zero)),
            (Some(n), _) => {
                sources.push(("event_history", "builder".to_string()));
                n
            }
            (None, Some(v)) => {
                sources.push(("event_history", "RANKFLOW_EVENT_HISTORY".to_string()));
                match v.trim().parse::<usize>() {
                    Ok(0) => {
                        return Err(Error::config(format!("RANKFLOW_EVENT_HISTORY=0: {zero}")))
                    }
                    Ok(n) => n,
                    Err(_) => parse_count("RANKFLOW_EVENT_HISTORY", &v)?,
                }
            }
            (None, None) => {
                sources.push(("event_history", "default".to_string()));
                crate::diagnostics::events::DEFAULT_HISTORY
            }
        };
        Ok((task_events, event_history))
    }
}

impl Settings {
    /// Ranks of a local `spmd` world: `local_workers` when it was set (builder
    /// or `RANKFLOW_LOCAL_WORKERS`), else `default`.
    pub fn local_ranks(&self, default: usize) -> usize {
        let defaulted = self
            .sources
            .iter()
            .any(|(name, from)| *name == "local_workers" && from == "default");
        if defaulted {
            default
        } else {
            self.local_workers
        }
    }

    /// True when this process was started by an MPI launcher (mpirun, srun).
    pub fn launched_by_mpi(env: &dyn Fn(&str) -> Option<String>) -> bool {
        ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"]
            .iter()
            .any(|v| env(v).is_some())
    }

    /// How many tasks `srun` started for this job step (`SLURM_STEP_NUM_TASKS`)
    /// when it started more than one and none of them can reach the others
    /// through MPI: no MPI launcher variables are set (srun without a PMI
    /// plugin, such as `--mpi=none`). Each task would then run its own embedded
    /// cluster. `None` in every other case, and when the mode is not `auto`.
    pub fn srun_without_pmi(&self, env: &dyn Fn(&str) -> Option<String>) -> Option<usize> {
        if self.mode != Mode::Auto || Self::launched_by_mpi(env) {
            return None;
        }
        let tasks: usize = env("SLURM_STEP_NUM_TASKS")?.trim().parse().ok()?;
        (tasks > 1).then_some(tasks)
    }

    /// Whether this run should use MPI, given the mode and the environment.
    pub fn use_mpi(&self, env: &dyn Fn(&str) -> Option<String>) -> bool {
        match self.mode {
            Mode::Mpi => true,
            Mode::Local => false,
            Mode::Auto => Self::launched_by_mpi(env),
        }
    }
}

/// The resolved configuration of this process as a table, for `rankflow info`.
pub fn describe() -> Result<String> {
    let s = Config::new().resolve()?;
    let source = |name: &str| {
        s.sources
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("default".to_string(), |(_, v)| v.clone())
    };
    let mem = s
        .memory_limit
        .map_or("none".to_string(), |b| format!("{b} bytes"));
    let rows = [
        ("threads_per_worker", s.threads_per_worker.to_string()),
        ("memory_limit", mem),
        ("spill_fraction", s.spill_fraction.to_string()),
        ("pause_fraction", s.pause_fraction.to_string()),
        (
            "watchdog",
            s.watchdog
                .map_or("off".to_string(), |d| format!("{} s", d.as_secs_f64())),
        ),
        ("local_directory", s.local_directory.display().to_string()),
        ("log_level", s.log_level.clone()),
        ("local_workers", s.local_workers.to_string()),
        ("max_message_bytes", s.max_message_bytes.to_string()),
        ("send_window_bytes", s.flow.window_bytes.to_string()),
        ("send_window_messages", s.flow.window_messages.to_string()),
        ("piece_bytes", s.flow.piece_bytes.to_string()),
        ("mode", format!("{:?}", s.mode).to_lowercase()),
        (
            "dashboard_address",
            s.dashboard_address
                .map_or("off".to_string(), |a| a.to_string()),
        ),
        (
            "task_events",
            if s.task_events { "on" } else { "off" }.to_string(),
        ),
        ("event_history", s.event_history.to_string()),
    ];
    let mut out = format!("{:<20} {:<24} {}\n", "setting", "value", "from");
    for (name, value) in rows {
        out.push_str(&format!("{name:<20} {value:<24} {}\n", source(name)));
    }
    out.push_str(&format!(
        "mpi support          {}\n",
        if cfg!(feature = "mpi") {
            "yes"
        } else {
            "no (built without the mpi feature)"
        }
    ));
    Ok(out)
}

/// Parses a dashboard address: `off` (or `none`), `HOST:PORT`, `:PORT` or a bare `PORT` (both on
/// loopback), or `[IPV6]:PORT`. A host name is resolved now, so a typo is an
/// error at start-up rather than a dashboard that never appears.
fn parse_dashboard(var: &str, v: &str) -> Result<Option<SocketAddr>> {
    let t = v.trim();
    if t.eq_ignore_ascii_case("off") || t.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let bad = |why: &str| {
        Error::config(format!(
            "{var}={v:?} is not a dashboard address ({why}; examples: 127.0.0.1:8787, \
             :8787, 0.0.0.0:8787, off)"
        ))
    };
    let port_only = t.strip_prefix(':').unwrap_or(t);
    if !port_only.is_empty() && port_only.chars().all(|c| c.is_ascii_digit()) {
        let port: u16 = port_only
            .parse()
            .map_err(|_| bad("the port is over 65535"))?;
        return Ok(Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)));
    }
    if let Ok(a) = t.parse::<SocketAddr>() {
        return Ok(Some(a));
    }
    let Some((host, port)) = t.rsplit_once(':') else {
        return Err(bad("it has no port"));
    };
    let port: u16 = port
        .parse()
        .map_err(|_| bad("the port is not a number from 0 to 65535"))?;
    if host.is_empty() {
        return Err(bad("it has no host"));
    }
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .map(Some)
        .ok_or_else(|| bad("the host name does not resolve"))
}

fn parse_mode(v: &str) -> Result<Mode> {
    match v.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(Mode::Auto),
        "mpi" => Ok(Mode::Mpi),
        "local" => Ok(Mode::Local),
        _ => Err(Error::config(format!(
            "RANKFLOW_MODE={v:?} is not one of auto, mpi, local"
        ))),
    }
}

/// Checks a log filter. `RANKFLOW_LOG` and the builder take directives of
/// the form `level` or `module=level`: a bare word that is not a level
/// (`RANKFLOW_LOG=loud`) is almost always a misspelt level, so it is an
/// error rather than env_logger's reading of it as a module path (which
/// would silence every log line). `RUST_LOG` is shared with other programs,
/// so it keeps env_logger's grammar, where a bare module path is allowed.
fn validate_log_level(level: &str, env_logger_grammar: bool) -> Result<()> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let source = if env_logger_grammar {
        "RUST_LOG"
    } else {
        "RANKFLOW_LOG or the builder"
    };
    let is_level = |l: &str| LEVELS.contains(&l.trim().to_ascii_lowercase().as_str());
    let is_path = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == '-')
    };
    // env_logger allows a `/regex` after the directives.
    let directives = level.split('/').next().unwrap_or("");
    for directive in directives
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        let ok = match directive.split_once('=') {
            Some((path, lvl)) => {
                if !is_level(lvl) {
                    return Err(Error::config(format!(
                        "log level {level:?} (from {source}) has an unknown level {:?}; \
                         use one of {}",
                        lvl.trim(),
                        LEVELS.join(", ")
                    )));
                }
                is_path(path.trim())
            }
            None if is_level(directive) => true,
            None if env_logger_grammar => is_path(directive),
            None => {
                return Err(Error::config(format!(
                    "log level {level:?} (from {source}): {directive:?} is not a level; use \
                     one of {}, or module=level to set one module's level",
                    LEVELS.join(", ")
                )))
            }
        };
        if !ok {
            return Err(Error::config(format!(
                "log level {level:?} (from {source}): {directive:?} is not a level, \
                 module=level or a module path"
            )));
        }
    }
    Ok(())
}

/// Parses a positive whole number, naming `var` in the error.
pub(crate) fn parse_count(var: &str, v: &str) -> Result<usize> {
    match v.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(Error::config(format!(
            "{var}={v:?} is not a positive whole number"
        ))),
    }
}

/// Parses a size written as a whole number and an optional unit: `K`, `M`,
/// `G`, `T` or `P`, each 1024 times the one before, with an optional `B` or
/// `iB` after it, in any case (`4G`, `4GB`, `4GiB` and `4gib` are all
/// 4 × 2^30 bytes), or `B` alone for bytes. A bare number counts
/// `bare_unit`s (1 for rankflow's settings; 2^20 for Slurm's memory
/// variables and job-script memory, which count megabytes). Binary units
/// throughout, as Slurm, PBS, SGE and LSF read them: this is the one size
/// parser of the crate, so `--memory 512MB` in a job script and
/// `RANKFLOW_MEMORY_LIMIT=512MB` mean the same amount.
pub(crate) fn parse_size(text: &str, bare_unit: u64) -> std::result::Result<u64, String> {
    let s = text.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| "it does not start with a whole number".to_string())?;
    let unit = unit.to_ascii_lowercase();
    let not_a_unit = || format!("{unit:?} is not a unit (K, M, G, T, P)");
    let power = match unit.as_str() {
        "" => return n.checked_mul(bare_unit).ok_or("it is too large".into()),
        "b" => 0,
        u => match u
            .strip_suffix("ib")
            .or_else(|| u.strip_suffix('b'))
            .unwrap_or(u)
        {
            "k" => 1,
            "m" => 2,
            "g" => 3,
            "t" => 4,
            "p" => 5,
            _ => return Err(not_a_unit()),
        },
    };
    n.checked_mul(1u64 << (10 * power))
        .ok_or_else(|| "it is too large".to_string())
}

/// Parses a byte size setting such as `1048576`, `500MB`, `4GiB` or `2G`
/// (see [`parse_size`]: binary units, a bare number is bytes), naming `var`
/// in the error.
pub fn parse_bytes(var: &str, v: &str) -> Result<u64> {
    parse_size(v, 1).map_err(|why| {
        Error::config(format!(
            "{var}={v:?} is not a byte size ({why}; examples: 1048576, 500MB, 4GiB)"
        ))
    })
}

fn optional_count(env: &dyn Fn(&str) -> Option<String>, var: &str) -> Result<Option<usize>> {
    env(var).map(|v| parse_count(var, &v)).transpose()
}

/// Ranks of this job on this node, from the launcher (1 when unknown).
fn local_rank_count(env: &dyn Fn(&str) -> Option<String>) -> Result<usize> {
    for var in [
        "OMPI_COMM_WORLD_LOCAL_SIZE",
        "MPI_LOCALNRANKS",
        "SLURM_NTASKS_PER_NODE",
    ] {
        if let Some(n) = optional_count(env, var)? {
            return Ok(n);
        }
    }
    Ok(1)
}

/// Ranks of this job in all, from the launcher (1 when unknown).
fn world_rank_count(env: &dyn Fn(&str) -> Option<String>) -> Result<usize> {
    for var in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"] {
        if let Some(n) = optional_count(env, var)? {
            return Ok(n);
        }
    }
    Ok(1)
}

fn env_threads(
    env: &dyn Fn(&str) -> Option<String>,
    local_ranks: usize,
    world_ranks: usize,
) -> Result<Option<(usize, &'static str)>> {
    if let Some(n) = optional_count(env, "RANKFLOW_THREADS")? {
        return Ok(Some((n, "RANKFLOW_THREADS")));
    }
    if let Some(n) = optional_count(env, "SLURM_CPUS_PER_TASK")? {
        return Ok(Some((n, "SLURM_CPUS_PER_TASK")));
    }
    // Per-node core counts are shared by the ranks on the node.
    for var in ["PBS_NUM_PPN", "NCPUS"] {
        if let Some(n) = optional_count(env, var)? {
            return Ok(Some(((n / local_ranks).max(1), var)));
        }
    }
    // Whole-job slot counts are shared by all ranks.
    for var in ["NSLOTS", "LSB_DJOB_NUMPROC"] {
        if let Some(n) = optional_count(env, var)? {
            return Ok(Some(((n / world_ranks).max(1), var)));
        }
    }
    Ok(None)
}

fn env_memory(
    env: &dyn Fn(&str) -> Option<String>,
    threads: usize,
    local_ranks: usize,
) -> Result<Option<(u64, &'static str)>> {
    if let Some(v) = env("RANKFLOW_MEMORY_LIMIT") {
        return Ok(Some((
            parse_bytes("RANKFLOW_MEMORY_LIMIT", &v)?,
            "RANKFLOW_MEMORY_LIMIT",
        )));
    }
    // Slurm gives megabytes, with an optional unit suffix.
    let slurm_mb = |var: &str, v: &str| -> Result<u64> {
        parse_size(v, 1 << 20)
            .map_err(|why| Error::config(format!("{var}={v:?} is not a memory size ({why})")))
    };
    if let Some(v) = env("SLURM_MEM_PER_CPU") {
        let per_cpu = slurm_mb("SLURM_MEM_PER_CPU", &v)?;
        return Ok(Some((
            per_cpu.saturating_mul(threads as u64),
            "SLURM_MEM_PER_CPU",
        )));
    }
    if let Some(v) = env("SLURM_MEM_PER_NODE") {
        let per_node = slurm_mb("SLURM_MEM_PER_NODE", &v)?;
        return Ok(Some((per_node / local_ranks as u64, "SLURM_MEM_PER_NODE")));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(vars: &[(&str, &str)]) -> Result<Settings> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::new().resolve_with(&move |k| map.get(k).cloned())
    }

    #[test]
    fn srun_without_pmi_is_seen() {
        let env_of = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let settings = resolve(&[]).unwrap();
        // srun --mpi=none -n 4: four copies, no MPI variables.
        let none = env_of(&[("SLURM_STEP_NUM_TASKS", "4"), ("SLURM_PROCID", "2")]);
        assert_eq!(settings.srun_without_pmi(&none), Some(4));
        // srun --mpi=pmix: the PMIx variables are there.
        let pmix = env_of(&[("SLURM_STEP_NUM_TASKS", "4"), ("PMIX_RANK", "2")]);
        assert_eq!(settings.srun_without_pmi(&pmix), None);
        // One task, or the batch script itself: an embedded cluster is right.
        let one = env_of(&[("SLURM_STEP_NUM_TASKS", "1")]);
        assert_eq!(settings.srun_without_pmi(&one), None);
        assert_eq!(settings.srun_without_pmi(&env_of(&[])), None);
        // RANKFLOW_MODE=local asks for independent embedded clusters.
        let local = Config::new()
            .resolve_with(&|k| (k == "RANKFLOW_MODE").then(|| "local".to_string()))
            .unwrap();
        assert_eq!(local.srun_without_pmi(&none), None);
    }

    #[test]
    fn defaults_without_environment() {
        let s = resolve(&[]).unwrap();
        assert_eq!(s.threads_per_worker, 1);
        assert_eq!(s.memory_limit, None);
        assert_eq!(s.local_directory, PathBuf::from("/tmp"));
        assert_eq!(s.log_level, "warn");
        assert_eq!(s.mode, Mode::Auto);
        assert!(s.local_workers >= 1);
        assert_eq!(s.max_message_bytes, 1 << 30);
    }

    #[test]
    fn builder_beats_environment() {
        let map: HashMap<&str, &str> = [("RANKFLOW_THREADS", "8")].into();
        let s = Config::new()
            .threads_per_worker(3)
            .resolve_with(&|k| map.get(k).map(|v| v.to_string()))
            .unwrap();
        assert_eq!(s.threads_per_worker, 3);
    }

    #[test]
    fn rankflow_variable_beats_batch_system() {
        let s = resolve(&[("RANKFLOW_THREADS", "6"), ("SLURM_CPUS_PER_TASK", "4")]).unwrap();
        assert_eq!(s.threads_per_worker, 6);
    }

    #[test]
    fn slurm_detection() {
        let s = resolve(&[("SLURM_CPUS_PER_TASK", "4"), ("SLURM_MEM_PER_CPU", "2000")]).unwrap();
        assert_eq!(s.threads_per_worker, 4);
        assert_eq!(s.memory_limit, Some(4 * 2000 * (1 << 20)));
        let s = resolve(&[
            ("SLURM_MEM_PER_NODE", "64G"),
            ("OMPI_COMM_WORLD_LOCAL_SIZE", "4"),
        ])
        .unwrap();
        assert_eq!(s.memory_limit, Some(16 << 30));
    }

    #[test]
    fn pbs_sge_lsf_detection() {
        let s = resolve(&[("PBS_NUM_PPN", "16"), ("OMPI_COMM_WORLD_LOCAL_SIZE", "4")]).unwrap();
        assert_eq!(s.threads_per_worker, 4);
        let s = resolve(&[("NSLOTS", "32"), ("OMPI_COMM_WORLD_SIZE", "8")]).unwrap();
        assert_eq!(s.threads_per_worker, 4);
        let s = resolve(&[("LSB_DJOB_NUMPROC", "2"), ("OMPI_COMM_WORLD_SIZE", "8")]).unwrap();
        assert_eq!(s.threads_per_worker, 1);
    }

    #[test]
    fn bad_values_name_the_variable_and_value() {
        for (var, val) in [
            ("RANKFLOW_THREADS", "many"),
            ("RANKFLOW_THREADS", "0"),
            ("RANKFLOW_MEMORY_LIMIT", "4 lots"),
            ("RANKFLOW_LOCAL_WORKERS", "-2"),
            ("RANKFLOW_MAX_MESSAGE", "12XB"),
            ("RANKFLOW_MODE", "cloud"),
            ("SLURM_CPUS_PER_TASK", "four"),
            ("SLURM_MEM_PER_CPU", "lots"),
            ("NSLOTS", "1.5"),
        ] {
            let err = resolve(&[(var, val)]).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Config, "{var}");
            let text = err.to_string();
            assert!(text.contains(var), "{text} should name {var}");
            assert!(text.contains(val), "{text} should show {val}");
        }
    }

    #[test]
    fn bad_log_level_is_an_error() {
        let err = resolve(&[("RANKFLOW_LOG", "loud")]).unwrap_err();
        assert!(err.to_string().contains("\"loud\" is not a level"), "{err}");
        let err = resolve(&[("RANKFLOW_LOG", "rankflow=loud")]).unwrap_err();
        assert!(err.to_string().contains("unknown level \"loud\""), "{err}");
        let err = resolve(&[("RUST_LOG", "my app")]).unwrap_err();
        assert!(err.to_string().contains("RUST_LOG"), "{err}");
        for ok in [
            "debug",
            "INFO",
            "rankflow=debug,warn",
            "rankflow::worker=trace",
        ] {
            assert!(resolve(&[("RANKFLOW_LOG", ok)]).is_ok(), "{ok}");
        }
        // RUST_LOG keeps env_logger's grammar: a bare module path, a regex.
        assert!(resolve(&[("RUST_LOG", "my_app")]).is_ok());
        assert!(
            resolve(&[("RUST_LOG", "info/worker")]).is_ok(),
            "env_logger's regex suffix"
        );
        assert!(resolve(&[("RANKFLOW_LOCAL_WORKERS", "18446744073709551615")]).is_err());
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("X", "1024").unwrap(), 1024);
        assert_eq!(parse_bytes("X", "4GiB").unwrap(), 4 << 30);
        assert_eq!(parse_bytes("X", "500MB").unwrap(), 500 << 20, "binary");
        assert_eq!(parse_bytes("X", "500mib").unwrap(), 500 << 20);
        assert_eq!(parse_bytes("X", "3k").unwrap(), 3 << 10);
        assert_eq!(parse_bytes("X", "7B").unwrap(), 7);
        assert_eq!(parse_size("2048", 1 << 20).unwrap(), 2 << 30, "Slurm's MB");
        for bad in [
            "4X", "4 G", "4GiBB", "4kbb", "4iB", "4bib", "G", "-1", "1.5G",
        ] {
            assert!(parse_bytes("X", bad).is_err(), "{bad}");
        }
        assert_eq!(parse_bytes("X", "2g").unwrap(), 2 << 30);
        assert!(parse_bytes("X", "99999999999999T").is_err());
        assert!(parse_bytes("X", "").is_err());
    }

    #[test]
    fn message_limit_bounds() {
        assert!(resolve(&[("RANKFLOW_MAX_MESSAGE", "10")]).is_err());
        assert!(resolve(&[("RANKFLOW_MAX_MESSAGE", "512KiB")]).is_err());
        assert!(resolve(&[("RANKFLOW_MAX_MESSAGE", "2TiB")]).is_err());
        // Over MPI's 32-bit count: such messages cross in pieces.
        assert_eq!(
            resolve(&[("RANKFLOW_MAX_MESSAGE", "4GiB")])
                .unwrap()
                .max_message_bytes,
            4 << 30
        );
        assert_eq!(
            resolve(&[("RANKFLOW_MAX_MESSAGE", "64MiB")])
                .unwrap()
                .max_message_bytes,
            64 << 20
        );
    }

    #[test]
    fn dashboard_addresses() {
        let at = |v: &str| resolve(&[("RANKFLOW_DASHBOARD", v)]).map(|s| s.dashboard_address);
        assert_eq!(
            resolve(&[]).unwrap().dashboard_address,
            Some(DEFAULT_DASHBOARD)
        );
        assert_eq!(at("off").unwrap(), None);
        assert_eq!(at(" OFF ").unwrap(), None);
        assert_eq!(at("9000").unwrap(), Some("127.0.0.1:9000".parse().unwrap()));
        assert_eq!(
            at(":9001").unwrap(),
            Some("127.0.0.1:9001".parse().unwrap())
        );
        assert_eq!(
            at("0.0.0.0:80").unwrap(),
            Some("0.0.0.0:80".parse().unwrap())
        );
        assert_eq!(
            at("[::1]:8787").unwrap(),
            Some("[::1]:8787".parse().unwrap())
        );
        assert!(at("localhost:8787").unwrap().unwrap().ip().is_loopback());
        for bad in [
            "",
            "99999",
            "host",
            "1.2.3.4:port",
            ":",
            "no.such.host.invalid:1",
        ] {
            let err = at(bad).unwrap_err().to_string();
            assert!(err.contains("RANKFLOW_DASHBOARD"), "{err}");
        }
        let s = Config::new()
            .dashboard_address("off")
            .resolve_with(&|k| (k == "RANKFLOW_DASHBOARD").then(|| "9000".to_string()))
            .unwrap();
        assert_eq!(s.dashboard_address, None, "the builder wins");
    }

    #[test]
    fn mode_detection() {
        let s = resolve(&[]).unwrap();
        assert!(!s.use_mpi(&|_| None));
        assert!(s.use_mpi(&|k| (k == "OMPI_COMM_WORLD_SIZE").then(|| "4".to_string())));
        let s = resolve(&[("RANKFLOW_MODE", "local")]).unwrap();
        assert!(!s.use_mpi(&|_| Some("4".to_string())));
    }
}
