//! The fail-safe timer: reverts leased pins at the engine's deadlines.

use embassy_futures::select::select;
use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_time::Timer;
use piconet_engine::Board;

use crate::clock::{now, to_embassy};
use crate::Shared;

/// Sleep until the engine's next lease deadline (or until a command
/// changed the leases), then revert whatever is due. Never returns.
pub async fn run<M: RawMutex, B: Board>(shared: &Shared<M, B>) -> ! {
    loop {
        step(shared).await;
    }
}

/// One round of [`run`]: wait for the deadline or a change, then poll.
/// Returns how many pins were reverted.
pub async fn step<M: RawMutex, B: Board>(shared: &Shared<M, B>) -> usize {
    let deadline = shared.engine.lock().await.next_deadline();
    match deadline {
        Some(d) => {
            select(Timer::at(to_embassy(d)), shared.leases_changed.wait()).await;
        }
        None => shared.leases_changed.wait().await,
    }
    shared.engine.lock().await.poll(now())
}
