#!/usr/bin/env bash
# rankflow on Slurm: submit with `sbatch jobscripts/slurm.sh` from the crate root,
# after `cargo build --release --example hello`.
#
# rankflow turns one MPI job into a small cluster:
#   rank 0      the scheduler, which hands tasks to workers;
#   rank 1      the client, which runs your program's main logic;
#   ranks 2..   workers, which run the tasks.
# So a job needs at least 3 ranks; this one asks for 2 nodes x 4 = 8 ranks
# (1 scheduler, 1 client, 6 workers).
#
# sbatch reads #SBATCH lines only up to the first command, so keep them here.
# `rankflow jobscript --system slurm ...` writes a script like this one for you.

# Name shown by squeue and used in accounting.
#SBATCH --job-name=rankflow-hello
# Number of nodes to allocate.
#SBATCH --nodes=2
# MPI ranks (Slurm "tasks") started on each node: 2 x 4 = 8 ranks in all.
#SBATCH --ntasks-per-node=4
# Cores reserved for each rank; rankflow workers run this many executor threads.
#SBATCH --cpus-per-task=2
# Wall-clock limit, HH:MM:SS; the job is killed when it runs out.
#SBATCH --time=00:10:00
# Memory per node (K, M, G or T suffix).
#SBATCH --mem=4G
# Where output goes; %x is the job name, %j the job id.
#SBATCH --output=%x-%j.out
# Uncomment and fill in if your site needs a partition (queue) or account:
##SBATCH --partition=<partition>
##SBATCH --account=<account>

# Stop at the first failing command, unset variable or failing pipe stage.
set -euo pipefail

# Make an MPI library available, if your site uses environment modules:
# module load openmpi

# Executor threads per worker rank: match the cores Slurm reserved per task.
export RANKFLOW_THREADS="${SLURM_CPUS_PER_TASK:-1}"
# Threads for any OpenMP code the tasks call.
export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"
# Slurm 22.05 and later do not hand --cpus-per-task from sbatch on to srun.
export SRUN_CPUS_PER_TASK="${SLURM_CPUS_PER_TASK:-1}"
# rankflow's log level (error, warn, info, debug, trace); logs go to stderr.
export RANKFLOW_LOG=info

# srun starts one copy of the program per task, wired up as one MPI job.
# Plain srun uses the site's default MPI plugin; add --mpi=pmix or --mpi=pmi2
# only if your site tells you to.
srun ./target/release/examples/hello
