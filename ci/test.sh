#!/usr/bin/env bash
# The test command: installs what a fresh machine lacks, checks formatting
# and lints, runs cargo test (unit tests, in-process cluster, whole mpirun
# jobs), then every example under mpirun -n 3, 4, 5 and in local mode, and
# the dashboard in a real browser (ci/browser-test.sh).
#   bash ci/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/install-deps.sh
source ci/mpi-env.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy (default features, and without mpi)"
cargo clippy --all-targets --quiet -- -D warnings
cargo clippy --all-targets --no-default-features --quiet -- -D warnings
echo "== cargo test --no-default-features (no MPI linked)"
cargo test --no-default-features --quiet
echo "== cargo test"
cargo test
echo "== examples under mpirun and in local mode"
bash ci/run-examples.sh
echo "== the live dashboard in headless Chromium"
bash ci/browser-test.sh
echo "== a short soak: consecutive launches, none may hang"
bash ci/soak/run.sh launches 10
