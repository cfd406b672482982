#!/usr/bin/env bash
# Loads the live dashboard in headless Chromium while examples/dashboard_demo
# runs under mpirun, and checks the rendered DOM: while it runs, the workers
# table lists every worker and the task counts are shown; once every task is
# done, the status page counts them all and its task stream holds one bar per
# task, progress per function names the task function, the workers table's
# done column adds up to the task count and shows CPU, and the graph page
# draws the function's group with every task.
# Screenshots go to target/browser-test/. Then ci/browser-report-test.sh
# opens saved performance reports (one of 100,000 tasks) the same way.
#   bash ci/browser-test.sh                 # 3 and 5 ranks (1 and 3 workers)
#   RANKS="4" TASKS=600 SECONDS_=6 bash ci/browser-test.sh
# Without Chromium this fails, unless RANKFLOW_BROWSER_TESTS_OPTIONAL=1, in
# which case it prints why it skipped and succeeds. CI installs Chromium
# (ci/install-deps.sh), so there it always runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/mpi-env.sh

CHROMIUM="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}"
if [ -z "$CHROMIUM" ]; then
    if [ "${RANKFLOW_BROWSER_TESTS_OPTIONAL:-0}" = "1" ]; then
        echo "ci/browser-test.sh: SKIPPED: no chromium on PATH (RANKFLOW_BROWSER_TESTS_OPTIONAL=1)"
        exit 0
    fi
    echo "ci/browser-test.sh: no chromium on PATH; run ci/install-deps.sh, or set RANKFLOW_BROWSER_TESTS_OPTIONAL=1 to skip" >&2
    exit 1
fi

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

for n in $RANKS; do
    workers=$((n - 2))
    rm -f "$WORK/release" "$WORK/demo.log"
    timeout 120 mpirun -n "$n" "$TARGET/release/examples/dashboard_demo" "$TASKS" "$SECONDS_" \
        --hold "$WORK/release" >"$WORK/demo.log" 2>&1 &
    DEMO_PID=$!
    wait_for "^dashboard: http"
    link="$(grep -o 'http://[^ ]*' "$WORK/demo.log" | head -n 1)"
    base="${link%/status*}"

    # While it runs.
    browse --dump-dom "$base/workers" >"$WORK/live-workers.html"
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
    browse --dump-dom "$base/workers" >"$WORK/workers.html"
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
    browse --dump-dom "$base/graph" >"$WORK/graph.html"
    grep -q "<tr data-group=\"nap\"><td>nap</td><td>$TASKS</td>" "$WORK/graph.html" ||
        fail "n=$n: the graph page has no group nap of $TASKS tasks"
    grep -q '<g class="group" data-function="nap">' "$WORK/graph.html" ||
        fail "n=$n: the graph page draws no box for nap"
    browse --screenshot="$OUT/status-done-n$n.png" "$link" >/dev/null
    browse --screenshot="$OUT/graph-done-n$n.png" "$base/graph" >/dev/null
    browse --screenshot="$OUT/workers-done-n$n.png" "$base/workers" >/dev/null

    touch "$WORK/release"
    wait "$DEMO_PID" || fail "n=$n: the demo exited non-zero"
    DEMO_PID=""
    echo "ok    browser: mpirun -n $n dashboard_demo $TASKS $SECONDS_ ($workers workers, $bars bars)"
done
echo "screenshots in $OUT/"
# The saved performance report, opened from its file.
bash ci/browser-report-test.sh
