//! Batch job scripts for Slurm, PBS/Torque, SGE and LSF that launch a rankflow program under MPI.
//!
//! [`render`] turns a [`JobSpec`] into a complete bash script, in the manner of
//! dask-jobqueue's `job_script()`: a shebang, the batch system's directives,
//! `set -euo pipefail`, the thread-count exports, then one launch line that
//! starts `nodes × ntasks_per_node` MPI ranks. Rank 0 becomes the scheduler,
//! rank 1 the client and every further rank a worker, so a job needs at least
//! three ranks.
//!
//! ```
//! use rankflow::jobscript::{render, JobSpec, System};
//!
//! let mut spec = JobSpec::new(System::Slurm, vec!["./my_program".into(), "--n".into(), "10".into()]);
//! spec.nodes = 2;
//! spec.ntasks_per_node = 16;
//! let script = render(&spec).unwrap();
//! assert!(script.contains("#SBATCH --nodes=2"));
//! assert!(script.contains("srun ./my_program --n 10"));
//! ```
//!
//! What each system is asked for:
//!
//! | setting | Slurm | PBS/Torque | SGE | LSF |
//! |---|---|---|---|---|
//! | job name | `--job-name` | `-N` | `-N` | `-J` |
//! | ranks | `--nodes`, `--ntasks-per-node` | `-l nodes=N:ppn=M` | `-pe mpi TOTAL` | `-n TOTAL`, `-R "span[ptile=M]"` |
//! | cores per rank | `--cpus-per-task` | — | — | — |
//! | wall time | `--time=HH:MM:SS` | `-l walltime=HH:MM:SS` | `-l h_rt=HH:MM:SS` | `-W HH:MM` (rounded up) |
//! | memory | `--mem` (per node) | `-l mem` (whole job) | `-l h_vmem` (per slot, whole MiB) | `-R "rusage[mem=..]"` (per host) |
//! | queue | `--partition` | `-q` | `-q` | `-q` |
//! | account | `--account` | `-A` | `-A` | `-P` |
//! | launcher | `srun` | `mpirun -n TOTAL` | `mpirun -n TOTAL` | `mpirun -n TOTAL` |
//!
//! On PBS, SGE and LSF one slot is one rank: `cpus_per_task` sets
//! `RANKFLOW_THREADS` and `OMP_NUM_THREADS` but reserves no extra cores, as
//! there is no portable directive for it. The generated script says so in a
//! comment when `cpus_per_task` is above 1. The SGE parallel environment is
//! assumed to be called `mpi`; many sites name it differently.

use std::fmt;
use std::str::FromStr;

use crate::{Error, ErrorKind, Result};

/// The fewest MPI ranks a rankflow job can run with: rank 0 is the scheduler,
/// rank 1 the client, and at least one more rank is a worker.
pub const MIN_RANKS: u64 = 3;

/// A batch system that [`render`] can write a job script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum System {
    /// Slurm (`sbatch`); the script launches the ranks with plain `srun`.
    Slurm,
    /// PBS in the Torque style (`qsub`, `-l nodes=N:ppn=M`); also parsed from `torque`.
    Pbs,
    /// (Son of) Grid Engine (`qsub` with `#$` directives and an `mpi` parallel environment).
    Sge,
    /// IBM Spectrum LSF (`bsub < script`).
    Lsf,
}

impl System {
    /// Every system, in the order they are listed in messages.
    pub const ALL: [System; 4] = [System::Slurm, System::Pbs, System::Sge, System::Lsf];

    /// The lower-case name, as accepted by [`FromStr`] and shown by [`Display`](fmt::Display).
    pub fn name(self) -> &'static str {
        match self {
            System::Slurm => "slurm",
            System::Pbs => "pbs",
            System::Sge => "sge",
            System::Lsf => "lsf",
        }
    }

    /// The prefix that starts this system's directive lines (`#SBATCH`, `#PBS`, `#$`, `#BSUB`).
    pub fn directive_prefix(self) -> &'static str {
        match self {
            System::Slurm => "#SBATCH",
            System::Pbs => "#PBS",
            System::Sge => "#$",
            System::Lsf => "#BSUB",
        }
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for System {
    type Err = Error;

    /// Parses `slurm`, `pbs`, `torque` (same as `pbs`), `sge` or `lsf`, ignoring case.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "slurm" => Ok(System::Slurm),
            "pbs" | "torque" => Ok(System::Pbs),
            "sge" => Ok(System::Sge),
            "lsf" => Ok(System::Lsf),
            _ => Err(invalid(format!(
                "unknown batch system {s:?}; expected one of: slurm, pbs, torque, sge, lsf"
            ))),
        }
    }
}

