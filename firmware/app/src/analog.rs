//! The RP2040's ADC: GPIO 26–28 as analogue inputs and the internal
//! temperature sensor (input 4).
//!
//! Blocking conversions: one takes 96 ADC clocks (2 µs at 48 MHz) and
//! embassy-rp's `blocking_read` waits for the converter's READY bit, which
//! the hardware always sets at the end of the conversion, so a read is
//! bounded by the hardware itself; no deadline is needed as for I2C.

use embassy_rp::adc::{self, Adc, Blocking, Channel};
use embassy_rp::gpio::Pull;
use embassy_rp::peripherals::{ADC, ADC_TEMP_SENSOR, PIN_26, PIN_27, PIN_28};
use embassy_rp::Peri;
use piconet_engine::BoardError;

/// The converter and the temperature sensor's input.
pub struct Analog {
    adc: Adc<'static, Blocking>,
    temperature: Channel<'static>,
}

impl Analog {
    /// The converter, enabled (≈ 150 µA, nothing beside the radio's tens
    /// of mA), with the temperature sensor's bias on, so the first
    /// `read_temperature` needs no settling.
    pub fn new(adc: Peri<'static, ADC>, sensor: Peri<'static, ADC_TEMP_SENSOR>) -> Self {
        Analog {
            adc: Adc::new_blocking(adc, adc::Config::default()),
            temperature: Channel::new_temp_sensor(sensor),
        }
    }

    /// One conversion of `channel`: 0–4095.
    pub fn read(&mut self, channel: &mut Channel<'_>) -> Result<u16, BoardError> {
        self.adc
            .blocking_read(channel)
            .map_err(|_| BoardError::Io("the ADC flagged a conversion error"))
    }

    /// One conversion of the temperature sensor: 0–4095.
    pub fn read_temperature(&mut self) -> Result<u16, BoardError> {
        self.adc
            .blocking_read(&mut self.temperature)
            .map_err(|_| BoardError::Io("the ADC flagged a conversion error"))
    }
}

/// GPIO `pin` (26–28) as an analogue input: its digital input and output
/// off, no pull (a pull would load the source).
///
/// # Safety
/// The caller owns GPIO `pin` and has dropped every other handle to it;
/// the returned channel is then its only one.
pub unsafe fn input(pin: u32) -> Option<Channel<'static>> {
    // SAFETY: by the caller's contract this is the pin's only handle.
    unsafe {
        Some(match pin {
            26 => Channel::new_pin(PIN_26::steal(), Pull::None),
            27 => Channel::new_pin(PIN_27::steal(), Pull::None),
            28 => Channel::new_pin(PIN_28::steal(), Pull::None),
            _ => return None,
        })
    }
}
