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
# ssh hands the remote shell one command line; do the same.
exec ip netns exec "rf-$host" unshare --uts sh -c "hostname $host && exec $*"
