// The client list over the USB cable, on the release new-board image in
// rp2040js 1.4.1 (see board.mjs for the harness, whose stand-in boot ROM
// carries out the firmware's flash erase/program): set_clients stores the
// list in the CONFIG flash region, it applies at once (get_clients), and
// after a power cycle that keeps the flash the board boots with it; an
// empty list clears it for the boots after, and a list alone leaves the
// board on its build configuration.
//
//   npm ci --prefix tests/emulator && node --test tests/emulator/clients.test.mjs
//
// PICONET_FIRMWARE_BIN overrides the image path.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Board } from './board.mjs';

const BIN =
  process.env.PICONET_FIRMWARE_BIN ??
  fileURLToPath(new URL('../../firmware/target/piconet-firmware-full.bin', import.meta.url));

const MS = 1e6; // ns
// The CONFIG region (firmware/app/memory.x): 8 KiB at flash offset 0x1FE000.
const CONFIG_OFFSET = 0x1fe000;
const CONFIG_SIZE = 0x2000;

if (!existsSync(BIN)) throw new Error(`${BIN} missing: run firmware/build.sh first`);

const LAPTOP = 'ab'.repeat(32);
const HA = '0123456789abcdef'.repeat(4);
const LIST = [
  { name: 'laptop', sha256: LAPTOP, role: 'admin' },
  { name: 'ha', sha256: HA, role: 'operator', pins: [2, 3, 15] },
];

let board = new Board(BIN);

function boot() {
  assert.ok(board.runUntil(() => board.connected, 2000 * MS), 'USB enumeration');
  assert.deepEqual(board.unknownRom, [], 'ROM functions the stand-in ROM lacks');
}

const clients = () => {
  const r = board.request({ action: 'get_clients' }, 5000 * MS);
  assert.equal(r.error, undefined, JSON.stringify(r));
  return r.clients;
};

test('set_clients over USB stores the list; it is back after a power cycle', () => {
  boot();
  assert.deepEqual(clients(), [], 'a new board has no list');
  const t = board.nanos;
  const r = board.request({ action: 'set_clients', clients: LIST }, 5000 * MS);
  console.log(`# set_clients answered in ${((board.nanos - t) / MS).toFixed(2)} ms simulated`);
  assert.equal(r.error, undefined, JSON.stringify(r));
  assert.deepEqual(r.clients, LIST);
  assert.deepEqual(clients(), LIST, 'applied at once');
  const region = board.flashBytes(CONFIG_OFFSET, CONFIG_SIZE);
  assert.ok(region.includes(Buffer.from(LAPTOP, 'hex')), 'a fingerprint in the CONFIG region');

  board = board.reboot();
  boot();
  assert.deepEqual(clients(), LIST, 'the stored list after the reset');
  // A list alone is not a provisioned board: it keeps the build's settings.
  const info = board.request({ action: 'get_info' }, 5000 * MS).info;
  assert.equal(info.config, 'build', JSON.stringify(info));
});

test('a refused list changes nothing, stored or running', () => {
  const r = board.request(
    { action: 'set_clients', clients: [{ name: 'tv', sha256: HA, role: 'viewer' }] },
    5000 * MS,
  );
  assert.equal(r.exception, 'ValueError', JSON.stringify(r));
  assert.deepEqual(clients(), LIST);
  board = board.reboot();
  boot();
  assert.deepEqual(clients(), LIST);
});

test('an empty list clears it, also for the boots after', () => {
  const r = board.request({ action: 'set_clients', clients: [] }, 5000 * MS);
  assert.equal(r.error, undefined, JSON.stringify(r));
  assert.deepEqual(r.clients, []);
  board = board.reboot();
  boot();
  assert.deepEqual(clients(), []);
});
