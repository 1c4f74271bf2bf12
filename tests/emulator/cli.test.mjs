// The real `piconet` command against the real firmware image: the release
// new-board image in rp2040js 1.4.1 (board.mjs), its USB CDC port put on a
// pseudo-terminal by bridge.mjs behind socat, and the CLI built by
// `cargo build -p piconet-cli` opening that terminal as it opens
// /dev/ttyACM0 (tokio-serial: exclusive, raw, input flushed).
//
//   cargo build -p piconet-cli && npm ci --prefix tests/emulator && node --test tests/emulator/
//
// The binary is $PICONET_CLI, else $CARGO_TARGET_DIR/debug/piconet, else
// target/debug/piconet; without it these tests are skipped (with a message).
// socat must be installed (scripts/test.sh installs it). PICONET_FIRMWARE_BIN
// overrides the image path.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const BIN = process.env.PICONET_FIRMWARE_BIN ?? join(ROOT, 'firmware/target/piconet-firmware-full.bin');
const PICONET =
  process.env.PICONET_CLI ??
  join(process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(ROOT, 'target'), 'debug/piconet');

const SSID = 'garden';
const PASSWORD = 'hunter22-not-a-real-one';
const PORT = 4242;
const PIN = 15;
// Seconds the CLI waits for each answer: generous, the emulator shares a
// small CI machine with other tests.
const TIMEOUT = '20';

const skip = existsSync(PICONET)
  ? false
  : `${PICONET} not built: cargo build -p piconet-cli (PICONET_CLI or CARGO_TARGET_DIR tell where it is)`;
if (skip) console.log(`# skipping the CLI tests: ${skip}`);
else {
  if (!existsSync(BIN)) throw new Error(`${BIN} missing: run firmware/build.sh first`);
  if (spawnSync('socat', ['-V']).error) throw new Error('socat missing: apt-get install socat (scripts/test.sh does)');
}

let dir; // temporary: the terminal's link, the password file, certificates
let tty;
let socat;
const events = []; // bridge's stderr lines: { line, wallMs }
const wallStart = performance.now();

