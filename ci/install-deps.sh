#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build and test rankflow:
# Open MPI (headers, libraries, mpirun), libclang for rsmpi's bindgen, and
# Chromium and curl for the dashboard's browser test (ci/browser-test.sh),
# tmux for the progress bars' terminal test (ci/progress-tmux.sh).
# Skips each install where it is already there, as on a cluster after
# `module load openmpi`.
set -euo pipefail

have_chromium() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }
have_mpi() { command -v mpicc >/dev/null 2>&1 && command -v mpirun >/dev/null 2>&1; }
have_libclang() {
    [ -n "${LIBCLANG_PATH:-}" ] && return 0
    ldconfig -p 2>/dev/null | grep -q 'libclang[-.0-9]*\.so' && return 0
    compgen -G '/usr/lib/llvm-*/lib/libclang*.so*' >/dev/null
}

if ! command -v cargo >/dev/null 2>&1; then
    echo "ci/install-deps.sh: cargo is not on PATH; install a Rust toolchain (1.84 or newer) first" >&2
    exit 1
fi

packages=()
if have_mpi && have_libclang; then
    echo "ci/install-deps.sh: MPI ($(command -v mpicc)) and libclang found"
else
    packages+=(libopenmpi-dev openmpi-bin libclang-dev clang pkg-config)
fi
if have_chromium && command -v curl >/dev/null 2>&1; then
    echo "ci/install-deps.sh: chromium and curl found"
else
    packages+=(chromium curl)
fi
if command -v tmux >/dev/null 2>&1; then
    echo "ci/install-deps.sh: tmux found"
else
    packages+=(tmux)
fi
if [ "${#packages[@]}" -eq 0 ]; then
    echo "ci/install-deps.sh: nothing to install"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ci/install-deps.sh: no apt-get here; install by hand: ${packages[*]}" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "ci/install-deps.sh: installing ${packages[*]} with apt-get"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${packages[@]}" >/dev/null
have_mpi || { echo "ci/install-deps.sh: mpicc/mpirun still missing after install" >&2; exit 1; }
have_chromium || { echo "ci/install-deps.sh: chromium still missing after install" >&2; exit 1; }
command -v tmux >/dev/null 2>&1 || { echo "ci/install-deps.sh: tmux still missing after install" >&2; exit 1; }
echo "ci/install-deps.sh: done ($(mpirun --version 2>&1 | head -n 1))"
