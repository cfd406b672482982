#!/usr/bin/env bash
# Stops what ci/slurm/start.sh started (slurmd, slurmctld, munged).
set -uo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
for daemon in slurmd slurmctld munged; do
    $SUDO pkill -x "$daemon" 2>/dev/null
done
running() {
    pgrep -x slurmd >/dev/null || pgrep -x slurmctld >/dev/null || pgrep -x munged >/dev/null
}
for _ in $(seq 1 20); do
    running || exit 0
    sleep 0.5
done
echo "ci/slurm/stop.sh: daemons still running after 10 s; killing them" >&2
for daemon in slurmd slurmctld munged; do
    $SUDO pkill -9 -x "$daemon" 2>/dev/null
done
exit 0
