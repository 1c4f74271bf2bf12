// An opt-in instruction profiler for the emulator harness (board.mjs).
//
// Off unless PICONET_PROFILE_ELF names the firmware ELF the image was made
// from (e.g. $CARGO_TARGET_DIR/thumbv6m-none-eabi/release/piconet-firmware,
// which keeps its debug info). Then the Board counts every instruction the
// core executes while the profile is running (`resume()` … `pause()`; a
// test decides which stretch of simulated time it wants, e.g. from an edge
// to the last byte of its event line), with its cycles, by PC. It is exact
// (every instruction, not samples) and costs nothing while paused beyond
// one test per instruction; while running, the harness is about 2x slower.
//
// `report()` attributes the counts three ways:
// - by function, inlining resolved (llvm-addr2line -i: the innermost
//   source function of each PC, so code inlined into a task's poll is
//   shown under its own name), with the cycles per `per` units (e.g. per
//   event line);
// - by function symbol (llvm-nm: what the linker kept as a function);
// - the callers of the hottest symbols (from LR when the core enters a
//   symbol's first instruction), e.g. who calls __aeabi_uldivmod or memcpy.
//
//   PICONET_PROFILE_ELF=/work/tgt/x-fw/thumbv6m-none-eabi/release/piconet-firmware \
//   PICONET_FIRMWARE_BIN=/work/tgt/x-fw/piconet-firmware-full.bin \
//   node --test tests/emulator/events.test.mjs
//
// Two approximations: rp2040js enters an interrupt inside the call that
// executes the handler's first instruction, so that one instruction counts
// at the PC it interrupted (and the handler's callers are not seen); and
// the harness's stand-in ROM functions (board.mjs) run in JavaScript and
// are not counted.
//
// PICONET_PROFILE_TOP (default 25) is how many rows each table shows.
// Needs llvm-nm and llvm-addr2line (Debian's llvm package, which
// firmware/build.sh installs).

import { execFileSync } from 'node:child_process';

/** The profile of one run, or null when PICONET_PROFILE_ELF is not set. */
export function profileFromEnv() {
  const elf = process.env.PICONET_PROFILE_ELF;
  return elf ? new Profile(elf) : null;
}

export class Profile {
  /** @param {string} elf the firmware ELF (with debug info) */
  constructor(elf) {
    this.elf = elf;
    this.running = false;
    this.instructions = new Map(); // pc -> instructions
    this.cycles = new Map(); // pc -> cycles
    this.calls = new Map(); // `${callee}:${caller pc}` -> calls
    this.symbols = readSymbols(elf); // sorted [{ addr, size, name }]
    this.starts = new Map(this.symbols.map((s) => [s.addr, s]));
    this.top = Number(process.env.PICONET_PROFILE_TOP ?? 25);
  }

  resume() {
    this.running = true;
  }

  pause() {
    this.running = false;
  }

  /** One executed instruction at `pc` that took `cycles`; `lr` is the core's LR. */
  count(pc, cycles, lr) {
    this.instructions.set(pc, (this.instructions.get(pc) ?? 0) + 1);
    this.cycles.set(pc, (this.cycles.get(pc) ?? 0) + cycles);
    if (this.starts.has(pc)) {
      const key = `${pc}:${(lr & ~1) >>> 0}`;
      this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
    }
  }

