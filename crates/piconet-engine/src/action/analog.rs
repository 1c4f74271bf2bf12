//! The analogue actions: `setup_pin` with `"mode": "adc"`, `read_adc`,
//! `read_temperature`.

use crate::board::{Board, PinKind, ADC_VREF};
use crate::engine::{After, Engine};
use crate::error::EngineError;
use crate::pins::{Slot, MAX_PINS};
use crate::time::Instant;
use piconet_protocol::action::analog::MAX_ADC_RAW;
use piconet_protocol::command::Command;
use piconet_protocol::key::Key;
use piconet_protocol::response::Echo;
use piconet_protocol::sink::{Full, Sink};

impl<B: Board> Engine<B> {
    /// Make `pin` an analogue input.
    #[inline(never)]
    pub(super) fn setup_adc(&mut self, pin: u32) -> Result<(), EngineError> {
        let Some(adc) = self.board.adc() else {
            return Err(EngineError::AdcUnsupported);
        };
        if !adc.has_adc(pin) {
            let with_input = (0..MAX_PINS as u32)
                .filter(|&p| adc.has_adc(p))
                .fold(0u64, |m, p| m | 1 << p);
            let adc_pins = (0..MAX_PINS as u32)
                .filter(|&p| with_input & 1 << p != 0)
                .filter(|&p| self.board.pin_kind(p) == PinKind::Usable)
                .fold(0u64, |m, p| m | 1 << p);
            return Err(EngineError::NoAdcInput { pin, adc_pins });
        }
        adc.start_adc(pin)?;
        self.unwatch_everywhere(pin);
        self.leave_i2c(pin);
        self.pins.set(pin, Slot::Adc);
        Ok(())
    }

    #[inline(never)]
    pub(super) fn read_adc(
        &mut self,
        now: Instant,
        pin: u32,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let result = self.convert(pin);
        self.answer(now, command, echo, out, result, |_, raw, w| {
            w.key_uint(Key::Raw, raw.into())?;
            let volts = f32::from(raw) * ADC_VREF / f32::from(MAX_ADC_RAW);
            w.decimal(Key::Volts.name(), volts.into())?;
            Ok(After::Nothing)
        })
    }

    fn convert(&mut self, pin: u32) -> Result<u16, EngineError> {
        self.check_pin(pin)?;
        if self.setup_slot(pin)? != Slot::Adc {
            return Err(EngineError::NotAdc(pin));
        }
        let adc = self.board.adc().ok_or(EngineError::AdcUnsupported)?;
        Ok(adc.read_adc(pin)?.min(MAX_ADC_RAW))
    }

    #[inline(never)]
    pub(super) fn read_temperature(
        &mut self,
        now: Instant,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let result = match self.board.thermometer() {
            Some(t) => t.celsius().map_err(EngineError::from),
            None => Err(EngineError::NoThermometer),
        };
        self.answer(now, command, echo, out, result, |_, celsius, w| {
            w.decimal(Key::Celsius.name(), celsius.into())?;
            Ok(After::Nothing)
        })
    }
}
