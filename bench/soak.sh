#!/usr/bin/env bash
# Soak test (issue 12): many clients, connection churn, random kills and
# leases against one release piconetd on loopback for SOAK_SECONDS (default 600):
#
#   bench/soak.sh              # SOAK_SECONDS=600 BOUND_MS=5 PORT=23990
#
# bench/soak.py does the work and the checks (every lease reverted, none
# later than BOUND_MS, RSS flat after the first minute); the result is
# bench/results/soak.json, the exit status 1 if a check failed. piconetd's
# lease thread asks for SCHED_FIFO itself (root or CAP_SYS_NICE). soak.py runs
# the bare SCHED_FIFO floor probe (helpers.py rtprobe) beside the load and
# reads piconetd's stderr for the late-revert warnings, to name each late
# lease and set it beside the probe.
# Benchmarks only; nothing here runs in CI.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECONDS_TO_RUN=${SOAK_SECONDS:-600}
BOUND_MS=${BOUND_MS:-5}
PORT=${PORT:-23990}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=bench/results
mkdir -p "$OUT"

cargo build --release -p piconet-server --bin piconetd
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
LOG=$(mktemp)
RUST_LOG=warn "$TARGET/release/piconetd" --listen "127.0.0.1:$PORT" \
    --max-connections 256 --max-connections-per-address 256 2>"$LOG" &
DAEMON=$!
trap 'kill $DAEMON 2>/dev/null || true; wait 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.1
done
LEASE_TID=$(grep -l '^piconetd-leases$' /proc/"$DAEMON"/task/*/comm | head -1 | cut -d/ -f5)
chrt -p "$LEASE_TID" >&2 || true
code=0
python3 bench/soak.py --port "$PORT" --pid "$DAEMON" --seconds "$SECONDS_TO_RUN" \
    --bound-ms "$BOUND_MS" --daemon-log "$LOG" >"$OUT/soak.json" || code=$?
cat "$OUT/soak.json"
echo "piconetd log lines at warn and above: $(wc -l <"$LOG")" >&2
exit "$code"
