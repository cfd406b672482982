//! Unit tests of job-script rendering.

use super::lsf::LSF_UNITS;
use super::pbs::PBS_UNITS;
use super::sge::SGE_UNITS;
use super::slurm::SLURM_UNITS;
use super::*;
use crate::ErrorKind;

fn spec(system: System) -> JobSpec {
    let mut s = JobSpec::new(system, vec!["./hello".to_string(), "--n".to_string()]);
    s.nodes = 2;
    s.ntasks_per_node = 16;
    s
}

fn err(spec: &JobSpec) -> Error {
    let e = render(spec).expect_err("render should have failed");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    e
}

#[test]
fn system_parses_case_insensitively() {
    assert_eq!("SLURM".parse::<System>().unwrap(), System::Slurm);
    assert_eq!("Pbs".parse::<System>().unwrap(), System::Pbs);
    assert_eq!("torque".parse::<System>().unwrap(), System::Pbs);
    assert_eq!("sge".parse::<System>().unwrap(), System::Sge);
    assert_eq!("LSF".parse::<System>().unwrap(), System::Lsf);
    for s in System::ALL {
        assert_eq!(s.to_string().parse::<System>().unwrap(), s);
    }
}

#[test]
fn bad_system_names_value_and_choices() {
    let e = "condor".parse::<System>().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    for word in ["condor", "slurm", "pbs", "torque", "sge", "lsf"] {
        assert!(e.message().contains(word), "{e}");
    }
}

#[test]
fn defaults() {
    let s = JobSpec::new(System::Slurm, vec!["x".into()]);
    assert_eq!((s.nodes, s.ntasks_per_node, s.cpus_per_task), (1, 3, 1));
    assert_eq!(s.time, "01:00:00");
    assert_eq!(s.job_name, "rankflow");
    assert_eq!(s.total_ranks(), 3);
    assert!(render(&s).is_ok());
}

