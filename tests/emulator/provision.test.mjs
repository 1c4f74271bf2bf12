// Provisioning over the USB cable, on the release new-board image in
// rp2040js 1.4.1 (see firmware.test.mjs for the image and board.mjs for
// the harness): set_wifi, set_port, set_tls and get_config over USB CDC
// write the CONFIG flash region (the harness's stand-in boot ROM carries
// out the firmware's flash erase/program on the emulated flash), secrets
// never come back, and after a power cycle that keeps the flash the board
// runs with the stored settings; clear_config returns it to the build's,
// also from a region the store cannot parse.
//
//   npm ci --prefix tests/emulator && node --test tests/emulator/
//
// PICONET_FIRMWARE_BIN overrides the image path.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Board } from './board.mjs';
import { ecIdentity } from './cert.mjs';

const BIN =
  process.env.PICONET_FIRMWARE_BIN ??
  fileURLToPath(new URL('../../firmware/target/piconet-firmware-full.bin', import.meta.url));

const MS = 1e6; // ns
// The CONFIG region (firmware/app/memory.x): 8 KiB at flash offset 0x1FE000.
const CONFIG_OFFSET = 0x1fe000;
const CONFIG_SIZE = 0x2000;
const DEFAULT_PORT = 12345;

if (!existsSync(BIN)) throw new Error(`${BIN} missing: run firmware/build.sh first`);

const SSID = 'garden';
const PASSWORD = 'hunter22-not-a-real-one';
const identity = ecIdentity('pico');

// One session across the file, as on a real cable; `board` is replaced by
// its rebooted self where a test power-cycles it.
let board = new Board(BIN);

function boot() {
  assert.ok(board.runUntil(() => board.connected, 2000 * MS), 'USB enumeration');
  assert.deepEqual(board.unknownRom, [], 'ROM functions the stand-in ROM lacks');
}

/** Send a command; return the raw reply line and its parsed form. */
function exchange(cmd) {
  board.write(JSON.stringify(cmd) + '\n');
  const raw = board.readLine(5000 * MS);
  return { raw, reply: JSON.parse(raw) };
}

/** The secrets must appear nowhere in a reply line, in any form. */
function assertNoSecrets(raw) {
  for (const secret of [PASSWORD, identity.key.toString('base64'), identity.key.toString('hex')]) {
    assert.ok(!raw.includes(secret), `secret in reply: ${raw.slice(0, 300)}`);
  }
}

const info = () => board.request({ action: 'get_info' }).info;

test('an unprovisioned board runs the build configuration (erased CONFIG region reads as empty)', () => {
  boot();
  const i = info();
  assert.equal(i.config, 'build', JSON.stringify(i));
  assert.equal(i.port, DEFAULT_PORT);
  assert.equal(i.ssid, null);
  const { reply } = exchange({ action: 'get_config' });
  assert.equal(reply.error, undefined, JSON.stringify(reply));
  assert.deepEqual(reply.config, {
    ssid: null,
    password_set: false,
    port: DEFAULT_PORT,
    tls_fingerprint: null,
    name: null,
    radio_power: 'none',
    restart_needed: false,
  });
  assert.ok(board.flashBytes(CONFIG_OFFSET, CONFIG_SIZE).every((b) => b === 0xff), 'CONFIG erased');
});

test('set_wifi, set_port and set_tls over USB store the settings; password and key are redacted', () => {
  let t = board.nanos;
  let { raw, reply } = exchange({ action: 'set_wifi', ssid: SSID, password: PASSWORD });
  console.log(`# set_wifi answered in ${((board.nanos - t) / MS).toFixed(2)} ms simulated`);
  assert.equal(reply.error, undefined, raw);
  assert.equal(reply.password, '<redacted>');
  assert.equal(reply.ssid, SSID);
  assertNoSecrets(raw);
  assert.equal(reply.config.ssid, SSID);
  assert.equal(reply.config.password_set, true);
  assert.equal(reply.config.restart_needed, true);

  ({ raw, reply } = exchange({ action: 'set_port', port: 4242 }));
  assert.equal(reply.error, undefined, raw);
  assert.equal(reply.config.port, 4242);

  const cert = identity.cert.toString('base64');
  const key = identity.key.toString('base64');
  t = board.nanos;
  ({ raw, reply } = exchange({ action: 'set_tls', cert, key }));
  console.log(
    `# set_tls (${identity.cert.length} B certificate, ${identity.key.length} B key, line ${raw.length} B back)` +
      ` answered in ${((board.nanos - t) / MS).toFixed(2)} ms simulated`,
  );
  assert.equal(reply.error, undefined, raw);
  assert.equal(reply.key, '<redacted>');
  assertNoSecrets(raw);
  assert.equal(reply.config.tls_fingerprint, identity.fingerprint);

  ({ raw, reply } = exchange({ action: 'get_config' }));
  assertNoSecrets(raw);
  assert.deepEqual(reply.config, {
    ssid: SSID,
    password_set: true,
    port: 4242,
    tls_fingerprint: identity.fingerprint,
    name: null,
    radio_power: 'none',
    restart_needed: true,
  });
  // Nothing applies before the next boot.
  const i = info();
  assert.equal(i.config, 'build');
  assert.equal(i.port, DEFAULT_PORT);

  // The flash really holds the settings; the passphrase is stored (the
  // board needs it to join), but only there.
  const region = board.flashBytes(CONFIG_OFFSET, CONFIG_SIZE);
  assert.ok(region.includes(Buffer.from(SSID)), 'SSID in the CONFIG region');
  assert.ok(region.includes(identity.cert), 'certificate in the CONFIG region');
  console.log(`# CONFIG region: ${region.filter((b) => b !== 0xff).length} of ${CONFIG_SIZE} bytes written`);
});

