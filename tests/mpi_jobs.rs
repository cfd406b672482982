//! Whole MPI jobs watched from outside: each test runs mpirun on a built
//! example and checks the exit code, the time it took and what it printed.
//! MPI initialises once per process, so every case is its own job.

#![cfg(feature = "mpi")]

mod common;
use common::{example, mpirun, run_with_deadline};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);

#[test]
fn two_ranks_fail_fast_naming_the_minimum() {
    let mut cmd = mpirun(2);
    cmd.arg(example("hello"));
    let out = run_with_deadline(cmd, Duration::from_secs(30));
    assert_ne!(out.code, Some(0), "{}", out.all_output());
    assert!(
        out.elapsed < Duration::from_secs(10),
        "took {:?}",
        out.elapsed
    );
    assert!(
        out.all_output().contains("at least 3 MPI ranks"),
        "{}",
        out.all_output()
    );
}

#[test]
fn hello_on_three_ranks() {
    let mut cmd = mpirun(3);
    cmd.arg(example("hello"));
    let out = run_with_deadline(cmd, DEADLINE);
    assert_eq!(out.code, Some(0), "{}", out.all_output());
    assert!(out.stdout.contains("worker rank 2 on"), "{}", out.stdout);
    assert!(out.stdout.contains("hello: ok"));
}

#[test]
fn each_worker_log_names_its_host() {
    let mut cmd = mpirun(4);
    cmd.arg(example("hello")).env("RANKFLOW_LOG", "info");
    let out = run_with_deadline(cmd, DEADLINE);
    assert_eq!(out.code, Some(0), "{}", out.all_output());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .expect("hostname");
    for rank in [2, 3] {
        let line = format!("[rank {rank} worker] INFO rankflow::worker: worker up on {host} (pid ");
        assert!(out.stderr.contains(&line), "no {line:?} in\n{}", out.stderr);
    }
}

#[test]
fn bad_environment_value_is_named() {
    let mut cmd = mpirun(3);
    cmd.arg(example("hello"))
        .env("RANKFLOW_MAX_MESSAGE", "huge");
    let out = run_with_deadline(cmd, DEADLINE);
    assert_ne!(out.code, Some(0));
    let text = out.all_output();
    assert!(
        text.contains("RANKFLOW_MAX_MESSAGE") && text.contains("huge"),
        "{text}"
    );
}

/// Three ranks of `hello` and a fourth running another executable.
fn mismatched_binaries() -> std::process::Command {
    let mut cmd = mpirun(3);
    cmd.arg(example("hello"))
        .arg(":")
        .arg("-n")
        .arg("1")
        .arg(example("exit_paths"))
        .arg("ok");
    cmd
}

#[test]
fn mismatched_binaries_are_refused_before_any_work() {
    let out = run_with_deadline(mismatched_binaries(), DEADLINE);
    assert_ne!(out.code, Some(0));
    let text = out.all_output();
    assert!(text.contains("different executable"), "{text}");
    assert!(text.contains("[3]"), "names the odd rank: {text}");
    assert!(!text.contains("hello: ok"), "no work ran: {text}");
}

#[test]
fn client_error_ends_the_job_non_zero() {
    let mut cmd = mpirun(3);
    cmd.arg(example("exit_paths")).arg("error");
    let out = run_with_deadline(cmd, DEADLINE);
    assert_eq!(out.code, Some(1), "{}", out.all_output());
    assert!(out.all_output().contains("the user's program failed"));
}

#[test]
fn client_panic_ends_the_job_non_zero() {
    let mut cmd = mpirun(4);
    cmd.arg(example("exit_paths"))
        .arg("panic")
        .env("RUST_BACKTRACE", "0");
    let out = run_with_deadline(cmd, DEADLINE);
    assert_ne!(out.code, Some(0), "{}", out.all_output());
    assert!(out.all_output().contains("the user's program panicked"));
}

#[test]
fn dropping_the_client_stops_every_rank() {
    for mode in ["ok", "drop"] {
        let mut cmd = mpirun(4);
        cmd.arg(example("exit_paths")).arg(mode);
        let out = run_with_deadline(cmd, DEADLINE);
        assert_eq!(out.code, Some(0), "{mode}: {}", out.all_output());
    }
}

