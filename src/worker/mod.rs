//! The worker loop: registers with the scheduler, answers the client directly,
//! and leaves on the scheduler's word.

use crate::comm::codec;
use crate::comm::transport::{Transport, TAG_CONTROL};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::{
    ClientToWorker, SchedulerToWorker, WorkerInfo, WorkerToClient, WorkerToScheduler,
};
use crate::scheduler::{CLIENT, FIRST_WORKER, SCHEDULER};
use crate::Group;

/// The workers group must hold world ranks 2.. in order, this one included.
fn check_workers_group(workers: &Group, rank: usize) -> Result<()> {
    let members = workers.allgather(&rank)?;
    let expected: Vec<usize> = (FIRST_WORKER..FIRST_WORKER + workers.size()).collect();
    if members != expected || members.get(workers.rank()) != Some(&rank) {
        return Err(Error::protocol(format!(
            "the workers group holds world ranks {members:?}, expected {expected:?}"
        )));
    }
    log::debug!(
        "workers group: rank {} of {}",
        workers.rank(),
        workers.size()
    );
    Ok(())
}

/// Serves until the scheduler says `Shutdown` (`Ok`) or `Abort` (`Err`).
///
/// `workers` is the workers-only group (every worker rank, in rank order),
/// made at start-up for the collective sections that run on workers alone.
/// Before registering, the worker checks that its members are exactly world
/// ranks 2.. in order.
pub fn run(
    transport: &mut dyn Transport,
    info: WorkerInfo,
    fingerprint: u64,
    workers: Group,
) -> Result<()> {
    check_workers_group(&workers, info.rank)?;
    let outbox = transport.outbox();
    log::info!(
        "worker up on {} (pid {}, {} threads)",
        info.hostname,
        info.pid,
        info.threads
    );
    let hello = WorkerToScheduler::Register { info, fingerprint };
    outbox.send(SCHEDULER, TAG_CONTROL, codec::encode(&hello)?)?;
    loop {
        let envelope = transport.recv()?;
        match envelope.source {
            SCHEDULER => match codec::decode::<SchedulerToWorker>(&envelope.payload) {
                Ok(SchedulerToWorker::Shutdown) => {
                    outbox.send(
                        SCHEDULER,
                        TAG_CONTROL,
                        codec::encode(&WorkerToScheduler::Goodbye)?,
                    )?;
                    log::info!("worker shutting down");
                    return Ok(());
                }
                Ok(SchedulerToWorker::Abort { reason }) => {
                    return Err(Error::new(ErrorKind::BinaryMismatch, reason));
                }
                Err(e) => log::error!("dropping a malformed message from the scheduler: {e}"),
            },
            CLIENT => match codec::decode::<ClientToWorker>(&envelope.payload) {
                Ok(ClientToWorker::Ping { id }) => {
                    let pong = WorkerToClient::Pong { id };
                    outbox.send(CLIENT, TAG_CONTROL, codec::encode(&pong)?)?;
                }
                Err(e) => log::error!("dropping a malformed message from the client: {e}"),
            },
            other => log::warn!("ignoring a message from rank {other}"),
        }
    }
}
