#!/usr/bin/env bash
# Every test of piconet, on a fresh machine: installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# CI ends the whole run after 90 minutes and then reports nothing useful, so a
# step that hangs must fail on its own, early, and say which step it was.
# timeout signals its whole process group: servers a test started die too.
bounded() {
  local limit=$1 rc=0
  shift
  timeout --kill-after=30 "$limit" "$@" || rc=$?
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    printf 'error: `%s` did not finish within %s s: something in it hangs\n' "$*" "$limit" >&2
    echo "processes left after it:" >&2
    ps -eo pid,ppid,etimes,args --forest >&2 || true
  fi
  return "$rc"
}

step "toolchain: thumbv6m-none-eabi target (for the no_std crates and the firmware)"
rustup target list --installed | grep -qx thumbv6m-none-eabi || rustup target add thumbv6m-none-eabi

step "python: the original piconetcontrol 0.2.4 client and pytest (compatibility tests)"
python3 -m pip install -q --disable-pip-version-check -r tests/compat/requirements.txt

step "unit, property and end-to-end tests (cargo test)"
# The seed-certificate tests make their certificates with the openssl command.
command -v openssl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null; }
# The MQTT bridge's end-to-end test starts its own Mosquitto on a free
# loopback port (a daemon apt may start on 1883 is not used). Debian puts
# the broker in /usr/sbin.
PATH="$PATH:/usr/sbin"
command -v mosquitto >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null; }
bounded 1800 cargo test --workspace --all-features

step "no_std, no alloc: protocol and engine build for the RP2040"
cargo build --release --target thumbv6m-none-eabi -p piconet-protocol -p piconet-engine -p piconet-config -p piconet-boot-slot

step "wire compatibility with the original Python client and server (pytest)"
cargo build -p piconet-server --bin piconetd
PICONETD="$PWD/target/debug/piconetd" bounded 600 python3 -m pytest -q tests/compat

step "python: the piconet package (PyO3 extension, maturin debug wheel) and its gpiozero pin factory, against piconetd on the simulated board (pytest)"
python3 -m pip install -q --disable-pip-version-check -r python/tests/requirements.txt
# A debug wheel: it reuses the dev build of the workspace's dependencies
# (users build the release wheel: python/README.md).
wheels="$(mktemp -d)"
bounded 900 maturin build --profile dev -m python/Cargo.toml -o "$wheels"
python3 -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheels"/piconet-*.whl
rm -rf "$wheels"
PICONETD="${CARGO_TARGET_DIR:-$PWD/target}/debug/piconetd" bounded 300 python3 -m pytest -q python/tests
# The type stubs: a typical use of the API must check under mypy --strict.
(cd python && bounded 300 python3 -m mypy --strict piconet/__init__.py piconet/errors.py piconet/_piconet.pyi tests/typed_usage.py)

step "discovery: two piconetd in network namespaces of their own (veth pair, multicast) found by piconet discover"
# Needs root for ip netns; says SKIPPED and goes on where namespaces cannot be made.
cargo build -p piconet-cli
bounded 120 scripts/netns-discovery.sh

if [ -x firmware/build.sh ]; then
  step "firmware: release build (bootloader + app), OTA payload, new-board UF2 and size report"
  bounded 1800 firmware/build.sh

  step "firmware: cargo clippy -D warnings (the app and app-core, for thumbv6m-none-eabi)"
  (cd firmware && bounded 900 cargo clippy --release -p piconet-firmware -p piconet-app-core -- -D warnings)

  step "firmware in rp2040js 1.4.1: the new-board image (firmware/target/piconet-firmware-full.bin: bootloader, then the app) over USB CDC, also driven by the piconet CLI"
  # Needs node >= 18; rp2040js is pinned by tests/emulator/package-lock.json.
  # cli.test.mjs runs target/debug/piconet (or $CARGO_TARGET_DIR's) on a
  # pseudo-terminal that socat puts in front of tests/emulator/bridge.mjs.
  command -v socat >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq socat >/dev/null; }
  cargo build -p piconet-cli
  NPM_CONFIG_UPDATE_NOTIFIER=false npm ci --prefix tests/emulator --no-audit --no-fund
  # One file per run, each bounded, so a hang names its file. --test-force-exit:
  # a handle left open after a file's last test must not keep the run alive
  # (CI once stalled here after every test had passed; not reproduced locally).
  for f in tests/emulator/*.test.mjs; do
    bounded 600 node --test --test-force-exit --test-concurrency=1 --test-timeout=300000 "$f"
  done
fi

if [ -x firmware/build.sh ]; then
  step "firmware: handshake benchmark image (firmware/bench-handshake) in rp2040js: full mTLS handshake cycles (figures, BENCHMARKS.md issue 14)"
  (cd firmware && bounded 1200 cargo build --release -p piconet-bench-handshake)
  FWT="$(cd firmware && realpath -m "${CARGO_TARGET_DIR:-target}")"
  llvm-objcopy -O binary "$FWT/thumbv6m-none-eabi/release/piconet-bench-handshake" "$FWT/bench-handshake.bin"
  PICONET_BENCH_BIN="$FWT/bench-handshake.bin" bounded 300 node --test --test-force-exit tests/emulator/handshake.test.mjs
fi

step "firmware on the host: app-core logic, and the network path (embassy-net over an in-memory link, plaintext and MbedTLS, SimBoard)"
# Needs what firmware/build.sh installs (clang, cmake, ninja: MbedTLS is built
# from source for x86_64 too) and the openssl command (test certificate).
command -v openssl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null; }
(cd firmware && bounded 1800 cargo test -p piconet-app-core -p piconet-host-test --target x86_64-unknown-linux-gnu)

step "fuzzing: every target for a bounded time from the kept corpus"
bounded 1200 fuzz/run.sh "${PICONET_FUZZ_SECONDS:-30}"
