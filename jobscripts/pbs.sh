#!/usr/bin/env bash
# rankflow on PBS/Torque: submit with `qsub jobscripts/pbs.sh` from the crate root,
# after `cargo build --release --example hello`.
#
# rankflow turns one MPI job into a small cluster:
#   rank 0      the scheduler, which hands tasks to workers;
#   rank 1      the client, which runs your program's main logic;
#   ranks 2..   workers, which run the tasks.
# So a job needs at least 3 ranks; this one asks for 2 nodes x 4 = 8 ranks
# (1 scheduler, 1 client, 6 workers).
#
# qsub reads #PBS lines only up to the first command, so keep them here.
# `rankflow jobscript --system pbs ...` writes a script like this one for you.

# Name shown by qstat; output files are named after it.
#PBS -N rankflow-hello
# 2 nodes with 4 processors each (Torque syntax); one processor per MPI rank.
# On PBS Pro use instead: #PBS -l select=2:ncpus=4:mpiprocs=4
#PBS -l nodes=2:ppn=4
# Wall-clock limit, HH:MM:SS; the job is killed when it runs out.
#PBS -l walltime=00:10:00
# Memory for the whole job (kb, mb, gb suffix): 4gb per node x 2 nodes.
#PBS -l mem=8gb
# Merge stderr into the stdout file.
#PBS -j oe
# Uncomment and fill in if your site needs a queue or account:
##PBS -q <queue>
##PBS -A <account>

# Stop at the first failing command, unset variable or failing pipe stage.
set -euo pipefail

# PBS starts the job in your home directory; go back to where qsub was run.
cd "${PBS_O_WORKDIR:-.}"

# Make an MPI library available, if your site uses environment modules:
# module load openmpi

# Executor threads per worker rank. PBS reserved one core per rank above, so 1;
# raise it only together with the cores you reserve.
export RANKFLOW_THREADS=1
# Threads for any OpenMP code the tasks call.
export OMP_NUM_THREADS=1
# rankflow's log level (error, warn, info, debug, trace); logs go to stderr.
export RANKFLOW_LOG=info

# Check that every other host of the job answers, and stop naming any that
# does not (run from the repository, like the program below; scripts from
# `rankflow jobscript` carry this check inside them).
bash jobscripts/check-hosts.sh --skip-self --hostfile "$PBS_NODEFILE"

# mpirun reads the node list from PBS and starts 8 ranks, 4 per node.
mpirun -n 8 ./target/release/examples/hello
