#!/usr/bin/env bash
# One command for the load benchmarks of BENCHMARKS.md:
#
#   bench/run.sh
#
# Builds the release binaries, starts on loopback ports piconetd (plaintext
# and TLS with a fresh EC P-256 certificate), the original piconetcontrol
# 0.2.4 server from its PyPI wheel (plaintext and TLS, PEM files) and the
# bare line_echo example, and runs `piconet bench` (ping) against each at
# 1, 4, 16 and 64 connections (TLS: 1 and 64), plus piconetd and the echo
# with --pipeline 16. Then, each on a fresh piconetd: memory per idle
# plaintext / TLS connection, and the lateness of 10,000 lease reverts while
# the server is saturated with pings. Writes bench/results/*.json,
# bench/results/summary.md and bench/latency.png, and stops everything it
# started.
#
# Environment: DURATION (seconds measured per run, default 5), WARMUP
# (default 1), BASE_PORT (default 23400; uses BASE_PORT+1 .. +9).
# Benchmarks only; nothing here runs in CI.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
BASE_PORT=${BASE_PORT:-23400}
OUT=bench/results
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/release
WORK=$(mktemp -d)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n== %s\n' "$*" >&2; }

# --- prerequisites -----------------------------------------------------------
say "building release binaries"
cargo build --release -p piconet-cli -p piconet-server --bins --example line_echo
if ! python3 -c 'import piconetcontrol' 2>/dev/null; then
    python3 -m pip install --quiet 'piconetcontrol==0.2.4'
fi
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
if [ ! -f "$FONT" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -q fonts-dejavu-core >/dev/null || true
fi
# 1,000 idle connections need that many descriptors on both sides.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"

openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/key.pem" 2>/dev/null
openssl req -new -x509 -key "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 \
    -subj /CN=127.0.0.1 2>/dev/null

mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/summary.md

P_PICONETD=$((BASE_PORT + 1))
P_PICONETD_TLS=$((BASE_PORT + 2))
P_ORIGINAL=$((BASE_PORT + 3))
P_ORIGINAL_TLS=$((BASE_PORT + 4))
P_ECHO=$((BASE_PORT + 5))
P_MEMORY=$((BASE_PORT + 6))
P_MEMORY_TLS=$((BASE_PORT + 7))
P_LEASES=$((BASE_PORT + 8))

LAST_PID=
start() { # name, command...
    local name=$1
    shift
    "$@" >"$WORK/$name.log" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

wait_port() { # port, pid
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        kill -0 "$2" 2>/dev/null || break
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$1" >&2
    return 1
}

piconetd() { # port, extra args...
    local port=$1
    shift
    start "piconetd-$port" env RUST_LOG=warn "$BIN/piconetd" --listen "127.0.0.1:$port" "$@"
    wait_port "$port" "$LAST_PID"
}

# --- servers -----------------------------------------------------------------
say "starting the servers"
piconetd "$P_PICONETD" --max-connections 256
piconetd "$P_PICONETD_TLS" --max-connections 256 \
    --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"
start original python3 tests/compat/reference_server.py "$P_ORIGINAL"
wait_port "$P_ORIGINAL" "$LAST_PID"
start original-tls python3 tests/compat/reference_server.py "$P_ORIGINAL_TLS" \
    "$WORK/cert.pem" "$WORK/key.pem"
wait_port "$P_ORIGINAL_TLS" "$LAST_PID"
start echo "$BIN/examples/line_echo" "127.0.0.1:$P_ECHO"
wait_port "$P_ECHO" "$LAST_PID"

bench() { # result name, port, bench args...
    local name=$1 port=$2
    shift 2
    say "$name"
    local code=0
    "$BIN/piconet" bench "127.0.0.1:$port" --json --timeout 10 \
        --duration "$DURATION" --warmup "$WARMUP" "$@" >"$OUT/$name.json" || code=$?
    if [ "$code" != 0 ]; then
        echo "piconet bench exited $code" >&2
        [ -s "$OUT/$name.json" ] || echo "{\"failed\": $code}" >"$OUT/$name.json"
    fi
    cat "$OUT/$name.json" >&2
}

# --- throughput and latency --------------------------------------------------
# Servers take turns at each setting, so a disturbance hits all of them alike.
for c in 1 4 16 64; do
    bench "piconetd-plain-c$c" "$P_PICONETD" --connections "$c"
    bench "original-plain-c$c" "$P_ORIGINAL" --connections "$c"
    bench "echo-plain-c$c" "$P_ECHO" --connections "$c"
done
for c in 1 64; do
    bench "piconetd-tls-c$c" "$P_PICONETD_TLS" --connections "$c" --ca "$WORK/cert.pem"
    bench "original-tls-c$c" "$P_ORIGINAL_TLS" --connections "$c" --ca "$WORK/cert.pem"
done
for c in 1 64; do
    bench "piconetd-plain-c$c-p16" "$P_PICONETD" --connections "$c" --pipeline 16
    bench "echo-plain-c$c-p16" "$P_ECHO" --connections "$c" --pipeline 16
done
bench "piconetd-tls-c64-p16" "$P_PICONETD_TLS" --connections 64 --pipeline 16 \
    --ca "$WORK/cert.pem"
# The benchmark servers are done; the next figures need the CPUs to themselves.
for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
wait 2>/dev/null || true
PIDS=()

# --- memory per connection ---------------------------------------------------
say "memory per idle connection (1,000 plaintext)"
piconetd "$P_MEMORY" --max-connections 2000 --max-connections-per-address 2000
python3 bench/helpers.py memory --pid "$LAST_PID" --port "$P_MEMORY" -n 1000 \
    | tee "$OUT/memory-plain.json" >&2
say "memory per TLS connection (200)"
piconetd "$P_MEMORY_TLS" --max-connections 2000 --max-connections-per-address 2000 \
    --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"
python3 bench/helpers.py memory --pid "$LAST_PID" --port "$P_MEMORY_TLS" -n 200 --tls \
    | tee "$OUT/memory-tls.json" >&2

# --- fail-safe lateness under load ---------------------------------------------
say "10,000 lease reverts while 32 connections saturate piconetd with pings"
piconetd "$P_LEASES" --max-connections 256
"$BIN/piconet" bench "127.0.0.1:$P_LEASES" --connections 32 --duration 600 --warmup 0 \
    --json >"$WORK/saturation.json" 2>&1 &
SATURATE=$!
PIDS+=("$SATURATE")
sleep 1
python3 bench/helpers.py leases --port "$P_LEASES" -n 10000 | tee "$OUT/leases.json" >&2
kill "$SATURATE" 2>/dev/null || true

# piconetd asks for SCHED_FIFO for its lease thread itself (it has it as
# root or with CAP_SYS_NICE); show which policy the figure above was taken with.
LEASE_TID=$(grep -l '^piconetd-leases$' /proc/"$LAST_PID"/task/*/comm 2>/dev/null | head -1 | cut -d/ -f5 || true)
[ -n "$LEASE_TID" ] && chrt -p "$LEASE_TID" >&2 || true

# --- summary and plot ----------------------------------------------------------
python3 bench/summary.py "$OUT" >"$OUT/summary.md"
cat "$OUT/summary.md"
cargo run --quiet --release --manifest-path bench/plot/Cargo.toml --target-dir "$TARGET" -- \
    "$OUT" bench/latency.png "$FONT"
