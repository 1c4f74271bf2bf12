#!/usr/bin/env bash
# Lease lateness under floods, before and after, side by side (issue 12.4):
#
#   bench/lateness.sh
#
# For each flood -- valid commands, invalid one-byte lines (`x\n` x 4096 per
# write from 32 connections), new connections, TLS handshakes -- and for
# each piconetd build ("before": BEFORE_REV, default 3eb8469, the last
# commit with the std::sync::Mutex engine lock; "after": this checkout),
# one after the other in the same run: a fresh piconetd on loopback, two
# ordinary busy processes competing for the CPUs, the flood, and
# `helpers.py leases` driving N leases (10-50 ms, 26 pins) to expiry; the
# figures are get_info's `lease_reverts` (revert time minus deadline, taken
# by the engine), and beside it a bare SCHED_FIFO thread sleeping 10 ms at a
# time (helpers.py rtprobe): the machine's own floor. piconetd's lease thread asks for SCHED_FIFO itself; run
# as root (or give the binaries CAP_SYS_NICE) or the figures are for a
# normal-priority thread -- the script prints the policy it got.
#
# Environment: N (leases per run, default 5000), BEFORE_REV, BASE_PORT
# (default 23500), BEFORE_BIN (a piconetd already built from a tree that
# takes this tree's flags, e.g. main before a change: used as "before"
# instead of building BEFORE_REV), OUT (default bench/results), KINDS (default "valid invalid connect tls"), BUILDS
# (default "before after"; "after" alone skips the old build). About 15
# minutes: the invalid flood slows the lease driver down most. Writes bench/results/lateness-*.json and
# bench/results/lateness.md. Benchmarks only; nothing here runs in CI.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
N=${N:-5000}
KINDS=${KINDS:-valid invalid connect tls}
BUILDS=${BUILDS:-before after}
BEFORE_REV=${BEFORE_REV:-3eb8469}
BASE_PORT=${BASE_PORT:-23500}
OUT=${OUT:-bench/results}
BEFORE_BIN=${BEFORE_BIN:-}
BEFORE_TAKES_NEW_FLAGS=${BEFORE_BIN:+yes}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    git worktree remove --force "$WORK/before-src" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n== %s\n' "$*" >&2; }

say "building piconetd: after (this checkout) and before ($BEFORE_REV)"
cargo build --release -p piconet-server --bin piconetd
AFTER_BIN=$TARGET/release/piconetd
BEFORE_TARGET=${BEFORE_TARGET:-$TARGET/lateness-before}
if [[ " $BUILDS " == *" before "* && -z "$BEFORE_BIN" ]]; then
    git worktree add --detach "$WORK/before-src" "$BEFORE_REV" >/dev/null
    (cd "$WORK/before-src" && CARGO_TARGET_DIR=$BEFORE_TARGET \
        cargo build --release -p piconet-server --bin piconetd)
fi
BEFORE_BIN=${BEFORE_BIN:-$BEFORE_TARGET/release/piconetd}
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"

openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/key.pem" 2>/dev/null
openssl req -new -x509 -key "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 \
    -subj /CN=127.0.0.1 2>/dev/null
mkdir -p "$OUT"

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

# Flags both builds understand; the floods come from 127.0.0.1 like the
# lease driver, so allow that many connections from one address.
common_flags() { echo --max-connections 1024; }
after_flags() { echo --max-connections-per-address 1024 --max-handshakes-per-address 128; }

run_one() { # kind, build name, binary
    local kind=$1 build=$2 bin=$3
    local port=$((BASE_PORT + RANDOM % 400))
    local tls_args=() tls_flag=()
    if [ "$kind" = tls ]; then
        tls_args=(--tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem")
        tls_flag=(--tls)
    fi
    local extra
    extra="$(common_flags)"
    if [ "$build" = after ] || [ -n "$BEFORE_TAKES_NEW_FLAGS" ]; then
        extra="$extra $(after_flags)"
    fi
    # shellcheck disable=SC2086
    env RUST_LOG=warn "$bin" --listen "127.0.0.1:$port" $extra "${tls_args[@]}" \
        >"$WORK/$kind-$build.log" 2>&1 &
    local daemon=$!
    PIDS+=("$daemon")
    wait_port "$port" "$daemon"
    local lease_tid policy
    lease_tid=$(grep -l '^piconetd-leases$' /proc/"$daemon"/task/*/comm 2>/dev/null | head -1 | cut -d/ -f5 || true)
    policy=$(chrt -p "$lease_tid" 2>/dev/null | head -1 | sed 's/.*: //' || echo unknown)
    local load=()
    python3 bench/helpers.py busy & load+=($!)
    python3 bench/helpers.py busy & load+=($!)
    python3 bench/helpers.py flood --port "$port" --kind "$kind" & load+=($!)
    PIDS+=("${load[@]}")
    sleep 1
    # The machine's floor: a bare SCHED_FIFO sleeper beside the run.
    chrt -f 10 python3 bench/helpers.py rtprobe --out "$WORK/probe.json" &
    local probe=$!
    PIDS+=("$probe")
    say "$kind flood, $build build (lease thread: $policy)"
    python3 bench/helpers.py leases --port "$port" -n "$N" "${tls_flag[@]}" >"$WORK/leases.json"
    kill -TERM "$probe"
    wait "$probe" 2>/dev/null || true
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["flood"]=sys.argv[2]; d["build"]=sys.argv[3]; d["policy"]=sys.argv[4]; d["fifo_sleeper"]=json.load(open(sys.argv[5])); print(json.dumps(d))' \
        "$WORK/leases.json" "$kind" "$build" "$policy" "$WORK/probe.json" \
        | tee "$OUT/lateness-$kind-$build.json" >&2
    kill "${load[@]}" "$daemon" 2>/dev/null || true
    wait "${load[@]}" "$daemon" 2>/dev/null || true
}

for kind in $KINDS; do
    for build in $BUILDS; do
        bin=$AFTER_BIN
        [ "$build" = before ] && bin=$BEFORE_BIN
        run_one "$kind" "$build" "$bin"
    done
done

python3 - "$OUT" <<'EOF' | tee "$OUT/lateness.md"
import json, sys, os
out = sys.argv[1]
print("| flood | build | lease thread | reverts | p50 µs | p99 µs | max µs | bare FIFO sleeper p99 / max µs |")
print("|---|---|---|---:|---:|---:|---:|---:|")
for kind in ["valid", "invalid", "connect", "tls"]:
    for build in ["before", "after"]:
        path = os.path.join(out, f"lateness-{kind}-{build}.json")
        if not os.path.exists(path):
            continue
        d = json.load(open(path))
        r = d["lease_reverts"]
        p = d.get("fifo_sleeper")
        floor = f"{p['late_p99_us']:,} / {p['late_max_us']:,}" if p else "not measured"
        print(f"| {kind} | {build} | {d['policy']} | {r['count']:,} | {r['late_p50_us']:,} | {r['late_p99_us']:,} | {r['late_max_us']:,} | {floor} |")
EOF
