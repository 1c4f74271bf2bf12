//! Time as the engine sees it: a monotonic instant handed in by the caller.
//!
//! The engine never reads a clock itself, so the same code runs under
//! embassy-time on the Pico W, tokio on the host and a fake clock in tests.

use core::time::Duration;

/// A point on the caller's monotonic clock, in nanoseconds since an
/// arbitrary origin (boot, process start, test start).
///
/// ```
/// use piconet_engine::Instant;
/// use core::time::Duration;
/// let t = Instant::from_millis(5) + Duration::from_millis(10);
/// assert_eq!(t.as_nanos(), 15_000_000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The origin of the clock.
    pub const ZERO: Instant = Instant(0);

    /// An instant `ns` nanoseconds after the origin.
    pub const fn from_nanos(ns: u64) -> Self {
        Instant(ns)
    }

    /// An instant `us` microseconds after the origin.
    pub const fn from_micros(us: u64) -> Self {
        // A compare and a plain multiply: `saturating_mul` is an
        // overflow-checked 64-bit multiply, a much longer library call on
        // the RP2040 (Cortex-M0+), which takes the time this way several
        // times per event line.
        if us > u64::MAX / 1_000 {
            Instant(u64::MAX)
        } else {
            Instant(us * 1_000)
        }
    }

    /// An instant `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms.saturating_mul(1_000_000))
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// `ns` nanoseconds later, saturating (a deadline past the end of time
    /// never fires).
    pub const fn saturating_add_nanos(self, ns: u64) -> Instant {
        Instant(self.0.saturating_add(ns))
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl core::ops::Add<Duration> for Instant {
    type Output = Instant;

    /// Saturates instead of overflowing: a deadline past the end of time
    /// simply never fires.
    fn add(self, rhs: Duration) -> Instant {
        self.saturating_add_nanos(nanos(rhs))
    }
}

/// `d` in nanoseconds, saturating at `u64::MAX` (584 years). Without
/// `Duration::as_nanos`, whose `u128` multiply is a long library call on
/// 32-bit targets.
pub(crate) const fn nanos(d: Duration) -> u64 {
    const MAX_SECS: u64 = u64::MAX / 1_000_000_000;
    let secs = d.as_secs();
    if secs > MAX_SECS {
        return u64::MAX;
    }
    (secs * 1_000_000_000).saturating_add(d.subsec_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_saturates() {
        assert_eq!(
            Instant::from_nanos(u64::MAX - 1) + Duration::from_secs(1),
            Instant::from_nanos(u64::MAX)
        );
    }

    #[test]
    fn from_micros_saturates() {
        assert_eq!(Instant::from_micros(7).as_nanos(), 7_000);
        assert_eq!(
            Instant::from_micros(u64::MAX / 1_000).as_nanos(),
            u64::MAX / 1_000 * 1_000
        );
        assert_eq!(
            Instant::from_micros(u64::MAX / 1_000 + 1),
            Instant::from_nanos(u64::MAX)
        );
        assert_eq!(
            Instant::from_micros(u64::MAX),
            Instant::from_nanos(u64::MAX)
        );
    }

    #[test]
    fn nanos_is_as_nanos_saturated() {
        let cases = [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_micros(1_500),
            Duration::from_secs(300),
            Duration::new(u64::MAX / 1_000_000_000, 999_999_999),
            Duration::new(u64::MAX / 1_000_000_000 + 1, 0),
            Duration::MAX,
        ];
        for d in cases {
            let expected = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
            assert_eq!(nanos(d), expected, "{d:?}");
        }
    }

    #[test]
    fn since_is_zero_when_earlier_is_later() {
        let a = Instant::from_millis(1);
        let b = Instant::from_millis(2);
        assert_eq!(a.saturating_since(b), Duration::ZERO);
        assert_eq!(b.saturating_since(a), Duration::from_millis(1));
    }
}
