// The release image for a new board (firmware/target/piconet-firmware-full.bin,
// made by firmware/build.sh: the bootloader at flash offset 0, erased
// BOOTLOADER_STATE, the app at 0x5000; byte for byte what
// piconet-firmware-full.uf2 writes) booted in rp2040js 1.4.1 (boot2, then
// the embassy-boot bootloader, which jumps to the app in the ACTIVE slot)
// and driven over USB CDC. No WiFi chip is emulated: the board must
// keep serving over USB and say so in get_info.
//
//   npm ci --prefix tests/emulator && node --test tests/emulator/
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

if (!existsSync(BIN)) throw new Error(`${BIN} missing: run firmware/build.sh first`);

// One board for the whole file, as on a real cable: every test continues
// the same session (the engine's state carries over).
const board = new Board(BIN);

/** Pin level changes seen by the emulator, with simulated timestamps. */
const edges = new Map();
function watch(pin) {
  edges.set(pin, []);
  board.mcu.gpio[pin].addListener(() => {
    edges.get(pin).push({ ns: board.nanos, high: board.mcu.gpio[pin].outputValue });
  });
}
const level = (pin) => board.mcu.gpio[pin].outputValue;
const driven = (pin) => board.mcu.gpio[pin].outputEnable;

test('boots and enumerates as a USB CDC-ACM device (no DTR wait)', () => {
  assert.ok(board.runUntil(() => board.connected, 2000 * MS), 'USB enumeration');
  assert.deepEqual(board.unknownRom, [], 'ROM functions the stand-in ROM lacks');
  console.log(`# enumerated at ${(board.nanos / MS).toFixed(1)} ms simulated`);
});

test('get_version and list_actions answer', () => {
  const v = board.request({ action: 'get_version' });
  assert.equal(v.action, 'get_version');
  assert.equal(typeof v.version, 'string');
  const l = board.request({ action: 'list_actions' });
  assert.ok(Array.isArray(l.actions), JSON.stringify(l));
  for (const a of ['setup_pin', 'write_pin', 'read_pin', 'get_info', 'list_actions', 'get_version',
    'update_begin', 'set_wifi', 'get_config', 'set_name']) {
    assert.ok(l.actions.includes(a), `${a} listed`);
  }
  // The real board has no simulated inputs: sim_input would answer OSError.
  assert.ok(!l.actions.includes('sim_input'), JSON.stringify(l.actions));
});

test('setup_pin and write_pin drive the emulated pin', () => {
  watch(15);
  let r = board.request({ action: 'setup_pin', pin: 15, mode: 'output', value: 0 });
  assert.equal(r.error, undefined, JSON.stringify(r));
  board.runFor(1 * MS);
  assert.equal(driven(15), true);
  assert.equal(level(15), false);
  r = board.request({ action: 'write_pin', pin: 15, value: 1, timeout: 60 });
  assert.equal(r.error, undefined, JSON.stringify(r));
  board.runFor(1 * MS);
  assert.equal(level(15), true);
  assert.equal(board.request({ action: 'read_pin', pin: 15 }).value, 1);
  r = board.request({ action: 'write_pin', pin: 15, value: 0, timeout: 60 });
  board.runFor(1 * MS);
  assert.equal(level(15), false);
  assert.ok(edges.get(15).some((e) => e.high) && !edges.get(15).at(-1).high, 'edges seen');
});

test('read_pin follows inputs driven with setInputValue', () => {
  const r = board.request({ action: 'setup_pin', pin: 4, mode: 'input', pull: null });
  assert.equal(r.error, undefined, JSON.stringify(r));
  for (const v of [true, false, true]) {
    board.mcu.gpio[4].setInputValue(v);
    board.runFor(1 * MS);
    assert.equal(board.request({ action: 'read_pin', pin: 4 }).value, v ? 1 : 0);
  }
});

test('write_pin with timeout 0.05 s reverts at its deadline (simulated time)', () => {
  watch(16);
  board.request({ action: 'setup_pin', pin: 16, mode: 'output', value: 0 });
  board.runFor(1 * MS);
  edges.set(16, []);
  board.write(JSON.stringify({ action: 'write_pin', pin: 16, value: 1, timeout: 0.05 }) + '\n');
  const reply = JSON.parse(board.readLine());
  assert.equal(reply.error, undefined, JSON.stringify(reply));
  board.runFor(200 * MS);
  const seen = edges.get(16);
  assert.equal(seen.length, 2, JSON.stringify(seen));
  assert.equal(seen[0].high, true);
  assert.equal(seen[1].high, false);
  // The engine sets the deadline at the command's handling time, which
  // the reply reports as time_received (ns on the board's timer, which
  // counts the same simulated clock from reset).
  const deadline = reply.time_received + 50 * MS;
  const lateUs = (seen[1].ns - deadline) / 1000;
  const heldUs = (seen[1].ns - seen[0].ns) / 1000;
  console.log(`# lease revert: ${lateUs.toFixed(1)} µs after the 50 ms deadline (pin high for ${heldUs.toFixed(1)} µs)`);
  assert.ok(lateUs >= 0, `reverted early: ${lateUs} µs`);
  assert.ok(lateUs < 1000, `reverted late: ${lateUs} µs`);
  assert.equal(board.request({ action: 'read_pin', pin: 16 }).value, 0);
});

test('pins 23, 24, 25 and 29 (the CYW43) are refused', () => {
  for (const pin of [23, 24, 25, 29]) {
    const r = board.request({ action: 'setup_pin', pin, mode: 'output', value: 0 });
    assert.ok(r.error, `pin ${pin}: ${JSON.stringify(r)}`);
  }
});

