//! The status LED task: the engine's pattern state machine on a timer.

use embassy_futures::select::{select, Either};
use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_time::Timer;
use piconet_engine::led::StatusLed;

use crate::clock::{now, to_embassy};
use crate::Shared;

/// Drive the LED through `set` (called only when the level changes) with
/// the pattern of [`Shared::status`], switching pattern when it changes.
/// Never returns.
pub async fn run_led<M: RawMutex, B>(shared: &Shared<M, B>, mut set: impl FnMut(bool)) -> ! {
    let mut led = StatusLed::new(shared.status(), now());
    let mut lit = led.is_on();
    set(lit);
    loop {
        let changed = shared.status_changed.wait();
        match led.next_change() {
            Some(t) => {
                if let Either::Second(()) = select(Timer::at(to_embassy(t)), changed).await {
                    led.set_status(shared.status(), now());
                }
            }
            None => {
                changed.await;
                led.set_status(shared.status(), now());
            }
        }
        led.advance(now());
        if led.is_on() != lit {
            lit = led.is_on();
            set(lit);
        }
    }
}