/// Everything [`render`] needs to write a job script.
///
/// Build one with [`JobSpec::new`] and change the public fields; [`render`]
/// checks them all (see [`JobSpec::validate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    /// The batch system the script is for.
    pub system: System,
    /// The job's name: letters, digits, `_`, `.`, `-` and `+` only. Default `rankflow`.
    pub job_name: String,
    /// Nodes to ask for. Default 1.
    pub nodes: u32,
    /// MPI ranks on each node. Default 3, the fewest a rankflow job runs with.
    pub ntasks_per_node: u32,
    /// Cores per rank; exported as `RANKFLOW_THREADS` and `OMP_NUM_THREADS`.
    /// Only Slurm also reserves them (`--cpus-per-task`). Default 1.
    pub cpus_per_task: u32,
    /// Wall-clock limit as `H+:MM:SS`, e.g. `01:00:00` or `100:00:00`. Default `01:00:00`.
    pub time: String,
    /// Memory per node: a whole number with an optional unit `K`, `M`, `G` or `T`
    /// (powers of 1024, an optional trailing `B`, any case), e.g. `4G` or `512MB`;
    /// no unit means megabytes, as in Slurm. `None` asks for none.
    pub memory: Option<String>,
    /// Queue (Slurm partition) to submit to; `None` leaves it to the site default.
    pub queue: Option<String>,
    /// Account or project to charge; `None` leaves it to the site default.
    pub account: Option<String>,
    /// The program and its arguments, run once per rank. Each word is
    /// shell-quoted in the script, so it may hold spaces or quotes.
    pub command: Vec<String>,
}

impl JobSpec {
    /// A spec for `system` that runs `command` on 1 node with 3 ranks of 1 core
    /// each for one hour, under the job name `rankflow`.
    pub fn new(system: System, command: Vec<String>) -> Self {
        JobSpec {
            system,
            job_name: "rankflow".to_string(),
            nodes: 1,
            ntasks_per_node: 3,
            cpus_per_task: 1,
            time: "01:00:00".to_string(),
            memory: None,
            queue: None,
            account: None,
            command,
        }
    }

    /// The number of MPI ranks the job starts: `nodes × ntasks_per_node`.
    pub fn total_ranks(&self) -> u64 {
        u64::from(self.nodes) * u64::from(self.ntasks_per_node)
    }

    /// Checks every field; [`render`] fails exactly when this does.
    ///
    /// Fails with [`ErrorKind::InvalidArgument`] when a count is zero, there are
    /// fewer than [`MIN_RANKS`] ranks, the time is not `H+:MM:SS`, the memory
    /// cannot be read, the command is empty, the job name holds anything but
    /// letters, digits, `_`, `.`, `-` and `+`, the queue or account holds
    /// whitespace, quotes or other characters that could break a directive
    /// line, or any field holds a newline. It also fails when the memory
    /// cannot be written for the system: on PBS the per-node amount times the
    /// nodes overflows, on SGE it is under 1K per rank.
    pub fn validate(&self) -> Result<()> {
        render(self).map(|_| ())
    }

    fn check(&self) -> Result<Checked> {
        check_job_name(&self.job_name)?;
        for (what, n) in [
            ("nodes", self.nodes),
            ("ntasks-per-node", self.ntasks_per_node),
            ("cpus-per-task", self.cpus_per_task),
        ] {
            if n == 0 {
                return Err(invalid(format!("{what} must be at least 1, got 0")));
            }
        }
        let total = self.total_ranks();
        if total < MIN_RANKS {
            return Err(invalid(format!(
                "a rankflow job needs at least {MIN_RANKS} MPI ranks (rank 0 is the scheduler, \
                 rank 1 the client, and at least one worker), but nodes × ntasks-per-node = \
                 {} × {} = {total}",
                self.nodes, self.ntasks_per_node
            )));
        }
        let seconds = parse_time(&self.time)?;
        let memory_kib = match &self.memory {
            Some(m) => Some(parse_memory(m)?),
            None => None,
        };
        if let Some(q) = &self.queue {
            check_directive_value("queue", q)?;
        }
        if let Some(a) = &self.account {
            check_directive_value("account", a)?;
        }
        check_command(&self.command)?;
        Ok(Checked {
            total,
            seconds,
            memory_kib,
        })
    }
}

