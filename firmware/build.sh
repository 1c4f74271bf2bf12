#!/usr/bin/env bash
# Build the Pico W firmware: the bootloader (firmware/bootloader, embassy-boot)
# and the app (linked for the ACTIVE slot), the OTA payload (.bin of the app),
# the image for a new board (bootloader + app, as .bin and .uf2), and a size
# report against the budgets.
#
#   firmware/build.sh            # plaintext unless a TLS identity is set
#   PICONET_WIFI_SSID=... PICONET_WIFI_PASSWORD=... \
#   PICONET_TLS_CERT=ec_cert.der PICONET_TLS_KEY=ec_key.pem firmware/build.sh
#
# Installs what it needs, idempotently: the rustup target, Debian packages
# (clang, cmake, ninja-build, libnewlib-dev, llvm) and elf2uf2-rs 2.2.0.
#
# Outputs go to firmware/target/, or to $CARGO_TARGET_DIR when it is set
# (both builds and the images, e.g. CARGO_TARGET_DIR=/tmp/fw firmware/build.sh).
set -euo pipefail
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    CARGO_TARGET_DIR="$(realpath -m "$CARGO_TARGET_DIR")"
fi
cd "$(dirname "$0")"
T="${CARGO_TARGET_DIR:-target}"
export CARGO_TARGET_DIR="$T"

FLASH_BUDGET=$((1008 * 1024))   # the ACTIVE app slot of the flash map
BOOT_BUDGET=$((16 * 1024))      # the bootloader area (boot2 included)
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
# The bootloader is its own Cargo workspace (its embassy-rp keeps boot2, the
# app's has boot2-none); same target directory.
cargo build --release --manifest-path bootloader/Cargo.toml --target-dir "$T"
cargo build --release -p piconet-firmware
end=$(date +%s)

R=$T/thumbv6m-none-eabi/release
BOOT_ELF=$R/piconet-bootloader
ELF=$R/piconet-firmware
BIN=$T/piconet-firmware.bin            # OTA payload: the app, from 0x10005000
FULL_BIN=$T/piconet-firmware-full.bin  # new board: flat image from 0x10000000
FULL_UF2=$T/piconet-firmware-full.uf2  # new board: the same, for BOOTSEL
rm -f "$T/piconet-firmware.uf2"         # an app-only UF2 would not boot alone

llvm-objcopy -O binary "$ELF" "$BIN"
# The new board's image, assembled flat: the bootloader (boot2 first) padded
# with 0xFF (erased flash) up to the ACTIVE slot, so BOOTLOADER_STATE
# (0x4000-0x5000) is written erased and a re-flashed board has no stale swap
# mark, then the app. Converted once to UF2: wrapped in an ELF at
# 0x10000000 (full-image.ld, the toolchain's rust-lld) for elf2uf2-rs.
W=$T/full-image
mkdir -p "$W"
llvm-objcopy -O binary "$BOOT_ELF" "$W/bootloader.bin"
boot_size=$(stat -c %s "$W/bootloader.bin")
ACTIVE_OFFSET=$((0x5000))
if [ "$boot_size" -gt $((0x4000)) ]; then
    echo "bootloader image is $boot_size B, over its 16 KiB area"; exit 1
fi
{
    cat "$W/bootloader.bin"
    head -c $((ACTIVE_OFFSET - boot_size)) /dev/zero | tr '\0' '\377'
    cat "$BIN"
} >"$FULL_BIN"
(cd "$W" && cp ../piconet-firmware-full.bin full.bin &&
    llvm-objcopy -I binary -O elf32-littlearm --rename-section .data=.full,alloc,load,readonly,contents \
        full.bin full.o)
LLD="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/rust-lld"
"$LLD" -flavor gnu -T full-image.ld "$W/full.o" -o "$W/full.elf"
elf2uf2-rs "$W/full.elf" "$FULL_UF2"

# Size report from the ELFs' section tables; the heap is the size of the
# static array handed to the allocator.
heap_hex=$(llvm-nm -S -C "$ELF" | awk '/heap_init::MEMORY/ && !n++ {print $2}')
heap=$((16#${heap_hex:-0}))
sizes() {
    llvm-size -A "$1" | awk '
        $1 == ".boot2" || $1 == ".vector_table" || $1 == ".text" || $1 == ".rodata" { flash += $2 }
        $1 == ".data" { flash += $2; ram += $2 }
        $1 == ".bss" || $1 == ".uninit" { ram += $2 }
        END { print flash, ram }'
}
read -r boot_flash boot_ram < <(sizes "$BOOT_ELF")
read -r flash ram < <(sizes "$ELF")
awk -v bf="$boot_flash" -v bb="$BOOT_BUDGET" -v f="$flash" -v fb="$FLASH_BUDGET" \
    -v r="$ram" -v rb="$RAM_BUDGET" -v heap="$heap" 'BEGIN {
    printf "size report (release)\n"
    printf "  bootloader flash %8d B  %5.1f%% of %d B (bootloader area, 16 KiB, boot2 included)\n", bf, 100 * bf / bb, bb
    printf "  app flash        %8d B  %5.1f%% of %d B (ACTIVE slot, 1008 KiB)\n", f, 100 * f / fb, fb
    printf "  app static RAM   %8d B  %5.1f%% of %d B (160 KiB), of which heap %d B\n", r, 100 * r / rb, rb, heap
    if (bf > bb || f > fb || r > rb) { print "  OVER BUDGET"; exit 1 }
}'
echo "  build time $((end - start)) s"
echo "bootloader ELF $BOOT_ELF"
echo "app ELF        $ELF"
echo "OTA payload    $BIN (app for the ACTIVE slot at 0x10005000; sign it for piconet update)"
echo "new board      $FULL_UF2 (bootloader + app, BOOTSEL drag-and-drop)"
echo "new board      $FULL_BIN (the same as a flat image from 0x10000000)"
