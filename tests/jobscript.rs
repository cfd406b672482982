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
        assert_bash_parses(&path);
    }
}