/** Wait for a bridge event line matching `re` seen after index `from`. */
async function event(re, from = 0, timeoutMs = 20_000) {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const i = events.findIndex((e, k) => k >= from && re.test(e.line));
    if (i >= 0) return { ...events[i], index: i, match: events[i].line.match(re) };
    if (performance.now() > end) {
      throw new Error(`no bridge event ${re} within ${timeoutMs} ms; seen:\n${events.map((e) => e.line).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Run the CLI; resolve with its exit code, output and wall time. */
function cli(...args) {
  return new Promise((done, fail) => {
    const t = performance.now();
    const child = spawn(PICONET, args, {
      env: { ...process.env, PICONET_KNOWN_HOSTS: join(dir, 'known_hosts') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', fail);
    child.on('close', (code, signal) => {
      clearTimeout(kill);
      done({ code, signal, stdout, stderr, ms: performance.now() - t });
    });
  });
}

const show = (r) => `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

/** `piconet send --serial` with one or more commands (arrays of KEY=VALUE). */
async function send(...commands) {
  const r = await cli('--timeout', TIMEOUT, 'send', '--serial', tty, ...commands.flatMap((c) => ['-c', ...c]));
  assert.equal(r.code, 0, show(r));
  const answers = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(answers.length, commands.length, show(r));
  return { ...r, answers };
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'piconet-cli-'));
  tty = join(dir, 'ttyPico');
  // socat splits EXEC's command at spaces and gives ',' ':' '!' meanings:
  // run from this directory with a plain node path.
  if (/[\s,:!'"\\]/.test(process.execPath + dir)) throw new Error(`paths socat cannot take: ${process.execPath}, ${dir}`);
  socat = spawn('socat', [`PTY,link=${tty},raw,echo=0`, `EXEC:${process.execPath} bridge.mjs`], {
    cwd: HERE,
    env: { ...process.env, PICONET_FIRMWARE_BIN: BIN, PICONET_BRIDGE_PINS: String(PIN) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let partial = '';
  socat.stderr.on('data', (d) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop();
    for (const line of lines) events.push({ line, wallMs: performance.now() - wallStart });
  });
  socat.exited = new Promise((r) => socat.on('exit', r));
});

after(async () => {
  if (!socat) return;
  socat.kill('SIGTERM'); // socat closes the bridge's stdin: it saves nothing, exits
  await socat.exited;
  await event(/^bridge: exit/, 0, 5_000).catch(() => {});
  for (const e of events) console.log(`# ${e.line}`);
  rmSync(dir, { recursive: true, force: true });
});

test('the bridge boots the image and its pseudo-terminal appears', { skip }, async () => {
  const e = await event(/^bridge: enumerated at ([\d.]+) ms/);
  assert.ok(existsSync(tty), `${tty} exists`);
  assert.ok(!events.some((x) => /lacks/.test(x.line)), 'ROM functions the stand-in ROM lacks');
  console.log(`# enumerated at ${e.match[1]} ms simulated, ${e.wallMs.toFixed(0)} ms wall after spawning socat`);
});

let fingerprint;

test('piconet provision stores WiFi, port and a generated certificate; the password is never shown', { skip }, async () => {
  const pwFile = join(dir, 'wifi.txt');
  writeFileSync(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
  const certDir = join(dir, 'certs');
  mkdirSync(certDir);
  const r = await cli(
    '--timeout', TIMEOUT, 'provision', '--port', tty, '--ssid', SSID, '--password-file', pwFile,
    '--port-number', String(PORT), '--generate-cert', '--cert-out', certDir, '--json',
  );
  console.log(`# provision (list_actions, get_config, set_wifi, set_port, set_tls, get_config): ${r.ms.toFixed(0)} ms wall`);
  assert.equal(r.code, 0, show(r));
  assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD), `password shown:\n${show(r)}`);
  const out = JSON.parse(r.stdout);
  assert.equal(out.serial, tty);
  assert.equal(out.board, null, 'a pseudo-terminal has no USB identity');
  assert.deepEqual(out.stored, ['WiFi', 'port', 'TLS identity']);
  assert.equal(out.reset, false);
  assert.deepEqual(out.config_before, {
    ssid: null,
    password_set: false,
    port: 12345,
    tls_fingerprint: null,
    name: null,
    radio_power: 'none',
    restart_needed: false,
  });

  // The written certificate: its DER's SHA-256 is the fingerprint printed
  // and the one the board reports; no private key next to it.
  assert.deepEqual(readdirSync(certDir), ['piconet.local.pem']);
  assert.equal(resolve(out.cert_file), join(certDir, 'piconet.local.pem'));
  const pem = readFileSync(join(certDir, 'piconet.local.pem'), 'utf8');
  assert.ok(!pem.includes('PRIVATE KEY'), 'no key in the certificate file');
  const cert = new X509Certificate(pem);
  fingerprint = createHash('sha256').update(cert.raw).digest('hex');
  assert.equal(out.tls_fingerprint, fingerprint);
  assert.equal(cert.fingerprint256.replaceAll(':', '').toLowerCase(), fingerprint);
  assert.deepEqual(out.config, {
    ssid: SSID,
    password_set: true,
    port: PORT,
    tls_fingerprint: fingerprint,
    name: null,
    radio_power: 'none',
    restart_needed: true,
  });
  console.log(`# certificate ${cert.raw.length} B DER, sha256 ${fingerprint}`);
});

test('piconet send --serial: get_config shows what provision stored', { skip }, async () => {
  const r = await send(['action=get_config']);
  console.log(`# send get_config: ${r.ms.toFixed(0)} ms wall`);
  assert.ok(!r.stdout.includes(PASSWORD));
  const [a] = r.answers;
  assert.equal(a.error, undefined, r.stdout);
  assert.deepEqual(a.config, {
    ssid: SSID,
    password_set: true,
    port: PORT,
    tls_fingerprint: fingerprint,
    name: null,
    radio_power: 'none',
    restart_needed: true,
  });
});

test('piconet ping --serial', { skip }, async () => {
  const r = await cli('--timeout', TIMEOUT, '--json', 'ping', '--serial', tty, '-n', '10');
  assert.equal(r.code, 0, show(r));
  const p = JSON.parse(r.stdout);
  assert.equal(p.count, 10);
  const ms = (ns) => (ns / 1e6).toFixed(2);
  console.log(
    `# ping x10: round trip min/avg/max ${ms(p.round_trip.min_ns)}/${ms(p.round_trip.avg_ns)}/${ms(p.round_trip.max_ns)} ms,` +
      ` ${r.ms.toFixed(0)} ms wall for the command`,
  );
});

test('setup_pin, write_pin and read_pin over send --serial drive the emulated pin; a lease reverts it', { skip }, async () => {
  let from = events.length;
  let r = await send(
    ['action=setup_pin', `pin=${PIN}`, 'mode=output', 'value=0'],
    ['action=write_pin', `pin=${PIN}`, 'value=1', 'timeout=60'],
    ['action=read_pin', `pin=${PIN}`],
  );
  for (const a of r.answers) assert.equal(a.error, undefined, r.stdout);
  assert.equal(r.answers[2].value, 1);
  await event(new RegExp(`^bridge: pin ${PIN} low driven`), from);
  await event(new RegExp(`^bridge: pin ${PIN} high driven`), from);
  console.log(`# setup_pin + write_pin + read_pin: ${r.ms.toFixed(0)} ms wall`);

  from = events.length;
  r = await send(['action=write_pin', `pin=${PIN}`, 'value=0', 'timeout=60'], ['action=read_pin', `pin=${PIN}`]);
  assert.equal(r.answers[1].value, 0, r.stdout);
  await event(new RegExp(`^bridge: pin ${PIN} low driven`), from);

  // A 0.5 s lease: the firmware drives the pin back by itself, 0.5 s of
  // simulated time later (paced to wall time by the bridge).
  from = events.length;
  r = await send(['action=write_pin', `pin=${PIN}`, 'value=1', 'timeout=0.5']);
  const up = await event(new RegExp(`^bridge: pin ${PIN} high driven at ([\\d.]+) ms`), from);
  const down = await event(new RegExp(`^bridge: pin ${PIN} low driven at ([\\d.]+) ms`), up.index, 5_000);
  const held = Number(down.match[1]) - Number(up.match[1]);
  console.log(`# 0.5 s lease: high for ${held.toFixed(1)} ms simulated, ${(down.wallMs - up.wallMs).toFixed(0)} ms wall`);
  assert.ok(held >= 499 && held < 520, `held ${held} ms`);
  r = await send(['action=read_pin', `pin=${PIN}`]);
  assert.equal(r.answers[0].value, 0, r.stdout);
});

test('provision --reset: the board restarts (a power cycle keeping the flash) with the stored settings', { skip }, async () => {
  const from = events.length;
  let r = await cli('--timeout', TIMEOUT, 'provision', '--port', tty, '--reset');
  assert.equal(r.code, 0, show(r));
  assert.ok(r.stdout.includes(fingerprint), show(r));
  assert.ok(!r.stdout.includes(PASSWORD) && !r.stderr.includes(PASSWORD));
  await event(/^bridge: reset at/, from);
  await event(/^bridge: enumerated/, from);
  console.log(`# provision --reset: ${r.ms.toFixed(0)} ms wall`);

  r = await cli('--timeout', TIMEOUT, '--json', 'info', '--serial', tty);
  assert.equal(r.code, 0, show(r));
  const info = JSON.parse(r.stdout);
  assert.equal(info.config, 'flash', r.stdout);
  assert.equal(info.ssid, SSID);
  assert.equal(info.port, PORT);
  assert.equal(info.pins_configured, 0, 'the pins are back at their power-on state');
  const c = await send(['action=get_config']);
  assert.deepEqual(c.answers[0].config, {
    ssid: SSID,
    password_set: true,
    port: PORT,
    tls_fingerprint: fingerprint,
    name: null,
    radio_power: 'none',
    restart_needed: false,
  });
});
