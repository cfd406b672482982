//! The client handle that `initialize` returns on rank 1 (or in the embedded
//! cluster): the worker list, pings, and shutdown.
//!
//! Dropping the handle shuts the cluster down, also while a panic unwinds
//! through the user's `main`, so no rank is left waiting.

use crate::comm::codec;
use crate::comm::transport::{Rank, Transport, TAG_CONTROL};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::{
    ClientToScheduler, ClientToWorker, SchedulerToClient, WorkerInfo, WorkerToClient,
};
use crate::scheduler::SCHEDULER;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the rest of the cluster is stopped once the scheduler says `Finished`.
pub(crate) enum Finisher {
    /// Embedded cluster: join the scheduler and worker threads.
    Local(Vec<JoinHandle<Result<()>>>),
    /// MPI: finalize when the universe is dropped.
    #[cfg(feature = "mpi")]
    Mpi(mpi::environment::Universe),
}

impl Finisher {
    fn finish(self) -> Result<()> {
        match self {
            Finisher::Local(threads) => {
                let mut first_err = None;
                for t in threads {
                    let outcome = t
                        .join()
                        .unwrap_or_else(|_| Err(Error::transport("a cluster thread panicked")));
                    if let Err(e) = outcome {
                        first_err.get_or_insert(e);
                    }
                }
                first_err.map_or(Ok(()), Err)
            }
            #[cfg(feature = "mpi")]
            Finisher::Mpi(universe) => {
                drop(universe);
                Ok(())
            }
        }
    }
}

struct Connection {
    transport: Box<dyn Transport>,
    finisher: Finisher,
}

impl Connection {
    /// Closes the transport, then stops the cluster's threads or MPI.
    fn close(self) -> Result<()> {
        let closed = self.transport.close();
        let finished = self.finisher.finish();
        closed.and(finished)
    }
}

/// A handle on a running cluster.
pub struct Client {
    connection: Option<Connection>,
    workers: Vec<WorkerInfo>,
    next_id: u64,
}

impl Client {
    /// Says hello to the scheduler and waits until every worker is registered.
    pub(crate) fn connect(
        transport: Box<dyn Transport>,
        fingerprint: u64,
        finisher: Finisher,
    ) -> Result<Self> {
        let mut connection = Connection {
            transport,
            finisher,
        };
        let hello = ClientToScheduler::Hello { fingerprint };
        let welcome = send_to_scheduler(&mut connection, &hello).and_then(|()| {
            wait_for_scheduler(&mut connection, |m| match m {
                SchedulerToClient::Welcome { workers } => Some(workers),
                _ => None,
            })
        });
        match welcome {
            Ok(workers) => {
                log::info!("{} workers registered", workers.len());
                Ok(Client {
                    connection: Some(connection),
                    workers,
                    next_id: 0,
                })
            }
            Err(e) => {
                if let Err(close) = connection.close() {
                    log::warn!("while closing after a failed start: {close}");
                }
                Err(e)
            }
        }
    }

    /// Every worker, by rank, as it registered.
    pub fn workers(&self) -> &[WorkerInfo] {
        &self.workers
    }

    fn connection(&mut self) -> Result<&mut Connection> {
        self.connection
            .as_mut()
            .ok_or_else(|| Error::new(ErrorKind::ShutDown, "the client has been shut down"))
    }

    /// Round trip to the scheduler and back.
    pub fn ping(&mut self) -> Result<Duration> {
        let id = self.next_id;
        self.next_id += 1;
        let conn = self.connection()?;
        let start = Instant::now();
        send_to_scheduler(conn, &ClientToScheduler::Ping { id })?;
        wait_for_scheduler(conn, |m| match m {
            SchedulerToClient::Pong { id: got } if got == id => Some(()),
            _ => None,
        })?;
        Ok(start.elapsed())
    }

    /// Round trip to worker `rank` and back, directly (not through the scheduler).
    pub fn ping_worker(&mut self, rank: Rank) -> Result<Duration> {
        if !self.workers.iter().any(|w| w.rank == rank) {
            return Err(Error::invalid(format!("rank {rank} is not a worker")));
        }
        let id = self.next_id;
        self.next_id += 1;
        let conn = self.connection()?;
        let start = Instant::now();
        let ping = codec::encode(&ClientToWorker::Ping { id })?;
        conn.transport.outbox().send(rank, TAG_CONTROL, ping)?;
        loop {
            let envelope = conn.transport.recv()?;
            if envelope.source == SCHEDULER {
                check_abort(&envelope.payload)?;
                continue;
            }
            match codec::decode::<WorkerToClient>(&envelope.payload) {
                Ok(WorkerToClient::Pong { id: got }) if got == id && envelope.source == rank => {
                    return Ok(start.elapsed());
                }
                Ok(other) => log::warn!("ignoring {other:?} from rank {}", envelope.source),
                Err(e) => log::error!("dropping a malformed message: {e}"),
            }
        }
    }

    /// Stops every rank: the scheduler tells each worker, each worker says
    /// goodbye, then this returns. Dropping the client does the same.
    pub fn shutdown(mut self) -> Result<()> {
        self.shutdown_inner()
    }

    fn shutdown_inner(&mut self) -> Result<()> {
        let Some(mut conn) = self.connection.take() else {
            return Ok(());
        };
        let asked = send_to_scheduler(&mut conn, &ClientToScheduler::Shutdown).and_then(|()| {
            wait_for_scheduler(&mut conn, |m| match m {
                SchedulerToClient::Finished => Some(()),
                _ => None,
            })
        });
        let closed = conn.close();
        asked.and(closed)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown_inner() {
            log::error!("shutdown failed: {e}");
        }
    }
}

fn send_to_scheduler(conn: &mut Connection, message: &ClientToScheduler) -> Result<()> {
    conn.transport
        .outbox()
        .send(SCHEDULER, TAG_CONTROL, codec::encode(message)?)
}

/// Returns an error if `payload` is the scheduler's `Abort`.
fn check_abort(payload: &[u8]) -> Result<()> {
    if let Ok(SchedulerToClient::Abort { reason }) = codec::decode(payload) {
        return Err(Error::new(ErrorKind::BinaryMismatch, reason));
    }
    Ok(())
}

/// Waits for the scheduler message that `want` picks; an `Abort` is an error.
fn wait_for_scheduler<T>(
    conn: &mut Connection,
    want: impl Fn(SchedulerToClient) -> Option<T>,
) -> Result<T> {
    loop {
        let envelope = conn.transport.recv()?;
        if envelope.source != SCHEDULER {
            log::warn!("ignoring a message from rank {}", envelope.source);
            continue;
        }
        match codec::decode::<SchedulerToClient>(&envelope.payload) {
            Ok(SchedulerToClient::Abort { reason }) => {
                return Err(Error::new(ErrorKind::BinaryMismatch, reason));
            }
            Ok(m) => {
                if let Some(v) = want(m) {
                    return Ok(v);
                }
            }
            Err(e) => log::error!("dropping a malformed message from the scheduler: {e}"),
        }
    }
}
