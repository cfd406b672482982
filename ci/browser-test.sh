#!/usr/bin/env bash
# Loads the live dashboard in headless Chromium while examples/dashboard_demo
# runs under mpirun, and checks the rendered DOM: while it runs, the workers
# table lists every worker and the task counts are shown; once every task is
# done, the status page counts them all and its task stream holds one bar per
# task, progress per function names the task function, the workers table's
# done column adds up to the task count and shows CPU, the graph page
# draws the function's group with every task, and placement by host shows:
# the workers page's hosts table has one row per host listing its worker
# ranks (here one host: this machine's name, every worker), each worker row
# names its host, and the status page labels each worker's lanes of the
# task stream with its rank and host.
# Screenshots go to target/browser-test/. Then ci/browser-report-test.sh
# opens saved performance reports (one of 100,000 tasks) the same way.
#   bash ci/browser-test.sh                 # 3 and 5 ranks (1 and 3 workers)
#   RANKS="4" TASKS=600 SECONDS_=6 bash ci/browser-test.sh
# With BROWSER_HOSTS=1, after ci/hosts/up.sh (ci/hosts/test.sh does this), one
# run of 6 ranks over the three hosts node1..3 (--map-by node: the scheduler
# on node1, workers 2 and 5 on node3, 3 on node1, 4 on node2), the dashboard
# on node1's address (so with its token), and the hosts table must list the
# three hosts with those workers; the saved reports are not opened again.
# Without Chromium this fails, unless RANKFLOW_BROWSER_TESTS_OPTIONAL=1, in
# which case it prints why it skipped and succeeds. CI installs Chromium
# (ci/install-deps.sh), so there it always runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/mpi-env.sh

source ci/find-chromium.sh ci/browser-test.sh

RANKS="${RANKS:-3 5}"
TASKS="${TASKS:-600}"
SECONDS_="${SECONDS_:-4}"
TARGET="${CARGO_TARGET_DIR:-target}"
OUT="$TARGET/browser-test"
mkdir -p "$OUT"
cargo build --release --example dashboard_demo --quiet
WORK="$(mktemp -d)"
DEMO_PID=""
cleanup() {
    [ -n "$DEMO_PID" ] && kill "$DEMO_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "FAIL  $*" >&2
    [ -f "$WORK/demo.log" ] && sed 's/^/      /' "$WORK/demo.log" | tail -n 20 >&2
    exit 1
}

# Headless Chromium with nothing of its own on the network and a new profile.
browse() {
    local profile
    profile="$(mktemp -d "$WORK/profile.XXXX")"
    timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic \
        --no-first-run --disable-background-networking --disable-component-update \
        --disable-sync --user-data-dir="$profile" --window-size=1280,1000 \
        --virtual-time-budget=2500 "$@" 2>>"$WORK/chromium.log"
}

# Waits up to 60 s for a line matching $1 in the demo's output.
wait_for() {
    for _ in $(seq 600); do
        grep -q "$1" "$WORK/demo.log" 2>/dev/null && return 0
        kill -0 "$DEMO_PID" 2>/dev/null || fail "the demo ended before printing '$1'"
        sleep 0.1
    done
    fail "no '$1' from the demo within 60 s"
}

count() { grep -o "$1" "$2" | wc -l | tr -d ' '; }

HOSTS="${BROWSER_HOSTS:-0}"
if [ "$HOSTS" = 1 ]; then
    RANKS=6
