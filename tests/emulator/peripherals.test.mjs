// PWM, ADC, the temperature sensor and I2C on the release image in
// rp2040js 1.4.1, over USB CDC (see firmware.test.mjs for the image and
// board.mjs for the harness). What rp2040js models and these tests use:
// the PWM slices (their registers, and the waveform on the pin, with
// simulated timestamps), the ADC's channel values (GPIO 26-28 and the
// temperature sensor, input 4), and the I2C controllers with device hooks
// (eeprom.mjs: a 24C02 at 0x50 and a device that never answers). What it
// does not model (bit timing on the I2C wire, analogue noise, electrical
// levels) is in firmware/README.md.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Board } from './board.mjs';
import { Eeprom, attach } from './eeprom.mjs';

const BIN =
  process.env.PICONET_FIRMWARE_BIN ??
  fileURLToPath(new URL('../../firmware/target/piconet-firmware-full.bin', import.meta.url));

const MS = 1e6; // ns
const US = 1e3; // ns

if (!existsSync(BIN)) throw new Error(`${BIN} missing: run firmware/build.sh first`);

const board = new Board(BIN);
const { mcu } = board;

/** Rising/falling edges of `pin` with simulated timestamps. */
function recorder(pin) {
  const edges = [];
  let last = mcu.gpio[pin].outputValue;
  mcu.gpio[pin].addListener(() => {
    const high = mcu.gpio[pin].outputValue;
    if (high !== last) edges.push({ ns: board.nanos, high });
    last = high;
  });
  return edges;
}

/**
 * Period and high time of the waveform in `edges` after `fromNs`, from
 * whole periods (rising edge to rising edge); null if fewer than two.
 */
function waveform(edges, fromNs) {
  const e = edges.filter((x) => x.ns >= fromNs);
  const rises = e.filter((x) => x.high).map((x) => x.ns);
  if (rises.length < 2) return null;
  const periods = [];
  const highs = [];
  for (let i = 0; i + 1 < rises.length; i++) {
    periods.push(rises[i + 1] - rises[i]);
    const fall = e.find((x) => !x.high && x.ns > rises[i]);
    if (fall && fall.ns < rises[i + 1]) highs.push(fall.ns - rises[i]);
  }
  return { periods, highs };
}

const near = (a, b, tol) => Math.abs(a - b) <= tol;
const ok = (r) => assert.equal(r.error, undefined, JSON.stringify(r));

test('boots and enumerates', () => {
  assert.ok(board.runUntil(() => board.connected, 2000 * MS), 'USB enumeration');
  const l = board.request({ action: 'list_actions' });
  for (const a of ['write_pwm', 'read_adc', 'read_temperature', 'i2c_setup', 'i2c_write', 'i2c_read', 'i2c_transfer']) {
    assert.ok(l.actions.includes(a), `${a} listed: ${JSON.stringify(l.actions)}`);
  }
});

const pin14 = recorder(14);
const pin15 = recorder(15);

test('a PWM pin runs its slice at the frequency and duty asked for', () => {
  ok(board.request({ action: 'setup_pin', pin: 14, mode: 'pwm', frequency: 1000, duty: 0.25 }));
  // GPIO 14 is slice 7, channel A: divider 31/16, wrap 64515 at 125 MHz.
  const slice = mcu.pwm.channels[7];
  assert.equal(slice.csr & 1, 1, 'slice enabled');
  assert.equal(slice.div, 31, 'DIV: 1 + 15/16');
  assert.equal(slice.top, 64515);
  assert.equal(slice.cc & 0xffff, Math.round(0.25 * 64516));
  assert.equal(mcu.gpio[14].functionSelect, 4, 'GPIO 14 function: PWM');
  const start = board.nanos;
  board.runFor(10 * MS);
  const w = waveform(pin14, start);
  assert.ok(w && w.periods.length >= 8, `periods seen: ${JSON.stringify(w)}`);
  for (const p of w.periods) assert.ok(near(p, 1 * MS, 2 * US), `period ${p} ns`);
  for (const h of w.highs) assert.ok(near(h, 0.25 * MS, 2 * US), `high ${h} ns`);
  console.log(`# GPIO 14: period ${w.periods[0]} ns, high ${w.highs[0]} ns`);
});

