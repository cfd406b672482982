#!/usr/bin/env bash
# rankflow on IBM Spectrum LSF: submit with `bsub < jobscripts/lsf.sh` from the
# crate root (note the `<`: bsub reads #BSUB lines only from standard input),
# after `cargo build --release --example hello`.
#
# rankflow turns one MPI job into a small cluster:
#   rank 0      the scheduler, which hands tasks to workers;
#   rank 1      the client, which runs your program's main logic;
#   ranks 2..   workers, which run the tasks.
# So a job needs at least 3 ranks; this one asks for 8 slots = 8 ranks
# (1 scheduler, 1 client, 6 workers).
#
# `rankflow jobscript --system lsf ...` writes a script like this one for you.

# Name shown by bjobs.
#BSUB -J rankflow-hello
# 8 slots in all, one per MPI rank.
#BSUB -n 8
# Place 4 slots on each host, so the job spans 2 hosts.
#BSUB -R "span[ptile=4]"
# Wall-clock limit as HH:MM (LSF takes no seconds).
#BSUB -W 00:10
# Memory to reserve on each host (KB, MB, GB suffix).
#BSUB -R "rusage[mem=4GB]"
# Output and error files; %J is the job id. Without -o, LSF mails the output.
#BSUB -o rankflow-hello.%J.out
#BSUB -e rankflow-hello.%J.err
# Uncomment and fill in if your site needs a queue or project:
##BSUB -q <queue>
##BSUB -P <project>

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
    --agent "${OMPI_MCA_plm_rsh_agent:-blaunch}" --hostfile "$LSB_DJOB_HOSTFILE"

# mpirun reads the host list from LSF and starts 8 ranks, 4 per host.
mpirun -n 8 ./target/release/examples/hello
