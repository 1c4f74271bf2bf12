//! The piconet bootloader: embassy-boot's power-fail-safe A/B swap on the
//! Pico W.
//!
//! At every reset it reads BOOTLOADER_STATE. When the app marked a new
//! image in the DFU slot (after checking its signature), it swaps DFU and
//! ACTIVE page by page; when the previous boot was such a swap and the new
//! app never confirmed itself (`mark_booted`), it swaps back (rollback).
//! Then it jumps to the app at 0x10005000.
//!
//! The hardware watchdog is started here (8 s) and fed while flash is
//! written; it keeps running into the app, so an app that hangs before it
//! takes over the watchdog is reset, and an unconfirmed one is rolled back.
#![no_std]
#![no_main]

use core::cell::RefCell;

use cortex_m_rt::{entry, exception};
use embassy_boot_rp::{BootLoader, BootLoaderConfig, WatchdogFlash};
use embassy_sync::blocking_mutex::Mutex;
use embassy_time::Duration;

/// The Pico W's W25Q16JV.
const FLASH_SIZE: usize = 2 * 1024 * 1024;

#[entry]
fn main() -> ! {
    let p = embassy_rp::init(Default::default());
    let flash = WatchdogFlash::<FLASH_SIZE>::start(p.FLASH, p.WATCHDOG, Duration::from_secs(8));
    let flash = Mutex::new(RefCell::new(flash));
    let config = BootLoaderConfig::from_linkerfile_blocking(&flash, &flash, &flash);
    let active_offset = config.active.offset();
    let bl: BootLoader = BootLoader::prepare(config);
    // SAFETY: ACTIVE holds an app linked for this address (boot2-none,
    // vector table first); the bootloader touches nothing after the jump.
    unsafe { bl.load(embassy_rp::flash::FLASH_BASE as u32 + active_offset) }
}

/// A fault resets the chip: the next attempt reads the state again.
#[no_mangle]
#[cfg_attr(target_os = "none", link_section = ".HardFault.user")]
unsafe extern "C" fn HardFault() {
    cortex_m::peripheral::SCB::sys_reset();
}

#[exception]
unsafe fn DefaultHandler(_: i16) -> ! {
    cortex_m::peripheral::SCB::sys_reset();
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    cortex_m::peripheral::SCB::sys_reset();
}
