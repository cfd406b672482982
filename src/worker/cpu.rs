//! The CPU time a worker has used, for the dashboard's CPU column: read from
//! `/proc` (Linux) when the scheduler's heartbeat asks.
//!
//! Under mpirun a worker is a process of its own, so its time is its
//! process's (`/proc/self/stat`: utime + stime, every thread, MPI's progress
//! thread included). On the embedded cluster every worker is a set of
//! threads of one process, so each worker's loop and executor threads
//! register themselves here ([`register_thread`]) and a worker's time is the
//! sum of its threads' (`/proc/self/task/TID/stat`).

use std::sync::Mutex;

/// Worker threads of this process, by worker rank and thread id.
static THREADS: Mutex<Vec<(usize, u64)>> = Mutex::new(Vec::new());

/// Clock ticks per second in `/proc`'s times: `USER_HZ`, 100 on every Linux
/// architecture Rust supports (the kernel scales its internal rate to it).
const TICKS_PER_S: u64 = 100;

/// Keeps the calling thread registered as one of worker `rank`'s until
/// dropped.
#[derive(Debug)]
pub(crate) struct Registered(Option<(usize, u64)>);

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(entry) = self.0 {
            let mut threads = THREADS.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = threads.iter().position(|&e| e == entry) {
                threads.swap_remove(i);
            }
        }
    }
}

/// Registers the calling thread as one of worker `rank`'s.
pub(crate) fn register_thread(rank: usize) -> Registered {
    let Some(tid) = thread_id() else {
        return Registered(None);
    };
    let mut threads = THREADS.lock().unwrap_or_else(|e| e.into_inner());
    threads.push((rank, tid));
    Registered(Some((rank, tid)))
}

/// The calling thread's kernel id (`/proc/thread-self` is `PID/task/TID`).
fn thread_id() -> Option<u64> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// CPU time (user + system) in µs that worker `rank` has used: its process's
/// when it is the only worker in this process, else the sum of its
/// registered threads'. `None` where `/proc` cannot be read, or where other
/// workers of this process have registered threads and `rank` has none.
pub(crate) fn used_us(rank: usize) -> Option<u64> {
    let tids: Option<Vec<u64>> = {
        let threads = THREADS.lock().unwrap_or_else(|e| e.into_inner());
        if threads.iter().all(|&(r, _)| r == rank) {
            None
        } else {
            Some(
                threads
                    .iter()
                    .filter(|&&(r, _)| r == rank)
                    .map(|&(_, t)| t)
                    .collect(),
            )
        }
    };
    let ticks = match tids {
        None => ticks_in(&std::fs::read_to_string("/proc/self/stat").ok()?)?,
        // Other workers share this process and none of this one's threads
        // is registered: the process's time would be theirs too.
        Some(tids) if tids.is_empty() => return None,
        Some(tids) => tids
            .iter()
            .filter_map(|t| std::fs::read_to_string(format!("/proc/self/task/{t}/stat")).ok())
            .filter_map(|s| ticks_in(&s))
            .sum(),
    };
    Some(ticks * (1_000_000 / TICKS_PER_S))
}

/// utime + stime from a `/proc/.../stat` line. The command name (field 2)
/// is in parentheses and may hold spaces, so fields are counted after the
/// last `)`: state is field 3, utime 14, stime 15.
fn ticks_in(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names_parse() {
        let line = "4242 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 17 0 0 20 0 1 0";
        assert_eq!(ticks_in(line), Some(267));
        assert_eq!(ticks_in("4242 (x) S 1 2"), None);
        assert_eq!(ticks_in("garbage"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_unregistered_worker_among_registered_ones_has_no_time() {
        let (a, b) = (2_000_001, 2_000_002);
        let _one = register_thread(a);
        assert!(used_us(a).is_some());
        assert_eq!(used_us(b), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_busy_thread_shows_its_time() {
        let (a, b) = (1_000_001, 1_000_002);
        let _one = register_thread(a);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready) = std::sync::mpsc::channel::<()>();
        let idle = std::thread::spawn(move || {
            let _two = register_thread(b);
            ready_tx.send(()).unwrap();
            let _ = rx.recv();
        });
        // Two workers' threads in this process: each counts its own.
        ready.recv().unwrap();
        let before = used_us(a).unwrap();
        // Spin until this thread's own time shows 50 ms more (a loaded
        // machine may give it little of each second); 30 s at most.
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while used_us(a).unwrap() < before + 50_000 {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "no CPU time seen for a spinning thread"
            );
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
            }
        }
        // The other worker's thread only waited.
        assert!(used_us(b).unwrap() < 50_000);
        drop(tx);
        idle.join().unwrap();
    }
}
