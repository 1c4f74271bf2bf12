// The piconet firmware image in rp2040js 1.4.1, driven over USB CDC.
//
// Everything here works around what rp2040js 1.4.1 does not emulate, and
// nothing changes the firmware: the image is the release build users flash.
// Each workaround is pinned to that exact version (package.json) and says
// why it is needed:
//
// 1. USB OUT buffers (host-to-device data). On stock 1.4.1, when firmware
//    arms an OUT buffer (writes AVAILABLE to its buffer control word), the
//    controller model clears AVAILABLE at once and asks the host helper
//    for data right then; with nothing queued it completes the buffer ~10
//    µs later with length 0 (or whatever little was queued at that instant).
//    embassy-rp's endpoint read waits for AVAILABLE to clear and then takes
//    the length field, which at that moment is still the armed length (64),
//    so it returns 64 stale bytes; later bytes from the host are lost.
//    The patch replaces RPUSBController.DPRAMUpdated for the CDC data OUT
//    endpoint only: an armed OUT buffer stays armed (AVAILABLE kept set)
//    until the host side has bytes; then the bytes are copied into the
//    endpoint's DPRAM buffer, the buffer control word gets FULL, the real
//    length and AVAILABLE cleared in one write, and the BUFF_STATUS bit is
//    raised (the interrupt). Every other endpoint (EP0 control, the IN
//    endpoints) keeps the stock handling.
// 2. Boot ROM. The npm package ships no boot ROM, and the real one's flash
//    boot path does not run in it, so the image is started at boot2
//    (0x10000000) directly. The firmware reads the flash unique id at boot
//    (embassy-rp: RAM code that calls ROM functions found through the ROM's
//    lookup table). The harness provides a stand-in ROM: the magic, the
//    table pointers at 0x14/0x16 and a lookup function pointer at 0x18,
//    all pointing at trap addresses; when the core is about to execute a
//    trap address the function is carried out in JavaScript (lookup,
//    memcpy/memcpy44/memset, flash erase/program on the emulated flash
//    array; connect/exit-XIP/flush-cache do nothing) and it returns to LR.
// 3. XIP_CTRL (0x14000000) is not modelled (reads 0xffffffff); embassy-rp
//    waits for XIP_CTRL.STREAM_CTR to reach 0 before flash operations, so
//    the harness reads that block as 0 (no background stream running).
// 4. SEV. On the chip SEV also sets the core's own event register, so the
//    WFE after it returns at once (ARMv6-M); rp2040js 1.4.1 treats SEV as
//    a no-op. embassy's executor wakes a task from another task with SEV
//    and then sleeps in WFE: unpatched, such a wake waits for the next
//    interrupt (a timer alarm, a USB packet, an edge), which made the edge
//    -> event line path stall until something else happened. The harness
//    finds the SEV instructions (0xbf40) of the flash image and sets the
//    event register after the core executes one of them.
//
// 5. PIO. rp2040js runs an enabled PIO block by itself, from node's
//    setTimeout(0), in wall time rather than simulated time, for as long
//    as a state machine is enabled. The firmware's only PIO user is the
//    CYW43's SPI, and no CYW43 is emulated: the free-running PIO burnt CPU
//    beside the simulation and, while the radio bring-up was still
//    waiting (before its 10 s of simulated time), kept node's event loop
//    alive after the last test, so `node --test` never ended. The harness
//    does not run the PIO: the bring-up then times out (`"wifi": "not
//    responding"`), as with a chip that does not answer.
//
// 6. RESETS does not reset the I2C controllers: 1.4.1's RESETS block only
//    stores the register, so an I2C model stuck mid-transaction stays
//    stuck. The firmware resets a controller (through RESETS, as
//    embassy-rp does whenever it makes a driver) after a transfer timed
//    out, so when the I2C0 or I2C1 reset bit is asserted the harness puts
//    that model's state back to a new one's (the test's device hooks,
//    onStart … onStop, are kept) and notes when (`Board.i2cResets`).
//
// The harness owns the run loop: the core is stepped instruction by
// instruction (8 ns per cycle, 125 MHz) and while it sleeps (WFI/WFE) the
// simulated clock jumps to the next alarm, so simulated time runs much
// faster than wall time while the firmware idles.

