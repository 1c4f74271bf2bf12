// I2C devices for rp2040js 1.4.1's I2C controller model, attached through
// its device hooks (onStart, onConnect, onWriteByte, onReadByte, onStop;
// each must answer with the matching complete* call, or the controller
// waits). The model has no bit timing: a transfer completes within the
// register write that queued it, unless a device holds it.

/**
 * A 24C02 EEPROM (256 bytes, erased to 0xFF): a write's first byte sets
 * the address pointer, the rest are stored from it (wrapping at 256); a
 * read returns bytes from the pointer on, advancing it. Every transaction
 * is logged as { address, read, bytes, restart }.
 */
export class Eeprom {
  constructor(address = 0x50) {
    this.address = address;
    this.memory = new Uint8Array(256).fill(0xff);
    this.pointer = 0;
    this.log = [];
  }
}

/**
 * Connect `devices` to `i2c` (mcu.i2c[n]). An address in `hung` is
 * acknowledged never: the controller stays in the address phase, as with a
 * device holding SCL low, until the firmware gives up and resets it;
 * `onHang(address)` is called when that starts.
 */
export function attach(i2c, devices, { hung = [], onHang = () => {} } = {}) {
  let current = null; // { device, entry } of the transaction on the wire
  let expectPointer = false;
  let restart = false;
  i2c.onStart = (repeated) => {
    restart = repeated;
    i2c.completeStart();
  };
  i2c.onConnect = (address, mode) => {
    if (hung.includes(address)) {
      onHang(address);
      return; // never completes
    }
    const device = devices.find((d) => d.address === address);
    if (!device) {
      current = null;
      i2c.completeConnect(false);
      return;
    }
    const entry = { address, read: mode === 1, bytes: [], restart };
    device.log.push(entry);
    current = { device, entry };
    expectPointer = mode === 0;
    i2c.completeConnect(true);
  };
  i2c.onWriteByte = (value) => {
    const { device, entry } = current;
    entry.bytes.push(value);
    if (expectPointer) {
      device.pointer = value;
      expectPointer = false;
    } else {
      device.memory[device.pointer] = value;
      device.pointer = (device.pointer + 1) & 0xff;
    }
    i2c.completeWrite(true);
  };
  i2c.onReadByte = () => {
    const { device, entry } = current;
    const value = device.memory[device.pointer];
    device.pointer = (device.pointer + 1) & 0xff;
    entry.bytes.push(value);
    i2c.completeRead(value);
  };
  i2c.onStop = () => {
    current = null;
    i2c.completeStop();
  };
}
