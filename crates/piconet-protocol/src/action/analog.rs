//! The analogue actions: `read_adc` (a pin becomes an ADC input with
//! `setup_pin`'s `"mode": "adc"`) and `read_temperature`.

use super::gpio::pin;
use super::Command;
use crate::error::{require, ProtocolError};
use crate::key::{Fields, Key};

/// The highest `raw` reading: the RP2040's converter has 12 bits.
pub const MAX_ADC_RAW: u16 = 4095;

pub(crate) fn read_adc<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    require(&[(Key::Pin, f.get(Key::Pin))])?;
    Ok(Command::ReadAdc {
        pin: pin(f.get(Key::Pin))?,
    })
}

pub(crate) fn read_temperature<'a>(_: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    Ok(Command::ReadTemperature)
}