  /** The symbol whose range holds `pc`. */
  symbolAt(pc) {
    const s = this.symbols;
    let lo = 0;
    let hi = s.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid].addr <= pc) lo = mid + 1;
      else hi = mid - 1;
    }
    const sym = s[hi];
    return sym && pc < sym.addr + Math.max(sym.size, 1) ? sym.name : `0x${pc.toString(16)}`;
  }

  /**
   * The tables as text, each line starting with '# ' (node --test prints
   * them as diagnostics). `per`: how many units (e.g. event lines) the
   * counts cover; `what`: their name.
   */
  report(per = 1, what = 'run') {
    const totalI = sum(this.instructions.values());
    const totalC = sum(this.cycles.values());
    const lines = [
      `profile: ${totalI} instructions, ${totalC} cycles in all; per ${what}: ` +
        `${(totalI / per).toFixed(0)} instructions, ${(totalC / per).toFixed(0)} cycles ` +
        `(${((totalC / per) * 0.008).toFixed(1)} µs at 125 MHz)`,
    ];
    const table = (title, byKey) => {
      lines.push(`${title}: cycles per ${what}, share, instructions per ${what}`);
      const rows = [...byKey.entries()].sort((a, b) => b[1].c - a[1].c).slice(0, this.top);
      for (const [name, { c, i }] of rows) {
        lines.push(
          `  ${(c / per).toFixed(0).padStart(7)} ${((100 * c) / totalC).toFixed(1).padStart(5)} % ` +
            `${(i / per).toFixed(0).padStart(7)}  ${name}`,
        );
      }
    };
    const add = (m, key, i, c) => {
      const row = m.get(key) ?? { i: 0, c: 0 };
      row.i += i;
      row.c += c;
      m.set(key, row);
    };

    const inlined = new Map();
    const frames = this.#innermost([...this.cycles.keys()]);
    for (const [pc, c] of this.cycles) add(inlined, frames.get(pc) ?? this.symbolAt(pc), this.instructions.get(pc), c);
    table('by source function (inlining resolved)', inlined);

    const bySymbol = new Map();
    for (const [pc, c] of this.cycles) add(bySymbol, this.symbolAt(pc), this.instructions.get(pc), c);
    table('by symbol', bySymbol);

    const callers = new Map(); // callee -> Map(caller -> calls)
    for (const [key, n] of this.calls) {
      const [callee, ret] = key.split(':').map(Number);
      const name = this.starts.get(callee).name;
      const from = frames.get(ret) ?? this.#innermost([ret]).get(ret) ?? this.symbolAt(ret);
      const m = callers.get(name) ?? new Map();
      m.set(from, (m.get(from) ?? 0) + n);
      callers.set(name, m);
    }
    // The hottest symbols, and the library calls (__aeabi_*: memcpy,
    // 64-bit multiply and divide) wherever they rank: their callers are
    // where the calls come from.
    const hot = [...bySymbol.entries()]
      .sort((a, b) => b[1].c - a[1].c)
      .filter(([name], i) => i < 12 || name.startsWith('__aeabi'));
    lines.push(`callers of the hottest symbols: calls per ${what}`);
    for (const [name] of hot) {
      const m = callers.get(name);
      if (!m) continue;
      const rows = [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6);
      lines.push(`  ${name}:`);
      for (const [from, n] of rows) lines.push(`    ${(n / per).toFixed(2).padStart(7)}  from ${from}`);
    }
    return lines.map((l) => `# ${l}`).join('\n');
  }

  /** pc -> the innermost source function at it (llvm-addr2line -i), in one call. */
  #innermost(pcs) {
    const out = new Map();
    if (pcs.length === 0) return out;
    const text = execFileSync('llvm-addr2line', ['-e', this.elf, '-a', '-f', '-i', '-C'], {
      input: pcs.map((pc) => `0x${pc.toString(16)}`).join('\n') + '\n',
      maxBuffer: 256 * 1024 * 1024,
    }).toString();
    let pc = null;
    let first = false;
    for (const line of text.split('\n')) {
      if (/^0x[0-9a-f]+$/.test(line)) {
        pc = parseInt(line, 16);
        first = true;
      } else if (first && pc !== null) {
        // The first function line after the address is the innermost frame.
        if (line !== '??') out.set(pc, shorten(line));
        first = false;
      }
    }
    return out;
  }
}

function sum(values) {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

/** Rust's legacy symbol escapes, which LLVM 14's demangler leaves in. */
const ESCAPES = {
  $LT$: '<', $GT$: '>', $RF$: '&', $BP$: '*', $C$: ',', $LP$: '(', $RP$: ')',
  $u20$: ' ', $u27$: "'", $u5b$: '[', $u5d$: ']', $u7b$: '{', $u7d$: '}', $u3b$: ';', $u7e$: '~',
};

/** Rust symbols without their hash suffix and escapes. */
function shorten(name) {
  return name
    .replace(/::h[0-9a-f]{16}$/, '')
    .replace(/\$(LT|GT|RF|BP|C|LP|RP|u[0-9a-f]{2})\$/g, (m) => ESCAPES[m] ?? m)
    .replace(/^_</, '<')
    .replace(/\.\./g, '::');
}

/** The ELF's code symbols, by address (Thumb bit cleared). */
function readSymbols(elf) {
  const text = execFileSync('llvm-nm', ['-n', '-C', '-S', '--defined-only', elf], {
    maxBuffer: 256 * 1024 * 1024,
  }).toString();
  const syms = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+) (?:([0-9a-f]+) )?([tTwW]) (.*)$/.exec(line);
    if (!m) continue;
    syms.push({ addr: parseInt(m[1], 16) & ~1, size: m[2] ? parseInt(m[2], 16) : 0, name: shorten(m[4]) });
  }
  syms.sort((a, b) => a.addr - b.addr);
  return syms;
}
