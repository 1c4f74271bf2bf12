//! Conversions between embassy-time's clock and the engine's [`Instant`].

use piconet_engine::Instant;

/// The engine's view of embassy-time's monotonic clock (time since boot).
pub fn now() -> Instant {
    to_engine(embassy_time::Instant::now())
}

/// An embassy-time instant as an engine instant.
pub fn to_engine(t: embassy_time::Instant) -> Instant {
    Instant::from_micros(t.as_micros())
}

/// An engine instant as an embassy-time instant, rounded up to the next
/// microsecond so a timer never fires before the engine's deadline (which
/// would find nothing due and spin until it is).
pub fn to_embassy(t: Instant) -> embassy_time::Instant {
    let us = t.as_nanos().div_ceil(1_000);
    embassy_time::Instant::from_micros(us)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_up() {
        assert_eq!(to_embassy(Instant::from_nanos(1)).as_micros(), 1);
        assert_eq!(to_embassy(Instant::from_nanos(1_000)).as_micros(), 1);
        assert_eq!(to_embassy(Instant::from_nanos(1_001)).as_micros(), 2);
        assert_eq!(
            to_embassy(Instant::from_nanos(u64::MAX)).as_micros(),
            u64::MAX.div_ceil(1000)
        );
    }
}
