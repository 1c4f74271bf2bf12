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
        // The board starts detecting before the first watch counts, so a
        // watch that could not start is refused rather than left silent.
        let starts = !self.watchers.is_watched(pin);
        if starts {
            if let Some(detection) = self.board.edge_detection() {
                detection.detect_edges(pin, true)?;
            }
        }
        let before = self.watchers.watched_mask() | 1 << pin;
        // `check_pin` bounds the pin by MAX_PINS (64): it fits a u8.
        self.watchers
            .watch(self.peer.conn, pin as u8, edge, debounce_ms)
            .map_err(|refused| {
                self.stop_unwatched_edges(before);
                match refused {
                    Refused::Watchers => EngineError::TooManyWatchers { max: MAX_WATCHERS },
                    Refused::Watches => EngineError::TooManyWatches {
                        max: MAX_WATCHES_PER_CONNECTION,
                    },
                }
            })
    }

    /// End every connection's watch of `pin` (it is set up as something
    /// other than an input), and the board's edge detection with them.
    pub(crate) fn unwatch_everywhere(&mut self, pin: u32) {
        let before = self.watchers.watched_mask();
        self.watchers.unwatch_everywhere(pin as u8);
        self.stop_unwatched_edges(before);
    }

    /// Stop the board's edge detection on the pins watched in `before`
    /// that nobody watches now.
    pub(crate) fn stop_unwatched_edges(&mut self, before: u64) {
        let stopped = before & !self.watchers.watched_mask();
        if stopped == 0 {
            return;
        }
        let Some(detection) = self.board.edge_detection() else {
            return;
        };
        for pin in (0..u64::BITS).filter(|p| stopped & 1 << p != 0) {
            // Nothing to tell a client: the watch is over either way, and
            // edges that still come from the pin are ignored (not watched).
            // The board reports the failure itself.
            let _ = detection.detect_edges(pin, false);
        }
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
        let before = self.watchers.watched_mask();
        let result = self.check_pin(pin).and_then(|()| {
            match self.watchers.unwatch(self.peer.conn, pin as u8) {
                true => Ok(()),
                false => Err(EngineError::NotWatched(pin)),
            }
        });
        self.stop_unwatched_edges(before);
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
