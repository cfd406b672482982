#!/usr/bin/env bash
# What the live dashboard costs the scheduler: bench_tasks under mpirun with
# the dashboard off, on and unwatched, and on with a poller that does what
# the status page does: /api/snapshot and the new task-stream bars
# (/api/stream?since=LAST) every POLL seconds (1, as the page; POLL=0.25
# SINCE0=1 asks four times a second for the whole stream, up to 5000 bars).
# Rounds alternate the three; prints each run's throughput and the medians.
#   bash ci/bench-dashboard.sh [rounds] [tasks] [ranks]
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/mpi-env.sh
ROUNDS="${1:-5}"
TASKS="${2:-100000}"
RANKS="${3:-4}"
BIN="${CARGO_TARGET_DIR:-target}/release/examples/bench_tasks"
PORT=18787
cargo build --release --example bench_tasks --quiet

throughput() { grep -o '"throughput_tasks_per_s":[0-9]*' | grep -o '[0-9]*$'; }
run() { timeout 120 mpirun -n "$RANKS" env RANKFLOW_DASHBOARD="$1" "$BIN" "$TASKS" 300 300 | throughput; }
POLL="${POLL:-1}"
poll() {
    local last=0 got
    while :; do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/api/snapshot" || true
        got="$(curl -s "http://127.0.0.1:$PORT/api/stream?since=$last" |
            grep -o '"seq":[0-9]*' | tail -n 1 | grep -o '[0-9]*$' || true)"
        [ -n "$got" ] && [ "${SINCE0:-0}" != 1 ] && last="$got"
        sleep "$POLL"
    done
}
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

off=(); idle=(); polled=()
for r in $(seq "$ROUNDS"); do
    off+=("$(run off)")
    idle+=("$(run "127.0.0.1:$PORT")")
    poll &
    poller=$!
    polled+=("$(run "127.0.0.1:$PORT")")
    kill "$poller"
    wait "$poller" 2>/dev/null || true
    echo "round $r: off ${off[-1]}  on ${idle[-1]}  on+polled ${polled[-1]} tasks/s"
done
m_off="$(printf '%s\n' "${off[@]}" | median)"
m_idle="$(printf '%s\n' "${idle[@]}" | median)"
m_polled="$(printf '%s\n' "${polled[@]}" | median)"
echo "{\"bench\":\"dashboard\",\"ranks\":$RANKS,\"tasks\":$TASKS,\"rounds\":$ROUNDS,\"off_tasks_per_s\":$m_off,\"on_idle_tasks_per_s\":$m_idle,\"on_polled_tasks_per_s\":$m_polled}"
