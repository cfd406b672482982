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

use crate::{Error, Result};
use checks::{
    check_command, check_directive_value, check_job_name, invalid, parse_memory, parse_time,
};

mod checks;
mod hostcheck;
mod lsf;
mod pbs;
mod sge;
mod slurm;
#[cfg(test)]
mod tests;

/// The fewest MPI ranks a rankflow job can run with (the crate's one
/// [`MIN_RANKS`](crate::MIN_RANKS)).
pub use crate::MIN_RANKS;

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
    /// Fails with [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) when a count is zero, there are
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
        if total < MIN_RANKS as u64 {
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
pub(super) struct Checked {
    total: u64,
    seconds: u64,
    memory_kib: Option<u64>,
}

/// Writes the complete bash job script for `spec`.
///
/// The script starts with `#!/usr/bin/env bash`, then a comment, the
/// directives of `spec.system`, `set -euo pipefail`, exports of
/// `RANKFLOW_THREADS` and `OMP_NUM_THREADS` (both `cpus_per_task`), a check
/// that the launcher is on `PATH`, on PBS, SGE and LSF a check that every
/// other host of the job answers (`jobscripts/check-hosts.sh`, embedded; the
/// job exits 1 naming the hosts that do not), and the launch line:
/// `srun <command>` on Slurm, `mpirun -n TOTAL <command>` elsewhere. See the [module docs](self) for the directives of each system.
///
/// # Errors
///
/// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) for any field that [`JobSpec::validate`] rejects;
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
    let c = Context {
        spec,
        checked: &checked,
        time: &time,
        name,
        total,
        ppn,
    };
    match spec.system {
        System::Slurm => slurm::directives(&c, &mut d),
        System::Pbs => pbs::directives(&c, &mut d)?,
        System::Sge => sge::directives(&c, &mut d)?,
        System::Lsf => lsf::directives(&c, &mut d),
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
    let (launcher, launch) = match spec.system {
        System::Slurm => ("srun", "srun".to_string()),
        System::Pbs | System::Sge | System::Lsf => ("mpirun", format!("mpirun -n {total}")),
    };
    out.push_str(&format!(
        "if ! command -v {launcher} >/dev/null 2>&1; then\n    \
         echo \"rankflow job: {launcher} is not on PATH on ${{HOSTNAME:-this node}} (not a {} node, \
         or the MPI module is not loaded)\" >&2\n    exit 127\nfi\n",
        spec.system
    ));
    if let Some(check) = hostcheck::block(spec.system) {
        out.push('\n');
        out.push_str(&check);
        out.push('\n');
    }
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
pub(super) struct Directives {
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

    pub(super) fn line(&mut self, body: String) {
        self.text.push_str(self.prefix);
        self.text.push(' ');
        self.text.push_str(&body);
        self.text.push('\n');
    }
}

/// What a system's directives are written from.
struct Context<'a> {
    spec: &'a JobSpec,
    checked: &'a Checked,
    /// The wall time as `HH:MM:SS`.
    time: &'a str,
    name: &'a str,
    total: u64,
    ppn: u32,
}

/// Writes `kib` with the largest of `units` (from KiB upwards, each 1024 times
/// the one before) that divides it exactly.
pub(super) fn memory_units(kib: u64, units: &[&str]) -> String {
    let mut value = kib;
    let mut i = 0;
    while i + 1 < units.len() && value % 1024 == 0 {
        value /= 1024;
        i += 1;
    }
    format!("{value}{}", units[i])
}
