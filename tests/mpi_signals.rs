//! Dead ranks and signals, watched from outside: a worker, the scheduler or
//! the client killed with SIGKILL in the middle of a job makes the whole job
//! exit non-zero within 10 s with a message naming the dead rank, and
//! SIGTERM or SIGINT to mpirun (Slurm's time limit, a user's Ctrl-C) ends
//! every rank within 5 s. Either way no rank process is left behind.

#![cfg(all(feature = "mpi", target_os = "linux"))]

mod common;
use common::{example, mpirun};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A job started in the `busy` mode of `exit_paths`, its rank processes
/// found through a token in their environment.
struct Job {
    child: Child,
    token: String,
    lines: mpsc::Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Job {
    fn start(ranks: usize, trial: &str) -> Job {
        let token = format!("{}-{trial}", std::process::id());
        let mut cmd = mpirun(ranks);
        cmd.arg(example("exit_paths"))
            .arg("busy")
            .env("RANKFLOW_SIGNAL_TEST", &token)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn mpirun");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let job = Job {
            child,
            token,
            lines,
            stderr,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match job.lines.recv_timeout(left) {
                Ok(line) if line.contains("busy: running") => break,
                Ok(_) => {}
                Err(_) => panic!("the job did not start its tasks within 60 s"),
            }
        }
        job
    }

    /// Pids of this job's rank processes, by rank.
    fn ranks(&self) -> Vec<(usize, u32)> {
        ranks_of(&self.token)
    }

    /// Waits for mpirun to exit; its exit code, the time it took after
    /// `since`, and everything it printed.
    fn finish(mut self, since: Instant, limit: Duration) -> (Option<i32>, Duration, String) {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if since.elapsed() > limit + Duration::from_secs(20) {
                let _ = self.child.kill();
                panic!("mpirun still ran {:?} after the signal", since.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let took = since.elapsed();
        let mut text: Vec<String> = self.lines.try_iter().collect();
        text.push(self.stderr.join().unwrap_or_default());
        // No rank may outlive mpirun for long.
        let gone_by = Instant::now() + Duration::from_secs(3);
        let token = self.token.clone();
        while !ranks_of(&token).is_empty() && Instant::now() < gone_by {
            std::thread::sleep(Duration::from_millis(50));
        }
        let left = ranks_of(&token);
        assert!(left.is_empty(), "rank processes left behind: {left:?}");
        (status.code(), took, text.join("\n"))
    }
}

/// Pids of the rank processes whose environment holds `token`, by rank.
fn ranks_of(token: &str) -> Vec<(usize, u32)> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        let vars: Vec<&[u8]> = env.split(|&b| b == 0).collect();
        let mine = format!("RANKFLOW_SIGNAL_TEST={}", token);
        if !vars.contains(&mine.as_bytes()) {
            continue;
        }
        let rank = vars.iter().find_map(|v| {
            std::str::from_utf8(v)
                .ok()?
                .strip_prefix("OMPI_COMM_WORLD_RANK=")?
                .parse()
                .ok()
        });
        if let Some(rank) = rank {
            found.push((rank, pid));
        }
    }
    found.sort();
    found
}

fn kill(signal: &str, pid: u32) {
    let ok = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill -{signal} {pid}");
}

/// Kills `rank` of a 4-rank job with SIGKILL, `trials` times.
fn a_killed_rank_ends_the_job(rank: usize, trials: usize) {
    for trial in 0..trials {
        let job = Job::start(4, &format!("kill{rank}-{trial}"));
        let ranks = job.ranks();
        let pid = ranks
            .iter()
            .find(|(r, _)| *r == rank)
            .map(|(_, p)| *p)
            .unwrap_or_else(|| panic!("rank {rank} not found among {ranks:?}"));
        let t = Instant::now();
        kill("KILL", pid);
        let (code, took, text) = job.finish(t, Duration::from_secs(10));
        assert_ne!(code, Some(0), "{text}");
        assert!(took < Duration::from_secs(10), "took {took:?}: {text}");
        assert!(
            text.contains(&format!("rank {rank}")),
            "names rank {rank}: {text}"
        );
        eprintln!("rank {rank} killed: the job ended in {took:?} with {code:?}");
    }
}

#[test]
fn a_killed_worker_ends_the_job() {
    a_killed_rank_ends_the_job(2, 3);
}

#[test]
fn a_killed_scheduler_ends_the_job() {
    a_killed_rank_ends_the_job(0, 2);
}

#[test]
fn a_killed_client_ends_the_job() {
    a_killed_rank_ends_the_job(1, 2);
}

#[test]
fn sigterm_and_sigint_to_mpirun_end_every_rank() {
    for (trial, signal) in ["TERM", "INT", "TERM"].iter().enumerate() {
        let job = Job::start(4, &format!("{signal}-{trial}"));
        assert_eq!(job.ranks().len(), 4, "every rank is up");
        let t = Instant::now();
        kill(signal, job.child.id());
        let (code, took, text) = job.finish(t, Duration::from_secs(5));
        assert_ne!(code, Some(0), "{text}");
        assert!(
            took < Duration::from_secs(5),
            "SIG{signal}: took {took:?}: {text}"
        );
        eprintln!("SIG{signal} to mpirun: the job ended in {took:?} with {code:?}");
    }
}
