//! Runs the `rankflow` binary's `jobscript` subcommand for every batch system,
//! checks the directives and that bash can parse the result, and checks the
//! hand-written templates in `jobscripts/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

const BIN: &str = env!("CARGO_BIN_EXE_rankflow");

fn rankflow(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("could not run the rankflow binary")
}

fn jobscript(system: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "jobscript",
        "--system",
        system,
        "--nodes",
        "2",
        "--ntasks-per-node",
        "16",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "./my_binary", "--input", "data file.h5"]);
    rankflow(&args)
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is not UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A file under the temp directory that is removed when dropped.
struct TempScript(PathBuf);

impl TempScript {
    fn new(contents: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let name = format!(
            "rankflow-jobscript-test-{}-{}-{nanos}.sh",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, contents).expect("could not write temp script");
        TempScript(path)
    }
}

impl Drop for TempScript {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn assert_bash_parses(path: &Path) {
    let out = Command::new("bash")
        .arg("-n")
        .arg(path)
        .output()
        .expect("could not run bash");
    assert!(
        out.status.success(),
        "bash -n rejected {}:\n{}",
        path.display(),
        stderr(&out)
    );
}

fn check_system(system: &str, extra: &[&str], expected: &[&str]) {
    let out = jobscript(system, extra);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let script = stdout(&out);
    assert!(script.starts_with("#!/usr/bin/env bash\n"), "{script}");
    for line in expected {
        assert!(
            script.lines().any(|l| l == *line),
            "missing {line:?} in\n{script}"
        );
    }
    for line in [
        "set -euo pipefail",
        "export RANKFLOW_THREADS=1",
        "export OMP_NUM_THREADS=1",
    ] {
        assert!(
            script.lines().any(|l| l == line),
            "missing {line:?} in\n{script}"
        );
    }
    let temp = TempScript::new(&script);
    assert_bash_parses(&temp.0);
}

#[test]
fn slurm_script() {
    check_system(
        "slurm",
        &["--mem", "4G", "--queue", "batch", "--account", "proj1"],
        &[
            "#SBATCH --job-name=rankflow",
            "#SBATCH --nodes=2",
            "#SBATCH --ntasks-per-node=16",
            "#SBATCH --cpus-per-task=1",
            "#SBATCH --time=01:00:00",
            "#SBATCH --mem=4G",
            "#SBATCH --partition=batch",
            "#SBATCH --account=proj1",
            "srun ./my_binary --input 'data file.h5'",
        ],
    );
}

#[test]
fn pbs_script() {
    check_system(
        "pbs",
        &[
            "--time",
            "12:30:00",
            "--queue",
            "workq",
            "--job-name",
            "sim-1",
        ],
        &[
            "#PBS -N sim-1",
            "#PBS -l nodes=2:ppn=16",
            "#PBS -l walltime=12:30:00",
            "#PBS -q workq",
            "mpirun -n 32 ./my_binary --input 'data file.h5'",
        ],
    );
}

#[test]
fn torque_is_pbs() {
    let out = jobscript("Torque", &[]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(stdout(&out).contains("#PBS -l nodes=2:ppn=16\n"));
}

#[test]
fn sge_script() {
    check_system(
        "sge",
        &["--queue", "all.q"],
        &[
            "#$ -N rankflow",
            "#$ -cwd",
            "#$ -pe mpi 32",
            "#$ -l h_rt=01:00:00",
            "#$ -q all.q",
            "mpirun -n 32 ./my_binary --input 'data file.h5'",
        ],
    );
}

#[test]
fn lsf_script() {
    check_system(
        "LSF",
        &["--time", "02:00:30", "--queue", "normal", "--account", "p7"],
        &[
            "#BSUB -J rankflow",
            "#BSUB -n 32",
            "#BSUB -R \"span[ptile=16]\"",
            "#BSUB -W 02:01",
            "#BSUB -q normal",
            "#BSUB -P p7",
            "mpirun -n 32 ./my_binary --input 'data file.h5'",
        ],
    );
}

#[test]
fn cpus_per_task_sets_threads() {
    let out = jobscript("slurm", &["--cpus-per-task", "8"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let script = stdout(&out);
    assert!(script.contains("#SBATCH --cpus-per-task=8\n"));
    assert!(script.contains("export RANKFLOW_THREADS=8\n"));
    assert!(script.contains("export OMP_NUM_THREADS=8\n"));
}

#[test]
fn bad_system_is_rejected() {
    let out = jobscript("condor", &[]);
    assert!(!out.status.success());
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(err.contains("condor"), "{err}");
    assert!(err.contains("slurm"), "{err}");
}

#[test]
fn too_few_ranks_is_rejected() {
    let out = rankflow(&[
        "jobscript",
        "--system",
        "slurm",
        "--nodes",
        "1",
        "--ntasks-per-node",
        "2",
        "--",
        "./my_binary",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(err.contains("at least 3"), "{err}");
    assert!(err.contains("scheduler"), "{err}");
}

#[test]
fn bad_fields_exit_with_status_2() {
    for extra in [
        &["--time", "1:00"][..],
        &["--mem", "lots"][..],
        &["--job-name", "two words"][..],
        &["--queue", "q\n#SBATCH --exclusive"][..],
    ] {
        let out = jobscript("slurm", extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty());
        assert!(stderr(&out).contains("invalid argument"), "{extra:?}");
    }
}

#[test]
fn command_is_required() {
    let out = rankflow(&["jobscript", "--system", "slurm"]);
    assert_eq!(out.status.code(), Some(2));
    let out = rankflow(&["jobscript", "--system", "slurm", "--"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn version_flag() {
    let out = rankflow(&["--version"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn templates_parse_and_use_their_directives() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("jobscripts");
    for (file, prefix) in [
        ("slurm.sh", "#SBATCH "),
        ("pbs.sh", "#PBS "),
        ("sge.sh", "#$ "),
        ("lsf.sh", "#BSUB "),
    ] {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        assert!(text.starts_with("#!/usr/bin/env bash\n"), "{file}");
        assert!(
            text.lines().any(|l| l.starts_with(prefix)),
            "{file} has no {prefix:?} directive"
        );
        for needle in [
            "./target/release/examples/hello",
            "export RANKFLOW_THREADS=",
            "export RANKFLOW_LOG=info",
            "# module load openmpi",
            "set -euo pipefail",
        ] {
            assert!(text.contains(needle), "{file} lacks {needle:?}");
        }
        if file != "slurm.sh" {
            assert!(
                text.contains("bash jobscripts/check-hosts.sh --skip-self"),
                "{file} does not check its hosts"
            );
        }
        assert_bash_parses(&path);
    }
}

/// A scratch directory under the temp directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let path = TempScript::new("").0.with_extension(tag);
        std::fs::create_dir_all(&path).expect("could not make temp dir");
        TempDir(path)
    }

    fn write(&self, name: &str, contents: &str, executable: bool) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("could not write temp file");
        if executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .expect("could not chmod");
        }
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a generated script for `system` in a directory with a fake `mpirun`
/// (which leaves a marker file) and a fake launch agent that fails for
/// `node-b`; `hosts` sets the batch system's host list through `env`.
/// Returns the output and whether mpirun ran.
fn run_with_fake_hosts(
    system: &str,
    env: &[(&str, &str)],
    files: &[(&str, &str)],
) -> (Output, bool) {
    let dir = TempDir::new(system);
    let script = stdout(&rankflow(&[
        "jobscript",
        "--system",
        system,
        "--nodes",
        "2",
        "--ntasks-per-node",
        "2",
        "--",
        "./my_binary",
    ]));
    let script = dir.write("job.sh", &script, false);
    dir.write(
        "mpirun",
        "#!/bin/sh\ntouch \"$(dirname \"$0\")/mpirun-ran\"\n",
        true,
    );
    let agent = dir.write(
        "agent",
        "#!/bin/sh\n[ \"$1\" = node-b ] && { echo \"ssh: connect to host node-b: No route to host\" >&2; exit 255; }\nexit 0\n",
        true,
    );
    for (name, contents) in files {
        dir.write(name, contents, false);
    }
    let path = format!(
        "{}:{}",
        dir.0.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.arg(&script)
        .current_dir(&dir.0)
        .env("PATH", path)
        .env("OMPI_MCA_plm_rsh_agent", &agent)
        .env("PBS_O_WORKDIR", &dir.0)
        .env("RANKFLOW_CHECK_HOSTS_TIMEOUT", "20");
    for var in [
        "PBS_NODEFILE",
        "PE_HOSTFILE",
        "LSB_DJOB_HOSTFILE",
        "LSB_HOSTS",
        "RANKFLOW_CHECK_HOSTS",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        let v = v.replace("$DIR", &dir.0.display().to_string());
        cmd.env(k, v);
    }
    let out = cmd.output().expect("could not run bash");
    let ran = dir.0.join("mpirun-ran").exists();
    (out, ran)
}

#[test]
fn generated_scripts_check_their_hosts_before_mpirun() {
    for system in ["pbs", "sge", "lsf"] {
        let script = stdout(&jobscript(system, &[]));
        let check = script.find("check-hosts.sh --skip-self").expect(system);
        let launch = script.find("\nmpirun -n 32").expect(system);
        assert!(
            check < launch,
            "{system}: the check comes after mpirun\n{script}"
        );
        // Embedded, not called from the repository.
        assert!(script.contains("RANKFLOW_CHECK_HOSTS_SCRIPT <<'RANKFLOW_CHECK_HOSTS_END'"));
        assert!(!script.contains(env!("CARGO_MANIFEST_DIR")), "{system}");
    }
    let slurm = stdout(&jobscript("slurm", &[]));
    assert!(!slurm.contains("check-hosts"), "{slurm}");
}

#[test]
fn an_unreachable_host_stops_the_job_and_is_named() {
    let cases: [(&str, &str, &str, &str); 4] = [
        (
            "pbs",
            "PBS_NODEFILE",
            "nodes",
            "node-a\nnode-a\nnode-b\nnode-b\n",
        ),
        (
            "sge",
            "PE_HOSTFILE",
            "pe_hostfile",
            "node-a 2 all.q@node-a UNDEFINED\nnode-b 2 all.q@node-b UNDEFINED\n",
        ),
        (
            "lsf",
            "LSB_DJOB_HOSTFILE",
            "djob",
            "node-a\nnode-a\nnode-b\nnode-b\n",
        ),
        ("lsf", "LSB_HOSTS", "", "node-a node-a node-b node-b"),
    ];
    for (system, var, file, hosts) in cases {
        let (value, files) = if file.is_empty() {
            (hosts.to_string(), vec![])
        } else {
            (format!("$DIR/{file}"), vec![(file, hosts)])
        };
        let (out, ran) = run_with_fake_hosts(system, &[(var, &value)], &files);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{system} {var}: {err}");
        assert!(!ran, "{system} {var}: mpirun ran although node-b is down");
        assert!(err.contains("host node-b does not answer (exit 255: ssh: connect to host node-b: No route to host)"), "{system} {var}: {err}");
        assert!(
            !err.contains("host node-a does not"),
            "{system} {var}: {err}"
        );
        assert!(err.contains("not starting mpirun"), "{system} {var}: {err}");

        // With every host answering, the job goes on to mpirun.
        let good = hosts.replace("node-b", "node-c");
        let files: Vec<(&str, &str)> = files.iter().map(|(f, _)| (*f, good.as_str())).collect();
        let value = if file.is_empty() { good.clone() } else { value };
        let (out, ran) = run_with_fake_hosts(system, &[(var, &value)], &files);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{system} {var}: {}",
            stderr(&out)
        );
        assert!(ran, "{system} {var}: mpirun did not run");
        assert!(stdout(&out).contains("2 hosts answer"), "{system} {var}");
    }
}

#[test]
fn the_host_check_can_be_skipped_and_notes_a_missing_host_list() {
    let (out, ran) = run_with_fake_hosts("pbs", &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(ran);
    assert!(stderr(&out).contains("PBS_NODEFILE is not set; hosts not checked"));
    let (out, ran) = run_with_fake_hosts(
        "pbs",
        &[
            ("PBS_NODEFILE", "$DIR/nodes"),
            ("RANKFLOW_CHECK_HOSTS", "0"),
        ],
        &[("nodes", "node-b\n")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(ran && !stderr(&out).contains("node-b"));
}

#[test]
fn only_this_host_is_not_checked() {
    let me = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    let nodes = format!("{me}\n{me}\nlocalhost\n");
    let (out, ran) = run_with_fake_hosts(
        "pbs",
        &[
            ("PBS_NODEFILE", "$DIR/nodes"),
            ("OMPI_MCA_plm_rsh_agent", "false"),
        ],
        &[("nodes", &nodes)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(ran);
    assert!(stdout(&out).contains("nothing to check"));
}

#[test]
fn a_host_that_never_answers_ends_the_job_within_the_time_limit() {
    let dir = TempDir::new("hang");
    let agent = dir.write(
        "agent",
        "#!/bin/sh\n[ \"$1\" = node-b ] && exec sleep 60\nexit 0\n",
        true,
    );
    let agent = agent.display().to_string();
    let start = std::time::Instant::now();
    let (out, ran) = run_with_fake_hosts(
        "sge",
        &[
            ("PE_HOSTFILE", "$DIR/pe"),
            ("OMPI_MCA_plm_rsh_agent", &agent),
            ("RANKFLOW_CHECK_HOSTS_TIMEOUT", "1"),
        ],
        &[(
            "pe",
            "node-a 2 q@node-a UNDEFINED\nnode-b 2 q@node-b UNDEFINED\n",
        )],
    );
    let took = start.elapsed();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!ran);
    assert!(
        err.contains("host node-b does not answer (no answer within 1 s)"),
        "{err}"
    );
    // timeout -k 2 1: the hung agent is gone well before its 60 s sleep ends.
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
}