/// Values worked out while validating, used to write the directives.
struct Checked {
    total: u64,
    seconds: u64,
    memory_kib: Option<u64>,
}

/// Writes the complete bash job script for `spec`.
///
/// The script starts with `#!/usr/bin/env bash`, then a comment, the
/// directives of `spec.system`, `set -euo pipefail`, exports of
/// `RANKFLOW_THREADS` and `OMP_NUM_THREADS` (both `cpus_per_task`), and the
/// launch line: `srun <command>` on Slurm, `mpirun -n TOTAL <command>`
/// elsewhere. See the [module docs](self) for the directives of each system.
///
/// # Errors
///
/// [`ErrorKind::InvalidArgument`] for any field that [`JobSpec::validate`] rejects;
/// the message names the field and the bad value.
pub fn render(spec: &JobSpec) -> Result<String> {
    let checked = spec.check()?;
    let total = checked.total;
    let ppn = spec.ntasks_per_node;
    let name = &spec.job_name;
    let (h, m, s) = (
        checked.seconds / 3600,
        checked.seconds / 60 % 60,
        checked.seconds % 60,
    );
    let time = format!("{h:02}:{m:02}:{s:02}");

    let mut out = String::new();
    out.push_str("#!/usr/bin/env bash\n");
    out.push_str(&format!(
        "# rankflow job for {}: {total} MPI ranks, {} per node on {} node(s).\n",
        spec.system, ppn, spec.nodes
    ));
    out.push_str("# Rank 0 is the scheduler, rank 1 the client, every further rank a worker.\n");

    let mut d = Directives::new(spec.system.directive_prefix());
    match spec.system {
        System::Slurm => {
            d.line(format!("--job-name={name}"));
            d.line(format!("--nodes={}", spec.nodes));
            d.line(format!("--ntasks-per-node={ppn}"));
            d.line(format!("--cpus-per-task={}", spec.cpus_per_task));
            d.line(format!("--time={time}"));
            if let Some(kib) = checked.memory_kib {
                d.line(format!("--mem={}", memory_units(kib, &SLURM_UNITS)));
            }
            if let Some(q) = &spec.queue {
                d.line(format!("--partition={q}"));
            }
            if let Some(a) = &spec.account {
                d.line(format!("--account={a}"));
            }
        }
        System::Pbs => {
            d.line(format!("-N {name}"));
            d.line(format!("-l nodes={}:ppn={ppn}", spec.nodes));
            d.line(format!("-l walltime={time}"));
            if let Some(kib) = checked.memory_kib {
                let job_kib = kib.checked_mul(u64::from(spec.nodes)).ok_or_else(|| {
                    invalid(format!(
                        "memory {:?} per node times {} nodes is too large",
                        spec.memory.as_deref().unwrap_or_default(),
                        spec.nodes
                    ))
                })?;
                d.line(format!("-l mem={}", memory_units(job_kib, &PBS_UNITS)));
            }
            if let Some(q) = &spec.queue {
                d.line(format!("-q {q}"));
            }
            if let Some(a) = &spec.account {
                d.line(format!("-A {a}"));
            }
        }
        System::Sge => {
            d.line(format!("-N {name}"));
            d.line("-S /bin/bash".to_string());
            d.line("-cwd".to_string());
            d.line(format!("-pe mpi {total}"));
            d.line(format!("-l h_rt={time}"));
            if let Some(kib) = checked.memory_kib {
                let mut slot_kib = kib / u64::from(ppn);
                if slot_kib >= 1024 {
                    slot_kib -= slot_kib % 1024;
                }
                if slot_kib == 0 {
                    return Err(invalid(format!(
                        "memory {:?} per node is less than 1K per rank for {ppn} ranks per node",
                        spec.memory.as_deref().unwrap_or_default()
                    )));
                }
                d.line(format!("-l h_vmem={}", memory_units(slot_kib, &SGE_UNITS)));
            }
            if let Some(q) = &spec.queue {
                d.line(format!("-q {q}"));
            }
            if let Some(a) = &spec.account {
                d.line(format!("-A {a}"));
            }
        }
        System::Lsf => {
            let minutes = checked.seconds.div_ceil(60);
            d.line(format!("-J {name}"));
            d.line(format!("-n {total}"));
            d.line(format!("-R \"span[ptile={ppn}]\""));
            d.line(format!("-W {:02}:{:02}", minutes / 60, minutes % 60));
            if let Some(kib) = checked.memory_kib {
                d.line(format!(
                    "-R \"rusage[mem={}]\"",
                    memory_units(kib, &LSF_UNITS)
                ));
            }
            if let Some(q) = &spec.queue {
                d.line(format!("-q {q}"));
            }
            if let Some(a) = &spec.account {
                d.line(format!("-P {a}"));
            }
            d.line(format!("-o {name}.%J.out"));
            d.line(format!("-e {name}.%J.err"));
        }
    }
    out.push_str(&d.text);

    out.push_str("\nset -euo pipefail\n\n");
    if spec.system == System::Pbs {
        out.push_str("# PBS starts jobs in the home directory; run from where qsub was called.\n");
        out.push_str("cd \"${PBS_O_WORKDIR:-.}\"\n\n");
    }
    if spec.cpus_per_task > 1 && spec.system != System::Slurm {
        out.push_str(&format!(
            "# Each rank runs {} threads, but the directives above reserve one slot per rank;\n\
             # ask your site how to reserve {} cores per rank.\n",
            spec.cpus_per_task, spec.cpus_per_task
        ));
    }
    out.push_str(&format!(
        "export RANKFLOW_THREADS={c}\nexport OMP_NUM_THREADS={c}\n",
        c = spec.cpus_per_task
    ));
    if spec.system == System::Slurm {
        out.push_str(&format!(
            "# Slurm 22.05 and later do not pass --cpus-per-task from sbatch on to srun.\n\
             export SRUN_CPUS_PER_TASK={}\n",
            spec.cpus_per_task
        ));
    }
    out.push('\n');

    let words: Vec<String> = spec.command.iter().map(|w| shell_quote(w)).collect();
    let launch = match spec.system {
        System::Slurm => "srun".to_string(),
        System::Pbs | System::Sge | System::Lsf => format!("mpirun -n {total}"),
    };
    out.push_str(&format!("{launch} {}\n", words.join(" ")));
    Ok(out)
}

