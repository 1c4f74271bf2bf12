#!/usr/bin/env bash
# Instructions per command through decode → engine → encode, counted by
# callgrind: one read_pin and one write_pin (alternating 1/0, so leases
# start and end), on a minimal array-backed board and on the SimBoard.
#
#   bench/callgrind.sh [iterations]      (default 1000)
#
# Only `piconet_measured_command` (the example's measured function, and
# everything it calls) is counted (--toggle-collect); setup and warm-up go
# through an identical but uncounted copy. The figure is the total Ir of
# that function divided by the number of calls. Exits non-zero when a
# figure exceeds the goal or the measured path calls the allocator.
set -euo pipefail
cd "$(dirname "$0")/.."

N="${1:-1000}"
GOAL=3000
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-bench}"

if ! command -v valgrind >/dev/null || ! command -v callgrind_annotate >/dev/null; then
  echo "==> installing valgrind"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update && $SUDO apt-get install -y valgrind
fi

echo "==> building the command_cost example (release, debug symbols)"
# The bench profile is release with debug = true (see the workspace Cargo.toml).
cargo build --profile bench -p piconet-sim --example command_cost
BIN="$CARGO_TARGET_DIR/release/examples/command_cost"

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

fail=0
printf '\n%-10s %-8s %12s %6s %-11s %s\n' action board "Ir/command" goal heap result
for board in minimal sim; do
  for action in read_pin write_pin; do
    file="$OUT/callgrind.$board.$action.out"
    valgrind --tool=callgrind --toggle-collect='*piconet_measured_command*' \
      --callgrind-out-file="$file" "$BIN" "$board" "$action" "$N" \
      >"$OUT/$board.$action.log" 2>&1 || { cat "$OUT/$board.$action.log"; exit 1; }
    total=$(awk '/^totals:/ {print $2; exit}' "$file")
    [ -n "$total" ] || total=$(awk '/^summary:/ {print $2; exit}' "$file")
    per=$(( (total + N / 2) / N ))
    # Any allocator entry point seen inside the measured function?
    heap=$(callgrind_annotate --inclusive=yes --threshold=100 "$file" 2>/dev/null |
      grep -E -c '(^|[: ])(malloc|calloc|realloc|__rust_alloc|__rust_realloc|__rust_alloc_zeroed|__rdl_alloc|__rdl_realloc)( |$|\[)' || true)
    if [ "$heap" -eq 0 ]; then heap_s="none"; else heap_s="ALLOCATES"; fi
    result=PASS
    if [ "$per" -gt "$GOAL" ] || [ "$heap" -ne 0 ]; then result=FAIL; fail=1; fi
    printf '%-10s %-8s %12s %6s %-11s %s\n' "$action" "$board" "$per" "$GOAL" "$heap_s" "$result"
  done
done
printf '\n(%s calls each; total Ir of piconet_measured_command / calls)\n' "$N"
exit "$fail"
