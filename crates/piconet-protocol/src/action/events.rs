//! The input-event actions: `watch_pin`, `unwatch_pin`, and the simulated
//! board's `sim_input`.

use super::gpio::{level, pin, Level};
use super::Command;
use crate::error::{require, ProtocolError};
use crate::json::scalar;
use crate::key::{Fields, Key};

/// The longest `debounce_ms` accepted, in milliseconds.
pub const MAX_DEBOUNCE_MS: u16 = 1000;

/// Which edges of a watched pin are reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Edge {
    /// Low to high.
    Rising,
    /// High to low.
    Falling,
    /// Either.
    #[default]
    Both,
}

impl Edge {
    /// The wire word: `"rising"`, `"falling"` or `"both"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Edge::Rising => "rising",
            Edge::Falling => "falling",
            Edge::Both => "both",
        }
    }

    /// True when an edge that ends at `level` is reported.
    pub const fn reports(self, level: Level) -> bool {
        matches!(
            (self, level),
            (Edge::Both, _) | (Edge::Rising, Level::High) | (Edge::Falling, Level::Low)
        )
    }
}

/// What `sim_input` applies to a pin from outside.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SimValue {
    /// A logic level (`"value"`), overriding the pin's pull.
    Level(Level),
    /// A voltage (`"volts"`), for an ADC pin.
    Volts(f32),
}

pub(crate) fn watch_pin<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    require(&[(Key::Pin, f.get(Key::Pin))])?;
    Ok(Command::WatchPin {
        pin: pin(f.get(Key::Pin))?,
        edge: f.get(Key::Edge).map(edge).transpose()?.unwrap_or_default(),
        debounce_ms: f
            .get(Key::DebounceMs)
            .map(debounce_ms)
            .transpose()?
            .unwrap_or(0),
    })
}

pub(crate) fn unwatch_pin<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    require(&[(Key::Pin, f.get(Key::Pin))])?;
    Ok(Command::UnwatchPin {
        pin: pin(f.get(Key::Pin))?,
    })
}

pub(crate) fn sim_input<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    let one_of = ProtocolError::BadValue {
        field: "value",
        expected:
            "given, or \"volts\" instead, but not both: the level (0 or 1) or the voltage to apply",
    };
    require(&[(Key::Pin, f.get(Key::Pin))])?;
    let input = match (f.get(Key::Value), f.get(Key::Volts)) {
        (Some(v), None) => SimValue::Level(level(v)?),
        (None, Some(v)) => SimValue::Volts(volts(v)?),
        _ => return Err(one_of),
    };
    Ok(Command::SimInput {
        pin: pin(f.get(Key::Pin))?,
        input,
    })
}

fn edge<'a>(raw: &[u8]) -> Result<Edge, ProtocolError<'a>> {
    match scalar::raw_str(raw) {
        Some(b"rising") => Ok(Edge::Rising),
        Some(b"falling") => Ok(Edge::Falling),
        Some(b"both") => Ok(Edge::Both),
        _ => Err(ProtocolError::BadValue {
            field: "edge",
            expected: "\"rising\", \"falling\" or \"both\"",
        }),
    }
}

fn debounce_ms<'a>(raw: &[u8]) -> Result<u16, ProtocolError<'a>> {
    scalar::integer(raw)
        .and_then(|ms| u16::try_from(ms).ok())
        .filter(|&ms| ms <= MAX_DEBOUNCE_MS)
        .ok_or(ProtocolError::BadValue {
            field: "debounce_ms",
            expected: "a whole number of milliseconds from 0 to 1000",
        })
}

fn volts<'a>(raw: &[u8]) -> Result<f32, ProtocolError<'a>> {
    scalar::float(raw)
        .filter(|v| v.is_finite() && (0.0..=MAX_VOLTS).contains(v))
        .map(|v| v as f32)
        .ok_or(ProtocolError::BadValue {
            field: "volts",
            expected: "a number of volts from 0 to 3.6 (the RP2040's pin limit)",
        })
}

/// The highest voltage `sim_input` applies: the RP2040's absolute maximum
/// on a GPIO (IOVDD 3.3 V + 0.3 V).
const MAX_VOLTS: f64 = 3.6;
