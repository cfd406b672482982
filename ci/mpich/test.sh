#!/usr/bin/env bash
# Builds rankflow against Debian's MPICH (beside Open MPI, which stays the
# default) and runs self-checking examples under MPICH's mpirun (hydra).
#   bash ci/mpich/test.sh
# The MPICH build lives in its own target directory (target/mpich), chosen by
# MPICC=mpicc.mpich, which rsmpi's build probe reads.
set -euo pipefail
cd "$(dirname "$0")/../.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
if ! command -v mpicc.mpich >/dev/null 2>&1 || ! command -v mpirun.mpich >/dev/null 2>&1; then
    echo "ci/mpich/test.sh: installing mpich and libmpich-dev with apt-get"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        mpich libmpich-dev >/dev/null
fi
echo "ci/mpich/test.sh: $(mpirun.mpich --version 2>&1 | grep -m1 -i version)"

export MPICC=mpicc.mpich
export CARGO_TARGET_DIR=target/mpich
EXAMPLES=(
    "hello"
    "send_recv"
    "scatter_gather"
    "collectives_check"
    "bcast_array 64 2"
    "pi"
    "delayed_tree"
    "array_sum 2000"
    "bag_chars"
    "spmd_allreduce"
    "bench_tasks 20000 300 300"
    "bench_transfer 32 2"
    "bench_startup"
    "shutdown_in_flight"
    "exit_paths ok"
)
build=()
for entry in "${EXAMPLES[@]}"; do
    build+=(--example "${entry%% *}")
done
cargo build --release --quiet "${build[@]}"
if ldd "$CARGO_TARGET_DIR/release/examples/hello" | grep -q libmpi.so; then
    echo "ci/mpich/test.sh: the build linked Open MPI, not MPICH" >&2
    exit 1
fi

failed=0
log="$(mktemp)"
for entry in "${EXAMPLES[@]}"; do
    read -r -a words <<<"$entry"
    for n in ${RANKS:-3 4}; do
        if timeout 180 mpirun.mpich -n "$n" "$CARGO_TARGET_DIR/release/examples/${words[0]}" \
            "${words[@]:1}" >"$log" 2>&1; then
            echo "ok    mpirun.mpich -n $n $entry"
            grep '^{"bench"' "$log" || true
        else
            echo "FAIL  mpirun.mpich -n $n $entry (exit $?)"
            tail -n 30 "$log" | sed 's/^/      /'
            failed=$((failed + 1))
        fi
    done
done
# Too few ranks is refused under MPICH as under Open MPI.
if timeout 60 mpirun.mpich -n 2 "$CARGO_TARGET_DIR/release/examples/hello" >"$log" 2>&1; then
    echo "FAIL  mpirun.mpich -n 2 hello succeeded"
    failed=$((failed + 1))
elif grep -q "needs at least 3 MPI ranks" "$log"; then
    echo "ok    mpirun.mpich -n 2 hello refused with the 3-rank minimum named"
else
    echo "FAIL  mpirun.mpich -n 2 hello: no message naming the minimum"
    tail -n 10 "$log" | sed 's/^/      /'
    failed=$((failed + 1))
fi
rm -f "$log"
if [ "$failed" -gt 0 ]; then
    echo "ci/mpich/test.sh: $failed failed"
    exit 1
fi
echo "ci/mpich/test.sh: every run passed under MPICH"
