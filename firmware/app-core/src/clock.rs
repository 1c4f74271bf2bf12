//! Conversions between embassy-time's clock and the engine's [`Instant`],
//! and [`Deadline`], a timer at an engine instant.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use embassy_time::Timer;
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

/// A timer at an engine deadline (`None`: never), converted to
/// embassy-time's clock only when it is first polled.
///
/// A connection races every write and read against its session's deadline,
/// and most writes finish on their first poll: raced with a `Deadline`
/// placed second in a `select`, they never pay for the conversion (a
/// 64-bit division, a library call on the RP2040) nor for registering a
/// timer that would be dropped at once.
pub struct Deadline(State);

/// Its states, in no more room than a `Timer` (the connection futures of
/// the board's tasks are static memory).
enum State {
    Never,
    At(Instant),
    Armed(Timer),
}

impl Deadline {
    /// A timer that fires at `at`, or never for `None`.
    pub fn new(at: Option<Instant>) -> Self {
        Deadline(at.map_or(State::Never, State::At))
    }
}

impl Future for Deadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Unpin (an `Instant` or a `Timer`, both Unpin).
        let this = self.get_mut();
        if let State::At(at) = this.0 {
            this.0 = State::Armed(Timer::at(to_embassy(at)));
        }
        match &mut this.0 {
            State::Armed(timer) => Pin::new(timer).poll(cx),
            _ => Poll::Pending,
        }
    }
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

    #[test]
    fn a_deadline_fires_at_its_instant_and_none_never() {
        use embassy_futures::select::{select, Either};
        let start = embassy_time::Instant::now();
        let at = to_engine(start + embassy_time::Duration::from_millis(20));
        futures_executor::block_on(Deadline::new(Some(at)));
        assert!(embassy_time::Instant::now() >= start + embassy_time::Duration::from_millis(20));
        let never = futures_executor::block_on(select(
            Deadline::new(None),
            embassy_time::Timer::after_millis(10),
        ));
        assert!(matches!(never, Either::Second(())));
    }
}
