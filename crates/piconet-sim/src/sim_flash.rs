//! Simulated flash for the simulated board's firmware updates: RAM NOR
//! flash in embassy-boot's layout (BOOTLOADER_STATE, ACTIVE, DFU), the
//! bootloader's own swap at every reset, and power cuts on demand.
//!
//! A simulated image is [`SIM_IMAGE_MAGIC`], a flags byte
//! ([`SIM_IMAGE_CRASHES`]: the image crashes before serving anything),
//! a version length byte, the version, then any payload.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use embassy_boot::{BootLoader, BootLoaderConfig};
use embedded_storage::nor_flash::{ErrorType, NorFlash, NorFlashErrorKind, ReadNorFlash};

use piconet_boot_slot::BootSlot;
use piconet_engine::update::{LastUpdate, UpdateError, UpdateSlot};

/// Erase unit of the simulated flash (the RP2040's sector).
pub const PAGE: usize = 4096;
/// Write unit of the simulated flash.
const WRITE: usize = 4;
/// How many boots in a row may crash before the board gives up.
const MAX_CRASH_BOOTS: usize = 3;

/// First bytes of a simulated image.
pub const SIM_IMAGE_MAGIC: &[u8; 8] = b"PNSIMG1\0";
/// Flag: the image crashes at boot, so it never confirms itself.
pub const SIM_IMAGE_CRASHES: u8 = 1;

/// Build a simulated image: header, then `payload_len` bytes of filler.
///
/// ```
/// use piconet_sim::sim_flash::{sim_image, parse_sim_image};
/// let img = sim_image("2.0.0", false, 100);
/// assert_eq!(parse_sim_image(&img), Some(("2.0.0".into(), false)));
/// ```
pub fn sim_image(version: &str, crashes: bool, payload_len: usize) -> Vec<u8> {
    let v = version.as_bytes();
    let mut img = Vec::with_capacity(10 + v.len() + payload_len);
    img.extend_from_slice(SIM_IMAGE_MAGIC);
    img.push(if crashes { SIM_IMAGE_CRASHES } else { 0 });
    img.push(v.len().min(255) as u8);
    img.extend_from_slice(&v[..v.len().min(255)]);
    img.extend((0..payload_len).map(|i| (i.wrapping_mul(131) >> 3) as u8));
    img
}

/// The version and crash flag of a simulated image, `None` if `bytes`
/// does not start with a valid header.
pub fn parse_sim_image(bytes: &[u8]) -> Option<(String, bool)> {
    let rest = bytes.strip_prefix(SIM_IMAGE_MAGIC.as_slice())?;
    let (&flags, rest) = rest.split_first()?;
    let (&len, rest) = rest.split_first()?;
    let version = core::str::from_utf8(rest.get(..len.into())?).ok()?;
    Some((version.into(), flags & SIM_IMAGE_CRASHES != 0))
}

/// The power supply shared by the partitions of one simulated chip:
/// after a set number of mutating operations (writes, erases) every
/// operation fails, as if the board lost power at that instant. Each
/// operation either completes or does not happen (embassy-boot assumes a
/// write of its write size is atomic).
#[derive(Debug, Default)]
pub struct Power {
    /// Operations left before the cut; `u64::MAX`: no cut planned.
    left: AtomicU64,
    /// Mutating operations carried out so far.
    ops: AtomicU64,
    /// Operations refused since the last power-on.
    refused: AtomicU64,
}

impl Power {
    fn new() -> Arc<Self> {
        Arc::new(Power {
            left: AtomicU64::new(u64::MAX),
            ops: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        })
    }

    fn spend(&self) -> Result<(), NorFlashErrorKind> {
        let left = self.left.load(Ordering::Relaxed);
        if left == 0 {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(NorFlashErrorKind::Other);
        }
        if left != u64::MAX {
            self.left.store(left - 1, Ordering::Relaxed);
        }
        self.ops.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn check(&self) -> Result<(), NorFlashErrorKind> {
        match self.left.load(Ordering::Relaxed) {
            0 => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Err(NorFlashErrorKind::Other)
            }
            _ => Ok(()),
        }
    }
}