test('the second channel of a slice must share its frequency', () => {
  const r = board.request({ action: 'setup_pin', pin: 15, mode: 'pwm', frequency: 2000, duty: 0.5 });
  assert.equal(r.exception, 'ValueError', JSON.stringify(r));
  assert.match(r.error, /14/, 'names the pin that holds the slice');
  assert.notEqual(mcu.gpio[15].functionSelect, 4, 'GPIO 15 untouched');
  assert.equal(mcu.pwm.channels[7].top, 64515, 'slice 7 untouched');
  // At the slice's frequency it joins, and GPIO 14 keeps its waveform:
  // no period of it is cut short or stretched while 15 joins.
  const start = board.nanos;
  ok(board.request({ action: 'setup_pin', pin: 15, mode: 'pwm', frequency: 1000, duty: 0.5 }));
  board.runFor(10 * MS);
  const w14 = waveform(pin14, start - 2 * MS);
  for (const p of w14.periods) assert.ok(near(p, 1 * MS, 2 * US), `GPIO 14 period ${p} ns`);
  for (const h of w14.highs) assert.ok(near(h, 0.25 * MS, 2 * US), `GPIO 14 high ${h} ns`);
  const w15 = waveform(pin15, start);
  assert.ok(w15 && w15.highs.length >= 5, JSON.stringify(w15));
  for (const h of w15.highs) assert.ok(near(h, 0.5 * MS, 2 * US), `GPIO 15 high ${h} ns`);
});

test('write_pwm is a lease: the safe duty comes back at its end', () => {
  ok(board.request({ action: 'write_pwm', pin: 14, duty: 0.75, timeout: 0.05 }));
  let start = board.nanos;
  board.runFor(20 * MS);
  let w = waveform(pin14, start + 2 * MS);
  for (const h of w.highs) assert.ok(near(h, 0.75 * MS, 2 * US), `leased high ${h} ns`);
  // Past the 50 ms lease: 0.25 again.
  board.runFor(40 * MS);
  start = board.nanos;
  board.runFor(10 * MS);
  w = waveform(pin14, start);
  for (const h of w.highs) assert.ok(near(h, 0.25 * MS, 2 * US), `reverted high ${h} ns`);
});

test('a PWM pin set up as an output drives its level and stops the waveform', () => {
  ok(board.request({ action: 'setup_pin', pin: 15, mode: 'output', value: 1 }));
  board.runFor(1 * MS);
  assert.equal(mcu.gpio[15].functionSelect, 5, 'GPIO 15 function: SIO');
  const n = pin15.length;
  board.runFor(5 * MS);
  assert.equal(pin15.length, n, 'no more edges');
  assert.equal(mcu.gpio[15].outputValue, true);
  // GPIO 14 still runs; once it leaves too, the slice stops.
  assert.equal(mcu.pwm.channels[7].csr & 1, 1);
  ok(board.request({ action: 'setup_pin', pin: 14, mode: 'input', pull: null }));
  assert.equal(mcu.pwm.channels[7].csr & 1, 0, 'slice 7 disabled');
});

test('read_adc converts the channel value of GPIO 26-28', () => {
  ok(board.request({ action: 'setup_pin', pin: 26, mode: 'adc' }));
  ok(board.request({ action: 'setup_pin', pin: 28, mode: 'adc' }));
  for (const [pin, raw] of [
    [26, 0],
    [26, 2048],
    [26, 4095],
    [28, 1234],
  ]) {
    mcu.adc.channelValues[pin - 26] = raw;
    const r = board.request({ action: 'read_adc', pin });
    ok(r);
    assert.equal(r.raw, raw, JSON.stringify(r));
    assert.ok(near(r.volts, (raw * 3.3) / 4095, 0.002), JSON.stringify(r));
  }
  const r = board.request({ action: 'read_adc', pin: 27 });
  assert.ok(r.error, 'GPIO 27 was not set up as ADC');
  const bad = board.request({ action: 'setup_pin', pin: 15, mode: 'adc' });
  assert.equal(bad.exception, 'ValueError', JSON.stringify(bad));
});

test('read_temperature converts ADC input 4 by the datasheet formula', () => {
  for (const raw of [876, 800, 950]) {
    mcu.adc.channelValues[4] = raw;
    const r = board.request({ action: 'read_temperature' });
    ok(r);
    const want = 27 - ((raw * 3.3) / 4095 - 0.706) / 0.001721;
    assert.ok(near(r.celsius, want, 0.05), `${raw}: ${JSON.stringify(r)} want ${want}`);
  }
  assert.equal(mcu.adc.temperatueEnable ? 1 : 0, 1, 'sensor bias on');
});

const eeprom = new Eeprom(0x50);
const hangs = []; // simulated ns when the firmware addressed the device that never answers
attach(mcu.i2c[0], [eeprom], { hung: [0x42], onHang: () => hangs.push(board.nanos) });

