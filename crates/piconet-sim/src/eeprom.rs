//! The simulated board's I2C device: a 24C02 serial EEPROM (256 bytes).

/// Where the simulated board answers on each bus: a 24C02 with its
/// address pins low.
pub const EEPROM_ADDRESS: u8 = 0x50;

/// The 24C02's size in bytes.
pub const EEPROM_SIZE: usize = 256;

/// A 24C02 as a host sees it: a write's first byte sets the address
/// pointer and the rest are stored from there on; a read returns bytes
/// from the pointer on; both advance the pointer, wrapping at 256. (The
/// real chip writes in 8-byte pages and needs 5 ms per page; the
/// simulation stores every byte at once.)
///
/// ```
/// use piconet_sim::eeprom::Eeprom;
/// let mut e = Eeprom::new();
/// e.write(&[0x10, 1, 2, 3]);
/// let mut buf = [0u8; 4];
/// e.write(&[0x10]);
/// e.read(&mut buf);
/// assert_eq!(buf, [1, 2, 3, 0xff]);
/// ```
#[derive(Clone, Debug)]
pub struct Eeprom {
    cells: [u8; EEPROM_SIZE],
    pointer: u8,
}

impl Default for Eeprom {
    fn default() -> Self {
        Self::new()
    }
}

impl Eeprom {
    /// Erased: every byte 0xFF, the pointer at 0.
    pub const fn new() -> Self {
        Eeprom {
            cells: [0xff; EEPROM_SIZE],
            pointer: 0,
        }
    }

    /// A write transaction's bytes (without the address byte).
    pub fn write(&mut self, data: &[u8]) {
        let Some((&pointer, rest)) = data.split_first() else {
            return;
        };
        self.pointer = pointer;
        for &b in rest {
            self.cells[usize::from(self.pointer)] = b;
            self.pointer = self.pointer.wrapping_add(1);
        }
    }

    /// A read transaction: fills `buf` from the pointer on.
    pub fn read(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.cells[usize::from(self.pointer)];
            self.pointer = self.pointer.wrapping_add(1);
        }
    }

    /// The whole memory.
    pub fn contents(&self) -> &[u8; EEPROM_SIZE] {
        &self.cells
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_wraps_at_256_and_reads_advance() {
        let mut e = Eeprom::new();
        e.write(&[0xfe, 1, 2, 3]);
        assert_eq!(&e.contents()[..2], &[3, 0xff]);
        assert_eq!(&e.contents()[0xfe..], &[1, 2]);
        e.write(&[0xff]);
        let mut buf = [0u8; 3];
        e.read(&mut buf);
        assert_eq!(buf, [2, 3, 0xff]);
        // The pointer went on from there.
        let mut next = [0u8; 1];
        e.read(&mut next);
        assert_eq!(next, [0xff]);
        e.write(&[]);
        assert_eq!(e.contents()[0xff], 2);
    }
}
