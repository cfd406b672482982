//! `rankflow`: the command-line companion of the rankflow crate.
//!
//! * `rankflow jobscript --system slurm --nodes 2 --ntasks-per-node 16 -- ./my_program ARGS...`
//!   prints a batch job script (Slurm, PBS/Torque, SGE or LSF) that starts
//!   `./my_program` on every MPI rank. Rank 0 becomes the scheduler, rank 1 the
//!   client and the rest workers, so at least three ranks are needed.
//! * `rankflow info` prints the configuration rankflow resolves in this
//!   environment (builder defaults, `RANKFLOW_*` variables, batch system).
//!
//! Exit status: 0 on success, 2 for bad arguments (including a job spec that
//! cannot be written), 1 when `info` fails or stdout cannot be written.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use rankflow::jobscript::{render, JobSpec, System};

/// Job scripts and configuration for rankflow, an MPI task scheduler for HPC batch jobs.
///
/// Run your program with `mpirun -n N` (N >= 3): rank 0 is the scheduler,
/// rank 1 the client, and ranks 2 and up are workers.
#[derive(Debug, Parser)]
#[command(name = "rankflow", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a batch job script that runs COMMAND on every MPI rank.
    ///
    /// Example: rankflow jobscript --system slurm --nodes 2 --ntasks-per-node 16 -- ./my_program --input data.h5
    Jobscript(JobscriptArgs),
    /// Print the configuration rankflow resolves in this environment.
    Info,
}

#[derive(Debug, Args)]
struct JobscriptArgs {
    /// Batch system: slurm, pbs (or torque), sge or lsf.
    #[arg(long, value_name = "SYSTEM")]
    system: System,
    /// Nodes to ask for [default: 1].
    #[arg(long, value_name = "N")]
    nodes: Option<u32>,
    /// MPI ranks per node [default: 3]; nodes × this must be at least 3.
    #[arg(long, value_name = "N")]
    ntasks_per_node: Option<u32>,
    /// Cores per rank, exported as RANKFLOW_THREADS and OMP_NUM_THREADS [default: 1].
    #[arg(long, value_name = "N")]
    cpus_per_task: Option<u32>,
    /// Wall-clock limit as H:MM:SS [default: 01:00:00].
    #[arg(long, value_name = "H:MM:SS")]
    time: Option<String>,
    /// Memory per node, e.g. 4G or 512M.
    #[arg(long, value_name = "SIZE")]
    mem: Option<String>,
    /// Queue (Slurm partition) to submit to.
    #[arg(long, value_name = "NAME")]
    queue: Option<String>,
    /// Account (LSF project) to charge.
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
    /// Job name [default: rankflow].
    #[arg(long, value_name = "NAME")]
    job_name: Option<String>,
    /// The program to run on every rank and its arguments, after `--`.
    #[arg(last = true, required = true, num_args = 1.., value_name = "COMMAND")]
    command: Vec<String>,
}

impl JobscriptArgs {
    fn into_spec(self) -> JobSpec {
        let mut spec = JobSpec::new(self.system, self.command);
        if let Some(n) = self.nodes {
            spec.nodes = n;
        }
        if let Some(n) = self.ntasks_per_node {
            spec.ntasks_per_node = n;
        }
        if let Some(n) = self.cpus_per_task {
            spec.cpus_per_task = n;
        }
        if let Some(t) = self.time {
            spec.time = t;
        }
        if let Some(n) = self.job_name {
            spec.job_name = n;
        }
        spec.memory = self.mem;
        spec.queue = self.queue;
        spec.account = self.account;
        spec
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Jobscript(args) => match render(&args.into_spec()) {
            Ok(script) => print_out(&script),
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
        Command::Info => match rankflow::config::describe() {
            Ok(text) => print_out(&text),
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(1)
            }
        },
    }
}

/// Writes `text` to stdout, ending it with a newline if it has none.
///
/// A closed pipe (`rankflow jobscript ... | head`) is not an error; any other
/// write failure is reported with exit status 1.
fn print_out(text: &str) -> ExitCode {
    let mut stdout = io::stdout().lock();
    let mut result = stdout.write_all(text.as_bytes());
    if result.is_ok() && !text.ends_with('\n') {
        result = stdout.write_all(b"\n");
    }
    match result.and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rankflow: cannot write to stdout: {e}");
            ExitCode::from(1)
        }
    }
}