test('malformed input gets errors and the board keeps serving', () => {
  for (const bad of ['not json', '{"action": "no_such_action"}', '{"action": "write_pin", "pin": "x"}', '[1,2', '{}']) {
    const r = board.request(bad);
    assert.ok(r.error, `${bad} -> ${JSON.stringify(r)}`);
  }
  // A line longer than the firmware's 2 KiB limit.
  const long = board.request('{"action": "get_version", "pad": "' + 'x'.repeat(3000) + '"}');
  assert.ok(long.error, JSON.stringify(long).slice(0, 200));
  assert.equal(board.request({ action: 'get_version' }).action, 'get_version');
});

test('get_info answers, reports the absent radio as not responding and the update state', () => {
  // The radio bring-up gives up after 10 s (wifi::BRING_UP_TIMEOUT).
  const t = 10_500 * MS - board.nanos;
  if (t > 0) board.runFor(t);
  const info = board.request({ action: 'get_info' }).info;
  assert.equal(info.board, 'Raspberry Pi Pico W (RP2040)');
  assert.equal(info.wifi, 'not responding');
  assert.equal(info.ip, null);
  assert.ok(info.pins_configured >= 3, JSON.stringify(info));
  // Booted through the bootloader with an erased BOOTLOADER_STATE: a plain
  // boot. The build has no PICONET_UPDATE_PUBLIC_KEY unless one was set.
  assert.equal(info.last_update, 'none');
  assert.ok(['built in', 'this board was built without an update key'].includes(info.update_key));
  if (info.update_key !== 'built in') {
    // Without a key every image is refused up front, and the error says how to fix it.
    const begin = board.request({
      action: 'update_begin', size: 4096, sha256: 'ab'.repeat(32), signature: '00'.repeat(64),
    });
    assert.equal(begin.exception, 'ValueError', JSON.stringify(begin));
    assert.match(begin.error, /built without an update key.*PICONET_UPDATE_PUBLIC_KEY/);
  }
  // And USB still serves pins after the radio gave up.
  board.request({ action: 'write_pin', pin: 15, value: 1, timeout: 60 });
  board.runFor(1 * MS);
  assert.equal(level(15), true);
});

test('get_pins lists every configured pin in pin order, with the running lease', () => {
  // From the tests above: 4 an input, 15 leased high for 60 s (safe 0),
  // 16 an output at its safe level 0.
  const r = board.request({ action: 'get_pins' });
  assert.equal(r.error, undefined, JSON.stringify(r));
  assert.ok(Array.isArray(r.pins), JSON.stringify(r));
  const numbers = r.pins.map((p) => p.pin);
  assert.deepEqual(numbers, [...numbers].sort((a, b) => a - b), 'pin order');
  const pin = (n) => r.pins.find((p) => p.pin === n);
  assert.equal(pin(4).mode, 'input', JSON.stringify(pin(4)));
  assert.equal(pin(4).lease_ms, undefined);
  assert.equal(pin(15).mode, 'output');
  assert.equal(pin(15).level, 1);
  assert.equal(pin(15).safe, 0);
  assert.ok(pin(15).lease_ms > 0 && pin(15).lease_ms <= 60_000, JSON.stringify(pin(15)));
  assert.equal(pin(16).level, 0);
  assert.equal(pin(16).lease_ms, undefined, JSON.stringify(pin(16)));
  for (const reserved of [23, 24, 25, 29]) assert.equal(pin(reserved), undefined, `pin ${reserved}`);
});

// Over USB a "connection" is a session of the serial port: it ends with the
// blank line that ends a client's commands (the original client sends one),
// the idle timeout (300 s), the write timeout (the host stopped reading for
// 30 s) or a USB reset / unplug; the port then serves the next session.
// Closing the port on the host without the blank line is not seen at once:
// the firmware does not watch DTR (terminal programs, and this emulator's
// host model, do not set it reliably), so such a pin reverts at the idle
// timeout or at its own lease timeout, whichever comes first.
test('release_on_disconnect over USB: the pin reverts when its session ends with a blank line', () => {
  watch(17);
  board.request({ action: 'setup_pin', pin: 17, mode: 'output', value: 0 });
  let r = board.request({ action: 'write_pin', pin: 17, value: 1, timeout: 60, release_on_disconnect: true });
  assert.equal(r.error, undefined, JSON.stringify(r));
  board.runFor(1 * MS);
  assert.equal(level(17), true);
  assert.equal(level(15), true, 'pin 15 still leased');
  // The end of this session's commands.
  board.write('\n');
  board.runFor(5 * MS);
  assert.equal(level(17), false, 'released when the session ended');
  assert.equal(level(15), true, 'a lease without the flag runs on to its timeout');
  // The next session is served, and sees the pin at its safe level.
  r = board.request({ action: 'read_pin', pin: 17 });
  assert.equal(r.value, 0, JSON.stringify(r));
  const pins = board.request({ action: 'get_pins' }).pins;
  assert.equal(pins.find((p) => p.pin === 17).lease_ms, undefined);
  assert.ok(pins.find((p) => p.pin === 15).lease_ms > 0);
});

test('get_info reports the heap as the original did: mem_free and mem_alloc add up to heap_size', () => {
  const info = board.request({ action: 'get_info' }).info;
  assert.equal(typeof info.mem_free, 'number', JSON.stringify(info));
  assert.equal(typeof info.mem_alloc, 'number', JSON.stringify(info));
  assert.equal(info.mem_free + info.mem_alloc, info.heap_size, JSON.stringify(info));
});