import { readFileSync } from 'node:fs';
import { RP2040, USBCDC, ConsoleLogger, LogLevel } from 'rp2040js';
import { profileFromEnv } from './profile.mjs';

const CYCLE_NS = 8; // 125 MHz
const AVAILABLE = 1 << 10;
const FULL = 1 << 15;
const LEN_MASK = 0x3ff;
const EP0_IN_BUFFER_CONTROL = 0x80;

// Stand-in boot ROM layout (byte addresses).
const ROM_LOOKUP = 0x200; // the lookup function (trap)
const ROM_FUNCS = 0x300; // trap addresses of the ROM functions, 4 apart
const ROM_FUNC_TABLE = 0x400;
const ROM_DATA_TABLE = 0x480;

const code = (s) => s.charCodeAt(0) | (s.charCodeAt(1) << 8);

export class Board {
  /**
   * @param {string | null} binPath flat image (llvm-objcopy -O binary),
   *   written from flash offset 0 over erased flash
   * @param {{ flash?: Uint8Array }} [options] `flash`: the whole flash
   *   contents instead (see reboot)
   */
  constructor(binPath, { flash } = {}) {
    const mcu = new RP2040();
    this.mcu = mcu;
    mcu.logger = new ConsoleLogger(LogLevel.Error);
    this.unknownRom = [];
    this.#installRom();
    this.#patchXipCtrl();
    this.#patchI2cReset();
    mcu.flash.fill(0xff); // erased NOR
    if (flash) mcu.flash.set(flash);
    else mcu.flash.set(readFileSync(binPath), 0);
    mcu.core.SP = 0x20041f00;
    mcu.core.PC = 0x10000000;
    this.#findSev();
    // Opt-in (PICONET_PROFILE_ELF): counts the instructions run between
    // profile.resume() and profile.pause(); see profile.mjs.
    this.profile = profileFromEnv();
    for (const pio of mcu.pio) pio.run = () => {};

    this.rx = Buffer.alloc(0); // device-to-host bytes not yet consumed
    this.tx = []; // host-to-device bytes not yet delivered
    this.connected = false;
    this.cdc = new USBCDC(mcu.usbCtrl);
    this.cdc.onDeviceConnected = () => {
      this.connected = true;
    };
    this.cdc.onSerialData = (data) => {
      this.rx = Buffer.concat([this.rx, Buffer.from(data)]);
    };
    this.#patchUsbOut();
  }

  /**
   * Power-cycle the board: a new chip (core, RAM, peripherals, timer and
   * USB host all at their reset state) over a copy of this one's flash,
   * started at boot2 again. Whatever the firmware wrote to flash (the
   * CONFIG region, the update slots) is still there; nothing else is.
   * This board must not be used afterwards.
   */
  reboot() {
    return new Board(null, { flash: this.mcu.flash });
  }

  /** `length` bytes of flash from `offset` (a copy). */
  flashBytes(offset, length) {
    return Buffer.from(this.mcu.flash.subarray(offset, offset + length));
  }

  get nanos() {
    return this.mcu.clock.nanos;
  }

  // ---- run loop -------------------------------------------------------

  /** Run the core for `ns` of simulated time. */
  runFor(ns) {
    const { mcu } = this;
    const { core, clock } = mcu;
    const end = clock.nanos + ns;
    const { profile } = this;
    while (clock.nanos < end) {
      const pc = core.PC;
      if (pc < 0x1000) {
        this.#romCall(pc);
        continue;
      }
      if (core.waiting) {
        const next = clock.nanosToNextAlarm;
        clock.tick(Math.max(1, Math.min(next, end - clock.nanos)));
        continue;
      }
      const lr = profile?.running ? core.LR : 0;
      const cycles = core.executeInstruction();
      if (profile?.running) profile.count(pc, cycles, lr);
      clock.tick(cycles * CYCLE_NS);
      if (this.sev.has(pc)) core.eventRegistered = true;
    }
  }

