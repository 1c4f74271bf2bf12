//! Reset, sleep and the hardware watchdog.
//!
//! The watchdog is shared by the feeding task and `reset_now`, behind a
//! critical-section mutex.

use core::cell::RefCell;

use embassy_futures::select::select;
use embassy_rp::watchdog::Watchdog;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::signal::Signal;
use embassy_time::{Duration, Timer};

use crate::radio::{RadioRequest, RADIO};
use crate::SHARED;

/// A hung firmware (no feed for this long) is reset by the hardware.
pub const WATCHDOG_TIMEOUT: Duration = Duration::from_secs(8);
const FEED_EVERY: Duration = Duration::from_secs(1);

static WATCHDOG: Mutex<CriticalSectionRawMutex, RefCell<Option<Watchdog>>> =
    Mutex::new(RefCell::new(None));
static SLEEP: Signal<CriticalSectionRawMutex, (u32, bool)> = Signal::new();

/// Start the watchdog; it is fed by [`watchdog_task`].
pub fn start_watchdog(mut wd: Watchdog) {
    wd.start(WATCHDOG_TIMEOUT);
    WATCHDOG.lock(|w| *w.borrow_mut() = Some(wd));
}

/// Reset the whole chip now through the watchdog: unlike the Cortex-M
/// SYSRESETREQ (which resets only the processors), a watchdog reset also
/// resets the GPIO banks, so every pin is back to its power-on state.
pub fn reset_now() -> ! {
    WATCHDOG.lock(|w| {
        if let Some(wd) = w.borrow_mut().as_mut() {
            wd.trigger_reset();
        }
    });
    // Without a watchdog (not started yet): the processor reset; embassy-rp's
    // init then resets the peripherals, GPIO included.
    cortex_m::peripheral::SCB::sys_reset()
}

/// Ask the power task to sleep (called from `Board::sleep` after the reply
/// was flushed).
pub fn request_sleep(ms: u32, deep: bool) {
    SLEEP.signal((ms, deep));
}

#[embassy_executor::task]
pub async fn watchdog_task() -> ! {
    loop {
        WATCHDOG.lock(|w| {
            if let Some(wd) = w.borrow_mut().as_mut() {
                wd.feed(WATCHDOG_TIMEOUT);
            }
        });
        Timer::after(FEED_EVERY).await;
    }
}

/// Carries out sleeps.
///
/// - Light sleep: LED dark, the radio in its deepest power-save that keeps
///   the association; ends after `ms` or as soon as a command arrives. The
///   CPU already idles (WFE) whenever no task is ready.
/// - Deep sleep: every lease was reverted first (by the connection loop);
///   LED dark, the radio leaves the network, then after `ms` the chip
///   resets through the watchdog, i.e. the board restarts.
#[embassy_executor::task]
pub async fn power_task() -> ! {
    let shared = SHARED.get();
    loop {
        let (ms, deep) = SLEEP.wait().await;
        shared.set_asleep(true);
        let duration = Duration::from_millis(ms.into());
        if deep {
            RADIO.signal(RadioRequest::Off);
            Timer::after(duration).await;
            reset_now();
        }
        RADIO.signal(RadioRequest::LightSleep);
        shared.activity.reset();
        select(Timer::after(duration), shared.activity.wait()).await;
        RADIO.signal(RadioRequest::Awake);
        shared.set_asleep(false);
    }
}
