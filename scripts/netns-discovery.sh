#!/usr/bin/env bash
# Discovery for real (issue 17): two piconetd, each in a network namespace of
# its own, joined by a veth pair with multicast on, are found by
# `piconet discover` run in the first namespace: the other one across the
# link, with the TXT records PROTOCOL-NEXT.md fixes (the TLS one's `tls` is
# its certificate's SHA-256), and a third started with --no-mdns is not.
#
#   PICONETD=target/debug/piconetd PICONET=target/debug/piconet scripts/netns-discovery.sh
#
# Needs root (CAP_NET_ADMIN) and iproute2 (installed with apt-get when
# missing). Where network namespaces cannot be created (an unprivileged
# container) it says so and exits 0. Every namespace, link and process it
# made is removed on every exit path.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PICONETD=${PICONETD:-$TARGET/debug/piconetd}
PICONET=${PICONET:-$TARGET/debug/piconet}

for bin in "$PICONETD" "$PICONET"; do
  [ -x "$bin" ] || { echo "FAILED: $bin missing: cargo build -p piconet-server -p piconet-cli first" >&2; exit 1; }
done
command -v ip >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null; }
command -v openssl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null; }

NS_A=piconet-a-$$
NS_B=piconet-b-$$
# Interface names: at most 15 bytes.
VETH_A=pnva$$
VETH_B=pnvb$$
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  ip netns del "$NS_A" 2>/dev/null || true
  ip netns del "$NS_B" 2>/dev/null || true
  ip link del "$VETH_A" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! ip netns add "$NS_A" 2>"$WORK/err"; then
  echo "SKIPPED: network namespaces cannot be created here ($(tr -d '\n' <"$WORK/err")); run as root on a kernel with netns to test discovery"
  exit 0
fi
ip netns add "$NS_B"
ip link add "$VETH_A" type veth peer name "$VETH_B"
ip link set "$VETH_A" netns "$NS_A"
ip link set "$VETH_B" netns "$NS_B"
ip -n "$NS_A" addr add 10.231.17.1/24 dev "$VETH_A"
ip -n "$NS_B" addr add 10.231.17.2/24 dev "$VETH_B"
for ns in "$NS_A:$VETH_A" "$NS_B:$VETH_B"; do
  ip -n "${ns%%:*}" link set lo up
  ip -n "${ns%%:*}" link set "${ns#*:}" multicast on up
done

# board-b serves TLS: its announcement must carry the certificate's SHA-256.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=board-b.local -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
FINGERPRINT=$(openssl x509 -in "$WORK/cert.pem" -outform der | sha256sum | cut -d' ' -f1)

export RUST_LOG=warn
ip netns exec "$NS_A" "$PICONETD" --listen 0.0.0.0:12345 --name board-a &
PIDS+=($!)
ip netns exec "$NS_B" "$PICONETD" --listen 0.0.0.0:12345 --name board-b \
  --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" &
PIDS+=($!)
ip netns exec "$NS_B" "$PICONETD" --listen 0.0.0.0:12346 --name hidden --no-mdns &
PIDS+=($!)

# mDNS probes for a name for ~750 ms before announcing it: a few tries.
for try in 1 2 3 4; do
  timeout 30 ip netns exec "$NS_A" "$PICONET" --json discover --timeout 2 >"$WORK/found.json" ||
    { echo "FAILED: piconet discover exited $?" >&2; exit 1; }
  if python3 - "$WORK/found.json" "$FINGERPRINT" <<'PY'
import json, sys
found = {b["name"]: b for b in json.load(open(sys.argv[1]))}
fingerprint = sys.argv[2]
errors = []
if "hidden" in found:
    errors.append("the --no-mdns board was announced")
for name in ("board-a", "board-b"):
    if name not in found:
        errors.append(f"{name} not found (found: {sorted(found)})")
if not errors:
    a, b = found["board-a"], found["board-b"]
    for board in (a, b):
        for key in ("api", "fw", "id", "tls", "auth"):
            if key not in board:
                errors.append(f"{board['name']}: no TXT {key}")
        if board["port"] != 12345 or board["auth"] != "none" or board["api"] != "1":
            errors.append(f"{board['name']}: {board}")
        if len(board["id"]) != 16:
            errors.append(f"{board['name']}: id {board['id']!r}")
        if board["host"] != f"{board['name']}.local.":
            errors.append(f"{board['name']}: host {board['host']!r}")
    if "10.231.17.2" not in b["addresses"]:
        errors.append(f"board-b across the veth link: addresses {b['addresses']}")
    if "10.231.17.1" not in a["addresses"]:
        errors.append(f"board-a: addresses {a['addresses']}")
    for board in (a, b):
        # Both listen on 0.0.0.0: an IPv6 address would be refused.
        if any(":" in ip for ip in board["addresses"]):
            errors.append(f"{board['name']} listens on IPv4 only but announces {board['addresses']}")
    if a["tls"] != "":
        errors.append(f"board-a is plaintext but announces tls={a['tls']!r}")
    if b["tls"] != fingerprint:
        errors.append(f"board-b tls={b['tls']!r}, its certificate's SHA-256 is {fingerprint}")
    if a["id"] == b["id"]:
        errors.append("both boards announce the same id")
for e in errors:
    print("  " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
  then
    echo "discovery: board-a and board-b found from $NS_A (board-b across the veth link, its TLS fingerprint announced), the --no-mdns board not (try $try)"
    # The text listing names both as well.
    timeout 30 ip netns exec "$NS_A" "$PICONET" discover --timeout 2 >"$WORK/found.txt"
    grep -q '^board-b  .*10\.231\.17\.2' "$WORK/found.txt" ||
      { echo "FAILED: the text listing lacks board-b at 10.231.17.2:" >&2; cat "$WORK/found.txt" >&2; exit 1; }
    # NAME.local, and a bare NAME the system resolver does not know, reach
    # the boards through mDNS; the first TLS contact with board-b pins the
    # certificate its announcement names.
    timeout 30 ip netns exec "$NS_A" "$PICONET" version board-a.local >/dev/null
    timeout 30 ip netns exec "$NS_A" "$PICONET" version board-a >/dev/null
    timeout 30 ip netns exec "$NS_A" "$PICONET" version --tls --known-hosts "$WORK/known_hosts" board-b.local 2>/dev/null >/dev/null
    grep -qx "board-b.local:12345 $FINGERPRINT" "$WORK/known_hosts" || {
      echo "FAILED: board-b.local not pinned with its announced fingerprint:" >&2
      cat "$WORK/known_hosts" >&2
      exit 1
    }
    # An unknown name is a clear resolve error (exit 3), within the mDNS wait.
    rc=0
    timeout 30 ip netns exec "$NS_A" "$PICONET" version nosuch.local 2>"$WORK/err" || rc=$?
    if [ "$rc" -ne 3 ] || ! grep -q 'no board named "nosuch"' "$WORK/err"; then
      echo "FAILED: nosuch.local gave exit $rc: $(cat "$WORK/err")" >&2
      exit 1
    fi
    echo "names: board-a.local and board-a reached over mDNS, board-b.local over TLS pinned with its announced fingerprint, nosuch.local refused"
    exit 0
  fi
  echo "try $try: not yet" >&2
done
echo "FAILED: piconet discover did not find both boards with the right records:" >&2
cat "$WORK/found.json" >&2
exit 1
