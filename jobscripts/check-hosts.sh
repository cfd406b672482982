#!/usr/bin/env bash
# Checks, before mpirun, that every host of the job answers, and names those
# that do not. mpirun would fail on an unreachable host too, but Open MPI's
# message names the node its daemons route through (often the first node),
# not the one that does not answer; and with some settings it waits without
# end. Use it in a job script just before the launch line:
#
#   bash jobscripts/check-hosts.sh --hostfile "$PBS_NODEFILE" && mpirun ...
#
# Usage: check-hosts.sh [--timeout SECONDS] [--agent COMMAND] [--skip-self] (--hostfile FILE | HOST...)
#   --hostfile FILE  one host per line (PBS_NODEFILE, SGE's and Open MPI's
#                    hostfiles: "host", "host slots=N", "host:N" or "host N");
#                    repeated hosts are checked once
#   --agent COMMAND  how to run a command on a host, as mpirun does it: Open
#                    MPI's rsh agent (OMPI_MCA_plm_rsh_agent) if set, else
#                    ssh -o BatchMode=yes -o ConnectTimeout=SECONDS
#   --timeout S      seconds each host has to answer (default 10); hosts are
#                    checked at once, so the whole check takes about S
#   --skip-self      leave out this host (its name, short name or localhost):
#                    mpirun starts local ranks without the agent, and a
#                    node need not accept ssh from itself; exits 0 when no
#                    other host is left
# Exits 0 when every host ran `true`, 1 naming each host that did not (and
# why: timed out, or the agent's exit code and last line), 2 on bad usage.
set -uo pipefail

timeout_s=10
agent=""
skip_self=0
hosts=()
usage() {
    echo "usage: check-hosts.sh [--timeout SECONDS] [--agent COMMAND] [--skip-self] (--hostfile FILE | HOST...)" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case "$1" in
        --timeout)
            [ $# -ge 2 ] || usage
            timeout_s="$2"
            shift 2
            ;;
        --agent)
            [ $# -ge 2 ] || usage
            agent="$2"
            shift 2
            ;;
        --hostfile)
            [ $# -ge 2 ] || usage
            if [ ! -r "$2" ]; then
                echo "check-hosts.sh: cannot read hostfile $2" >&2
                exit 2
            fi
            while read -r line; do
                line="${line%%#*}"
                read -r host _ <<<"$line"
                host="${host%%:*}"
                [ -n "$host" ] && hosts+=("$host")
            done <"$2"
            shift 2
            ;;
        --skip-self)
            skip_self=1
            shift
            ;;
        -*) usage ;;
        *)
            hosts+=("$1")
            shift
            ;;
    esac
done
case "$timeout_s" in
    '' | *[!0-9]* | 0) echo "check-hosts.sh: --timeout $timeout_s is not a positive whole number of seconds" >&2; exit 2 ;;
esac
if [ ${#hosts[@]} -eq 0 ]; then
    echo "check-hosts.sh: no hosts to check (give hosts or a non-empty --hostfile)" >&2
    exit 2
fi
if [ -z "$agent" ]; then
    agent="${OMPI_MCA_plm_rsh_agent:-ssh -o BatchMode=yes -o ConnectTimeout=$timeout_s}"
fi

dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
mapfile -t unique < <(printf '%s\n' "${hosts[@]}" | awk '!seen[$0]++')
if [ "$skip_self" = 1 ]; then
    self="${HOSTNAME:-$(hostname 2>/dev/null || true)}"
    others=()
    for host in "${unique[@]}"; do
        case "$host" in
            localhost | 127.0.0.1 | "$self" | "${self%%.*}") continue ;;
        esac
        [ "${host%%.*}" = "$self" ] && continue
        others+=("$host")
    done
    if [ ${#others[@]} -eq 0 ]; then
        echo "check-hosts.sh: no host but this one ($self); nothing to check"
        exit 0
    fi
    unique=("${others[@]}")
fi
for host in "${unique[@]}"; do
    (
        # The agent is a command line (it may carry options): split it.
        # shellcheck disable=SC2086
        timeout -k 2 "$timeout_s" $agent "$host" true </dev/null >"$dir/$host.out" 2>&1
        echo $? >"$dir/$host.rc"
    ) &
done
wait
bad=0
for host in "${unique[@]}"; do
    rc="$(cat "$dir/$host.rc" 2>/dev/null || echo 1)"
    [ "$rc" = 0 ] && continue
    bad=$((bad + 1))
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        why="no answer within $timeout_s s"
    else
        why="exit $rc: $(grep -v '^$' "$dir/$host.out" | tail -n 1)"
    fi
    echo "check-hosts.sh: host $host does not answer ($why)" >&2
done
if [ "$bad" -gt 0 ]; then
    echo "check-hosts.sh: $bad of ${#unique[@]} hosts unreachable; not starting the job" >&2
    exit 1
fi
echo "check-hosts.sh: ${#unique[@]} hosts answer"