// The wire of bus 0 (GPIO 4 = SDA, 5 = SCL) for the bus recovery: rp2040js
// reads an input as low unless told otherwise and models no pull-ups, so
// the lines are modelled here as open-drain with pull-ups. A line is low
// while its pin drives it low (SIO, output enabled at 0) or, for SDA, while
// the device that was cut off mid-byte still holds it: it shifts out a bit
// on each SCL falling edge and holds SDA for `wire.holdSda` more of them.
// (The I2C controller's own transfers go through the device hooks above,
// not these levels.)
const wire = { holdSda: 0, sclFalls: 0, events: [], sda: true, scl: true };
function settleWire() {
  const drivenLow = (pin) => pin.outputEnable && !pin.outputValue;
  const scl = !drivenLow(mcu.gpio[5]);
  if (wire.scl && !scl) {
    wire.sclFalls += 1;
    if (wire.holdSda > 0) wire.holdSda -= 1;
  }
  wire.scl = scl;
  const sda = !drivenLow(mcu.gpio[4]) && wire.holdSda === 0;
  if (wire.scl && wire.sda && !sda) wire.events.push('start');
  if (wire.scl && !wire.sda && sda) wire.events.push('stop');
  wire.sda = sda;
  mcu.gpio[4].setInputValue(sda);
  mcu.gpio[5].setInputValue(scl);
}
mcu.gpio[4].addListener(settleWire);
mcu.gpio[5].addListener(settleWire);
settleWire();

test('I2C: a 24C02 on bus 0 is written and read back', () => {
  ok(board.request({ action: 'i2c_setup', bus: 0, sda: 4, scl: 5, frequency: 400000 }));
  assert.equal(mcu.gpio[4].functionSelect, 3, 'GPIO 4 function: I2C');
  assert.equal(mcu.gpio[5].functionSelect, 3, 'GPIO 5 function: I2C');
  ok(board.request({ action: 'i2c_write', bus: 0, address: 0x50, data: [0x10, 1, 2, 3] }));
  assert.deepEqual([...eeprom.memory.subarray(0x10, 0x13)], [1, 2, 3]);
  const t = board.request({ action: 'i2c_transfer', bus: 0, address: 0x50, write: [0x10], count: 3 });
  ok(t);
  assert.deepEqual(t.data, [1, 2, 3]);
  // Write, then a repeated start for the read.
  const [w, rd] = eeprom.log.slice(-2);
  assert.deepEqual([w.read, w.bytes], [false, [0x10]]);
  assert.deepEqual([rd.read, rd.restart, rd.bytes], [true, true, [1, 2, 3]]);
  const r = board.request({ action: 'i2c_read', bus: 0, address: 0x50, count: 2 });
  assert.deepEqual(r.data, [0xff, 0xff], 'the pointer moved on to erased bytes');
});

test('I2C: 256 bytes each way', () => {
  const data = Array.from({ length: 256 }, (_, i) => (i * 7) & 0xff);
  ok(board.request({ action: 'i2c_write', bus: 0, address: 0x50, data: [0, ...data.slice(0, 255)] }));
  assert.deepEqual([...eeprom.memory.subarray(0, 255)], data.slice(0, 255));
  const r = board.request({ action: 'i2c_transfer', bus: 0, address: 0x50, write: [0], count: 256 });
  ok(r);
  assert.equal(r.data.length, 256);
  assert.deepEqual(r.data, [...eeprom.memory]);
});

test('I2C: no device at an address is an OSError naming it', () => {
  const r = board.request({ action: 'i2c_read', bus: 0, address: 0x51, count: 1 });
  assert.equal(r.exception, 'OSError', JSON.stringify(r));
  assert.match(r.error, /no device answered at address 0x51 on i2c bus 0/);
});

test('I2C: a device that never answers times the transfer out, and the bus recovers', () => {
  const sent = board.nanos;
  const resets = board.i2cResets.length;
  const r = board.request({ action: 'i2c_read', bus: 0, address: 0x42, count: 1 });
  assert.equal(r.exception, 'OSError', JSON.stringify(r));
  assert.match(r.error, /i2c bus 0, address 0x42: the I2C transfer timed out/);
  // The firmware gave up at the deadline of a 1-byte read at 400 kHz,
  // 2 x 20 bits + 1 ms = 1.1 ms after the transfer began (a few µs before
  // the address went out), and reset the controller then.
  assert.equal(hangs.length, 1);
  const reset = board.i2cResets.slice(resets);
  assert.equal(reset.length, 1, 'one controller reset');
  assert.equal(reset[0].bus, 0);
  const held = reset[0].ns - hangs[0];
  assert.ok(held > 1.05 * MS && held <= 1.1 * MS, `bus held ${held / MS} ms`);
  // The whole request, USB included, stays far below the watchdog's 8 s.
  assert.ok(board.nanos - sent < 100 * MS, `answered after ${(board.nanos - sent) / MS} ms`);
  console.log(`# hung transfer given up after ${(held / MS).toFixed(3)} ms simulated`);
  const again = board.request({ action: 'i2c_transfer', bus: 0, address: 0x50, write: [0x10], count: 3 });
  ok(again);
  assert.deepEqual(again.data, [...eeprom.memory.subarray(0x10, 0x13)]);
});

