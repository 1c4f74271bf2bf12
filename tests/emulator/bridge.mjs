#!/usr/bin/env node
// The emulated board's USB serial port on stdin/stdout: the piconet firmware
// image in rp2040js 1.4.1 (the harness of board.mjs), its CDC data channel
// connected to this process's standard streams. Bytes read from stdin are
// the host-to-device data, whatever the device sends goes to stdout as it
// comes. Put a pseudo-terminal in front and any program that opens serial
// ports (the piconet CLI) talks to the firmware as to a board on a cable:
//
//   socat PTY,link=/tmp/ttyPico,raw,echo=0 EXEC:'node tests/emulator/bridge.mjs'
//   piconet send --serial /tmp/ttyPico -c action=get_info
//
// The board is powered as long as this process runs: the port can be
// opened and closed any number of times, as a real cable can. The
// firmware's reset (the `reset` action, `piconet provision --reset`, or a
// watchdog expiry) reaches the emulated watchdog; the bridge answers it
// with a power cycle that keeps the flash (Board.reboot), so stored
// settings are in effect after it, as on the real board.
//
// Simulated time is paced to wall time (it runs at most 2 ms ahead of the
// time elapsed since start), so the firmware's leases and the client's timeouts
// measure the same seconds; while the emulator is busy it may lag behind
// and catches up afterwards. The core runs in slices of at most SLICE_MS
// of wall time between turns of node's event loop, so stdin is read while
// the firmware runs.
//
// Environment:
//   PICONET_FIRMWARE_BIN   the image (default firmware/target/piconet-firmware-full.bin)
//   PICONET_BRIDGE_FLASH   a file holding the whole flash: loaded at start if
//                          it exists (instead of the image), written at exit
//                          and after each reset, so a board outlives the bridge
//   PICONET_BRIDGE_PINS    comma-separated GPIO numbers whose output level and
//                          direction changes are reported on stderr
//
// Stderr gets one line per event, `bridge: ...` (simulated time in ms):
// `bridge: pid N`, `bridge: enumerated at T ms`, `bridge: reset at T ms,
// power cycle`, `bridge: pin P high|low driven|floating at T ms`,
// `bridge: exit`. Nothing else is written to stdout.

import { existsSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Board } from './board.mjs';

const BIN =
  process.env.PICONET_FIRMWARE_BIN ??
  fileURLToPath(new URL('../../firmware/target/piconet-firmware-full.bin', import.meta.url));
const FLASH_FILE = process.env.PICONET_BRIDGE_FLASH || null;
const PINS = (process.env.PICONET_BRIDGE_PINS ?? '')
  .split(',')
  .filter((s) => s.trim() !== '')
  .map((s) => Number(s));

const MS = 1e6; // ns
const SLICE_MS = 10; // wall time the core runs before node's event loop gets a turn
const STEP_NS = 200_000; // simulated time per runFor call within a slice
// Simulated time may run this far ahead of wall time, so that an answer
// does not wait for the next timer turn to be computed.
const LEAD_NS = 2 * MS;

const log = (text) => process.stderr.write(`bridge: ${text}\n`);
const simMs = () => ((board.nanos / MS).toFixed(1));

if (PINS.some((p) => !Number.isInteger(p) || p < 0 || p > 29)) {
  log(`PICONET_BRIDGE_PINS must list GPIO numbers 0-29, not ${JSON.stringify(process.env.PICONET_BRIDGE_PINS)}`);
  process.exit(2);
}

let board;
if (FLASH_FILE && existsSync(FLASH_FILE)) {
  board = new Board(null, { flash: readFileSync(FLASH_FILE) });
} else {
  if (!existsSync(BIN)) {
    log(`${BIN} missing: run firmware/build.sh first (or set PICONET_FIRMWARE_BIN)`);
    process.exit(2);
  }
  board = new Board(BIN);
}
log(`pid ${process.pid}`);