/// The client shuts down while 4 MB fetches (client and worker to worker)
/// and large task results are in flight; before termination was a protocol,
/// about one run in four hung here. Each run varies where the shutdown meets
/// the transfers.
#[test]
fn shutdown_with_data_in_flight_stops_every_rank() {
    for run in 0..20 {
        let mut cmd = mpirun(4);
        cmd.arg(example("shutdown_in_flight")).arg("4");
        let out = run_with_deadline(cmd, Duration::from_secs(30));
        assert_eq!(out.code, Some(0), "run {run}: {}", out.all_output());
        assert!(out.stdout.contains("every rank stopped"), "run {run}");
    }
}

#[test]
fn one_rank_under_mpirun_runs_the_embedded_cluster() {
    let mut cmd = mpirun(1);
    cmd.arg(example("hello")).env("RANKFLOW_LOCAL_WORKERS", "2");
    let out = run_with_deadline(cmd, DEADLINE);
    assert_eq!(out.code, Some(0), "{}", out.all_output());
    assert!(out.stdout.contains("hello: ok"));
}

#[test]
fn collective_examples_on_three_ranks() {
    for name in [
        "send_recv",
        "bcast",
        "scatter_gather",
        "reduce",
        "ring",
        "collectives_check",
    ] {
        let mut cmd = mpirun(3);
        cmd.arg(example(name));
        let out = run_with_deadline(cmd, DEADLINE);
        assert_eq!(out.code, Some(0), "{name}: {}", out.all_output());
    }
}

#[test]
fn a_panicking_spmd_member_aborts_the_job_with_its_message() {
    for (mode, message) in [
        ("section-panic", "section member 0 gave up"),
        ("section-err", "section member 0 found bad input"),
    ] {
        let mut cmd = mpirun(4);
        cmd.arg(example("exit_paths"))
            .arg(mode)
            .env("RUST_BACKTRACE", "0");
        let out = run_with_deadline(cmd, DEADLINE);
        let text = out.all_output();
        assert_ne!(out.code, Some(0), "{mode}: {text}");
        assert!(text.contains(message), "{mode}: {text}");
        assert!(text.contains("aborting the MPI job"), "{mode}: {text}");
    }
}

#[test]
fn a_stuck_worker_ends_the_job_naming_it() {
    let mut cmd = mpirun(3);
    cmd.arg(example("exit_paths"))
        .arg("stuck")
        .env("RANKFLOW_WATCHDOG", "1")
        .env("RUST_BACKTRACE", "0");
    ends_non_zero_within_20_s_saying(cmd, "worker rank 2 has not answered");
}

#[test]
fn a_stuck_scheduler_ends_the_job_naming_rank_0() {
    let mut cmd = mpirun(3);
    cmd.arg(example("exit_paths"))
        .arg("ok")
        .env("RANKFLOW_WATCHDOG", "1")
        .env("RANKFLOW_TEST_STALL_SCHEDULER", "30")
        .env("RUST_BACKTRACE", "0");
    ends_non_zero_within_20_s_saying(cmd, "the scheduler (rank 0) has not answered the client");
}

/// Runs `cmd`, which must fail within 20 s with `message` in its output
/// (a watchdog ending a job).
fn ends_non_zero_within_20_s_saying(cmd: std::process::Command, message: &str) {
    let out = run_with_deadline(cmd, DEADLINE);
    let text = out.all_output();
    assert_ne!(out.code, Some(0), "{text}");
    assert!(text.contains(message), "{text}");
    assert!(
        out.elapsed < Duration::from_secs(20),
        "{:?}: {text}",
        out.elapsed
    );
}

#[test]
fn direct_interface_and_spmd_sections_on_four_ranks() {
    for name in ["direct_view", "spmd_allreduce"] {
        let mut cmd = mpirun(4);
        cmd.arg(example(name));
        let out = run_with_deadline(cmd, DEADLINE);
        assert_eq!(out.code, Some(0), "{name}: {}", out.all_output());
    }
}

