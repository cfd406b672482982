#!/usr/bin/env bash
# Open MPI's rsh agent for the hosts of ci/hosts/up.sh: instead of ssh-ing to
# HOST, runs the command in HOST's network namespace with HOST as the
# hostname (a new UTS namespace). Called by mpirun as: agent.sh [opts] HOST CMD...
set -euo pipefail
while [ $# -gt 0 ] && [ "${1#-}" != "$1" ]; do
    shift
done
host="$1"
shift
case "$host" in
    node[1-3]) ;;
    *) echo "ci/hosts/agent.sh: unknown host $host" >&2; exit 1 ;;
esac
# Like ssh, first reach the host over the network: a TCP connect to its port
# 22 is refused there (nothing listens), which proves the path; a host whose
# link is down times out or has no route, and the agent fails as ssh would.
probe="$(timeout 5 bash -c "exec 3<>/dev/tcp/$host/22" 2>&1 || true)"
case "$probe" in
    *refused*) ;;
    "") echo "ssh: connect to host $host port 22: Connection timed out" >&2; exit 255 ;;
    *)
        echo "ssh: connect to host $host port 22: ${probe##*: }" >&2
        exit 255
        ;;
esac
# ssh hands the remote shell one command line; do the same.
exec ip netns exec "rf-$host" unshare --uts sh -c "hostname $host && exec $*"