test('I2C: a device holding SDA low is clocked free (up to 9 SCL clocks, then START and STOP)', () => {
  // Three more 0 bits to shift out: 3 clocks free SDA, then one more for
  // the STOP after the START.
  wire.holdSda = 3;
  settleWire();
  wire.events.length = 0; // the device's own SDA edge is no START
  const falls = wire.sclFalls;
  const resets = board.i2cResets.length;
  const r = board.request({ action: 'i2c_read', bus: 0, address: 0x42, count: 1 });
  assert.equal(r.exception, 'OSError', JSON.stringify(r));
  assert.match(r.error, /i2c bus 0, address 0x42: a device was holding SDA low: the bus was clocked free/);
  assert.equal(wire.sclFalls - falls, 3 + 1, 'SCL clocks');
  assert.deepEqual(wire.events.splice(0), ['start', 'stop']);
  assert.ok(wire.sda && wire.scl, 'both lines released');
  assert.equal(board.i2cResets.length, resets + 1, 'one controller reset');
  assert.equal(mcu.gpio[4].functionSelect, 3, 'GPIO 4 back to I2C');
  assert.equal(mcu.gpio[5].functionSelect, 3, 'GPIO 5 back to I2C');
  const again = board.request({ action: 'i2c_read', bus: 0, address: 0x50, count: 1 });
  ok(again);
  // Held for good (or shorted): given up after 9 clocks, no START/STOP.
  wire.holdSda = 1000;
  settleWire();
  wire.events.length = 0; // the device's own SDA edge is no START
  const before = wire.sclFalls;
  const stuck = board.request({ action: 'i2c_read', bus: 0, address: 0x42, count: 1 });
  assert.match(stuck.error, /SDA stays low after 9 SCL clocks/, JSON.stringify(stuck));
  assert.equal(wire.sclFalls - before, 9);
  assert.deepEqual(wire.events.splice(0), []);
  wire.holdSda = 0;
  settleWire();
  wire.events.splice(0);
  ok(board.request({ action: 'i2c_read', bus: 0, address: 0x50, count: 1 }));
});

test('I2C: the deadline grows with the bytes and slows with the clock', () => {
  ok(board.request({ action: 'i2c_setup', bus: 0, sda: 4, scl: 5, frequency: 10000 }));
  const resets = board.i2cResets.length;
  const r = board.request({ action: 'i2c_read', bus: 0, address: 0x42, count: 32 });
  assert.match(r.error, /timed out/, JSON.stringify(r));
  // 32 bytes at 10 kHz: 2 x (10 + 9 x 32 + 1) bits = 59.8 ms, + 1 ms.
  assert.equal(board.i2cResets.length, resets + 1, 'one controller reset');
  const took = board.i2cResets[resets].ns - hangs.at(-1);
  assert.ok(took > 60.3 * MS && took <= 60.8 * MS, `bus held ${took / MS} ms`);
  ok(board.request({ action: 'i2c_setup', bus: 0, sda: 4, scl: 5, frequency: 400000 }));
});

test('I2C: bad pins are a ValueError, and a pin taken back ends the bus', () => {
  const r = board.request({ action: 'i2c_setup', bus: 0, sda: 2, scl: 3 });
  assert.equal(r.exception, 'ValueError', JSON.stringify(r));
  assert.match(r.error, /pin 2 cannot be sda of i2c bus 0: it must be one of pins 0\D+4\D.*28/);
  ok(board.request({ action: 'setup_pin', pin: 5, mode: 'output', value: 0 }));
  assert.equal(mcu.gpio[5].functionSelect, 5, 'GPIO 5 back to SIO');
  assert.equal(mcu.gpio[4].functionSelect, 31, 'GPIO 4 left I2C: function NULL, not driven');
  const t = board.request({ action: 'i2c_read', bus: 0, address: 0x50, count: 1 });
  assert.match(t.error ?? '', /i2c bus 0 is not set up/, JSON.stringify(t));
});
