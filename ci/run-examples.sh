#!/usr/bin/env bash
# Runs every self-checking example under mpirun -n 3, 4 and 5 and in local
# mode (no mpirun). Each example asserts its results and exits non-zero on a
# wrong answer; each run has a time limit, so a hang fails too.
#   bash ci/run-examples.sh            # all ranks counts
#   RANKS="4" bash ci/run-examples.sh  # one count
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/mpi-env.sh
BIN="${CARGO_TARGET_DIR:-target}/release/examples"

RANKS="${RANKS:-3 4 5}"
LIMIT="${LIMIT:-180}"
# name and arguments; bcast_array moves 256 MiB per repetition; array_sum at
# 4000 x 4000 (16 chunks) keeps a launch to a few seconds on 2 cores, as do
# array_mean at 4000 x 4000 and pi_array at 5 million points; the bag
# examples at these sizes take a few seconds each. transfer_big runs at
# 24 MiB here (16 pieces); its 2.2 GiB default (over MPI's 2 GiB count) needs
# about 7 GiB free and is run by hand: mpirun -n 4 transfer_big.
EXAMPLES=(
    "hello"
    "send_recv"
    "bcast"
    "scatter_gather"
    "reduce"
    "ring"
    "ring_sendrecv"
    "collectives_check"
    "bcast_array 256 3"
    "pi"
    "pi --report target/reports/pi.html"
    "sleeping_map"
    "tree_sum"
    "delayed_tree"
    "progress"
    "dashboard_demo 400 2"
    "dashboard_demo 400 1 --report target/reports/dashboard_demo.html"
    "array_sum 4000"
    "array_sum 4000 --report target/reports/array_sum.html"
    "array_chunks"
    "array_mean 4000"
    "pi_array 5000000"
    "compute_many 2000"
    "memoize"
    "errors"
    "manage_tasks"
    "bench_tasks 20000 300 300"
    "bench_as_completed 20000"
    "bench_waiters 8 300"
    "direct_view"
    "spmd_allreduce"
    "broadcast_big"
    "bench_broadcast 64 3"
    "bench_arrays 32 2"
    "soak_tasks 50000"
    "soak_panics 2000"
    "spill 16"
    "exit_paths ok"
    "exit_paths drop"
    "shutdown_in_flight"
    "bench_startup"
    "bench_transfer 64 2"
    "transfer_big 24"
    "transport_bodies"
    "flow_flood 48 256"
    "bag_chars 200000 8"
    "bag_accounts 3 2000"
    "wordcount 4 5000"
    "bag_shuffle 100000 8"
    "bench_bags 300000 100000 1"
    "host_locality"
)

cargo build --release --examples --quiet
# Performance reports of the examples run with --report (CI keeps them).
mkdir -p target/reports
failed=0
passed=0
run() {
    local label="$1"; shift
    local log
    log="$(mktemp)"
    if timeout "$LIMIT" "$@" >"$log" 2>&1; then
        passed=$((passed + 1))
        echo "ok    $label"
        grep '^{"bench"' "$log" || true
    else
        failed=$((failed + 1))
        echo "FAIL  $label (exit $?)"
        sed 's/^/      /' "$log" | tail -n 30
    fi
    rm -f "$log"
}

for entry in "${EXAMPLES[@]}"; do
    read -r -a words <<<"$entry"
    name="${words[0]}"
    args=("${words[@]:1}")
    for n in $RANKS; do
        run "mpirun -n $n $entry" mpirun -n "$n" "$BIN/$name" "${args[@]}"
    done
    run "local $entry" env RANKFLOW_MODE=local RANKFLOW_LOCAL_WORKERS=3 "$BIN/$name" "${args[@]}"
done

# mpirun -n 2 must fail within 10 s, naming the 3-rank minimum.
log="$(mktemp)"
start=$(date +%s)
if timeout 30 mpirun -n 2 "$BIN/hello" >"$log" 2>&1; then
    failed=$((failed + 1)); echo "FAIL  mpirun -n 2 hello exited 0"
elif ! grep -q "at least 3 MPI ranks" "$log" || [ $(( $(date +%s) - start )) -gt 10 ]; then
    failed=$((failed + 1)); echo "FAIL  mpirun -n 2 hello: no clear error within 10 s"; cat "$log"
else
    passed=$((passed + 1)); echo "ok    mpirun -n 2 hello fails fast naming the minimum"
fi
rm -f "$log"

# The scheduler benchmark has no MPI inside (simulated workers): local only,
# small sizes.
run "local bench_scheduler 20000 2,100,1000" "$BIN/bench_scheduler" 20000 2,100,1000

run "mpirun -n 4 idle_cpu" mpirun -n 4 "$BIN/idle_cpu" 2

# The collections benchmark at a small size, under mpirun only (its figures
# are for the full size: mpirun -n 4 bench_collections with no arguments).
for n in $RANKS; do
    run "mpirun -n $n bench_collections 2000 500 1000000 250000 1" \
        mpirun -n "$n" "$BIN/bench_collections" 2000 500 1000000 250000 1
done

echo "examples: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
