//! Start-up and shutdown: [`initialize`] gives each rank its role, [`spmd`]
//! runs a collectives-only program on every rank.
//!
//! Under mpirun with N >= 3 ranks, rank 0 runs the scheduler, ranks 2.. run
//! workers (neither ever returns into user code: after shutdown they finalize
//! MPI and exit 0), and rank 1 gets the [`Client`]. Without mpirun the same
//! call starts the embedded cluster: scheduler and workers as threads of this
//! process over the in-process transport.

use crate::client::{Client, Finisher};
use crate::comm::group::local::LocalGroup;
use crate::comm::group::{Backend, Group, RawGroup};
use crate::comm::local::LocalTransport;
use crate::config::{Config, Settings};
use crate::error::{Error, ErrorKind, Result};
use crate::logging::{self, Role};
use crate::protocol::WorkerInfo;
use crate::scheduler::{self, FIRST_WORKER};
use crate::worker;
use std::hash::Hasher;

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
        return launch_mpi(&settings);
    }
    launch_local(&settings)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_string())
}

/// A hash of this process's executable file, equal on ranks that run the same
/// build of the same program.
pub fn executable_fingerprint() -> Result<u64> {
    let path = std::env::current_exe()?;
    let bytes = std::fs::read(&path).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("cannot read the executable {}: {e}", path.display()),
        )
    })?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write(&bytes);
    Ok(h.finish())
}

fn launch_local(settings: &Settings) -> Result<Client> {
    let size = settings.local_workers + FIRST_WORKER;
    logging::set_thread_role(1, Role::Client);
    log::info!(
        "starting the embedded cluster: {} workers",
        settings.local_workers
    );
    let mut ends = LocalTransport::world(size).into_iter();
    let (scheduler_end, client_end) = match (ends.next(), ends.next()) {
        (Some(s), Some(c)) => (s, c),
        _ => return Err(Error::transport("could not build the in-process world")),
    };
    let (worker_groups, _poison) = LocalGroup::world(settings.local_workers);
    let mut threads = Vec::with_capacity(size - 1);
    threads.push(spawn_role("rankflow-scheduler", move || {
        logging::set_thread_role(0, Role::Scheduler);
        let mut t = scheduler_end;
        scheduler::run(&mut t, LOCAL_FINGERPRINT)
    })?);
    for (i, (end, group)) in ends.zip(worker_groups).enumerate() {
        let rank = FIRST_WORKER + i;
        let info = WorkerInfo {
            rank,
            hostname: hostname(),
            pid: std::process::id(),
            threads: settings.threads_per_worker,
        };
        threads.push(spawn_role(&format!("rankflow-worker-{rank}"), move || {
            logging::set_thread_role(rank, Role::Worker);
            let mut t = end;
            let workers = Group::from_backend(Backend::Local(group));
            worker::run(&mut t, info, LOCAL_FINGERPRINT, workers)
        })?);
    }
    Client::connect(
        Box::new(client_end),
        LOCAL_FINGERPRINT,
        Finisher::Local(threads),
    )
}

fn spawn_role(
    name: &str,
    f: impl FnOnce() -> Result<()> + Send + 'static,
) -> Result<std::thread::JoinHandle<Result<()>>> {
    Ok(std::thread::Builder::new()
        .name(name.to_string())
        .spawn(f)?)
}

#[cfg(not(feature = "mpi"))]
fn launch_mpi(_settings: &Settings) -> Result<Client> {
    Err(Error::config(
        "this program was started by an MPI launcher (or RANKFLOW_MODE=mpi) but rankflow \
         was built without the `mpi` feature; rebuild with default features, or set \
         RANKFLOW_MODE=local",
    ))
}

