//! Start-up and shutdown: [`initialize`] gives each rank its role, [`spmd`]
//! runs a collectives-only program on every rank.
//!
//! Under mpirun with N >= 3 ranks, rank 0 runs the scheduler, ranks 2.. run
//! workers (neither ever returns into user code: after shutdown they finalize
//! MPI and exit 0), and rank 1 gets the [`Client`]. Without mpirun the same
//! call starts the embedded cluster: scheduler and workers as threads of this
//! process over the in-process transport.

use crate::client::{Client, Finisher};
use crate::comm::group::local::{LocalGroup, PoisonHandle};
use crate::comm::group::{Backend, Group, RawGroup};
use crate::comm::local::LocalTransport;
use crate::comm::transport::Transport;
use crate::config::{Config, Settings};
use crate::error::panic_text;
use crate::error::{Error, ErrorKind, Result};
use crate::logging::{self, Role};
use crate::protocol::WorkerInfo;
use crate::protocol::FIRST_WORKER;
use crate::scheduler;
use crate::worker;
use crate::worker::store::MemoryPolicy;

/// The fewest ranks a task cluster runs on under mpirun.
pub const MIN_RANKS: usize = 3;

/// The fingerprint that every rank of the embedded cluster shares (they are
/// one process, so one executable).
const LOCAL_FINGERPRINT: u64 = 0;

/// Starts the cluster and returns the client handle.
///
/// Under mpirun this returns only on rank 1; every other rank serves until the
/// client shuts down and then exits the process. Without mpirun (or with
/// `RANKFLOW_MODE=local`) it starts the embedded cluster in this process.
///
/// Errors: a bad setting (naming the variable), too few ranks (naming the
/// 3-rank minimum), ranks that run different executables, or MPI failing to
/// start.
pub fn initialize(config: Config) -> Result<Client> {
    let settings = config.resolve()?;
    logging::init(&settings.log_level);
    let env = |k: &str| std::env::var(k).ok();
    if settings.use_mpi(&env) {
        return with_event_settings(launch_mpi(&settings), &settings);
    }
    if let Some(tasks) = settings.srun_without_pmi(&env) {
        return Err(Error::new(
            ErrorKind::Mpi,
            format!(
                "srun started {tasks} tasks without an MPI process-management interface, so \
                 each would run its own embedded cluster. Launch with `srun --mpi=pmix` \
                 (`srun --mpi=list` shows the plugins; pmi2 for MPICH), or run mpirun inside \
                 the allocation; RANKFLOW_MODE=local runs independent embedded clusters \
                 on purpose."
            ),
        ));
    }
    with_event_settings(launch_local(&settings), &settings)
}

