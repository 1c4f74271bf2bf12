#!/usr/bin/env bash
# Build the Pico W firmware: release ELF, UF2 (for BOOTSEL drag-and-drop),
# raw .bin (the future OTA payload), and a size report against the budget.
#
#   firmware/build.sh            # plaintext unless a TLS identity is set
#   PICONET_WIFI_SSID=... PICONET_WIFI_PASSWORD=... \
#   PICONET_TLS_CERT=ec_cert.der PICONET_TLS_KEY=ec_key.pem firmware/build.sh
#
# Installs what it needs, idempotently: the rustup target, Debian packages
# (clang, cmake, ninja-build, libnewlib-dev, llvm) and elf2uf2-rs 2.2.0.
set -euo pipefail
cd "$(dirname "$0")"

FLASH_BUDGET=$((1008 * 1024))   # the ACTIVE app slot of the flash map
RAM_BUDGET=$((160 * 1024))      # static RAM including the heap

if ! rustup target list --installed | grep -qx thumbv6m-none-eabi; then
    rustup target add thumbv6m-none-eabi
fi

# clang: C parts (tinyrlibc, MbedTLS); cmake + ninja-build: MbedTLS is built
# from source for the 4 KiB record profile; libnewlib-dev: libc headers for
# the bare-metal target (headers only); llvm: llvm-size, llvm-objcopy, llvm-nm.
need=()
for pkg in clang cmake ninja-build libnewlib-dev llvm; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! elf2uf2-rs --help >/dev/null 2>&1; then
    cargo install elf2uf2-rs --version 2.2.0 --locked --no-default-features
fi

start=$(date +%s)
cargo build --release -p piconet-firmware
end=$(date +%s)

ELF=target/thumbv6m-none-eabi/release/piconet-firmware
UF2=target/piconet-firmware.uf2
BIN=target/piconet-firmware.bin
elf2uf2-rs "$ELF" "$UF2"
llvm-objcopy -O binary "$ELF" "$BIN"

# Size report from the ELF's section table; the heap is the size of the
# static array handed to the allocator.
heap_hex=$(llvm-nm -S -C "$ELF" | awk '/heap_init::MEMORY/ && !n++ {print $2}')
heap=$((16#${heap_hex:-0}))
llvm-size -A "$ELF" | awk -v fb="$FLASH_BUDGET" -v rb="$RAM_BUDGET" -v heap="$heap" '
    $1 == ".boot2" || $1 == ".vector_table" || $1 == ".text" || $1 == ".rodata" { flash += $2 }
    $1 == ".data" { flash += $2; ram += $2 }
    $1 == ".bss" || $1 == ".uninit" { ram += $2 }
    END {
        printf "size report (piconet-firmware, release)\n"
        printf "  flash      %8d B  %5.1f%% of %d B (ACTIVE slot, 1008 KiB)\n", flash, 100 * flash / fb, fb
        printf "  static RAM %8d B  %5.1f%% of %d B (160 KiB), of which heap %d B\n", ram, 100 * ram / rb, rb, heap
        if (flash > fb || ram > rb) { print "  OVER BUDGET"; exit 1 }
    }'
echo "  build time $((end - start)) s"
echo "ELF $ELF"
echo "UF2 $UF2"
echo "BIN $BIN"
