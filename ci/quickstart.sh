#!/usr/bin/env bash
# Quick start: installs Open MPI and libclang if missing, builds the examples
# and runs the main one on 4 ranks (scheduler, client, 2 workers).
#   bash ci/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install-deps.sh
source ci/mpi-env.sh
BIN="${CARGO_TARGET_DIR:-target}/release/examples"
cargo build --release --examples --quiet
mpirun -n 4 "$BIN/hello"