/// Tells a started cluster the configured task-event settings.
fn with_event_settings(client: Result<Client>, settings: &Settings) -> Result<Client> {
    let client = client?;
    client.apply_event_settings(settings.task_events, settings.event_history)?;
    Ok(client)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Runs the scheduler, with the live dashboard at `dashboard` (or the next
/// free port) unless that is `None`; the dashboard stops with it.
fn run_scheduler(
    transport: &mut dyn crate::comm::transport::Transport,
    fingerprint: u64,
    dashboard: Option<std::net::SocketAddr>,
    watchdog: Option<std::time::Duration>,
) -> Result<()> {
    let shared = crate::scheduler::monitor::Shared::new();
    let board = dashboard.and_then(|at| {
        crate::diagnostics::dashboard::Dashboard::start(at, &hostname(), shared.clone())
    });
    let watch = board.as_ref().map(|b| scheduler::Watch {
        shared,
        link: b.link().to_string(),
    });
    let served = scheduler::run_watched(transport, fingerprint, watch, watchdog);
    drop(board);
    served
}

/// The memory a worker may hold: the configured limit, else this host's
/// available memory shared among `sharing` ranks.
fn worker_memory_limit(settings: &Settings, sharing: usize) -> u64 {
    if let Some(limit) = settings.memory_limit {
        return limit;
    }
    let available_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(u64::MAX / 1024);
    available_kib.saturating_mul(1024) / sharing.max(1) as u64
}

/// How worker `rank` manages its memory under `limit`.
fn memory_policy(settings: &Settings, limit: u64) -> MemoryPolicy {
    MemoryPolicy {
        limit,
        spill_fraction: settings.spill_fraction,
        pause_fraction: settings.pause_fraction,
        directory: settings.local_directory.clone(),
    }
}

/// Ranks of this job on this host, as the MPI launcher says (1 if unknown).
#[cfg(feature = "mpi")]
fn local_ranks() -> usize {
    [
        "OMPI_COMM_WORLD_LOCAL_SIZE",
        "MPI_LOCALNRANKS",
        "SLURM_NTASKS_PER_NODE",
    ]
    .iter()
    .find_map(|v| std::env::var(v).ok()?.parse().ok())
    .unwrap_or(1)
}

fn launch_local(settings: &Settings) -> Result<Client> {
    let size = settings.local_workers + FIRST_WORKER;
    logging::set_thread_role(1, Role::Client);
    log::info!(
        "starting the embedded cluster: {} workers",
        settings.local_workers
    );
    // The scheduler's loop serves every rank and never waits on one.
    let mut ends =
        LocalTransport::world_with(size, settings.flow, &[crate::protocol::SCHEDULER]).into_iter();
    let (scheduler_end, client_end) = match (ends.next(), ends.next()) {
        (Some(s), Some(c)) => (s, c),
        _ => return Err(Error::transport("could not build the in-process world")),
    };
    let (worker_groups, poison) = LocalGroup::world(settings.local_workers);
    // The client+workers group: the client is member 0.
    let (mut member_groups, _) = LocalGroup::world(settings.local_workers + 1);
    let client_member = member_groups.remove(0);
    let mut threads = Vec::with_capacity(size - 1);
    let outbox = scheduler_end.outbox();
    let watchdog = settings.watchdog;
    let dashboard = settings.dashboard_address;
    threads.push(spawn_role(
        0,
        Role::Scheduler,
        outbox,
        poison.clone(),
        move || {
            let mut t = scheduler_end;
            run_scheduler(&mut t, LOCAL_FINGERPRINT, dashboard, watchdog)
        },
    )?);
    for (i, ((end, group), member)) in ends.zip(worker_groups).zip(member_groups).enumerate() {
        let rank = FIRST_WORKER + i;
        let info = WorkerInfo {
            rank,
            hostname: hostname(),
            pid: std::process::id(),
            threads: settings.threads_per_worker,
            memory_limit: worker_memory_limit(settings, settings.local_workers),
        };
        let memory = memory_policy(settings, info.memory_limit);
        let outbox = end.outbox();
        threads.push(spawn_role(
            rank,
            Role::Worker,
            outbox,
            poison.clone(),
            move || {
                let mut t = end;
                // The workers group lives as long as the worker.
                let workers = Group::from_backend(Backend::Local(group));
                worker::check_workers_group(&workers, rank)?;
                let members = Group::from_backend(Backend::Local(member));
                worker::run(
                    &mut t,
                    info,
                    LOCAL_FINGERPRINT,
                    Some(workers),
                    Some(members),
                    memory,
                )
            },
        )?);
    }
    let client = Client::connect(
        Box::new(client_end),
        LOCAL_FINGERPRINT,
        Finisher::Local(threads),
        Some(Group::from_backend(Backend::Local(client_member))),
    )?;
    client.watch_scheduler(watchdog);
    Ok(client)
}

/// Runs a role of the embedded cluster on its own thread. If it fails or
/// panics, its last word (`TAG_ABORT`) goes to the client and the scheduler,
/// and the workers group is poisoned, so nobody waits for it.
fn spawn_role(
    rank: usize,
    role: Role,
    outbox: std::sync::Arc<dyn crate::comm::transport::Outbox>,
    poison: PoisonHandle,
    f: impl FnOnce() -> Result<()> + Send + 'static,
) -> Result<std::thread::JoinHandle<Result<()>>> {
    use crate::comm::transport::TAG_ABORT;
    use crate::protocol::{CLIENT, SCHEDULER};
    Ok(std::thread::Builder::new()
        .name(format!("rankflow-{role}-{rank}"))
        .spawn(move || {
            logging::set_thread_role(rank, role);
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
                    Err(Error::new(
                        ErrorKind::Panicked,
                        format!("{role} panicked: {}", panic_text(p.as_ref())),
                    ))
                });
            if let Err(e) = &outcome {
                log::error!("{e}");
                let why = e.to_string().into_bytes();
                let _ = outbox.send(CLIENT, TAG_ABORT, why.clone());
                if rank != SCHEDULER {
                    let _ = outbox.send(SCHEDULER, TAG_ABORT, why);
                }
                poison.poison(format!("rank {rank} failed: {e}"));
            }
            outcome
        })?)
}

