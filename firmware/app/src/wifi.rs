//! Bringing up the CYW43 radio without letting a silent chip stall the
//! board.
//!
//! `cyw43::new` polls the chip's test register until it answers and then
//! uploads its firmware; with a dead radio (or none, as in an emulator) it
//! never finishes. It only ever waits on PIO/DMA/timer futures, so the
//! executor keeps running every other task (USB serial, leases, watchdog)
//! meanwhile, and [`bring_up`] gives up after [`BRING_UP_TIMEOUT`]: the
//! board then serves over USB only and `get_info` reports
//! `"wifi": "not responding"`.

use cyw43::{Control, NetDriver};
use embassy_executor::Spawner;
use embassy_rp::gpio::Output;
use embassy_time::{with_timeout, Duration};
use portable_atomic::{AtomicU8, Ordering};
use static_cell::StaticCell;

use crate::radio;

/// The whole bring-up (chip reset, firmware and CLM upload, power-save
/// setting) takes about a second on a Pico W; past this the chip is taken
/// as absent.
pub const BRING_UP_TIMEOUT: Duration = Duration::from_secs(10);

const STARTING: u8 = 0;
const NOT_RESPONDING: u8 = 1;
const UP: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(STARTING);

/// The radio's state for `get_info`'s `wifi` field: `"starting"`,
/// `"not responding"`, `"connected"` (an address is held) or
/// `"not connected"` (chip up; not configured, joining, or lost).
pub fn status() -> &'static str {
    match STATE.load(Ordering::Relaxed) {
        STARTING => "starting",
        NOT_RESPONDING => "not responding",
        _ if radio::IPV4.load(Ordering::Relaxed) != 0 => "connected",
        _ => "not connected",
    }
}

/// Reset the chip, load its firmware and CLM, start its driver task and
/// set the awake power mode ([`radio::awake_power`]); `None` (and `"not responding"`) if that does not
/// finish within [`BRING_UP_TIMEOUT`].
pub async fn bring_up(
    spawner: Spawner,
    pwr: Output<'static>,
    spi: cyw43_pio::PioSpi<'static, embassy_rp::peripherals::PIO0, 0>,
) -> Option<(NetDriver<'static>, Control<'static>)> {
    static CYW43_STATE: StaticCell<cyw43::State> = StaticCell::new();
    let state = CYW43_STATE.init(cyw43::State::new());
    let up = with_timeout(BRING_UP_TIMEOUT, async {
        let (net_device, mut control, runner) =
            cyw43::new(state, pwr, spi, &crate::WIFI_FW, crate::NVRAM).await;
        spawner.spawn(radio::cyw43_task(runner).unwrap());
        control.init(cyw43_firmware::CYW43_43439A0_CLM).await;
        control.set_power_management(radio::awake_power()).await;
        (net_device, control)
    })
    .await;
    match up {
        Ok(up) => {
            STATE.store(UP, Ordering::Relaxed);
            Some(up)
        }
        Err(_) => {
            STATE.store(NOT_RESPONDING, Ordering::Relaxed);
            None
        }
    }
}
