//! A RAM-backed NOR flash with power cuts on demand, for tests of the store
//! (and of anything else over `NorFlash`) without hardware.

use embedded_storage_async::nor_flash::{
    ErrorType, MultiwriteNorFlash, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// Erase page of the RP2040's flash.
pub const PAGE: usize = 4096;

/// The power was cut (or the access was out of bounds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RamFlashError {
    /// A simulated power cut interrupted this write or erase.
    PowerCut,
    /// Outside the flash, or not aligned.
    OutOfBounds,
}

impl NorFlashError for RamFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            RamFlashError::PowerCut => NorFlashErrorKind::Other,
            RamFlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
        }
    }
}

/// `PAGES` erase pages of 4 KiB in RAM, with NOR semantics: erase sets
/// bytes to 0xff, writes can only clear bits.
///
/// With [`RamFlash::cut_power_after`], the n-th write or erase from now
/// stops half-way (half the bytes land, as a real program operation cut by
/// a power loss may leave them) and every later one fails, until
/// [`RamFlash::restore_power`].
#[derive(Clone)]
pub struct RamFlash<const PAGES: usize> {
    bytes: [[u8; PAGE]; PAGES],
    ops_left: Option<usize>,
    dead: bool,
    ops: usize,
}

impl<const PAGES: usize> Default for RamFlash<PAGES> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const PAGES: usize> RamFlash<PAGES> {
    /// Erased flash.
    pub fn new() -> Self {
        RamFlash {
            bytes: [[0xff; PAGE]; PAGES],
            ops_left: None,
            dead: false,
            ops: 0,
        }
    }

    /// Let `n` more writes/erases complete, then cut the power in the next.
    pub fn cut_power_after(&mut self, n: usize) {
        self.ops_left = Some(n);
    }

    /// Power back on (as after a reboot).
    pub fn restore_power(&mut self) {
        self.ops_left = None;
        self.dead = false;
    }

    /// Writes and erases done so far.
    pub fn operations(&self) -> usize {
        self.ops
    }

    fn check(&self, offset: u32, len: usize) -> Result<(usize, usize), RamFlashError> {
        let start = offset as usize;
        let end = start.checked_add(len).ok_or(RamFlashError::OutOfBounds)?;
        if end > PAGES * PAGE {
            return Err(RamFlashError::OutOfBounds);
        }
        Ok((start, end))
    }

    /// Whether this operation may run fully; `Some(false)` means it is the
    /// one interrupted.
    fn power(&mut self) -> Result<bool, RamFlashError> {
        if self.dead {
            return Err(RamFlashError::PowerCut);
        }
        self.ops += 1;
        match &mut self.ops_left {
            Some(0) => {
                self.dead = true;
                Ok(false)
            }
            Some(n) => {
                *n -= 1;
                Ok(true)
            }
            None => Ok(true),
        }
    }

    fn byte_mut(&mut self, i: usize) -> &mut u8 {
        &mut self.bytes[i / PAGE][i % PAGE]
    }
}

impl<const PAGES: usize> ErrorType for RamFlash<PAGES> {
    type Error = RamFlashError;
}

impl<const PAGES: usize> ReadNorFlash for RamFlash<PAGES> {
    const READ_SIZE: usize = 1;

    async fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        let (start, _) = self.check(offset, bytes.len())?;
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = self.bytes[(start + i) / PAGE][(start + i) % PAGE];
        }
        Ok(())
    }

    fn capacity(&self) -> usize {
        PAGES * PAGE
    }
}

impl<const PAGES: usize> NorFlash for RamFlash<PAGES> {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = PAGE;

    async fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        if from % PAGE as u32 != 0 || to % PAGE as u32 != 0 || to < from {
            return Err(RamFlashError::OutOfBounds);
        }
        let (start, end) = self.check(from, (to - from) as usize)?;
        let whole = self.power()?;
        let end = if whole {
            end
        } else {
            start + (end - start) / 2
        };
        for i in start..end {
            *self.byte_mut(i) = 0xff;
        }
        if whole {
            Ok(())
        } else {
            Err(RamFlashError::PowerCut)
        }
    }

    async fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        if offset as usize % Self::WRITE_SIZE != 0 || bytes.len() % Self::WRITE_SIZE != 0 {
            return Err(RamFlashError::OutOfBounds);
        }
        let (start, _) = self.check(offset, bytes.len())?;
        let whole = self.power()?;
        let n = if whole { bytes.len() } else { bytes.len() / 2 };
        for (i, b) in bytes[..n].iter().enumerate() {
            *self.byte_mut(start + i) &= *b;
        }
        if whole {
            Ok(())
        } else {
            Err(RamFlashError::PowerCut)
        }
    }
}

// NOR can clear more bits in a word already written; the RP2040's flash can.
impl<const PAGES: usize> MultiwriteNorFlash for RamFlash<PAGES> {}