#[cfg(feature = "mpi")]
fn init_mpi() -> Result<mpi::environment::Universe> {
    use mpi::Threading;
    let (universe, level) = mpi::initialize_with_threading(Threading::Multiple)
        .ok_or_else(|| Error::new(ErrorKind::Mpi, "MPI is already initialised in this process"))?;
    if matches!(level, Threading::Single | Threading::Funneled) {
        return Err(Error::new(
            ErrorKind::Mpi,
            format!(
                "the MPI library gives thread level {level:?}; rankflow needs at least \
                 MPI_THREAD_SERIALIZED"
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

    let universe = init_mpi()?;
    let world = universe.world();
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    if size == 1 {
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
        eprintln!("[rank {rank}] error: {message}");
        std::process::exit(1);
    }
    // The workers-only communicator: every rank takes part in the split,
    // before any progress thread touches MPI.
    let workers = Group::from_backend(Backend::Mpi(MpiGroup::world()))
        .split((role == Role::Worker).then_some(0), rank as i32)?;
    let fingerprint = executable_fingerprint()?;
    let mut transport = MpiTransport::start(settings.max_message_bytes)?;
    if role == Role::Client {
        return Client::connect(Box::new(transport), fingerprint, Finisher::Mpi(universe));
    }
    let outcome = if role == Role::Scheduler {
        scheduler::run(&mut transport, fingerprint)
    } else {
        let info = WorkerInfo {
            rank,
            hostname: hostname(),
            pid: std::process::id(),
            threads: settings.threads_per_worker,
        };
        match workers {
            Some(group) => worker::run(&mut transport, info, fingerprint, group),
            None => Err(Error::new(
                ErrorKind::Mpi,
                "a worker rank got no workers group",
            )),
        }
    };
    let closed = crate::comm::transport::Transport::close(Box::new(transport));
    drop(universe);
    match outcome.and(closed) {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("[rank {rank} {role}] error: {e}");
            std::process::exit(1);
        }
    }
}

/// Runs `f` on every rank with the world as a [`Group`] — the classic mpi4py
/// style, with no scheduler. Returns this rank's result.
///
/// Under mpirun each process runs `f` once and gets its own result. Without
/// mpirun, `f` runs on `local_workers` threads (see [`Config::local_workers`]),
/// each with its rank in an in-process world, and the result of rank 0 is
/// returned. A panic on one thread makes the others' collectives fail instead
/// of waiting, and `spmd` returns an error naming the rank.
pub fn spmd<R, F>(config: Config, f: F) -> Result<R>
where
    F: Fn(&Group) -> R + Send + Sync,
    R: Send,
{
    let settings = config.resolve()?;
    logging::init(&settings.log_level);
    let env = |k: &str| std::env::var(k).ok();
    if settings.use_mpi(&env) {
        return spmd_mpi(f);
    }
    spmd_local(settings.local_workers, f)
}

#[cfg(feature = "mpi")]
fn spmd_mpi<R, F: Fn(&Group) -> R>(f: F) -> Result<R> {
    use crate::comm::group::mpi::MpiGroup;
    let universe = init_mpi()?;
    let group = Group::from_backend(Backend::Mpi(MpiGroup::world()));
    logging::set_process_role(group.rank(), Role::Spmd);
    let result = f(&group);
    drop(group);
    drop(universe);
    Ok(result)
}

#[cfg(not(feature = "mpi"))]
fn spmd_mpi<R, F: Fn(&Group) -> R>(_f: F) -> Result<R> {
    Err(Error::config(
        "this program was started by an MPI launcher (or RANKFLOW_MODE=mpi) but rankflow \
         was built without the `mpi` feature",
    ))
}

fn spmd_local<R, F>(ranks: usize, f: F) -> Result<R>
where
    F: Fn(&Group) -> R + Send + Sync,
    R: Send,
{
    let (members, poison) = LocalGroup::world(ranks);
    let f = &f;
    let outcomes: Vec<std::thread::Result<R>> = std::thread::scope(|s| {
        let handles: Vec<_> = members
            .into_iter()
            .map(|member| {
                let poison = poison.clone();
                s.spawn(move || {
                    let rank = member.rank();
                    logging::set_thread_role(rank, Role::Spmd);
                    let group = Group::from_backend(Backend::Local(member));
                    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&group)));
                    if let Err(p) = &out {
                        poison.poison(format!("rank {rank} panicked: {}", panic_text(p.as_ref())));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().and_then(|r| r))
            .collect()
    });
    if let Some(why) = poison.reason() {
        return Err(Error::new(ErrorKind::Panicked, format!("spmd {why}")));
    }
    match outcomes.into_iter().next() {
        Some(Ok(r)) => Ok(r),
        Some(Err(p)) => Err(Error::new(
            ErrorKind::Panicked,
            format!("spmd rank 0 panicked: {}", panic_text(p.as_ref())),
        )),
        None => Err(Error::invalid("spmd needs at least one rank")),
    }
}

/// The message of a panic payload.
pub(crate) fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}
