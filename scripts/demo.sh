#!/usr/bin/env bash
# The main job on a fresh machine: piconetd on a simulated Pico W, and the
# seed's example sequence sent to it with the piconet CLI, then the same
# read after the write_pin timeout to show the fail-safe revert.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PICONET_DEMO_PORT:-12345}
cargo build -q --release -p piconet-server -p piconet-cli
./target/release/piconetd --listen "127.0.0.1:$port" --board sim &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null' EXIT
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
piconet() {
  printf '\n$ piconet %s\n' "$*" >&2
  ./target/release/piconet "$@"
}
piconet send "127.0.0.1:$port" \
  -c action=setup_pin pin=2 mode=output value=0 \
  -c action=read_pin pin=2 \
  -c action=write_pin pin=2 value=1 timeout=5 \
  -c action=read_pin pin=2
printf '\n$ sleep 5   # wait for the write_pin timeout to expire\n' >&2
sleep 5
piconet send "127.0.0.1:$port" -c action=read_pin pin=2
