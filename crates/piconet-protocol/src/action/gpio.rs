//! The pin actions: `setup_pin`, `write_pin`, `read_pin`, `get_pins`.

use super::Command;
use crate::error::{require, ProtocolError};
use crate::json::scalar;
use crate::key::{Fields, Key};

/// A logic level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// 0
    Low,
    /// 1
    High,
}

impl Level {
    /// The level as the protocol writes it: 0 or 1.
    pub const fn as_u8(self) -> u8 {
        match self {
            Level::Low => 0,
            Level::High => 1,
        }
    }

    /// `High` for `true`.
    pub const fn from_bool(high: bool) -> Self {
        if high {
            Level::High
        } else {
            Level::Low
        }
    }
}

/// Direction of a pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Read only.
    Input,
    /// Driven by the board.
    Output,
}

impl Mode {
    /// The wire word: `"input"` or `"output"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Input => "input",
            Mode::Output => "output",
        }
    }
}

/// What `setup_pin` makes of a pin.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PinMode {
    /// A digital input.
    Input,
    /// A digital output.
    Output,
    /// A PWM output; the state is its safe one, restored when a lease
    /// ends.
    Pwm(super::pwm::PwmState),
    /// An analogue input read with `read_adc`.
    Adc,
}

impl PinMode {
    /// The wire word: `"input"`, `"output"`, `"pwm"` or `"adc"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            PinMode::Input => "input",
            PinMode::Output => "output",
            PinMode::Pwm(_) => "pwm",
            PinMode::Adc => "adc",
        }
    }
}

/// Internal pull resistor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Pull {
    /// Floating.
    #[default]
    None,
    /// To the supply.
    Up,
    /// To ground.
    Down,
}

impl Pull {
    /// The wire word: `"none"`, `"up"` or `"down"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Pull::None => "none",
            Pull::Up => "up",
            Pull::Down => "down",
        }
    }
}

#[inline(always)]
pub(crate) fn setup_pin<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    require(&[(Key::Pin, f.get(Key::Pin)), (Key::Mode, f.get(Key::Mode))])?;
    Ok(Command::SetupPin {
        pin: pin(f.get(Key::Pin))?,
        mode: pin_mode(f)?,
        value: f.get(Key::Value).map(level).transpose()?,
        pull: f.get(Key::Pull).map(pull).transpose()?,
    })
}

#[inline(always)]
pub(crate) fn write_pin<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    require(&[
        (Key::Pin, f.get(Key::Pin)),
        (Key::Value, f.get(Key::Value)),
        (Key::Timeout, f.get(Key::Timeout)),
    ])?;
    Ok(Command::WritePin {
        pin: pin(f.get(Key::Pin))?,
        value: level(f.get(Key::Value).unwrap_or_default())?,
        timeout: timeout(f.get(Key::Timeout))?,
        release_on_disconnect: release_on_disconnect(f)?,
    })
}

#[inline(always)]
pub(crate) fn release_on_disconnect<'a>(f: &Fields<'a>) -> Result<bool, ProtocolError<'a>> {
    match f.get(Key::ReleaseOnDisconnect) {
        None => Ok(false),
        Some(r) => scalar::bit(r).ok_or(ProtocolError::BadValue {
            field: "release_on_disconnect",
            expected: "0 or 1 (or false/true)",
        }),
    }
}

#[inline(always)]
pub(crate) fn timeout<'a>(raw: Option<&[u8]>) -> Result<f64, ProtocolError<'a>> {
    scalar::float(raw.unwrap_or_default()).ok_or(ProtocolError::BadValue {
        field: "timeout",
        expected: "a number of seconds",
    })
}

#[inline(always)]
pub(crate) fn read_pin<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    require(&[(Key::Pin, f.get(Key::Pin))])?;
    Ok(Command::ReadPin {
        pin: pin(f.get(Key::Pin))?,
    })
}

pub(crate) fn get_pins<'a>(_: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    Ok(Command::GetPins)
}

#[inline(always)]
pub(crate) fn pin<'a>(raw: Option<&[u8]>) -> Result<u32, ProtocolError<'a>> {
    raw.and_then(scalar::integer)
        .and_then(|p| u32::try_from(p).ok())
        .ok_or(ProtocolError::BadValue {
            field: "pin",
            expected: "a GPIO number: an integer from 0, or a string holding one",
        })
}

#[inline(always)]
pub(crate) fn level<'a>(raw: &[u8]) -> Result<Level, ProtocolError<'a>> {
    scalar::bit(raw)
        .map(Level::from_bool)
        .ok_or(ProtocolError::BadValue {
            field: "value",
            expected: "0 or 1 (or false/true)",
        })
}

// Names are compared as sent (`raw_str` keeps escapes): no name holds a
// backslash, so an escaped one matches none.
fn pin_mode<'a>(f: &Fields<'a>) -> Result<PinMode, ProtocolError<'a>> {
    let mode = match f.get(Key::Mode).and_then(scalar::raw_str) {
        Some(b"input") => PinMode::Input,
        Some(b"output") => PinMode::Output,
        Some(b"adc") => PinMode::Adc,
        Some(b"pwm") => {
            require(&[(Key::Frequency, f.get(Key::Frequency))])?;
            PinMode::Pwm(super::pwm::PwmState {
                frequency: super::pwm::frequency(f.get(Key::Frequency))?,
                duty: f
                    .get(Key::Duty)
                    .map(super::pwm::duty)
                    .transpose()?
                    .unwrap_or(0.0),
            })
        }
        _ => {
            return Err(ProtocolError::BadValue {
                field: "mode",
                expected: "\"input\", \"output\", \"pwm\" or \"adc\"",
            })
        }
    };
    // A setting the mode does not use would be silently ignored.
    if matches!(mode, PinMode::Pwm(_) | PinMode::Adc) {
        if f.get(Key::Value).is_some() {
            return Err(ProtocolError::BadValue {
                field: "value",
                expected: "given only with mode \"output\"",
            });
        }
        if f.get(Key::Pull).is_some() {
            return Err(ProtocolError::BadValue {
                field: "pull",
                expected: "given only with mode \"input\" or \"output\"",
            });
        }
    }
    if !matches!(mode, PinMode::Pwm(_)) {
        for (key, field) in [(Key::Frequency, "frequency"), (Key::Duty, "duty")] {
            if f.get(key).is_some() {
                return Err(ProtocolError::BadValue {
                    field,
                    expected: "given only with mode \"pwm\"",
                });
            }
        }
    }
    Ok(mode)
}

fn pull<'a>(raw: &[u8]) -> Result<Pull, ProtocolError<'a>> {
    match (raw, scalar::raw_str(raw)) {
        (b"null", _) | (_, Some(b"none")) => Ok(Pull::None),
        (_, Some(b"up")) => Ok(Pull::Up),
        (_, Some(b"down")) => Ok(Pull::Down),
        _ => Err(ProtocolError::BadValue {
            field: "pull",
            expected: "\"up\", \"down\" or \"none\"",
        }),
    }
}
