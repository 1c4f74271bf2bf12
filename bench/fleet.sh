#!/usr/bin/env bash
# The MQTT bridge with a fleet (BENCHMARKS.md, "MQTT bridge: a fleet"):
#
#   bench/fleet.sh            # 200 boards, 1000 samples, 10 burst rounds
#   BOARDS=50 bench/fleet.sh
#
# Builds piconetd, piconet-bridge and the fleet_bench example in release,
# installs mosquitto with apt-get if it is missing, and runs
# crates/piconet-bridge/examples/fleet_bench.rs, which starts its own
# Mosquitto, `piconetd --count $BOARDS` on ports FIRST_PORT.. and the bridge,
# and stops all of them when it ends. Benchmarks only; nothing here runs in CI.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BOARDS=${BOARDS:-200}
SAMPLES=${SAMPLES:-1000}
ROUNDS=${ROUNDS:-10}
FIRST_PORT=${FIRST_PORT:-24000}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

MOSQUITTO=$(command -v mosquitto || true)
[ -z "$MOSQUITTO" ] && [ -x /usr/sbin/mosquitto ] && MOSQUITTO=/usr/sbin/mosquitto
if [ -z "$MOSQUITTO" ]; then
    apt-get install -y --no-install-recommends mosquitto >/dev/null
    MOSQUITTO=/usr/sbin/mosquitto
fi
# Each board is a socket in piconetd and one in the bridge, plus the bench's.
ulimit -n 8192 2>/dev/null || true

cargo build --release -p piconet-server -p piconet-bridge --bins --example fleet_bench
"$TARGET/release/examples/fleet_bench" "$TARGET/release/piconetd" \
    "$TARGET/release/piconet-bridge" "$MOSQUITTO" \
    "$BOARDS" "$SAMPLES" "$ROUNDS" "$FIRST_PORT"
