#!/usr/bin/env bash
# Start-up time under Open MPI and under MPICH, side by side: runs
# bench_startup (main to `initialize` returning on the client: MPI_Init,
# the executable check and every worker's registration) RUNS times under each
# MPI's `mpirun -n RANKS`, alternating so that both see the same load, and
# prints the medians of its initialize_ms and of the whole launch (mpirun
# start to exit) as one JSON line.
#   bash ci/mpich/init-times.sh            # 10 runs each, 4 ranks
#   RUNS=20 RANKS=5 bash ci/mpich/init-times.sh
# Needs both builds: target/release (Open MPI) and target/mpich/release
# (MPICC=mpicc.mpich, as ci/mpich/test.sh builds it).
set -euo pipefail
cd "$(dirname "$0")/../.."
source ci/mpi-env.sh
RUNS="${RUNS:-10}"
RANKS="${RANKS:-4}"
OMPI_BIN="target/release/examples/bench_startup"
MPICH_BIN="target/mpich/release/examples/bench_startup"
for b in "$OMPI_BIN" "$MPICH_BIN"; do
    if [ ! -x "$b" ]; then
        echo "ci/mpich/init-times.sh: $b is not built (see the comment at the top)" >&2
        exit 1
    fi
done

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# One run: prints "initialize_ms wall_ms".
once() {
    local start end out
    start=$(date +%s%N)
    out="$(timeout 120 "$@" 2>&1)"
    end=$(date +%s%N)
    local init
    init="$(sed -n 's/.*"initialize_ms":\([0-9.]*\).*/\1/p' <<<"$out")"
    if [ -z "$init" ]; then
        echo "ci/mpich/init-times.sh: no figure from: $*" >&2
        echo "$out" | tail -n 20 >&2
        exit 1
    fi
    echo "$init $(((end - start) / 1000000))"
}

ompi=()
mpich=()
for _ in $(seq 1 "$RUNS"); do
    ompi+=("$(once mpirun -n "$RANKS" "$OMPI_BIN")")
    mpich+=("$(once mpirun.mpich -n "$RANKS" "$MPICH_BIN")")
done
col() { printf '%s\n' "${@:2}" | awk -v c="$1" '{print $c}' | median; }
echo "{\"bench\":\"mpi_init\",\"ranks\":$RANKS,\"runs\":$RUNS,\
\"openmpi_initialize_ms\":$(col 1 "${ompi[@]}"),\"mpich_initialize_ms\":$(col 1 "${mpich[@]}"),\
\"openmpi_launch_ms\":$(col 2 "${ompi[@]}"),\"mpich_launch_ms\":$(col 2 "${mpich[@]}")}"
