#!/usr/bin/env bash
# Runs examples across three "hosts" (network namespaces with their own
# hostnames and addresses, made by ci/hosts/up.sh): mpirun places ranks round
# robin on node1..3 (--map-by node) and starts them through ci/hosts/agent.sh
# instead of ssh; ranks on different hosts talk TCP over the bridge (no shared
# memory between hosts). Checks that workers report three hostnames, then runs
# self-checking examples (broadcast, array scatter/gather, collectives, tasks,
# data moved worker to worker, placement by host) on 6 ranks, and the live
# dashboard's hosts in headless Chromium; last, with
# node3 unreachable, checks that jobscripts/check-hosts.sh names it and that
# the job fails rather than hangs.
#   bash ci/hosts/test.sh
# What it models: separate hosts as MPI sees them (names, addresses, TCP
# between them, node-local rank counts). What it does not: network bandwidth
# and latency (a bridge in one kernel), separate memory or file systems.
set -euo pipefail
cd "$(dirname "$0")/../.."
source ci/mpi-env.sh
BIN="${CARGO_TARGET_DIR:-target}/release/examples"
LIMIT="${LIMIT:-180}"

bash ci/hosts/up.sh
trap 'bash ci/hosts/down.sh' EXIT
cargo build --release --examples --quiet

MPIRUN=(mpirun -n 6 --host node1:2,node2:2,node3:2 --map-by node
    --mca plm_rsh_agent "$(pwd)/ci/hosts/agent.sh"
    --mca oob_tcp_if_include 10.77.0.0/24
    --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24)

failed=0
log="$(mktemp)"
if timeout "$LIMIT" "${MPIRUN[@]}" "$BIN/hello" >"$log" 2>&1; then
    hosts="$(sed -n 's/^worker rank [0-9]* on \([^ ]*\) .*/\1/p' "$log" | sort -u | tr '\n' ' ')"
    echo "ok    hello: workers on $hosts"
    if [ "$hosts" != "node1 node2 node3 " ]; then
        echo "FAIL  hello: expected workers on node1 node2 node3"
        failed=$((failed + 1))
    fi
else
    echo "FAIL  hello"
    failed=$((failed + 1))
fi
grep -v setpgid "$log" | sed 's/^/      /'

EXAMPLES=(
    "collectives_check"
    "bcast_array 16 2"
    "scatter_gather"
    "spmd_allreduce"
    "bench_broadcast 8 2"
    "bench_arrays 8 2"
    "bench_transfer 8 2"
    "pi"
    "delayed_tree"
    "array_sum 2000"
    "shutdown_in_flight"
    "host_locality"
)
for entry in "${EXAMPLES[@]}"; do
    read -r -a words <<<"$entry"
    if timeout "$LIMIT" "${MPIRUN[@]}" "$BIN/${words[0]}" "${words[@]:1}" >"$log" 2>&1; then
        echo "ok    $entry"
        grep -E '^(\{"bench"|inputs:)' "$log" || true
    else
        echo "FAIL  $entry (exit $?)"
        grep -v setpgid "$log" | tail -n 30 | sed 's/^/      /'
        failed=$((failed + 1))
    fi
done
# The live dashboard across the hosts, in headless Chromium: the hosts
# table lists node3 (workers 2, 5), node1 (3) and node2 (4), and each
# worker's lanes of the task stream name its host (ci/browser-test.sh).
if BROWSER_HOSTS=1 bash ci/browser-test.sh >"$log" 2>&1; then
    grep -E '^(ok|ci/browser-test.sh: SKIPPED)' "$log"
else
    echo "FAIL  dashboard across hosts (ci/browser-test.sh)"
    tail -n 30 "$log" | sed 's/^/      /'
    failed=$((failed + 1))
fi
# A host that cannot be reached at start-up: the job must fail, not hang,
# and say which host. jobscripts/check-hosts.sh, run before mpirun with the
# same agent, names it; Open MPI alone names the node it routes through.
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO ip -n rf-node3 link set eth0 down
start=$(date +%s)
rc=0
timeout 60 bash -c 'bash jobscripts/check-hosts.sh --timeout 10 --agent "$0" node1 node2 node3 \
    && exec "${@}"' "$(pwd)/ci/hosts/agent.sh" "${MPIRUN[@]}" "$BIN/hello" >"$log" 2>&1 || rc=$?
took=$(($(date +%s) - start))
if [ "$rc" = 0 ] || [ "$rc" = 124 ]; then
    echo "FAIL  node3 unreachable: exit $rc after ${took} s (expected a failure, not a hang)"
    failed=$((failed + 1))
elif ! grep -q "host node3 does not answer" "$log" || grep -q "host node[12] does not" "$log"; then
    echo "FAIL  node3 unreachable: the message does not name node3 (alone)"
    failed=$((failed + 1))
else
    echo "ok    node3 unreachable: check-hosts.sh failed the job (exit $rc) in ${took} s"
fi
sed 's/^/      /' "$log"
# What mpirun says without the check (Open MPI's own message, for the README).
rc=0
start=$(date +%s)
timeout 60 "${MPIRUN[@]}" "$BIN/hello" >"$log" 2>&1 || rc=$?
took=$(($(date +%s) - start))
if [ "$rc" = 0 ] || [ "$rc" = 124 ]; then
    echo "FAIL  node3 unreachable, mpirun alone: exit $rc after ${took} s (expected a failure)"
    failed=$((failed + 1))
else
    echo "ok    node3 unreachable, mpirun alone: failed (exit $rc) in ${took} s"
fi
grep -v setpgid "$log" | grep -v '^ *$' | head -n 12 | sed 's/^/      /'
$SUDO ip -n rf-node3 link set eth0 up
rm -f "$log"
if [ "$failed" -gt 0 ]; then
    echo "ci/hosts/test.sh: $failed failed"
    exit 1
fi
echo "ci/hosts/test.sh: $((${#EXAMPLES[@]} + 5)) runs across 3 hosts passed"
