#!/usr/bin/env bash
# The main job on a fresh machine: piconetd on a simulated Pico W, and the
# seed's example sequence sent to it with the piconet CLI, then the same
# read after the write_pin timeout to show the fail-safe revert.
#
# PICONET_DEMO_PORT=N chooses the port (default: 12345, or the next free
# one if something already listens there).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [ -n "${PICONET_DEMO_PORT:-}" ]; then
  port=$PICONET_DEMO_PORT
  if listening "$port"; then
    echo "demo: something already listens on 127.0.0.1:$port (another piconetd?)." >&2
    echo "      Stop it, or choose another port: PICONET_DEMO_PORT=12399 $0" >&2
    exit 1
  fi
else
  port=12345
  while listening "$port"; do
    port=$((port + 1))
    [ "$port" -lt 12400 ] || { echo "demo: no free port in 12345-12399" >&2; exit 1; }
  done
  [ "$port" = 12345 ] || echo "demo: port 12345 is taken (another piconetd?): using $port" >&2
fi

# The same packages and features as the README's quick start, so one
# build serves both.
echo "demo: building piconetd and piconet (release; the first build takes a few minutes)" >&2
cargo build --release -p piconet-server -p piconet-cli
"$TARGET/release/piconetd" --listen "127.0.0.1:$port" --board sim &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null' EXIT
started() { kill -0 "$daemon" 2>/dev/null || { echo "demo: piconetd did not start (see above)" >&2; exit 1; }; }
for _ in $(seq 50); do
  started
  listening "$port" && break
  sleep 0.1
done
# A piconetd that could not bind has exited by now: never talk to another server.
sleep 0.2
started
piconet() {
  printf '\n$ piconet %s\n' "$*" >&2
  "$TARGET/release/piconet" "$@"
}
piconet send "127.0.0.1:$port" \
  -c action=setup_pin pin=2 mode=output value=0 \
  -c action=read_pin pin=2 \
  -c action=write_pin pin=2 value=1 timeout=5 \
  -c action=read_pin pin=2
printf '\n$ sleep 5   # wait for the write_pin timeout to expire\n' >&2
sleep 5
piconet send "127.0.0.1:$port" -c action=read_pin pin=2