  /** Run in slices of `sliceNs` until `pred()` holds or `timeoutNs` passed. */
  runUntil(pred, timeoutNs, sliceNs = 100_000) {
    const end = this.nanos + timeoutNs;
    while (!pred()) {
      if (this.nanos >= end) return false;
      this.runFor(sliceNs);
    }
    return true;
  }

  // ---- serial ---------------------------------------------------------

  /** Queue bytes for the device's OUT endpoint. */
  write(text) {
    this.tx.push(...Buffer.from(text));
    this.#deliver();
  }

  /** Run until a full line arrived; return it (without the newline). */
  readLine(timeoutNs = 2e9) {
    const ok = this.runUntil(() => this.rx.includes(0x0a), timeoutNs);
    if (!ok) throw new Error(`no reply line within ${timeoutNs / 1e6} ms (have ${JSON.stringify(this.rx.toString())})`);
    const i = this.rx.indexOf(0x0a);
    const line = this.rx.subarray(0, i).toString();
    this.rx = this.rx.subarray(i + 1);
    return line;
  }

  /** Send one command (object or raw string) and parse the reply line. */
  request(cmd, timeoutNs) {
    this.write((typeof cmd === 'string' ? cmd : JSON.stringify(cmd)) + '\n');
    return JSON.parse(this.readLine(timeoutNs));
  }

  // ---- workaround 1: USB OUT buffers ----------------------------------

  #patchUsbOut() {
    const usb = this.mcu.usbCtrl;
    const stock = usb.DPRAMUpdated.bind(usb);
    this.armed = null; // { endpoint, length } of the armed CDC OUT buffer
    // Delivery is scheduled on the simulated clock, like the stock model's
    // 10 µs read delay, rather than inside the firmware's store.
    this.deliverAlarm = this.mcu.clock.createAlarm(() => this.#deliverNow());
    usb.DPRAMUpdated = (offset, value) => {
      const out = this.cdc.outEndpoint;
      const isCdcOut =
        !usb.hostMode &&
        out > 0 &&
        offset === EP0_IN_BUFFER_CONTROL + out * 8 + 4 &&
        (value & AVAILABLE) !== 0;
      if (!isCdcOut) {
        stock(offset, value);
        return;
      }
      this.armed = { endpoint: out, offset, length: value & LEN_MASK };
      this.#deliver();
    };
  }