/// Quotes one word for bash.
///
/// A non-empty word made only of ASCII letters, digits and `_ . / = : , + - @ %`
/// is returned as it is; any other word is wrapped in single quotes, with each
/// `'` inside written as `'\''`. The empty word becomes `''`.
///
/// ```
/// use rankflow::jobscript::shell_quote;
/// assert_eq!(shell_quote("./hello"), "./hello");
/// assert_eq!(shell_quote("a b"), "'a b'");
/// assert_eq!(shell_quote("it's"), r"'it'\''s'");
/// ```
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./=:,+-@%".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Collects directive lines under one prefix.
struct Directives {
    prefix: &'static str,
    text: String,
}

impl Directives {
    fn new(prefix: &'static str) -> Self {
        Directives {
            prefix,
            text: String::new(),
        }
    }

    fn line(&mut self, body: String) {
        self.text.push_str(self.prefix);
        self.text.push(' ');
        self.text.push_str(&body);
        self.text.push('\n');
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

fn check_no_newline(what: &str, value: &str) -> Result<()> {
    if value.contains(['\n', '\r']) {
        return Err(invalid(format!(
            "{what} {value:?} contains a line break, which would end the directive line"
        )));
    }
    Ok(())
}

fn check_job_name(name: &str) -> Result<()> {
    check_no_newline("job name", name)?;
    if name.is_empty() {
        return Err(invalid("job name is empty"));
    }
    if name.contains(char::is_whitespace) {
        return Err(invalid(format!("job name {name:?} contains whitespace")));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || "_.-+".contains(c)))
    {
        return Err(invalid(format!(
            "job name {name:?} contains {c:?}; use only letters, digits, '_', '.', '-' and '+'"
        )));
    }
    Ok(())
}

fn check_directive_value(what: &str, value: &str) -> Result<()> {
    check_no_newline(what, value)?;
    if value.is_empty() {
        return Err(invalid(format!("{what} is empty")));
    }
    if value.contains(char::is_whitespace) {
        return Err(invalid(format!("{what} {value:?} contains whitespace")));
    }
    if let Some(c) = value
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || "_.-+@:,/=%".contains(c)))
    {
        return Err(invalid(format!(
            "{what} {value:?} contains {c:?}; use only letters, digits and '_.-+@:,/=%'"
        )));
    }
    Ok(())
}

