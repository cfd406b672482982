#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build and test rankflow:
# Open MPI (headers, libraries, mpirun) and libclang for rsmpi's bindgen.
# Skips the install where an MPI compiler wrapper and libclang are already
# there, as on a cluster after `module load openmpi`.
set -euo pipefail

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

if have_mpi && have_libclang; then
    echo "ci/install-deps.sh: MPI ($(command -v mpicc)) and libclang found; nothing to install"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ci/install-deps.sh: no apt-get here; install an MPI library with mpicc/mpirun and libclang by hand" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "ci/install-deps.sh: installing Open MPI and libclang with apt-get"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    libopenmpi-dev openmpi-bin libclang-dev clang pkg-config >/dev/null
have_mpi || { echo "ci/install-deps.sh: mpicc/mpirun still missing after install" >&2; exit 1; }
echo "ci/install-deps.sh: done ($(mpirun --version 2>&1 | head -n 1))"
