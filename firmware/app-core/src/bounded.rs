//! Running an async driver call to completion from blocking code, with a
//! deadline.
//!
//! The engine's `Board` is blocking (it is called with the engine locked),
//! but embassy-rp's blocking I2C calls spin on the controller's status with
//! no bound: a device that holds SCL low would stop the whole firmware
//! until the watchdog resets it. Its async calls check the same status
//! once per poll instead, so polling one in a loop that also watches the
//! clock bounds it. The loop busy-polls (no executor runs meanwhile, as
//! for any board call); the interrupt the driver enables only wakes a
//! waker nobody waits on.

use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::Poll;

use embassy_time::Instant;

/// Poll `fut` until it is ready (`Some`) or `deadline` has passed
/// (`None`; the future is then dropped unfinished, and the caller must
/// bring the hardware it drove back to a known state).
pub fn run_until<F: Future>(deadline: Instant, fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    embassy_futures::block_on(poll_fn(|cx| match fut.as_mut().poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        Poll::Pending if Instant::now() >= deadline => Poll::Ready(None),
        Poll::Pending => Poll::Pending,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use embassy_time::Duration;

    #[test]
    fn a_ready_future_returns_its_output() {
        let far = Instant::now() + Duration::from_secs(60);
        assert_eq!(run_until(far, async { 7 }), Some(7));
    }

    #[test]
    fn a_future_that_finishes_in_time_is_polled_to_the_end() {
        // Ready on its third poll, with no waker ever woken: the loop
        // polls on its own.
        let mut polls = 0;
        let fut = poll_fn(|_| {
            polls += 1;
            if polls == 3 {
                Poll::Ready("done")
            } else {
                Poll::Pending
            }
        });
        let far = Instant::now() + Duration::from_secs(60);
        assert_eq!(run_until(far, fut), Some("done"));
    }

    #[test]
    fn a_hung_future_is_abandoned_at_the_deadline() {
        let start = Instant::now();
        let deadline = start + Duration::from_millis(20);
        let out = run_until(deadline, core::future::pending::<()>());
        let now = Instant::now();
        assert_eq!(out, None);
        assert!(now >= deadline, "gave up early");
        // Dropped, not leaked: a future holding a guard releases it.
        struct Guard<'a>(&'a core::cell::Cell<bool>);
        impl Drop for Guard<'_> {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let dropped = core::cell::Cell::new(false);
        let g = Guard(&dropped);
        let fut = async move {
            let _g = g;
            core::future::pending::<()>().await
        };
        assert_eq!(run_until(Instant::now(), fut), None);
        assert!(dropped.get());
    }
}