#[cfg(not(feature = "mpi"))]
fn launch_mpi(_settings: &Settings) -> Result<Client> {
    Err(Error::config(
        "this program was started by an MPI launcher (or RANKFLOW_MODE=mpi) but rankflow \
         was built without the `mpi` feature; rebuild with default features, or set \
         RANKFLOW_MODE=local",
    ))
}

/// Initialises MPI with at least `needed` thread support.
#[cfg(feature = "mpi")]
fn init_mpi(needed: mpi::Threading) -> Result<mpi::environment::Universe> {
    use mpi::Threading;
    let (universe, level) =
        mpi::initialize_with_threading(Threading::Multiple).ok_or_else(|| {
            let why = if mpi::environment::is_finalized() {
                "MPI was finalized when this process's first cluster (or spmd run) shut down, \
             and MPI cannot be restarted: call initialize or spmd once per process"
            } else {
                "MPI is already initialised in this process (by rankflow or another library); \
             call initialize or spmd once per process"
            };
            Error::new(ErrorKind::Mpi, why)
        })?;
    let order = |t: Threading| match t {
        Threading::Single => 0,
        Threading::Funneled => 1,
        Threading::Serialized => 2,
        Threading::Multiple => 3,
    };
    if order(level) < order(needed) {
        return Err(Error::new(
            ErrorKind::Mpi,
            format!(
                "the MPI library gives thread level {level:?}; this needs {needed:?} \
                 (on Cray MPICH set MPICH_MAX_THREAD_SAFETY=multiple)"
            ),
        ));
    }
    Ok(universe)
}

