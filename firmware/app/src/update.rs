//! The board's firmware update slot: piconet-boot-slot's `BootSlot` (embassy-boot)
//! over the DFU and BOOTLOADER_STATE partitions of the RP2040's flash.
//!
//! The flash is written with embassy-rp's blocking API (updates are rare):
//! it runs the ROM's erase/program routines from RAM with interrupts off,
//! so no code executes from XIP flash while it is being written. An erase
//! of a 4 KiB sector blocks the board for ~45 ms; `BootSlot` erases sector
//! by sector as chunks arrive, never the whole slot at once.
//!
//! Built without `PICONET_UPDATE_PUBLIC_KEY` the slot refuses every upload
//! at `update_begin`, but still confirms a swapped-in image (an image
//! without a key that came by an update must not be rolled back for it).

use piconet_boot_slot::BootSlot;
use piconet_engine::{LastUpdate, UpdateError, UpdateSlot};

use crate::flash::{partition, Part, SharedFlash};

/// Why `get_info` and `update_begin` say no.
pub const NO_KEY: &str = "this board was built without an update key";

extern "C" {
    static __bootloader_state_start: u32;
    static __bootloader_state_end: u32;
    static __bootloader_dfu_start: u32;
    static __bootloader_dfu_end: u32;
}

/// The update slot of this board.
pub struct PicoSlot {
    slot: BootSlot<Part, Part, &'static str>,
    has_key: bool,
}

impl PicoSlot {
    /// The slot over the DFU and STATE partitions (memory.x) of the shared
    /// flash, trusting `key`; reads the bootloader state.
    pub fn new(flash: &'static SharedFlash, key: Option<[u8; 32]>, version: &'static str) -> Self {
        PicoSlot {
            slot: BootSlot::new(
                partition(
                    flash,
                    core::ptr::addr_of!(__bootloader_dfu_start),
                    core::ptr::addr_of!(__bootloader_dfu_end),
                ),
                partition(
                    flash,
                    core::ptr::addr_of!(__bootloader_state_start),
                    core::ptr::addr_of!(__bootloader_state_end),
                ),
                key.unwrap_or([0; 32]),
                version,
            ),
            has_key: key.is_some(),
        }
    }

    /// Whether images can be verified (a key was built in).
    pub fn has_key(&self) -> bool {
        self.has_key
    }
}

impl UpdateSlot for PicoSlot {
    fn capacity(&self) -> u32 {
        self.slot.capacity()
    }

    fn prepare(&mut self, size: u32) -> Result<(), UpdateError> {
        if !self.has_key {
            // get_info's `update_key` says so too (NO_KEY).
            return Err(UpdateError::NoKey);
        }
        self.slot.prepare(size)
    }

    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), UpdateError> {
        self.slot.write(offset, data)
    }

    fn verify_and_mark(&mut self, signature: &[u8; 64], size: u32) -> Result<(), UpdateError> {
        if !self.has_key {
            return Err(UpdateError::NoKey);
        }
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
