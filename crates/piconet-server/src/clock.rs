//! The daemon's clock: a monotonic origin for the engine's `Instant`, and
//! the UNIX time of that origin for `time_received`.

use piconet_engine::Instant;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    origin: std::time::Instant,
    epoch_ns: u64,
}

impl Clock {
    pub(crate) fn start() -> Self {
        let epoch_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Clock {
            origin: std::time::Instant::now(),
            epoch_ns,
        }
    }

    pub(crate) fn now(&self) -> Instant {
        Instant::from_nanos(u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    pub(crate) fn epoch_ns(&self) -> u64 {
        self.epoch_ns
    }

    /// The tokio instant at which the engine's `at` falls.
    pub(crate) fn to_tokio(self, at: Instant) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.origin) + std::time::Duration::from_nanos(at.as_nanos())
    }
}
