//! The lease timer: reverts pins at their deadlines.

use std::sync::Arc;

use tracing::{info, warn};

use crate::server::Shared;

/// Reverts leases at their deadlines: sleeps until the engine's earliest
/// deadline, or until a command changes it.
pub(crate) async fn lease_timer(shared: Arc<Shared>) {
    loop {
        let next = shared.engine().next_deadline();
        match next {
            None => shared.lease_changed.notified().await,
            Some(deadline) => {
                tokio::select! {
                    () = tokio::time::sleep_until(shared.clock.to_tokio(deadline)) => {
                        let now = shared.clock.now();
                        shared.engine().poll_with(now, |r| match r.error {
                            None => info!(
                                pin = r.pin,
                                level = r.level.as_u8(),
                                late_us = r.at.saturating_since(r.deadline).as_micros() as u64,
                                "lease expired: pin back to its safe level"
                            ),
                            Some(e) => warn!(pin = r.pin, error = e.message(), "lease revert failed, retrying"),
                        });
                    }
                    () = shared.lease_changed.notified() => {}
                }
            }
        }
    }
}
