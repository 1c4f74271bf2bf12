//! The RP2040's one flash driver, shared by everything that writes flash:
//! the update slot (DFU and BOOTLOADER_STATE partitions, `update.rs`) and
//! the settings (CONFIG partition, `settings.rs`).
//!
//! The driver runs in blocking mode: erase and program run the ROM's
//! routines from RAM with interrupts off, so nothing executes from XIP
//! flash while it is written (core 1 is not used), and reads are XIP
//! copies (the async driver's DMA read of the XIP stream is not used; see
//! firmware/README.md, "Configure"). It sits in one static blocking mutex
//! (a critical section per operation) and each user gets an
//! embassy-embedded-hal `BlockingPartition` of its own region, which
//! refuses any offset outside that region. Both users are reached only
//! through the engine, under its lock, so their operations never
//! interleave either.

use core::cell::RefCell;

use embassy_embedded_hal::flash::partition::BlockingPartition;
use embassy_rp::flash::{Blocking, Flash};
use embassy_rp::peripherals::FLASH;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::blocking_mutex::Mutex;
use static_cell::StaticCell;

/// The Pico W's flash (W25Q16JV).
pub const FLASH_SIZE: usize = 2 * 1024 * 1024;

/// The flash driver, blocking mode.
pub type PicoFlash = Flash<'static, FLASH, Blocking, FLASH_SIZE>;
/// The driver behind its mutex.
pub type SharedFlash = Mutex<CriticalSectionRawMutex, RefCell<PicoFlash>>;
/// One region of the shared flash; offsets are relative to its start.
pub type Part = BlockingPartition<'static, CriticalSectionRawMutex, PicoFlash>;

/// Put the driver behind the shared mutex (once, at boot).
pub fn share(flash: PicoFlash) -> &'static SharedFlash {
    static FLASH_MUTEX: StaticCell<SharedFlash> = StaticCell::new();
    FLASH_MUTEX.init(Mutex::new(RefCell::new(flash)))
}

/// The partition between two memory.x symbols (offsets from the start of
/// flash). Only the symbols' addresses are taken, never their contents.
pub fn partition(flash: &'static SharedFlash, start: *const u32, end: *const u32) -> Part {
    let (start, end) = (start as u32, end as u32);
    Part::new(flash, start, end - start)
}
