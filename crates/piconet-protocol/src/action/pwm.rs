//! The PWM action: `write_pwm` (a pin becomes PWM with `setup_pin`'s
//! `"mode": "pwm"`, parsed in `gpio.rs` with the helpers here).

use super::gpio::{pin, release_on_disconnect, timeout};
use super::Command;
use crate::error::{require, ProtocolError};
use crate::json::scalar;
use crate::key::{Fields, Key};

/// The lowest PWM frequency accepted, in Hz.
pub const MIN_PWM_FREQUENCY: u32 = 10;
/// The highest PWM frequency accepted, in Hz.
pub const MAX_PWM_FREQUENCY: u32 = 1_000_000;

/// What a PWM output does: its duty cycle at its frequency.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PwmState {
    /// The fraction of each period the pin is high, 0.0 to 1.0.
    pub duty: f32,
    /// Periods per second, [`MIN_PWM_FREQUENCY`] to [`MAX_PWM_FREQUENCY`].
    pub frequency: u32,
}

pub(crate) fn write_pwm<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    require(&[
        (Key::Pin, f.get(Key::Pin)),
        (Key::Duty, f.get(Key::Duty)),
        (Key::Timeout, f.get(Key::Timeout)),
    ])?;
    Ok(Command::WritePwm {
        pin: pin(f.get(Key::Pin))?,
        duty: duty(f.get(Key::Duty).unwrap_or_default())?,
        frequency: match f.get(Key::Frequency) {
            None => None,
            raw => Some(frequency(raw)?),
        },
        timeout: timeout(f.get(Key::Timeout))?,
        release_on_disconnect: release_on_disconnect(f)?,
    })
}

/// A PWM frequency: a whole number of Hz in range.
pub(crate) fn frequency<'a>(raw: Option<&[u8]>) -> Result<u32, ProtocolError<'a>> {
    raw.and_then(scalar::integer)
        .and_then(|hz| u32::try_from(hz).ok())
        .filter(|hz| (MIN_PWM_FREQUENCY..=MAX_PWM_FREQUENCY).contains(hz))
        .ok_or(ProtocolError::BadValue {
            field: "frequency",
            expected: "a whole number of Hz from 10 to 1000000",
        })
}

/// A duty cycle: a number from 0.0 to 1.0.
pub(crate) fn duty<'a>(raw: &[u8]) -> Result<f32, ProtocolError<'a>> {
    scalar::float(raw)
        .filter(|d| (0.0..=1.0).contains(d))
        .map(|d| d as f32)
        .ok_or(ProtocolError::BadValue {
            field: "duty",
            expected: "a number from 0.0 (always low) to 1.0 (always high)",
        })
}
