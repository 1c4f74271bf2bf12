//! The status LED task.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use piconet_engine::led::{Status, StatusLed};

use crate::server::Shared;

/// Blinks the board's status LED with the original's patterns: idle, or a
/// client connected.
pub(crate) async fn status_led(shared: Arc<Shared>) {
    let mut led = StatusLed::new(Status::Idle, shared.clock.now());
    loop {
        let status = if shared.clients.load(Ordering::Relaxed) > 0 {
            Status::Client
        } else {
            Status::Idle
        };
        let now = shared.clock.now();
        led.set_status(status, now);
        led.advance(now);
        shared.engine().board_mut().set_status_led(led.is_on());
        match led.next_change() {
            Some(t) => {
                tokio::select! {
                    () = tokio::time::sleep_until(shared.clock.to_tokio(t)) => {}
                    () = shared.clients_changed.notified() => {}
                }
            }
            None => shared.clients_changed.notified().await,
        }
    }
}