/// An spmd rank that fails ends the job non-zero, naming the rank and its
/// message, whether the others finished or wait for it in a barrier.
#[test]
fn a_failing_spmd_rank_ends_the_job_naming_it() {
    for (mode, message) in [
        ("err-on-one", "rank 1 found bad input"),
        ("err-early", "rank 1 found bad input"),
        ("panic-early", "rank 1 gave up"),
    ] {
        let mut cmd = mpirun(3);
        cmd.arg(example("spmd_exits")).arg(mode);
        let out = run_with_deadline(cmd, DEADLINE);
        let text = out.all_output();
        assert_ne!(out.code, Some(0), "{mode}: {text}");
        assert!(text.contains("[rank 1 spmd] error"), "{mode}: {text}");
        assert!(text.contains(message), "{mode}: {text}");
    }
    let mut cmd = mpirun(3);
    cmd.arg(example("spmd_exits")).arg("ok");
    let out = run_with_deadline(cmd, DEADLINE);
    assert_eq!(out.code, Some(0), "{}", out.all_output());
}

/// The same program fails the same way in-process.
#[test]
fn a_failing_spmd_rank_fails_the_local_run_naming_it() {
    for (mode, message) in [
        ("err-on-one", "rank 1 found bad input"),
        ("err-early", "rank 1 found bad input"),
        ("panic-early", "rank 1 gave up"),
    ] {
        let mut cmd = std::process::Command::new(example("spmd_exits"));
        cmd.arg(mode).env("RANKFLOW_MODE", "local");
        let out = run_with_deadline(cmd, DEADLINE);
        let text = out.all_output();
        assert_ne!(out.code, Some(0), "{mode}: {text}");
        assert!(text.contains("spmd rank 1 failed"), "{mode}: {text}");
        assert!(text.contains(message), "{mode}: {text}");
    }
}

/// Lines of `text` that say a rank hashed the whole executable.
fn whole_file_hashes(text: &str) -> usize {
    text.lines()
        .filter(|l| l.contains("hashing the whole file"))
        .count()
}

#[test]
fn without_a_build_id_the_executable_is_hashed_once_per_node() {
    let mut cmd = mpirun(4);
    cmd.arg(example("hello"))
        .env("RANKFLOW_FINGERPRINT_FILE", "1")
        .env("RANKFLOW_LOG", "debug");
    let out = run_with_deadline(cmd, DEADLINE);
    let text = out.all_output();
    assert_eq!(out.code, Some(0), "{text}");
    assert!(out.stdout.contains("hello: ok"), "{text}");
    assert_eq!(whole_file_hashes(&text), 1, "one node, one read: {text}");
}

#[test]
fn without_a_build_id_mismatched_binaries_are_still_refused() {
    let mut cmd = mismatched_binaries();
    cmd.env("RANKFLOW_FINGERPRINT_FILE", "1")
        .env("RANKFLOW_LOG", "debug");
    let out = run_with_deadline(cmd, DEADLINE);
    let text = out.all_output();
    assert_ne!(out.code, Some(0), "{text}");
    assert!(text.contains("different executable"), "{text}");
    assert_eq!(whole_file_hashes(&text), 2, "each file read once: {text}");
}

#[test]
fn a_performance_report_under_mpirun_has_every_task_and_worker() {
    let dir = std::env::temp_dir().join(format!("rankflow-mpi-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pi.html");
    let mut cmd = mpirun(4);
    cmd.arg(example("pi")).arg("--report").arg(&path);
    let out = run_with_deadline(cmd, DEADLINE);
    assert_eq!(out.code, Some(0), "{}", out.all_output());
    let page = std::fs::read_to_string(&path).unwrap();
    assert_eq!(page.matches("<rect class=\"task\"").count(), 8);
    for worker in [2, 3] {
        assert!(page.contains(&format!("<tr><td>{worker}</td>")), "{page}");
    }
    let trace = std::fs::read_to_string(dir.join("pi.json")).unwrap();
    assert_eq!(trace.matches("\"cat\":\"task\"").count(), 8);
    std::fs::remove_dir_all(dir).unwrap();
}