/// One partition of simulated NOR flash: erase sets bytes to 0xFF, a
/// write can only clear bits, as on the real chip.
#[derive(Debug)]
pub struct RamFlash {
    bytes: Vec<u8>,
    power: Arc<Power>,
}

impl RamFlash {
    fn new(len: usize, power: Arc<Power>) -> Self {
        RamFlash {
            bytes: vec![0xFF; len],
            power,
        }
    }

    /// The partition's contents.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn range(
        &self,
        offset: u32,
        len: usize,
        align: usize,
    ) -> Result<core::ops::Range<usize>, NorFlashErrorKind> {
        let start = offset as usize;
        if start % align != 0 || len % align != 0 {
            return Err(NorFlashErrorKind::NotAligned);
        }
        if start + len > self.bytes.len() {
            return Err(NorFlashErrorKind::OutOfBounds);
        }
        Ok(start..start + len)
    }
}

impl ErrorType for RamFlash {
    type Error = NorFlashErrorKind;
}

impl ReadNorFlash for RamFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, out: &mut [u8]) -> Result<(), Self::Error> {
        self.power.check()?;
        let r = self.range(offset, out.len(), 1)?;
        out.copy_from_slice(&self.bytes[r]);
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.bytes.len()
    }
}

impl NorFlash for RamFlash {
    const WRITE_SIZE: usize = WRITE;
    const ERASE_SIZE: usize = PAGE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        let len = to.checked_sub(from).ok_or(NorFlashErrorKind::OutOfBounds)? as usize;
        let r = self.range(from, len, PAGE)?;
        // One operation per sector: a cut can fall between sectors.
        for sector in r.step_by(PAGE) {
            self.power.spend()?;
            self.bytes[sector..sector + PAGE].fill(0xFF);
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), Self::Error> {
        let r = self.range(offset, data.len(), WRITE)?;
        // One operation per write: embassy-boot's progress markers are
        // single writes of WRITE bytes, its page copies one write each.
        self.power.spend()?;
        for (d, s) in self.bytes[r].iter_mut().zip(data) {
            *d &= *s;
        }
        Ok(())
    }
}

/// How a simulated boot ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Boot {
    /// An image runs.
    Running {
        /// Its version.
        version: String,
        /// How this boot came about.
        last: LastUpdate,
    },
    /// The power failed during the boot (the bootloader's swap): the
    /// board is dead until [`SimFlash::restore_power`] and a reset.
    PowerLost,
    /// No bootable image: ACTIVE holds no valid simulated image, or the
    /// images kept crashing.
    Bricked,
}

/// The flash of a simulated Pico W with embassy-boot: ACTIVE, DFU and
/// BOOTLOADER_STATE partitions in RAM, the public key images must be
/// signed with, and the image running since the last boot.
pub struct SimFlash {
    active: RamFlash,
    slot: BootSlot<RamFlash, RamFlash, String>,
    power: Arc<Power>,
    boot: Boot,
}

impl core::fmt::Debug for SimFlash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SimFlash")
            .field("boot", &self.boot)
            .finish()
    }
}

impl SimFlash {
    /// Flash with an ACTIVE partition of `active_pages` 4 KiB pages (DFU
    /// is one page larger, as embassy-boot's swap needs), `factory` (a
    /// simulated image) in ACTIVE, trusting `public_key`. Boots it.
    ///
    /// ```
    /// use piconet_sim::sim_flash::{sim_image, Boot, SimFlash};
    /// use piconet_engine::{LastUpdate, UpdateSlot};
    /// let mut flash = SimFlash::new(16, &sim_image("1.0.0", false, 0), [0; 32]);
    /// assert_eq!(flash.slot().running_version(), "1.0.0");
    /// assert_eq!(flash.slot().last_update(), LastUpdate::None);
    /// ```
    pub fn new(active_pages: usize, factory: &[u8], public_key: [u8; 32]) -> Self {
        assert!(active_pages >= 1 && 2 + 4 * active_pages <= PAGE / WRITE);
        assert!(
            factory.len() <= active_pages * PAGE,
            "factory image larger than ACTIVE"
        );
        let power = Power::new();
        let mut active = RamFlash::new(active_pages * PAGE, power.clone());
        active.bytes[..factory.len()].copy_from_slice(factory);
        let dfu = RamFlash::new((active_pages + 1) * PAGE, power.clone());
        let state = RamFlash::new(PAGE, power.clone());
        let mut flash = SimFlash {
            active,
            slot: BootSlot::new(dfu, state, public_key, String::new()),
            power,
            boot: Boot::Bricked,
        };
        flash.reboot();
        flash
    }

