#!/usr/bin/env bash
# Soak runs: long versions of what CI checks briefly. Not part of every CI
# run (ci/test.sh runs a short version of each). Each prints what it saw and
# exits non-zero if any trial failed.
#   bash ci/soak/run.sh                 # everything (about 15 minutes here)
#   bash ci/soak/run.sh launches 200    # one part, with its size
# Parts: launches N (consecutive launches of exit_paths ok, each under a time
# limit: 0 hangs allowed), tasks N (soak_tasks with --check-growth: every
# rank's RSS grows under 5% from 20% to 100% of N tasks), panics N (1% of N
# tasks panic: all others right, every failure names its cause), signals N
# (N trials each of SIGKILL to a worker, the scheduler and the client, and of
# SIGTERM/SIGINT to mpirun), fuzz N (N inputs per decoder target and to the
# collectives' header reader), spill N
# (the spill example with an N MiB limit per worker: results totalling three
# times the workers' limits, every one checked, peak RSS reported).
set -euo pipefail
cd "$(dirname "$0")/../.."
source ci/mpi-env.sh
BIN="${CARGO_TARGET_DIR:-target}/release/examples"
RANKS="${RANKS:-4}"

launches() {
    local n="$1" hangs=0 failures=0 i rc
    for ((i = 1; i <= n; i++)); do
        rc=0
        timeout 60 mpirun -n "$RANKS" "$BIN/exit_paths" ok >/dev/null 2>&1 || rc=$?
        if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
            hangs=$((hangs + 1))
        elif [ "$rc" != 0 ]; then
            failures=$((failures + 1))
        fi
    done
    echo "launches: $n launches of exit_paths ok under mpirun -n $RANKS: $hangs hangs, $failures failures"
    [ "$hangs" = 0 ] && [ "$failures" = 0 ]
}

tasks() {
    timeout 1200 mpirun -n "$RANKS" "$BIN/soak_tasks" "$1" --check-growth
}

panics() {
    timeout 600 mpirun -n "$RANKS" "$BIN/soak_panics" "$1"
}

signals() {
    RANKFLOW_SIGNAL_TRIALS="$1" cargo test --release --test mpi_signals -- --nocapture --test-threads 1
}

fuzz() {
    RANKFLOW_FUZZ_INPUTS="$1" cargo test --release --no-default-features --test fuzz_decode
    # The collectives' framing: the header each member reads before its data.
    RANKFLOW_FUZZ_INPUTS="$1" cargo test --release --no-default-features --lib comm::group::header
}

spill() {
    local dir rc=0 left
    dir="$(mktemp -d)"
    RANKFLOW_LOCAL_DIR="$dir" timeout 600 mpirun -n "$RANKS" "$BIN/spill" "$1" || rc=$?
    left="$(ls -A "$dir")"
    rm -rf "$dir"
    if [ -n "$left" ]; then
        echo "spill: spill directories left behind: $left"
        rc=1
    fi
    return "$rc"
}

cargo build --release --examples --quiet
if [ $# -gt 0 ]; then
    "$1" "${2:?give the size}"
    exit
fi
status=0
launches 200 || status=1
tasks 1000000 || status=1
panics 10000 || status=1
signals 20 || status=1
fuzz 1000000 || status=1
spill 256 || status=1
exit "$status"