test('errors redact the secrets too, and bad values (also an identity MbedTLS cannot parse) change nothing', () => {
  for (const cmd of [
    { action: 'set_wifi', ssid: 'x'.repeat(33), password: PASSWORD },
    { action: 'set_wifi', password: PASSWORD },
    { action: 'set_tls', cert: 'not base64!', key: identity.key.toString('base64') },
    { action: 'set_port', port: 0 },
    { action: 'set_port', port: 65536 },
  ]) {
    const { raw, reply } = exchange(cmd);
    assert.equal(reply.exception, 'ValueError', raw);
    assertNoSecrets(raw);
    if ('password' in cmd) assert.equal(reply.password, '<redacted>', raw);
    if ('key' in cmd) assert.equal(reply.key, '<redacted>', raw);
  }
  // Well-formed base64 but nothing MbedTLS can parse: refused before
  // anything is written (stored, it would only fail at the next boot).
  const junk = Buffer.alloc(200, 0x30).toString('base64');
  for (const [cmd, field] of [
    [{ action: 'set_tls', cert: junk, key: identity.key.toString('base64') }, 'cert'],
    [{ action: 'set_tls', cert: identity.cert.toString('base64'), key: junk }, 'key'],
  ]) {
    const { raw, reply } = exchange(cmd);
    assert.equal(reply.exception, 'ValueError', raw);
    assert.ok(reply.error.includes(field), raw);
    assert.equal(reply.key, '<redacted>', raw);
    assertNoSecrets(raw);
    console.log(`# set_tls with an unparsable ${field}: ${reply.error}`);
  }
  const { reply } = exchange({ action: 'get_config' });
  assert.equal(reply.config.port, 4242);
  assert.equal(reply.config.ssid, SSID);
  assert.equal(reply.config.tls_fingerprint, identity.fingerprint);
});

test('after reset and a power cycle that keeps the flash, the stored settings are in effect', () => {
  const { reply } = exchange({ action: 'reset' });
  assert.equal(reply.error, undefined, JSON.stringify(reply));
  board.runFor(5 * MS);
  board = board.reboot();
  boot();
  const i = info();
  assert.equal(i.config, 'flash', JSON.stringify(i));
  assert.equal(i.ssid, SSID);
  assert.equal(i.port, 4242);
  const { raw, reply: c } = exchange({ action: 'get_config' });
  assertNoSecrets(raw);
  assert.deepEqual(c.config, {
    ssid: SSID,
    password_set: true,
    port: 4242,
    tls_fingerprint: identity.fingerprint,
    name: null,
    radio_power: 'none',
    restart_needed: false,
  });
  console.log(`# after reboot: get_info config=${i.config} ssid=${i.ssid} port=${i.port}`);
});

test('clear_tls, then clear_config returns the board to the build configuration', () => {
  let { raw, reply } = exchange({ action: 'clear_tls' });
  assert.equal(reply.error, undefined, raw);
  assert.equal(reply.config.tls_fingerprint, null);
  assert.equal(reply.config.ssid, SSID);
  ({ raw, reply } = exchange({ action: 'clear_config' }));
  assert.equal(reply.error, undefined, raw);
  assert.deepEqual(reply.config, {
    ssid: null,
    password_set: false,
    port: DEFAULT_PORT,
    tls_fingerprint: null,
    name: null,
    radio_power: 'none',
    restart_needed: true,
  });
  assert.ok(board.flashBytes(CONFIG_OFFSET, CONFIG_SIZE).every((b) => b === 0xff), 'CONFIG erased');
  board = board.reboot();
  boot();
  const i = info();
  assert.equal(i.config, 'build', JSON.stringify(i));
  assert.equal(i.port, DEFAULT_PORT);
  assert.equal(i.ssid, null);
  assert.equal(exchange({ action: 'get_config' }).reply.config.restart_needed, false);
});

test('a CONFIG region the store cannot parse reads as unreadable; clear_config recovers it', () => {
  // All bits programmed (zeros): sequential-storage reports it corrupted.
  // (Random bytes, by contrast, read as an empty store: the page markers
  // are not recognised and the pages are reused on the next write.)
  board = board.reboot();
  board.mcu.flash.fill(0, CONFIG_OFFSET, CONFIG_OFFSET + CONFIG_SIZE);
  boot();
  let i = info();
  assert.equal(i.config, 'build (config flash unreadable)', JSON.stringify(i));
  assert.equal(i.port, DEFAULT_PORT);
  let { raw, reply } = exchange({ action: 'get_config' });
  assert.equal(reply.exception, 'OSError', raw);
  ({ raw, reply } = exchange({ action: 'set_port', port: 4000 }));
  assert.equal(reply.exception, 'OSError', raw);
  console.log(`# on an unparsable CONFIG region: ${reply.error}`);
  ({ raw, reply } = exchange({ action: 'clear_config' }));
  assert.equal(reply.error, undefined, raw);
  assert.ok(board.flashBytes(CONFIG_OFFSET, CONFIG_SIZE).every((b) => b === 0xff), 'CONFIG erased');
  ({ raw, reply } = exchange({ action: 'set_port', port: 4000 }));
  assert.equal(reply.error, undefined, raw);
  board = board.reboot();
  boot();
  i = info();
  assert.equal(i.config, 'flash', JSON.stringify(i));
  assert.equal(i.port, 4000);
  assert.equal(i.ssid, null);
});
