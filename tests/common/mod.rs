//! Helpers for tests that run whole programs: find the built examples, run a
//! command with a deadline, and set up mpirun for root and oversubscription.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The directory cargo put the examples of this test build in.
pub fn examples_dir() -> PathBuf {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_rankflow"));
    bin.parent().expect("target dir").join("examples")
}

/// The path of a built example.
pub fn example(name: &str) -> PathBuf {
    let p = examples_dir().join(name);
    assert!(p.exists(), "example {} was not built", p.display());
    p
}

/// The outcome of a finished command.
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Finished {
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs `cmd`, killing it and failing the test if it outlives `deadline`.
pub fn run_with_deadline(mut cmd: Command, deadline: Duration) -> Finished {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("wait");
            panic!(
                "{cmd:?} still ran after {deadline:?} (a hang)\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("wait");
    Finished {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// `mpirun -n N` with the settings CI needs (root, oversubscribed cores).
pub fn mpirun(n: usize) -> Command {
    let mut c = Command::new("mpirun");
    c.arg("-n")
        .arg(n.to_string())
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .env_remove("RANKFLOW_MODE");
    c
}