fn check_command(command: &[String]) -> Result<()> {
    let Some(program) = command.first() else {
        return Err(invalid(
            "the command to run is empty; give a program and its arguments",
        ));
    };
    if program.is_empty() {
        return Err(invalid("the program name in the command is empty"));
    }
    for word in command {
        check_no_newline("command word", word)?;
        if word.contains('\0') {
            return Err(invalid(format!(
                "command word {word:?} contains a NUL byte"
            )));
        }
    }
    Ok(())
}

/// Parses `H+:MM:SS` into seconds; zero is rejected.
fn parse_time(time: &str) -> Result<u64> {
    check_no_newline("time", time)?;
    let bad = || {
        invalid(format!(
            "time {time:?} is not H:MM:SS (hours, then minutes and seconds as two digits below 60, e.g. 01:30:00)"
        ))
    };
    let parts: Vec<&str> = time.split(':').collect();
    let [h, m, s] = parts.as_slice() else {
        return Err(bad());
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || m.len() != 2 || s.len() != 2 || !digits(m) || !digits(s) {
        return Err(bad());
    }
    let hours: u64 = h
        .parse()
        .ok()
        .filter(|&h| h <= 1_000_000)
        .ok_or_else(|| invalid(format!("time {time:?} has too many hours")))?;
    let minutes: u64 = m.parse().map_err(|_| bad())?;
    let seconds: u64 = s.parse().map_err(|_| bad())?;
    if minutes >= 60 || seconds >= 60 {
        return Err(bad());
    }
    let total = hours * 3600 + minutes * 60 + seconds;
    if total == 0 {
        return Err(invalid(format!(
            "time {time:?} is zero; give a positive wall time"
        )));
    }
    Ok(total)
}

/// Parses memory such as `4G`, `512MB` or `2048` (megabytes) into KiB.
fn parse_memory(memory: &str) -> Result<u64> {
    check_no_newline("memory", memory)?;
    let bad = || {
        invalid(format!(
            "memory {memory:?} is not a whole number with an optional unit K, M, G or T (e.g. 4G, 512M)"
        ))
    };
    let digits_end = memory
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(memory.len());
    let (number, unit) = memory.split_at(digits_end);
    if number.is_empty() {
        return Err(bad());
    }
    let unit = unit.to_ascii_uppercase();
    let unit = unit.strip_suffix('B').unwrap_or(&unit);
    let shift = match unit {
        "K" => 0,
        "" | "M" => 10,
        "G" => 20,
        "T" => 30,
        _ => return Err(bad()),
    };
    let value: u64 = number.parse().map_err(|_| bad())?;
    let kib = value
        .checked_mul(1 << shift)
        .ok_or_else(|| invalid(format!("memory {memory:?} is too large")))?;
    if kib == 0 {
        return Err(invalid(format!("memory {memory:?} is zero")));
    }
    Ok(kib)
}

/// Unit suffixes from KiB upwards, each 1024 times the one before.
const SLURM_UNITS: [&str; 4] = ["K", "M", "G", "T"];
const PBS_UNITS: [&str; 4] = ["kb", "mb", "gb", "tb"];
const SGE_UNITS: [&str; 3] = ["K", "M", "G"];
const LSF_UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];

/// Writes `kib` in the largest unit of `units` that divides it exactly.
fn memory_units(kib: u64, units: &[&str]) -> String {
    let mut value = kib;
    let mut i = 0;
    while i + 1 < units.len() && value % 1024 == 0 {
        value /= 1024;
        i += 1;
    }
    format!("{value}{}", units[i])
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