  #deliver() {
    if (this.armed && this.tx.length > 0) this.deliverAlarm.schedule(10_000);
  }

  #deliverNow() {
    const { armed } = this;
    if (!armed || this.tx.length === 0) return;
    const usb = this.mcu.usbCtrl;
    const bytes = Uint8Array.from(this.tx.splice(0, Math.min(armed.length, this.tx.length)));
    const bufferOffset = usb.getEndpointBufferOffset(armed.endpoint, true);
    this.mcu.usbDPRAM.set(bytes, bufferOffset);
    const view = this.mcu.usbDPRAMView;
    let ctrl = view.getUint32(armed.offset, true);
    ctrl = (ctrl & ~(AVAILABLE | LEN_MASK)) | FULL | bytes.length;
    view.setUint32(armed.offset, ctrl, true);
    this.armed = null;
    usb.indicateBufferReady(armed.endpoint, true);
  }

  // ---- workaround 2: stand-in boot ROM --------------------------------

  #installRom() {
    const { mcu } = this;
    const funcs = ['IF', 'EX', 'FC', 'CX', 'RE', 'RP', 'C4', 'MC', 'MS', 'S4'];
    this.romFuncs = new Map(); // trap address -> name
    const rom = new DataView(mcu.bootrom.buffer);
    rom.setUint32(0x10, 0x0201754d, true); // 'M' 'u' 0x01, version 2
    rom.setUint16(0x14, ROM_FUNC_TABLE, true);
    rom.setUint16(0x16, ROM_DATA_TABLE, true);
    rom.setUint16(0x18, ROM_LOOKUP | 1, true);
    funcs.forEach((name, i) => {
      const addr = ROM_FUNCS + 4 * i;
      this.romFuncs.set(addr, name);
      rom.setUint16(ROM_FUNC_TABLE + 4 * i, code(name), true);
      rom.setUint16(ROM_FUNC_TABLE + 4 * i + 2, addr | 1, true);
    });
    rom.setUint16(ROM_FUNC_TABLE + 4 * funcs.length, 0, true);
    rom.setUint16(ROM_DATA_TABLE, 0, true);
  }

  #romCall(pc) {
    const { mcu } = this;
    const r = mcu.core.registers;
    const rd8 = (a) => mcu.readUint8(a);
    const wr8 = (a, v) => mcu.writeUint8(a, v);
    if (pc === ROM_LOOKUP) {
      const [table, tag] = [r[0], r[1]];
      let result = 0;
      for (let a = table; ; a += 4) {
        const c = mcu.readUint16(a);
        if (c === 0) break;
        if (c === tag) {
          result = mcu.readUint16(a + 2);
          break;
        }
      }
      if (!result) this.unknownRom.push(String.fromCharCode(tag & 0xff, tag >> 8));
      r[0] = result;
    } else {
      const name = this.romFuncs.get(pc);
      const [a0, a1, a2] = [r[0], r[1], r[2]];
      switch (name) {
        case 'C4':
        case 'MC':
          for (let i = 0; i < a2; i++) wr8(a0 + i, rd8(a1 + i));
          break;
        case 'MS':
        case 'S4':
          for (let i = 0; i < a2; i++) wr8(a0 + i, a1 & 0xff);
          break;
        case 'RE': // flash_range_erase(offset, count, ...)
          mcu.flash.fill(0xff, a0, a0 + a1);
          break;
        case 'RP': // flash_range_program(offset, data, count)
          for (let i = 0; i < a2; i++) mcu.flash[a0 + i] &= rd8(a1 + i);
          break;
        case 'IF':
        case 'EX':
        case 'FC':
        case 'CX':
          break;
        default:
          throw new Error(`firmware jumped to ROM address 0x${pc.toString(16)}`);
      }
    }
    mcu.core.PC = mcu.core.LR & ~1;
    mcu.clock.tick(100 * CYCLE_NS);
  }

  // ---- workaround 4: SEV ------------------------------------------------

  #findSev() {
    const { flash } = this.mcu;
    this.sev = new Set();
    // Every halfword 0xbf40 of the image (data that happens to look like
    // one costs nothing: only executing it matters).
    for (let i = 0; i + 1 < flash.length; i += 2) {
      if (flash[i] === 0x40 && flash[i + 1] === 0xbf) this.sev.add(0x10000000 + i);
    }
  }

  // ---- workaround 3: XIP_CTRL -----------------------------------------

  #patchXipCtrl() {
    const { mcu } = this;
    const stock = mcu.readUint32.bind(mcu);
    mcu.readUint32 = (address) => {
      if (address >>> 0 >= 0x14000000 && address >>> 0 < 0x14000020) return 0;
      return stock(address);
    };
  }

  // ---- workaround 6: RESETS of the I2C controllers -------------------

  #patchI2cReset() {
    const { mcu } = this;
    const resets = mcu.peripherals[0x4000c];
    const stock = resets.writeUint32.bind(resets);
    const HOOKS = ['onStart', 'onConnect', 'onWriteByte', 'onReadByte', 'onStop'];
    this.i2cResets = []; // { bus, ns } of every reset the firmware asserted
    resets.writeUint32 = (offset, value) => {
      const before = resets.reset;
      stock(offset, value);
      if (offset !== 0) return;
      mcu.i2c.forEach((i2c, n) => {
        const bit = 1 << (3 + n); // RESETS.I2C0 = bit 3, I2C1 = bit 4
        if (resets.reset & bit && !(before & bit)) {
          const hooks = Object.fromEntries(HOOKS.map((h) => [h, i2c[h]]));
          Object.assign(i2c, new i2c.constructor(mcu, i2c.name, i2c.irq), hooks);
          this.i2cResets.push({ bus: n, ns: mcu.clock.nanos });
        }
      });
    };
  }
}
