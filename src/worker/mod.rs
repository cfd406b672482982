//! The worker loop: registers with the scheduler, answers the client directly,
//! and leaves on the scheduler's word.

use crate::comm::codec;
use crate::comm::transport::{Transport, TAG_CONTROL};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::{
    ClientToWorker, SchedulerToWorker, WorkerInfo, WorkerToClient, WorkerToScheduler,
};
use crate::scheduler::{CLIENT, SCHEDULER};

/// Serves until the scheduler says `Shutdown` (`Ok`) or `Abort` (`Err`).
pub fn run(transport: &mut dyn Transport, info: WorkerInfo, fingerprint: u64) -> Result<()> {
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
