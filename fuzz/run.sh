#!/usr/bin/env bash
# Run every fuzz target for SECONDS each (default 30) from the kept corpus.
# Stable Rust: cargo-fuzz needs nightly flags, which RUSTC_BOOTSTRAP allows.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-30}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked
for target in framing engine update; do
  echo "==> fuzz $target for ${seconds}s"
  log=$(mktemp)
  if ! RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "corpus/$target" -- \
      -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    if grep -q "failed to build fuzz script" "$log"; then
      echo "fuzz target $target does not build (see above): fuzz/ is outside the workspace, so a changed API reaches it only here"
    else
      echo "fuzz target $target FAILED (reproducer under fuzz/artifacts/$target)"
    fi
    exit 1
  fi
  grep -E "^Done|stat::number_of_executed_units" "$log" || tail -n 5 "$log"
  rm -f "$log"
done