#[cfg(feature = "mpi")]
fn launch_mpi(settings: &Settings) -> Result<Client> {
    use crate::comm::group::mpi::MpiGroup;
    use crate::comm::mpi_transport::MpiTransport;
    use mpi::topology::Communicator;

    // The workers' threads and the progress thread may both call MPI.
    let universe = init_mpi(mpi::Threading::Multiple)?;
    let world = universe.world();
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    if size == 1 {
        let launched = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]
            .iter()
            .find_map(|v| Some((*v, std::env::var(v).ok()?.trim().parse::<usize>().ok()?)));
        if let Some((var, n)) = launched.filter(|(_, n)| *n > 1) {
            drop(universe);
            return Err(Error::new(
                ErrorKind::Mpi,
                format!(
                    "the launcher started {n} ranks ({var}={n}) but MPI sees a world of 1: \
                     the launcher's process-management interface does not match this MPI \
                     library (with srun, try `srun --mpi=pmix`; `srun --mpi=list` shows the \
                     plugins)"
                ),
            ));
        }
        log::info!("mpirun with one rank: starting the embedded cluster instead");
        drop(universe);
        return launch_local(settings);
    }
    let role = match rank {
        0 => Role::Scheduler,
        1 => Role::Client,
        _ => Role::Worker,
    };
    logging::set_process_role(rank, role);
    if size < MIN_RANKS {
        let message = format!(
            "rankflow needs at least {MIN_RANKS} MPI ranks (rank 0 schedules, rank 1 runs \
             your program, ranks 2 and up are workers); this job has {size}. \
             Run with mpirun -n {MIN_RANKS} or more."
        );
        drop(universe);
        if rank == 1 {
            return Err(Error::new(ErrorKind::WorldTooSmall, message));
        }
        say(&format!("[rank {rank}] error: {message}"));
        std::process::exit(1);
    }

    // From here on, a failure the other ranks do not hear about ends the whole
    // job (MPI_Abort) instead of leaving them waiting.
    let abort = |e: &dyn std::fmt::Display| -> ! {
        say(&format!(
            "[rank {rank} {role}] error: {e}; aborting the MPI job"
        ));
        world.abort(1)
    };
    let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<_> {
        // Every rank takes part in the split, before any progress thread runs.
        let world_group = Group::from_backend(Backend::Mpi(MpiGroup::world()));
        let workers = world_group.split((role == Role::Worker).then_some(0), rank as i32)?;
        // The client+workers group, for broadcasts: the client is member 0.
        let members = world_group.split((role != Role::Scheduler).then_some(1), rank as i32)?;
        if let Some(group) = &workers {
            worker::check_workers_group(group, rank)?;
        }
        crate::task::check_linked_into_executable().map_err(Error::invalid)?;
        let fingerprint = crate::fingerprint::executable_once_per_node(&world)?;
        // The scheduler's loop serves every rank and never waits on one.
        let limits = if role == Role::Scheduler {
            settings.flow.unbounded()
        } else {
            settings.flow
        };
        let transport = MpiTransport::start(settings.max_message_bytes, limits)?;
        Ok((workers, members, fingerprint, transport))
    }));
    let (workers, members, fingerprint, mut transport) = match started {
        Ok(Ok(parts)) => parts,
        Ok(Err(e)) => abort(&e),
        Err(p) => abort(&panic_text(p.as_ref())),
    };
    if role == Role::Client {
        drop(workers);
        return match Client::connect(
            Box::new(transport),
            fingerprint,
            Finisher::Mpi(universe),
            members,
        ) {
            Ok(client) => {
                client.watch_scheduler(settings.watchdog);
                Ok(client)
            }
            Err(e) if e.kind() == ErrorKind::BinaryMismatch => Err(e),
            Err(e) => abort(&e),
        };
    }
    let (mut workers, mut members) = (workers, members);
    let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if role == Role::Scheduler {
            run_scheduler(
                &mut transport,
                fingerprint,
                settings.dashboard_address,
                settings.watchdog,
            )
        } else {
            let info = WorkerInfo {
                rank,
                hostname: hostname(),
                pid: std::process::id(),
                threads: settings.threads_per_worker,
                memory_limit: worker_memory_limit(settings, local_ranks()),
            };
            let memory = memory_policy(settings, info.memory_limit);
            worker::run(
                &mut transport,
                info,
                fingerprint,
                workers.take(),
                members.take(),
                memory,
            )
        }
    }));
    match served {
        Ok(Ok(())) => {}
        // Every rank heard this abort and leaves the same way.
        Ok(Err(e)) if matches!(e.kind(), ErrorKind::BinaryMismatch | ErrorKind::Aborted) => {
            say(&format!("[rank {rank} {role}] error: {e}"));
            let _ = crate::comm::transport::Transport::close(Box::new(transport));
            drop(workers);
            drop(universe);
            std::process::exit(1);
        }
        Ok(Err(e)) => abort(&e),
        Err(p) => abort(&panic_text(p.as_ref())),
    }
    if let Err(e) = crate::comm::transport::Transport::close(Box::new(transport)) {
        abort(&e);
    }
    drop(workers);
    drop(universe);
    std::process::exit(0);
}

/// Ranks of a local [`spmd`] world when `local_workers` is not set: small and
/// fixed, so a program written for a few ranks runs the same on a 1-core
/// laptop and on a 64-core workstation.
pub const LOCAL_SPMD_RANKS: usize = 4;

/// Runs `f` on every rank with the world as a [`Group`] — mpi4py's style, with
/// no scheduler — and returns this rank's value.
///
/// `f` returns a [`Result`], so `?` works on every collective inside it.
///
/// Under mpirun each process runs `f` once and gets its own value. Without
/// mpirun, `f` runs on [`LOCAL_SPMD_RANKS`] threads (or `local_workers` when
/// set, see [`Config::local_workers`]), each a rank of an in-process world,
/// and rank 0's value is returned.
///
/// A member that fails ends the run for everyone; nobody waits for it:
///
/// * Without mpirun, a member that returns `Err` or panics fails the group:
///   the other members' pending and later calls return an error instead of
///   waiting, and `spmd` returns an error that names the first rank that
///   failed, with that member's [`ErrorKind`] ([`ErrorKind::Panicked`] for a
///   panic).
/// * Under mpirun, where a rank blocked inside an MPI call cannot be woken,
///   a rank whose `f` returns `Err` or panics prints
///   `[rank R spmd] error: ...` and aborts the whole job (`MPI_Abort`), which
///   then exits non-zero. With a single rank the error is returned instead.
///
/// # Examples — see `examples/reduce.rs`.
pub fn spmd<T, F>(config: Config, f: F) -> Result<T>
where
    F: Fn(&Group) -> Result<T> + Send + Sync,
    T: Send,
{
    let settings = config.resolve()?;
    logging::init(&settings.log_level);
    let env = |k: &str| std::env::var(k).ok();
    if settings.use_mpi(&env) {
        return spmd_mpi(f);
    }
    spmd_local(settings.local_ranks(LOCAL_SPMD_RANKS), f)
}

