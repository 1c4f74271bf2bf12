// The handshake benchmark image (firmware/bench-handshake: the firmware's
// mutual-TLS handshake, server and client in one image, in memory) run in
// rp2040js; prints the figures it reports on UART0 (simulated time at
// 125 MHz): full handshakes, then handshakes resumed with the board's session
// tickets (TLS 1.3 psk_dhe_ke and psk_ke, TLS 1.2). PICONET_BENCH_BIN names the flat image (llvm-objcopy -O binary).
// Figures, not a speed assertion: the test fails only when the handshake
// fails or reports nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Board } from './board.mjs';

const BIN = process.env.PICONET_BENCH_BIN;

test('full and resumed mTLS handshakes in memory on the RP2040', { skip: !BIN || !existsSync(BIN) }, () => {
  const board = new Board(BIN);
  let text = '';
  board.mcu.uart[0].onByte = (b) => {
    text += String.fromCharCode(b);
  };
  const done = board.runUntil(() => /bench: (done|FAILED.*\n)/.test(text), 40e9, 10e6);
  for (const line of text.split('\n').filter((l) => l)) console.log(line);
  assert.ok(done, `no result in 40 s simulated: ${text}`);
  assert.doesNotMatch(text, /FAILED/);
  assert.match(text, /full mTLS handshake \(TLS 1\.3.*cycles at 125 MHz; board \(server\) side \d+ us/);
  // The image checks each resumption on the server (a ticket accepted, no
  // certificate verified, the client still known by its fingerprint), or
  // reports FAILED.
  for (const name of ['TLS 1\\.3, psk_dhe_ke', 'TLS 1\\.3, psk_ke', 'TLS 1\\.2, session ticket']) {
    assert.match(text, new RegExp(`resumed mTLS handshake \\(${name}\\): \\d+ us, \\d+ cycles`));
  }
});
