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
#     erred count of `simulate` in red (its escape sequence, capture-pane -e);
#   * the whole terminal, scrollback included, holds one copy of each bar
#     and each failing task's message once, above the bars, and no panic
#     text ("panicked at"): the workers do not print a task's panic, and
#     progress prints each failure through the bars, so no old copy of the
#     bars is left behind.
# Then the same example under `mpirun -n 4` in a second pane, where the
# worker ranks' stderr is merged into the terminal: each failure's message
# once, and no panic text.
# Screens are kept under target/progress-tmux/ for a look afterwards.
#   bash ci/progress-tmux.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/mpi-env.sh
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
# The whole terminal: its scrollback (where old copies of the bars would be)
# and the screen.
tmux_ capture-pane -p -S - -E - -t "$SESSION" > "$OUT/history.txt"
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

# One copy of each bar in the whole terminal, each failure's message once,
# above the bars, and no panic text.
history="$OUT/history.txt"
for f in load simulate save; do
    copies=$(grep -Ec "^$f +\[" "$history" || true)
    [ "$copies" = 1 ] || fail "$copies copies of the $f bar in the terminal (scrollback included, $history)"
done
first_bar=$(grep -En '^load +\[' "$history" | cut -d: -f1)
for x in $(seq 99 100 $((2 * s - 1))); do
    shown=$(grep -c "^simulate: task [0-9a-f]* failed on worker [0-9]* (Panicked): task $x fails on purpose\$" "$history" || true)
    [ "$shown" = 1 ] || fail "the failure of task $x is shown $shown times, not once ($history)"
    at=$(grep -n "task $x fails on purpose" "$history" | cut -d: -f1)
    [ "$at" -lt "$first_bar" ] || fail "the failure of task $x is not above the bars ($history)"
done
if grep -q "panicked at" "$history"; then fail "panic text in the terminal ($history)"; fi
echo "ok    progress under tmux: $i screens, $partial with bars part done, $distinct distinct; bars complete, $failing erred in red; one copy of each bar, each failure once above them (${elapsed}s)"

# Under mpirun: the worker ranks' stderr is merged into the terminal.
tmux_ new-window -t "$SESSION" -n mpi \
    "RANKFLOW_DASHBOARD=off RUST_BACKTRACE=0 RANKFLOW_THREADS=2 timeout $LIMIT mpirun -n 4 $TARGET/release/examples/progress $SCALE $MS; echo progress-exit=\$?; sleep $LIMIT"
start=$(date +%s)
while :; do
    tmux_ capture-pane -p -S - -E - -t "$SESSION:mpi" > "$OUT/mpi-history.txt"
    grep -q '^progress-exit=' "$OUT/mpi-history.txt" && break
    [ $(( $(date +%s) - start )) -lt "$LIMIT" ] || { last="$OUT/mpi-history.txt"; fail "mpirun: no exit after ${LIMIT}s"; }
    sleep 0.5
done
last="$OUT/mpi-history.txt"
grep -q '^progress-exit=0$' "$last" || fail "mpirun: the example failed"
for x in $(seq 99 100 $((2 * s - 1))); do
    shown=$(grep -c "task $x fails on purpose" "$last" || true)
    [ "$shown" = 1 ] || fail "mpirun: the failure of task $x is shown $shown times, not once"
done
if grep -q "panicked at" "$last"; then fail "mpirun: panic text in the terminal"; fi
echo "ok    progress under tmux with mpirun -n 4: each failure once, no panic text ($(( $(date +%s) - start ))s)"
