//! The input-event actions: `watch_pin`, `unwatch_pin`, `sim_input`.
//! Edges themselves come in through [`Engine::edge`].

use crate::board::{Board, Level};
use crate::engine::{After, Engine};
use crate::error::EngineError;
use crate::pins::Slot;
use crate::time::Instant;
use crate::watchers::{Refused, MAX_WATCHERS, MAX_WATCHES_PER_CONNECTION};
use piconet_protocol::action::events::{Edge, SimValue};
use piconet_protocol::command::Command;
use piconet_protocol::response::Echo;
use piconet_protocol::sink::{Full, Sink};

impl<B: Board> Engine<B> {
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn watch_pin(
        &mut self,
        now: Instant,
        pin: u32,
        edge: Edge,
        debounce_ms: u16,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let result = self.add_watch(pin, edge, debounce_ms);
        self.answer(now, command, echo, out, result, |_, (), _| {
            Ok(After::Nothing)
        })
    }

    fn add_watch(&mut self, pin: u32, edge: Edge, debounce_ms: u16) -> Result<(), EngineError> {
        self.check_pin(pin)?;
        match self.pins.get(pin) {
            Slot::Free => return Err(EngineError::NotSetUp(pin)),
            Slot::Output { .. } => return Err(EngineError::NotInput(pin)),
            Slot::Pwm { .. } => return Err(EngineError::WatchNeedsInput { pin, mode: "pwm" }),
            Slot::Adc => return Err(EngineError::WatchNeedsInput { pin, mode: "adc" }),
            Slot::I2c { .. } => return Err(EngineError::WatchNeedsInput { pin, mode: "i2c" }),
            Slot::Input { .. } => {}
        }
        // `check_pin` bounds the pin by MAX_PINS (64): it fits a u8.
        self.watchers
            .watch(self.peer.conn, pin as u8, edge, debounce_ms)
            .map_err(|refused| match refused {
                Refused::Watchers => EngineError::TooManyWatchers { max: MAX_WATCHERS },
                Refused::Watches => EngineError::TooManyWatches {
                    max: MAX_WATCHES_PER_CONNECTION,
                },
            })
    }

    #[inline(never)]
    pub(super) fn unwatch_pin(
        &mut self,
        now: Instant,
        pin: u32,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let result = self.check_pin(pin).and_then(|()| {
            match self.watchers.unwatch(self.peer.conn, pin as u8) {
                true => Ok(()),
                false => Err(EngineError::NotWatched(pin)),
            }
        });
        self.answer(now, command, echo, out, result, |_, (), _| {
            Ok(After::Nothing)
        })
    }

    /// Apply the level from outside; on an input whose level it changes,
    /// that is an edge at `now`, the simulated board's interrupt.
    #[inline(never)]
    pub(super) fn sim_input(
        &mut self,
        now: Instant,
        pin: u32,
        input: SimValue,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let result = self.apply_sim_input(now, pin, input);
        self.answer(now, command, echo, out, result, |_, (), _| {
            Ok(After::Nothing)
        })
    }

    fn apply_sim_input(
        &mut self,
        now: Instant,
        pin: u32,
        input: SimValue,
    ) -> Result<(), EngineError> {
        if self.board.simulated_inputs().is_none() {
            return Err(EngineError::NotSimulated);
        }
        self.check_pin(pin)?;
        let level = match input {
            SimValue::Level(level) => level,
            SimValue::Volts(volts) => {
                if self.pins.get(pin) != Slot::Adc {
                    return Err(EngineError::NoAdc(pin));
                }
                if let Some(sim) = self.board.simulated_inputs() {
                    sim.set_volts(pin, volts);
                }
                return Ok(());
            }
        };
        let is_input = matches!(self.pins.get(pin), Slot::Input { .. });
        let before: Option<Level> = match is_input {
            true => Some(self.board.read(pin)?),
            false => None,
        };
        if let Some(sim) = self.board.simulated_inputs() {
            sim.set_input(pin, level);
        }
        if let Some(before) = before {
            let after = self.board.read(pin)?;
            if after != before {
                self.edge(pin, after, now.as_nanos() / 1000);
            }
        }
        Ok(())
    }
}