#[test]
fn slurm_directives() {
    let mut s = spec(System::Slurm);
    s.cpus_per_task = 4;
    s.memory = Some("4G".into());
    s.queue = Some("batch".into());
    s.account = Some("proj1".into());
    s.time = "2:05:00".into();
    let out = render(&s).unwrap();
    assert!(out.starts_with("#!/usr/bin/env bash\n"));
    for line in [
        "#SBATCH --job-name=rankflow",
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=16",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --time=02:05:00",
        "#SBATCH --mem=4G",
        "#SBATCH --partition=batch",
        "#SBATCH --account=proj1",
        "set -euo pipefail",
        "export RANKFLOW_THREADS=4",
        "export OMP_NUM_THREADS=4",
        "export SRUN_CPUS_PER_TASK=4",
        "srun ./hello --n",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
    assert!(!out.contains("mpirun"));
    assert!(!out.contains("pmix"));
}

#[test]
fn directives_come_before_first_command() {
    for system in System::ALL {
        let out = render(&spec(system)).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        let last_directive = lines
            .iter()
            .rposition(|l| l.starts_with(system.directive_prefix()))
            .unwrap();
        let first_command = lines
            .iter()
            .position(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap();
        assert!(last_directive < first_command, "{out}");
    }
}

#[test]
fn pbs_directives() {
    let mut s = spec(System::Pbs);
    s.memory = Some("4G".into());
    s.queue = Some("workq".into());
    s.account = Some("acct".into());
    let out = render(&s).unwrap();
    for line in [
        "#PBS -N rankflow",
        "#PBS -l nodes=2:ppn=16",
        "#PBS -l walltime=01:00:00",
        "#PBS -l mem=8gb",
        "#PBS -q workq",
        "#PBS -A acct",
        "cd \"${PBS_O_WORKDIR:-.}\"",
        "export RANKFLOW_THREADS=1",
        "mpirun -n 32 ./hello --n",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
}

#[test]
fn sge_directives() {
    let mut s = spec(System::Sge);
    s.memory = Some("4G".into());
    s.queue = Some("all.q".into());
    let out = render(&s).unwrap();
    for line in [
        "#$ -N rankflow",
        "#$ -S /bin/bash",
        "#$ -cwd",
        "#$ -pe mpi 32",
        "#$ -l h_rt=01:00:00",
        "#$ -l h_vmem=256M",
        "#$ -q all.q",
        "mpirun -n 32 ./hello --n",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
}

#[test]
fn lsf_directives() {
    let mut s = spec(System::Lsf);
    s.time = "10:30:01".into();
    s.memory = Some("1536m".into());
    s.queue = Some("normal".into());
    s.account = Some("proj".into());
    let out = render(&s).unwrap();
    for line in [
        "#BSUB -J rankflow",
        "#BSUB -n 32",
        "#BSUB -R \"span[ptile=16]\"",
        "#BSUB -W 10:31",
        "#BSUB -R \"rusage[mem=1536MB]\"",
        "#BSUB -q normal",
        "#BSUB -P proj",
        "#BSUB -o rankflow.%J.out",
        "mpirun -n 32 ./hello --n",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
}

#[test]
fn thread_note_only_where_cores_are_not_reserved() {
    let mut s = spec(System::Lsf);
    s.cpus_per_task = 2;
    assert!(render(&s).unwrap().contains("reserve 2 cores per rank"));
    s.system = System::Slurm;
    assert!(!render(&s).unwrap().contains("reserve 2 cores per rank"));
    s.system = System::Sge;
    s.cpus_per_task = 1;
    assert!(!render(&s).unwrap().contains("cores per rank"));
}

#[test]
fn too_few_ranks() {
    for (nodes, per_node) in [(1, 2), (1, 1), (2, 1)] {
        let mut s = spec(System::Slurm);
        s.nodes = nodes;
        s.ntasks_per_node = per_node;
        let e = err(&s);
        assert!(e.message().contains("at least 3"), "{e}");
        assert!(e.message().contains("scheduler"), "{e}");
    }
    let mut s = spec(System::Slurm);
    s.nodes = 3;
    s.ntasks_per_node = 1;
    assert!(render(&s).is_ok());
}

#[test]
fn zero_counts() {
    for field in 0..3 {
        let mut s = spec(System::Pbs);
        match field {
            0 => s.nodes = 0,
            1 => s.ntasks_per_node = 0,
            _ => s.cpus_per_task = 0,
        }
        assert!(err(&s).message().contains("at least 1"));
    }
}

#[test]
fn time_format() {
    for good in ["01:00:00", "0:00:01", "100:59:59"] {
        let mut s = spec(System::Sge);
        s.time = good.into();
        assert!(render(&s).is_ok(), "{good}");
    }
    for bad in [
        "1:00",
        "01:60:00",
        "01:00:60",
        "1:0:00",
        "aa:00:00",
        ":00:00",
        "00:00:00",
        "1h",
        "01:00:00:00",
        "-1:00:00",
        "01:00:00\n",
        "99999999999999999999:00:00",
    ] {
        let mut s = spec(System::Sge);
        s.time = bad.into();
        assert!(err(&s).message().contains("time"), "{bad}");
    }
}

#[test]
fn lsf_walltime_rounds_up_to_minutes() {
    let mut s = spec(System::Lsf);
    s.time = "00:00:01".into();
    assert!(render(&s).unwrap().contains("#BSUB -W 00:01\n"));
    s.time = "123:45:00".into();
    assert!(render(&s).unwrap().contains("#BSUB -W 123:45\n"));
}

#[test]
fn memory_format() {
    assert_eq!(parse_memory("4G").unwrap(), 4 << 20);
    assert_eq!(parse_memory("4gb").unwrap(), 4 << 20);
    assert_eq!(parse_memory("512").unwrap(), 512 << 10);
    assert_eq!(parse_memory("100K").unwrap(), 100);
    assert_eq!(parse_memory("1T").unwrap(), 1 << 30);
    // One size parser: a job script's memory and RANKFLOW_MEMORY_LIMIT agree.
    for m in ["512MB", "4G", "3kib"] {
        let bytes = crate::config::parse_bytes("RANKFLOW_MEMORY_LIMIT", m).unwrap();
        assert_eq!(parse_memory(m).unwrap() * 1024, bytes, "{m}");
    }
    for bad in [
        "",
        "G",
        "4 G",
        "4X",
        "-4G",
        "4.5G",
        "0G",
        "4G\n",
        "99999999999999999999T",
    ] {
        let mut s = spec(System::Slurm);
        s.memory = Some(bad.into());
        assert!(err(&s).message().contains("memory"), "{bad}");
    }
    assert_eq!(memory_units(4 << 20, &SLURM_UNITS), "4G");
    assert_eq!(memory_units(1536 << 10, &PBS_UNITS), "1536mb");
    assert_eq!(memory_units(3, &LSF_UNITS), "3KB");
    assert_eq!(memory_units(4 << 30, &SGE_UNITS), "4096G");
}

#[test]
fn sge_memory_per_slot_rounds_down_to_megabytes() {
    let mut s = spec(System::Sge);
    s.ntasks_per_node = 3;
    s.memory = Some("4G".into());
    assert!(render(&s).unwrap().contains("#$ -l h_vmem=1365M\n"));
    s.memory = Some("3K".into());
    assert!(render(&s).unwrap().contains("#$ -l h_vmem=1K\n"));
}

#[test]
fn sge_memory_too_small_per_slot() {
    let mut s = spec(System::Sge);
    s.memory = Some("8K".into());
    assert!(err(&s).message().contains("per rank"));
}

#[test]
fn empty_command() {
    let mut s = spec(System::Lsf);
    s.command.clear();
    assert!(err(&s).message().contains("command"));
    s.command = vec![String::new()];
    assert!(err(&s).message().contains("program"));
}

#[test]
fn job_name_checks() {
    for bad in ["", "a b", "a\tb", "a\nb", "x;y", "a'b", "a/b", "\u{e9}"] {
        let mut s = spec(System::Slurm);
        s.job_name = bad.into();
        assert!(err(&s).message().contains("job name"), "{bad:?}");
    }
    let mut s = spec(System::Slurm);
    s.job_name = "my-job_2.v1+x".into();
    assert!(render(&s).unwrap().contains("--job-name=my-job_2.v1+x\n"));
}

#[test]
fn newlines_are_rejected_everywhere() {
    let inject = "x\n#SBATCH --exclusive";
    let mut cases: Vec<JobSpec> = Vec::new();
    for field in 0..5 {
        let mut s = spec(System::Slurm);
        match field {
            0 => s.job_name = inject.into(),
            1 => s.queue = Some(inject.into()),
            2 => s.account = Some(inject.into()),
            3 => s.memory = Some(inject.into()),
            _ => s.command.push(inject.into()),
        }
        cases.push(s);
    }
    let mut s = spec(System::Slurm);
    s.time = "01:00:00\r".into();
    cases.push(s);
    for s in cases {
        assert!(err(&s).message().contains("line break"), "{s:?}");
    }
}

#[test]
fn directive_values_cannot_smuggle_options() {
    for bad in ["a b", "a\"b", "a'b", "a#b", "", "a;b", "a$b"] {
        let mut s = spec(System::Lsf);
        s.queue = Some(bad.into());
        assert!(err(&s).message().contains("queue"), "{bad:?}");
        let mut s = spec(System::Lsf);
        s.account = Some(bad.into());
        assert!(err(&s).message().contains("account"), "{bad:?}");
    }
    let mut s = spec(System::Pbs);
    s.queue = Some("gpu@server1".into());
    assert!(render(&s).unwrap().contains("#PBS -q gpu@server1\n"));
}

#[test]
fn quoting() {
    assert_eq!(
        shell_quote("./a_b-c.d/e=f:g,h+i@j%k"),
        "./a_b-c.d/e=f:g,h+i@j%k"
    );
    assert_eq!(shell_quote(""), "''");
    assert_eq!(shell_quote("a b"), "'a b'");
    assert_eq!(shell_quote("$HOME"), "'$HOME'");
    assert_eq!(shell_quote("a;b"), "'a;b'");
    assert_eq!(shell_quote("~"), "'~'");
    assert_eq!(shell_quote("*"), "'*'");
    assert_eq!(shell_quote("<x>"), "'<x>'");
    assert_eq!(shell_quote("it's"), r"'it'\''s'");
    let mut s = spec(System::Pbs);
    s.command = vec!["./prog".into(), "two words".into(), "$(rm -rf /)".into()];
    let out = render(&s).unwrap();
    assert!(
        out.ends_with("mpirun -n 32 ./prog 'two words' '$(rm -rf /)'\n"),
        "{out}"
    );
}

#[cfg(unix)]
#[test]
fn quoting_round_trips_through_bash() {
    let words = [
        "plain",
        "",
        "two words",
        "it's",
        "'''",
        "$HOME `id` $(id) \\ \" ! * ? ~ # ; & | < > ( ) { } [ ]",
        "tab\there",
        "\u{e9}\u{1F600}",
    ];
    let quoted: Vec<String> = words.iter().map(|w| shell_quote(w)).collect();
    let script = format!("printf '%s\\0' {}", quoted.join(" "));
    let out = match std::process::Command::new("bash")
        .args(["-c", &script])
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => panic!("could not run bash: {e}"),
    };
    assert!(out.status.success());
    let got: Vec<&[u8]> = out.stdout.split(|&b| b == 0).collect();
    let want: Vec<&[u8]> = words
        .iter()
        .map(|w| w.as_bytes())
        .chain(std::iter::once(&b""[..]))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn a_script_on_a_node_without_its_launcher_says_so_and_fails() {
    let dir = std::env::temp_dir().join(format!("rankflow-jobscript-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for system in [System::Slurm, System::Pbs] {
        let path = dir.join(format!("{system}.sh"));
        std::fs::write(&path, render(&spec(system)).unwrap()).unwrap();
        // An empty PATH: neither srun nor mpirun (nor hostname) is found.
        let out = std::process::Command::new("/bin/bash")
            .arg(&path)
            .env_clear()
            .env("PATH", &dir)
            .current_dir(&dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let launcher = if system == System::Slurm {
            "srun"
        } else {
            "mpirun"
        };
        assert_eq!(out.status.code(), Some(127), "{system}: {stderr}");
        assert!(
            stderr.contains(&format!("rankflow job: {launcher} is not on PATH")),
            "{system}: {stderr}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_embedded_host_check_cannot_end_its_here_document_early() {
    assert!(super::hostcheck::CHECK_HOSTS
        .lines()
        .all(|l| l != super::hostcheck::END));
    let out = render(&spec(System::Pbs)).unwrap();
    assert_eq!(
        out.lines().filter(|l| *l == super::hostcheck::END).count(),
        1,
        "{out}"
    );
}