/// Runs `f`, turning a panic into an error of kind `Panicked`.
fn run_member<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
        Err(Error::new(
            ErrorKind::Panicked,
            format!("panicked: {}", panic_text(p.as_ref())),
        ))
    })
}

#[cfg(feature = "mpi")]
fn spmd_mpi<T, F: Fn(&Group) -> Result<T>>(f: F) -> Result<T> {
    use crate::comm::group::mpi::MpiGroup;
    use mpi::topology::Communicator;
    let universe = init_mpi(mpi::Threading::Serialized)?;
    let group = Group::from_backend(Backend::Mpi(MpiGroup::world()));
    let rank = group.rank();
    logging::set_process_role(rank, Role::Spmd);
    let outcome = run_member(|| f(&group));
    // Another rank may be blocked in a call that waits for this one: end the
    // job instead of finalizing.
    if let Err(e) = &outcome {
        if group.size() > 1 {
            say(&format!(
                "[rank {rank} spmd] error: {e}; aborting the MPI job so that no other \
                 rank waits for this one"
            ));
            let code = if e.kind() == ErrorKind::Panicked {
                101
            } else {
                1
            };
            universe.world().abort(code)
        }
    }
    drop(group);
    drop(universe);
    outcome
}

#[cfg(not(feature = "mpi"))]
fn spmd_mpi<T, F: Fn(&Group) -> Result<T>>(_f: F) -> Result<T> {
    Err(Error::config(
        "this program was started by an MPI launcher (or RANKFLOW_MODE=mpi) but rankflow \
         was built without the `mpi` feature",
    ))
}

fn spmd_local<T, F>(ranks: usize, f: F) -> Result<T>
where
    F: Fn(&Group) -> Result<T> + Send + Sync,
    T: Send,
{
    let (members, _poison) = LocalGroup::world(ranks);
    // The first member to fail: the others fail because of it.
    let first: std::sync::Mutex<Option<(usize, Error)>> = std::sync::Mutex::new(None);
    let (f, first_ref) = (&f, &first);
    let values: Vec<Option<T>> = std::thread::scope(|s| {
        let handles: Vec<_> = members
            .into_iter()
            .map(|member| {
                s.spawn(move || {
                    let rank = member.rank();
                    logging::set_thread_role(rank, Role::Spmd);
                    let group = Group::from_backend(Backend::Local(member));
                    match run_member(|| f(&group)) {
                        Ok(v) => Some(v),
                        Err(e) => {
                            let mut first = first_ref.lock().unwrap_or_else(|e| e.into_inner());
                            if first.is_none() {
                                *first = Some((rank, e.clone()));
                            }
                            drop(first);
                            group.fail(&format!("rank {rank} failed: {e}"));
                            None
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().ok().flatten())
            .collect()
    });
    if let Some((rank, e)) = first.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(Error::new(
            e.kind(),
            format!("spmd rank {rank} failed: {}", e.message()),
        ));
    }
    values
        .into_iter()
        .next()
        .flatten()
        .ok_or_else(|| Error::invalid("spmd needs at least one rank"))
}

/// Writes `line` and a newline to stderr in one `write` call. `eprintln!`
/// writes each piece of its format on its own (stderr is unbuffered), so
/// under mpirun another process's output (Open MPI's abort banner) could
/// land inside the line.
#[cfg(feature = "mpi")]
fn say(line: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}
