#!/usr/bin/env bash
# Starts a one-node Slurm cluster on this machine for CI: installs Debian's
# Slurm and MUNGE where missing, writes a configuration for this host, and
# starts munged, slurmctld and slurmd. ci/slurm/stop.sh stops them.
# Needs root (or sudo). The node advertises SLURM_CI_CPUS CPUs (default 8,
# more than a 2-core CI machine has, so that a 4- or 5-rank job fits; slurmd
# is told to trust the configuration) and SLURM_CI_MEMORY MiB (default 8192).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
CPUS="${SLURM_CI_CPUS:-8}"
MEMORY="${SLURM_CI_MEMORY:-8192}"
HOST="$(hostname -s)"
STATE=/var/spool/rankflow-slurm

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
    echo "ci/slurm/start.sh: installing slurm-wlm and munge with apt-get"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        slurm-wlm munge >/dev/null
fi

$SUDO mkdir -p "$STATE/ctld" "$STATE/d" /run/munge /var/log/munge /var/lib/munge
$SUDO chown munge:munge /run/munge /var/log/munge /var/lib/munge
if [ ! -s /etc/munge/munge.key ]; then
    $SUDO mungekey --create --force
    $SUDO chown munge:munge /etc/munge/munge.key
fi

$SUDO tee /etc/slurm/slurm.conf >/dev/null <<CONF
# Written by rankflow's ci/slurm/start.sh: one node, no accounting database.
ClusterName=rankflow-ci
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
MpiDefault=${SLURM_CI_MPI_DEFAULT:-none}
ReturnToService=2
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=3600
KillWait=5
InactiveLimit=0
NodeName=$HOST CPUs=$CPUS RealMemory=$MEMORY State=UNKNOWN
PartitionName=ci Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF

if ! pgrep -x munged >/dev/null; then
    if [ -z "$SUDO" ]; then
        runuser -u munge -- munged
    else
        sudo -u munge munged
    fi
fi
pgrep -x slurmctld >/dev/null || $SUDO slurmctld -c
pgrep -x slurmd >/dev/null || $SUDO slurmd

for _ in $(seq 1 30); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qx idle; then
        echo "ci/slurm/start.sh: Slurm is up ($(sinfo -V)): node $HOST, $CPUS CPUs, $MEMORY MiB"
        exit 0
    fi
    sleep 1
done
echo "ci/slurm/start.sh: the node did not become idle in 30 s" >&2
sinfo >&2 || true
$SUDO tail -n 20 "$STATE/slurmctld.log" "$STATE/slurmd.log" >&2 || true
exit 1
