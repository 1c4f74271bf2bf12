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

    /// CLOCK_MONOTONIC (the clock of the kernel's GPIO edge timestamps)
    /// at this clock's origin, in nanoseconds.
    pub(crate) fn monotonic_origin_ns(&self) -> u64 {
        let elapsed = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        monotonic_ns().saturating_sub(elapsed)
    }

    /// The tokio instant at which the engine's `at` falls.
    pub(crate) fn to_tokio(self, at: Instant) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.origin) + std::time::Duration::from_nanos(at.as_nanos())
    }
}

/// CLOCK_MONOTONIC now, in nanoseconds (what `std::time::Instant` reads on
/// Linux, but as a number the kernel's timestamps can be compared with).
pub(crate) fn monotonic_ns() -> u64 {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC) {
        Ok(t) => {
            let secs = u64::try_from(t.tv_sec()).unwrap_or(0);
            let nanos = u64::try_from(t.tv_nsec()).unwrap_or(0);
            secs.saturating_mul(1_000_000_000).saturating_add(nanos)
        }
        // Cannot fail on Linux for CLOCK_MONOTONIC (EINVAL is for unknown
        // clocks); with 0, edge times would be the kernel's own monotonic
        // µs rather than the daemon stopping.
        Err(_) => 0,
    }
}
