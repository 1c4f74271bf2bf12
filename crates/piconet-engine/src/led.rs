//! The status LED patterns of the original server, as a sans-IO state
//! machine: the firmware's LED task asks it for the level and the time of
//! the next change, sleeps until then, and advances it.

use core::time::Duration;

use crate::time::Instant;

/// What the server is doing, as the LED shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Joining WiFi: 3 blinks of 100 ms, 200 ms apart, then a 1 s pause.
    Connecting,
    /// Listening, no client: 1.5 s on, 1.5 s off.
    Idle,
    /// At least one client connected: 20 ms blinks, 100 ms apart.
    Client,
    /// Asleep or stopped: dark.
    Off,
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl Status {
    /// One period of the pattern: (LED on?, for how long).
    pub const fn steps(self) -> &'static [(bool, Duration)] {
        match self {
            Status::Connecting => &CONNECTING,
            Status::Idle => &IDLE,
            Status::Client => &CLIENT,
            Status::Off => &OFF,
        }
    }
}

// The original: blink_led(100, 3, 200) then sleep(1), so the last gap is
// 200 ms + 1 s.
const CONNECTING: [(bool, Duration); 6] = [
    (true, ms(100)),
    (false, ms(200)),
    (true, ms(100)),
    (false, ms(200)),
    (true, ms(100)),
    (false, ms(1200)),
];
const IDLE: [(bool, Duration); 2] = [(true, ms(1500)), (false, ms(1500))];
const CLIENT: [(bool, Duration); 2] = [(true, ms(20)), (false, ms(100))];
const OFF: [(bool, Duration); 1] = [(false, Duration::MAX)];

/// The LED's state: which pattern, which step, since when.
///
/// ```
/// use core::time::Duration;
/// use piconet_engine::{led::{StatusLed, Status}, Instant};
/// let t0 = Instant::ZERO;
/// let mut led = StatusLed::new(Status::Idle, t0);
/// assert!(led.is_on());
/// let next = led.next_change().unwrap();
/// assert_eq!(next, t0 + Duration::from_millis(1500));
/// led.advance(next);
/// assert!(!led.is_on());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusLed {
    status: Status,
    step: usize,
    since: Instant,
}

impl StatusLed {
    /// Start `status`'s pattern at `now`, LED on its first step.
    pub fn new(status: Status, now: Instant) -> Self {
        StatusLed {
            status,
            step: 0,
            since: now,
        }
    }

    /// The current pattern.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Switch pattern; restarts it only if it changed, so repeated calls
    /// don't freeze the LED.
    pub fn set_status(&mut self, status: Status, now: Instant) {
        if status != self.status {
            *self = StatusLed::new(status, now);
        }
    }

    /// Whether the LED is lit now.
    pub fn is_on(&self) -> bool {
        self.status.steps()[self.step].0
    }

    /// When the LED next changes, `None` if never (Off).
    pub fn next_change(&self) -> Option<Instant> {
        let (_, d) = self.status.steps()[self.step];
        (d != Duration::MAX).then(|| self.since + d)
    }

    /// Move through every step that ended by `now`. If the caller was late
    /// by more than a period, the pattern resynchronises instead of
    /// replaying missed blinks.
    pub fn advance(&mut self, now: Instant) {
        let steps = self.status.steps();
        let period: Duration = steps
            .iter()
            .map(|s| s.1)
            .fold(Duration::ZERO, |a, b| a.saturating_add(b));
        if now.saturating_since(self.since) > period {
            self.since = now;
            self.step = 0;
            return;
        }
        while let Some(t) = self.next_change() {
            if t > now {
                break;
            }
            self.since = t;
            self.step = (self.step + 1) % steps.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(status: Status, until_ms: u64) -> std::vec::Vec<(u64, bool)> {
        let t0 = Instant::ZERO;
        let mut led = StatusLed::new(status, t0);
        let mut out = std::vec![(0, led.is_on())];
        while let Some(t) = led.next_change() {
            if t.as_nanos() / 1_000_000 > until_ms {
                break;
            }
            led.advance(t);
            out.push((t.as_nanos() / 1_000_000, led.is_on()));
        }
        out
    }

    #[test]
    fn connecting_is_three_blinks_then_a_pause() {
        assert_eq!(
            trace(Status::Connecting, 1900),
            [
                (0, true),
                (100, false),
                (300, true),
                (400, false),
                (600, true),
                (700, false),
                (1900, true)
            ]
        );
    }

    #[test]
    fn idle_and_client_periods() {
        assert_eq!(
            trace(Status::Idle, 4500),
            [(0, true), (1500, false), (3000, true), (4500, false)]
        );
        assert_eq!(
            trace(Status::Client, 240),
            [
                (0, true),
                (20, false),
                (120, true),
                (140, false),
                (240, true)
            ]
        );
    }

    #[test]
    fn off_never_changes_and_status_switch_restarts() {
        let mut led = StatusLed::new(Status::Off, Instant::ZERO);
        assert!(!led.is_on());
        assert_eq!(led.next_change(), None);
        led.set_status(Status::Client, Instant::from_millis(7));
        assert!(led.is_on());
        assert_eq!(led.next_change(), Some(Instant::from_millis(27)));
        // Same status again: no restart.
        led.set_status(Status::Client, Instant::from_millis(10));
        assert_eq!(led.next_change(), Some(Instant::from_millis(27)));
    }

    #[test]
    fn a_late_caller_resynchronises() {
        let mut led = StatusLed::new(Status::Client, Instant::ZERO);
        led.advance(Instant::from_millis(10_000));
        assert!(led.is_on());
        assert_eq!(led.next_change(), Some(Instant::from_millis(10_020)));
    }
}