fi
for n in $RANKS; do
    workers=$((n - 2))
    if [ "$HOSTS" = 1 ]; then
        launch=(mpirun -n 6 --host node1:2,node2:2,node3:2 --map-by node
            --mca plm_rsh_agent "$(pwd)/ci/hosts/agent.sh"
            --mca oob_tcp_if_include 10.77.0.0/24
            --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24
            -x RANKFLOW_DASHBOARD=10.77.0.1:8787)
        # host:worker ranks, in the order of each host's lowest worker rank.
        expected=("node3:2 5" "node1:3" "node2:4")
    else
        launch=(mpirun -n "$n")
        expected=("$(cat /proc/sys/kernel/hostname):$(seq -s ' ' 2 $((n - 1)))")
    fi
    rm -f "$WORK/release" "$WORK/demo.log"
    timeout 120 "${launch[@]}" "$TARGET/release/examples/dashboard_demo" "$TASKS" "$SECONDS_" \
        --hold "$WORK/release" >"$WORK/demo.log" 2>&1 &
    DEMO_PID=$!
    wait_for "^dashboard: http"
    link="$(grep -o 'http://[^ ]*' "$WORK/demo.log" | head -n 1)"
    base="${link%/status*}"
    # The token, when the dashboard needs one (bound to other than loopback).
    query="${link#"$base"/status}"

    # While it runs.
    browse --dump-dom "$base/workers$query" >"$WORK/live-workers.html"
    rows="$(count '<tr data-rank="[0-9]*"' "$WORK/live-workers.html")"
    [ "$rows" = "$workers" ] || fail "n=$n live: the workers table has $rows rows, not $workers"
    browse --dump-dom "$link" >"$WORK/live-status.html"
    grep -q 'id="count-done">[0-9][0-9]*<' "$WORK/live-status.html" ||
        fail "n=$n live: no task count on the status page"
    browse --screenshot="$OUT/status-live-n$n.png" "$link" >/dev/null

    # Once every task is done.
    wait_for "^done: "
    browse --dump-dom "$link" >"$WORK/status.html"
    done_shown="$(grep -o 'id="count-done">[0-9]*' "$WORK/status.html" | grep -o '[0-9]*$')"
    [ "$done_shown" = "$TASKS" ] || fail "n=$n: the status page says $done_shown done, not $TASKS"
    bars="$(count 'class="bar"' "$WORK/status.html")"
    [ "$bars" = "$TASKS" ] || fail "n=$n: the task stream has $bars bars, not $TASKS"
    browse --dump-dom "$base/workers$query" >"$WORK/workers.html"
    rows="$(count '<tr data-rank="[0-9]*"' "$WORK/workers.html")"
    [ "$rows" = "$workers" ] || fail "n=$n: the workers table has $rows rows, not $workers"
    # Columns: rank host pid threads limit used running queued done erred.
    done_sum="$(sed 's/<tr /\n<tr /g' "$WORK/workers.html" | grep '^<tr data-rank' |
        sed 's/<\/td>/\t/g; s/<[^>]*>//g' | awk -F'\t' '{ s += $9 } END { print s + 0 }')"
    [ "$done_sum" = "$TASKS" ] || fail "n=$n: the workers' done column adds up to $done_sum, not $TASKS"
    grep -q '<tr data-function="nap">' "$WORK/status.html" ||
        fail "n=$n: progress per function has no row named nap (the client's name for it)"
    grep -q '[0-9]%</td></tr>' "$WORK/workers.html" ||
        fail "n=$n: the workers table shows no CPU figure"
    # Placement by host: a row per host listing its workers, each worker's
    # row and its lanes in the task stream naming its host.
    hosts="$(count '<tr data-host="[^"]*" data-ranks=' "$WORK/workers.html")"
    [ "$hosts" = "${#expected[@]}" ] || fail "n=$n: the hosts table has $hosts rows, not ${#expected[@]}"
    labels=0
    for e in "${expected[@]}"; do
        host="${e%%:*}"
        ranks="${e#*:}"
        on=$(echo "$ranks" | wc -w)
        grep -q "<tr data-host=\"$host\" data-ranks=\"$ranks\"><td>$host</td><td>$on ($(echo "$ranks" | sed 's/ /, /g'))</td>" "$WORK/workers.html" ||
            fail "n=$n: the hosts table has no row for $host with workers $ranks"
        for r in $ranks; do
            grep -q "<tr data-rank=\"$r\" data-host=\"$host\">" "$WORK/workers.html" ||
                fail "n=$n: worker $r's row does not name host $host"
            grep -q "<text class=\"lane\" data-worker=\"$r\" data-host=\"$host\"" "$WORK/status.html" ||
                fail "n=$n: worker $r's lanes in the task stream are not labelled with host $host"
            labels=$((labels + 1))
        done
    done
    browse --dump-dom "$base/graph$query" >"$WORK/graph.html"
    grep -q "<tr data-group=\"nap\"><td>nap</td><td>$TASKS</td>" "$WORK/graph.html" ||
        fail "n=$n: the graph page has no group nap of $TASKS tasks"
    grep -q '<g class="group" data-function="nap">' "$WORK/graph.html" ||
        fail "n=$n: the graph page draws no box for nap"
    browse --screenshot="$OUT/status-done-n$n.png" "$link" >/dev/null
    browse --screenshot="$OUT/graph-done-n$n.png" "$base/graph$query" >/dev/null
    browse --screenshot="$OUT/workers-done-n$n.png" "$base/workers$query" >/dev/null

    touch "$WORK/release"
    wait "$DEMO_PID" || fail "n=$n: the demo exited non-zero"
    DEMO_PID=""
    echo "ok    browser: mpirun -n $n dashboard_demo $TASKS $SECONDS_ ($workers workers, $bars bars; hosts ${expected[*]}, $labels workers' lanes labelled with their host)"
done
echo "screenshots in $OUT/"
# The saved performance report, opened from its file.
if [ "$HOSTS" != 1 ]; then
    bash ci/browser-report-test.sh
fi
