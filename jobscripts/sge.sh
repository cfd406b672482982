#!/usr/bin/env bash
# rankflow on (Son of) Grid Engine: submit with `qsub jobscripts/sge.sh` from the
# crate root, after `cargo build --release --example hello`.
#
# rankflow turns one MPI job into a small cluster:
#   rank 0      the scheduler, which hands tasks to workers;
#   rank 1      the client, which runs your program's main logic;
#   ranks 2..   workers, which run the tasks.
# So a job needs at least 3 ranks; this one asks for 8 slots = 8 ranks
# (1 scheduler, 1 client, 6 workers).
#
# `rankflow jobscript --system sge ...` writes a script like this one for you.

# Name shown by qstat; output files are named after it.
#$ -N rankflow-hello
# Run the script with bash (SGE otherwise may use the queue's default shell).
#$ -S /bin/bash
# Run in the directory qsub was called from, and write output there.
#$ -cwd
# Merge stderr into the stdout file.
#$ -j y
# 8 slots in the MPI parallel environment, one slot per rank. The name of the
# parallel environment varies by site (`qconf -spl` lists them).
#$ -pe mpi 8
# Wall-clock limit, HH:MM:SS; the job is killed when it runs out.
#$ -l h_rt=00:10:00
# Memory limit per slot (K, M, G suffix); many sites require one.
#$ -l h_vmem=1G
# Uncomment and fill in if your site needs a queue or project:
##$ -q <queue>
##$ -A <account>

# Stop at the first failing command, unset variable or failing pipe stage.
set -euo pipefail

# Make an MPI library available, if your site uses environment modules:
# module load openmpi

# Executor threads per worker rank: one slot is one core here, so 1.
export RANKFLOW_THREADS=1
# Threads for any OpenMP code the tasks call.
export OMP_NUM_THREADS=1
# rankflow's log level (error, warn, info, debug, trace); logs go to stderr.
export RANKFLOW_LOG=info

# Check that every other host of the job answers, and stop naming any that
# does not (run from the repository, like the program below; scripts from
# `rankflow jobscript` carry this check inside them).
bash jobscripts/check-hosts.sh --skip-self \
    --agent "${OMPI_MCA_plm_rsh_agent:-qrsh -inherit -nostdin -V}" --hostfile "$PE_HOSTFILE"

# NSLOTS is set by SGE to the slots granted (8 here); start one rank per slot.
mpirun -n "${NSLOTS:-8}" ./target/release/examples/hello
