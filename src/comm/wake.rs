//! Waking a sleeping progress thread on the same host at once, instead of
//! letting a message wait out its sleep (see [`backoff`](super::backoff)).
//!
//! A rank idle for a while polls MPI only every 2 ms, so each hop of a job
//! (client to scheduler, scheduler to workers, workers back) could wait up
//! to that long; a short job has several. So each rank's progress thread
//! also listens, in a thread of its own blocked in `recv` (no CPU while
//! idle), on a Unix datagram socket in Linux's abstract namespace named by
//! the job and the rank. After starting a send to a rank it has sent
//! nothing to for [`SPIN_FOR`](super::backoff::SPIN_FOR) (so the receiver
//! may be asleep), a progress thread sends that rank's socket a one-byte
//! nudge; the listener unparks the receiver's progress thread and sets its
//! [`Backoff`](super::backoff::Backoff) spinning again, so it finds the
//! message within microseconds.
//!
//! Best effort: a rank on another host has no socket here, so its nudge is
//! lost and it finds the message at its next poll, as without nudges. The
//! job's name comes from the launcher's environment (`PMIX_NAMESPACE`,
//! set by Open MPI and other PMIx launchers, or Open MPI's
//! `OMPI_MCA_ess_base_jobid`); without one, or with `RANKFLOW_WAKE=off`,
//! or off Linux, there are no nudges.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::Thread;

/// What one progress thread needs to nudge its peers and be nudged.
pub(crate) struct Wake {
    rank: usize,
    flag: Arc<AtomicBool>,
    #[cfg(target_os = "linux")]
    inner: Option<linux::Inner>,
}

impl Wake {
    /// Listens for nudges to `rank` (of a job of `size` ranks), which unpark
    /// `progress`; nudges nobody if the job has no name or the socket cannot
    /// be bound.
    pub(crate) fn start(rank: usize, size: usize, progress: Thread) -> Wake {
        let flag = Arc::new(AtomicBool::new(false));
        #[cfg(target_os = "linux")]
        let inner = job_name().and_then(|job| {
            linux::Inner::start(job, rank, size, flag.clone(), progress)
                .map_err(|e| log::debug!("no wake-up socket for rank {rank}: {e}"))
                .ok()
        });
        #[cfg(not(target_os = "linux"))]
        let _ = (size, progress);
        Wake {
            rank,
            flag,
            #[cfg(target_os = "linux")]
            inner,
        }
    }

    /// Set when a nudge arrived; the progress thread's backoff takes it.
    pub(crate) fn flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }

    /// A send to `dest` has just started: nudges `dest` unless this rank
    /// sent to it recently (it is awake then).
    pub(crate) fn nudge(&mut self, dest: usize) {
        if dest == self.rank {
            return;
        }
        #[cfg(target_os = "linux")]
        if let Some(inner) = self.inner.as_mut() {
            inner.nudge(dest);
        }
    }
}

/// The job's name from the launcher, unless nudges are turned off.
#[cfg(target_os = "linux")]
fn job_name() -> Option<String> {
    if std::env::var("RANKFLOW_WAKE").is_ok_and(|v| v == "off" || v == "0") {
        return None;
    }
    ["PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
}

#[cfg(target_os = "linux")]
mod linux {
    use super::super::backoff::SPIN_FOR;
    use std::io;
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::thread::{JoinHandle, Thread};
    use std::time::Instant;

    const NUDGE: u8 = 1;
    /// Sent by a rank to its own listener when its transport closes.
    const QUIT: u8 = 0;

    pub(super) struct Inner {
        job: String,
        me: SocketAddr,
        out: UnixDatagram,
        /// When this rank last sent to each rank.
        last: Vec<Option<Instant>>,
        listener: Option<JoinHandle<()>>,
    }

    fn address(job: &str, rank: usize) -> io::Result<SocketAddr> {
        SocketAddr::from_abstract_name(format!("rankflow-wake-{job}-{rank}"))
    }

    impl Inner {
        pub(super) fn start(
            job: String,
            rank: usize,
            size: usize,
            flag: Arc<AtomicBool>,
            progress: Thread,
        ) -> io::Result<Inner> {
            let me = address(&job, rank)?;
            let socket = UnixDatagram::bind_addr(&me)?;
            let out = UnixDatagram::unbound()?;
            // A full receiver's buffer must never hold up the progress thread.
            out.set_nonblocking(true)?;
            let listener = std::thread::Builder::new()
                .name(format!("rankflow-wake-{rank}"))
                .spawn(move || {
                    let mut buf = [0u8; 16];
                    loop {
                        match socket.recv(&mut buf) {
                            Ok(n) if n > 0 && buf[0] == QUIT => return,
                            Ok(_) => {
                                flag.store(true, Ordering::Release);
                                progress.unpark();
                            }
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(_) => return,
                        }
                    }
                })?;
            Ok(Inner {
                job,
                me,
                out,
                last: vec![None; size],
                listener: Some(listener),
            })
        }

        pub(super) fn nudge(&mut self, dest: usize) {
            let now = Instant::now();
            let Some(last) = self.last.get_mut(dest) else {
                return;
            };
            let recent = last.is_some_and(|t| now.duration_since(t) < SPIN_FOR);
            *last = Some(now);
            if recent {
                return;
            }
            // Lost when `dest` is on another host (no such socket here) or
            // its buffer is full (nudges are pending there anyway).
            if let Ok(to) = address(&self.job, dest) {
                let _ = self.out.send_to_addr(&[NUDGE], &to);
            }
        }
    }

    impl Drop for Inner {
        fn drop(&mut self) {
            if let Some(listener) = self.listener.take() {
                // Without the quit message delivered the listener would
                // never return: leave it blocked rather than wait for it.
                // The nudge socket does not block; the quit message must not
                // be lost to a momentarily full queue, so it waits a little.
                let sent = (0..100).any(|_| {
                    let ok = self.out.send_to_addr(&[QUIT], &self.me).is_ok();
                    if !ok {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    ok
                });
                if sent {
                    let _ = listener.join();
                }
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_nudge_unparks_the_listening_thread_and_sets_its_flag() {
        let job = format!("test-{}", std::process::id());
        let (tx, rx) = std::sync::mpsc::channel();
        let sleeper = std::thread::spawn(move || {
            let wake = Wake {
                rank: 1,
                flag: Arc::new(AtomicBool::new(false)),
                inner: None,
            };
            let flag = wake.flag();
            let inner =
                linux::Inner::start(job.clone(), 1, 2, flag.clone(), std::thread::current())
                    .expect("bind");
            tx.send(job).unwrap();
            let start = Instant::now();
            while !flag.swap(false, std::sync::atomic::Ordering::AcqRel)
                && start.elapsed() < Duration::from_secs(10)
            {
                std::thread::park_timeout(Duration::from_secs(1));
            }
            drop(inner);
            start.elapsed()
        });
        let job = rx.recv().unwrap();
        let mut sender = Wake {
            rank: 0,
            flag: Arc::new(AtomicBool::new(false)),
            inner: Some(
                linux::Inner::start(job, 0, 2, Arc::default(), std::thread::current()).unwrap(),
            ),
        };
        assert!(sender.inner.is_some());
        sender.nudge(0); // itself: nothing
        sender.nudge(7); // no such rank: nothing
        sender.nudge(1);
        let waited = sleeper.join().unwrap();
        assert!(waited < Duration::from_secs(10), "the nudge never arrived");
    }
}