    /// The update slot of the running image.
    pub fn slot(&mut self) -> &mut BootSlot<RamFlash, RamFlash, String> {
        &mut self.slot
    }

    /// How the last boot ended.
    pub fn boot(&self) -> &Boot {
        &self.boot
    }

    /// The ACTIVE partition (what the board runs).
    pub fn active(&self) -> &[u8] {
        self.active.bytes()
    }

    /// Fail every flash operation after `ops` more writes or erases.
    pub fn cut_power_after(&self, ops: u64) {
        self.power.left.store(ops, Ordering::Relaxed);
    }

    /// Power back on (no cut planned). Call [`SimFlash::reboot`] next.
    pub fn restore_power(&self) {
        self.power.left.store(u64::MAX, Ordering::Relaxed);
        self.power.refused.store(0, Ordering::Relaxed);
    }

    /// Whether a planned power cut happened (an operation was refused).
    pub fn power_lost(&self) -> bool {
        self.power.refused.load(Ordering::Relaxed) > 0
    }

    /// Writes and erases carried out so far.
    pub fn flash_ops(&self) -> u64 {
        self.power.ops.load(Ordering::Relaxed)
    }

    /// A reset: embassy-boot's `prepare_boot` (swap, or revert of an
    /// image that never confirmed itself), then the image in ACTIVE
    /// starts. An image flagged as crashing resets the board again before
    /// it serves anything (a watchdog reset), as many times as it takes
    /// for the bootloader to put the previous image back.
    pub fn reboot(&mut self) -> &Boot {
        for _ in 0..MAX_CRASH_BOOTS {
            self.boot = self.boot_once();
            if self.boot != Boot::Bricked {
                break;
            }
        }
        &self.boot
    }

    fn boot_once(&mut self) -> Boot {
        let (dfu, state) = self.slot.partitions_mut();
        let mut page = vec![0u8; PAGE];
        let prepared = BootLoader::new(BootLoaderConfig {
            active: &mut self.active,
            dfu,
            state,
        })
        .prepare_boot(&mut page);
        if prepared.is_err() {
            self.slot.rebooted(String::new());
            return Boot::PowerLost;
        }
        let Some((version, crashes)) = parse_sim_image(self.active.bytes()) else {
            self.slot.rebooted(String::new());
            return Boot::Bricked;
        };
        self.slot.rebooted(version.clone());
        if crashes {
            // The image dies before serving: the watchdog resets again.
            return Boot::Bricked;
        }
        Boot::Running {
            version,
            last: self.slot.last_update(),
        }
    }
}

impl UpdateSlot for SimFlash {
    fn capacity(&self) -> u32 {
        self.slot.capacity()
    }
    fn prepare(&mut self, size: u32) -> Result<(), UpdateError> {
        self.slot.prepare(size)
    }
    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), UpdateError> {
        self.slot.write(offset, data)
    }
    fn verify_and_mark(&mut self, signature: &[u8; 64], size: u32) -> Result<(), UpdateError> {
        self.slot.verify_and_mark(signature, size)
    }
    fn confirm_boot(&mut self) -> Result<(), UpdateError> {
        self.slot.confirm_boot()
    }
    fn running_version(&self) -> &str {
        self.slot.running_version()
    }
    fn last_update(&self) -> LastUpdate {
        self.slot.last_update()
    }
}

#[cfg(test)]
mod tests;
