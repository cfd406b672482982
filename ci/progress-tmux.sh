#!/usr/bin/env bash
# The progress bars on a real terminal: runs examples/progress (three
# functions, a few tasks failing on purpose) in the embedded cluster inside a
# detached tmux session of a fixed size, reads the screen with
# `tmux capture-pane -p` every few tenths of a second until the example
# exits, and checks that
#   * the example's own checks passed (its exit status, echoed in the pane);
#   * the bars moved: some screen shows a bar part done, and the screens
#     differ over time (no timing figure is asserted: a loaded machine only
#     makes the run longer);
#   * the last screen shows each function's bar complete (N/N, 100%) and the
#     erred count of `simulate` in red (its escape sequence, capture-pane -e).
# Screens are kept under target/progress-tmux/ for a look afterwards.
#   bash ci/progress-tmux.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-target}"
OUT="$TARGET/progress-tmux"
SCALE="${SCALE:-200}"   # load 200, simulate 400 (4 failing), save 200 tasks
MS="${MS:-20}"          # per task: 800 x 20 ms on 2 workers x 2 threads, ~4 s
LIMIT="${LIMIT:-120}"   # seconds before the run counts as hung

command -v tmux >/dev/null || { echo "ci/progress-tmux.sh: tmux is missing (ci/install-deps.sh installs it)" >&2; exit 1; }
cargo build --release --example progress --quiet
rm -rf "$OUT" && mkdir -p "$OUT"

SOCKET="rankflow-progress-$$"
SESSION="progress"
tmux_() { tmux -L "$SOCKET" "$@"; }
trap 'tmux_ kill-server >/dev/null 2>&1 || true' EXIT

start=$(date +%s)
# The pane stays open after the example exits (the sleep), so that its last
# screen can be read; the exit status is echoed below the bars.
tmux_ -f /dev/null new-session -d -s "$SESSION" -x 160 -y 30 \
    "RANKFLOW_DASHBOARD=off RUST_BACKTRACE=0 RANKFLOW_LOCAL_WORKERS=2 RANKFLOW_THREADS=2 $TARGET/release/examples/progress $SCALE $MS; echo progress-exit=\$?; sleep $LIMIT"

i=0
while :; do
    i=$((i + 1))
    tmux_ capture-pane -p -t "$SESSION" > "$OUT/screen-$i.txt"
    grep -q '^progress-exit=' "$OUT/screen-$i.txt" && break
    if [ $(( $(date +%s) - start )) -ge "$LIMIT" ]; then
        echo "FAIL  progress under tmux: no exit after ${LIMIT}s; last screen:" >&2
        cat "$OUT/screen-$i.txt" >&2
        exit 1
    fi
    sleep 0.3
done
tmux_ capture-pane -p -e -t "$SESSION" > "$OUT/last-escapes.txt"
last="$OUT/screen-$i.txt"
elapsed=$(( $(date +%s) - start ))

fail() { echo "FAIL  progress under tmux: $*; last screen ($last):" >&2; cat "$last" >&2; exit 1; }

grep -q '^progress-exit=0$' "$last" || fail "the example failed"
s=$SCALE
failing=$(( 2 * s / 100 ))
grep -Eq "^load +\[=+\] +$s/$s 100%" "$last" || fail "no complete load bar"
grep -Eq "^simulate +\[=+\] +$((2 * s))/$((2 * s)) 100%, $failing erred" "$last" \
    || fail "no complete simulate bar with $failing erred"
grep -Eq "^save +\[=+\] +$s/$s 100%" "$last" || fail "no complete save bar"
grep -q $'\e\\[31m'"$failing erred" "$OUT/last-escapes.txt" || fail "the erred count is not red"

# Moving bars: a screen where some bar is part done, and several distinct
# screens of bars before the last one.
partial=0
for f in "$OUT"/screen-*.txt; do
    if grep -Eq '^(load|simulate|save) +\[=*>' "$f"; then partial=$((partial + 1)); fi
done
distinct=$(for f in "$OUT"/screen-*.txt; do grep -E '^(load|simulate|save) ' "$f" | md5sum; done | sort -u | wc -l)
[ "$partial" -ge 1 ] || fail "no screen showed a bar part done ($i screens)"
[ "$distinct" -ge 3 ] || fail "the bars did not move: $distinct distinct screens of $i"
echo "ok    progress under tmux: $i screens, $partial with bars part done, $distinct distinct; bars complete, $failing erred in red (${elapsed}s)"
