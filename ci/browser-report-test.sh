#!/usr/bin/env bash
# Opens saved performance reports in headless Chromium (file://, nothing on
# the network) and checks the rendered DOM: a report of SMALL tasks draws one
# bar per task; one of BIG tasks (100,000 by default) says it aggregated,
# and its bars' task counts add up to every task. Prints the big report's
# size and Chromium's time to load it (--dump-dom wall time, RUNS runs, the
# median, beside the same for an empty page measured in the same run) as one
# JSON line; fails if the file is 20 MB or more. Screenshots go to
# target/browser-test/. Called by ci/browser-test.sh; runs alone too:
#   bash ci/browser-report-test.sh
#   BIG=20000 RUNS=3 bash ci/browser-report-test.sh
#   SPREAD=20 bash ci/browser-report-test.sh   # the big report's tasks sleep, spread over 20 s
set -euo pipefail
cd "$(dirname "$0")/.."

source ci/find-chromium.sh ci/browser-report-test.sh

SMALL="${SMALL:-1000}"
BIG="${BIG:-100000}"
RUNS="${RUNS:-5}"
SPREAD="${SPREAD:-0}"
TARGET="${CARGO_TARGET_DIR:-target}"
OUT="$TARGET/browser-test"
mkdir -p "$OUT"
cargo build --release --example dashboard_demo --quiet
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

fail() {
    echo "FAIL  $*" >&2
    exit 1
}

browse() {
    local profile
    profile="$(mktemp -d "$WORK/profile.XXXX")"
    timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic \
        --no-first-run --disable-background-networking --disable-component-update \
        --disable-sync --user-data-dir="$profile" --window-size=1280,1000 "$@" \
        2>>"$WORK/chromium.log"
}

# Seconds (3 decimals) that `browse --dump-dom URL` takes, into $WORK/dom.html.
timed_dump() {
    local t0 t1
    t0="$(date +%s.%N)"
    browse --dump-dom "$1" >"$WORK/dom.html"
    t1="$(date +%s.%N)"
    echo "$t0 $t1" | awk '{ printf "%.3f\n", $2 - $1 }'
}

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# The report's tasks as the DOM shows them: one per `task` bar, and each
# aggregated bar's count from its tooltip ("N tasks of ...").
tasks_drawn() {
    local single merged
    single="$(grep -o '<rect class="task"' "$1" | wc -l | tr -d ' ')"
    merged="$(grep -o '<title>[0-9]* tasks of ' "$1" | grep -o '[0-9][0-9]*' |
        awk '{ s += $1 } END { print s + 0 }')"
    echo $((single + merged))
}

demo() {
    RANKFLOW_MODE=local RANKFLOW_DASHBOARD=off timeout 300 \
        "$TARGET/release/examples/dashboard_demo" "$1" "$3" --report "$2" >"$WORK/demo.log" 2>&1 ||
        { cat "$WORK/demo.log" >&2; fail "dashboard_demo $1 $3 --report $2 failed"; }
}

# A small report: one bar per task, no aggregation note.
demo "$SMALL" "$WORK/small.html" 0
browse --dump-dom "file://$WORK/small.html" >"$WORK/small-dom.html"
bars="$(grep -o '<rect class="task"' "$WORK/small-dom.html" | wc -l | tr -d ' ')"
[ "$bars" = "$SMALL" ] || fail "report of $SMALL tasks: $bars bars"
! grep -q 'id="aggregated"' "$WORK/small-dom.html" || fail "report of $SMALL tasks says it aggregated"
browse --screenshot="$OUT/report-$SMALL.png" "file://$WORK/small.html" >/dev/null
echo "ok    report: $SMALL tasks, $bars bars"

# A big one: aggregated, every task counted, under 20 MB.
demo "$BIG" "$WORK/big.html" "$SPREAD"
bytes="$(wc -c <"$WORK/big.html" | tr -d ' ')"
[ "$bytes" -lt $((20 * 1024 * 1024)) ] || fail "report of $BIG tasks is $bytes bytes (20 MB or more)"
echo '<!DOCTYPE html><html><body>empty</body></html>' >"$WORK/empty.html"
big_times=(); empty_times=()
for _ in $(seq "$RUNS"); do
    empty_times+=("$(timed_dump "file://$WORK/empty.html")")
    big_times+=("$(timed_dump "file://$WORK/big.html")")
done
grep -q 'id="aggregated"' "$WORK/dom.html" || fail "report of $BIG tasks has no aggregation note"
drawn="$(tasks_drawn "$WORK/dom.html")"
[ "$drawn" = "$BIG" ] || fail "report of $BIG tasks: its bars count $drawn tasks"
rects="$(grep -o '<rect class="\(task\|agg\)"' "$WORK/dom.html" | wc -l | tr -d ' ')"
browse --screenshot="$OUT/report-$BIG.png" "file://$WORK/big.html" >/dev/null
m_big="$(printf '%s\n' "${big_times[@]}" | median)"
m_empty="$(printf '%s\n' "${empty_times[@]}" | median)"
echo "ok    report: $BIG tasks in $rects bars, $bytes bytes"
echo "load times (s): report ${big_times[*]}; empty page ${empty_times[*]}"
echo "{\"bench\":\"report_in_chromium\",\"tasks\":$BIG,\"bars\":$rects,\"bytes\":$bytes,\"spread_s\":$SPREAD,\"runs\":$RUNS,\"dump_dom_s\":$m_big,\"empty_page_dump_dom_s\":$m_empty}"
echo "screenshots in $OUT/"