// Power-on bookkeeping for each chip (the first one and every reboot).
// Simulated time restarts at 0 with each chip; `epochNs` is the simulated
// time of all earlier chips, so the pacing below sees one clock.
let epochNs = 0;
let resetRequested = false;
let enumerated = false;

function attach() {
  resetRequested = false;
  enumerated = false;
  board.mcu.peripherals[0x40058].onWatchdogTrigger = () => {
    resetRequested = true;
  };
  for (const pin of PINS) {
    const gpio = board.mcu.gpio[pin];
    let last = null;
    gpio.addListener(() => {
      const state = `${gpio.outputValue ? 'high' : 'low'} ${gpio.outputEnable ? 'driven' : 'floating'}`;
      if (state === last) return;
      last = state;
      log(`pin ${pin} ${state} at ${simMs()} ms`);
    });
  }
}
attach();

function saveFlash() {
  if (!FLASH_FILE) return;
  const tmp = `${FLASH_FILE}.tmp`;
  writeFileSync(tmp, board.mcu.flash);
  renameSync(tmp, FLASH_FILE);
}

// ---- host to device ----------------------------------------------------

process.stdin.on('data', (chunk) => {
  // board.write spreads its argument into an array push: keep it short.
  for (let i = 0; i < chunk.length; i += 4096) board.write(chunk.subarray(i, i + 4096));
  // Deliver without waiting for the next timer turn.
  setImmediate(run);
});
process.stdin.on('end', () => shutdown());
process.stdout.on('error', () => shutdown()); // the reader went away
process.on('SIGTERM', () => shutdown());
process.on('SIGINT', () => shutdown());

// ---- device to host ----------------------------------------------------

function flushRx() {
  if (board.rx.length === 0) return;
  const bytes = board.rx;
  board.rx = Buffer.alloc(0);
  process.stdout.write(bytes);
}

// ---- run loop ----------------------------------------------------------

const wallStart = performance.now();
let running = false;
let timer = null;
let stopped = false;

function run() {
  if (running || stopped) return;
  running = true;
  if (timer) {
    clearTimeout(timer);
    timer = null;
  }
  try {
    // Run up to where wall time (plus the lead) is now, or for SLICE_MS.
    const sliceEnd = performance.now() + SLICE_MS;
    const target = epochNs + board.nanos + simBehindNs();
    for (;;) {
      const left = target - (epochNs + board.nanos);
      if (left <= 0 || performance.now() >= sliceEnd) break;
      board.runFor(Math.min(STEP_NS, left));
      if (!enumerated && board.connected) {
        enumerated = true;
        log(`enumerated at ${simMs()} ms`);
        if (board.unknownRom.length) log(`ROM functions the stand-in ROM lacks: ${board.unknownRom.join(', ')}`);
      }
      flushRx();
      if (resetRequested) powerCycle();
    }
  } finally {
    running = false;
  }
  if (stopped) return;
  // Well behind wall time: go on as soon as pending I/O is handled;
  // otherwise wait until there is a step's worth of time to run.
  const behind = simBehindNs();
  if (behind >= STEP_NS) setImmediate(run);
  else timer = setTimeout(run, Math.max(1, Math.ceil((STEP_NS - behind) / MS)));
}

/** How far simulated time may still run now: up to LEAD_NS ahead of wall time. */
function simBehindNs() {
  const wallNs = (performance.now() - wallStart) * MS;
  return wallNs + LEAD_NS - (epochNs + board.nanos);
}

function powerCycle() {
  log(`reset at ${simMs()} ms, power cycle`);
  flushRx();
  // Bytes the host sent that the old chip never took are lost, as on a
  // real board whose USB device goes away.
  epochNs += board.nanos;
  board = board.reboot();
  saveFlash();
  attach();
}

function shutdown() {
  if (stopped) return;
  stopped = true;
  if (timer) clearTimeout(timer);
  flushRx();
  saveFlash();
  log('exit');
  process.exit(0);
}

run();
