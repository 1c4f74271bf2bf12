//! The pin actions: `setup_pin`, `write_pin`, `read_pin`, `get_pins`.

use core::time::Duration;

use super::remaining_ms;
use crate::board::{Board, Level, Mode, PinKind, PinMode, Pull};
use crate::engine::{After, Engine};
use crate::error::EngineError;
use crate::pins::{Lease, Slot, MAX_PINS};
use crate::time::Instant;
use piconet_protocol::command::Command;
use piconet_protocol::response::Echo;
use piconet_protocol::sink::{Full, Sink};

impl<B: Board> Engine<B> {
    #[inline(always)]
    pub(super) fn setup_pin(
        &mut self,
        pin: u32,
        mode: PinMode,
        value: Option<Level>,
        pull: Option<Pull>,
    ) -> Result<(), EngineError> {
        self.check_pin(pin)?;
        let pull = pull.unwrap_or_default();
        let slot = match mode {
            PinMode::Input => {
                if value.is_some() {
                    return Err(EngineError::ValueOnInput(pin));
                }
                self.board.configure(pin, Mode::Input, pull, None)?;
                self.leave_i2c(pin);
                Slot::Input { pull }
            }
            PinMode::Output => {
                self.board.configure(pin, Mode::Output, pull, value)?;
                self.leave_i2c(pin);
                // Only inputs are watched.
                self.unwatch_everywhere(pin);
                let safe = match value {
                    Some(v) => v,
                    None => self.board.read(pin)?,
                };
                Slot::Output { safe, lease: None }
            }
            PinMode::Pwm(safe) => return self.setup_pwm(pin, safe),
            PinMode::Adc => return self.setup_adc(pin),
        };
        self.pins.set(pin, slot);
        Ok(())
    }

    #[inline(always)]
    pub(super) fn write_pin(
        &mut self,
        now: Instant,
        pin: u32,
        value: Level,
        timeout: f64,
        release_on_disconnect: bool,
    ) -> Result<(), EngineError> {
        self.check_pin(pin)?;
        let safe = match self.pins.slot(pin) {
            Slot::Output { safe, .. } => *safe,
            Slot::Free => return Err(EngineError::NotSetUp(pin)),
            _ => return Err(EngineError::NotOutput(pin)),
        };
        let lease = self.lease_duration(timeout)?;
        self.board.write(pin, value)?;
        // A write at the safe level ends any lease; any other starts a new
        // one, owned by this connection, that decides release on
        // disconnect anew.
        let lease = (value != safe).then(|| Lease {
            deadline: now + lease,
            conn: self.peer.conn,
            release_on_disconnect,
            owner: self.client,
        });
        self.pins.set_lease(pin, lease);
        Ok(())
    }

    #[inline(always)]
    pub(super) fn read_pin(&mut self, pin: u32) -> Result<Level, EngineError> {
        self.check_pin(pin)?;
        if let Slot::Free = self.pins.slot(pin) {
            return Err(EngineError::NotSetUp(pin));
        }
        Ok(self.board.read(pin)?)
    }

    /// Every configured pin, in pin order, with its level as the board
    /// reads it now (levels are read first: a failing read answers with
    /// the error, not half a list).
    #[inline(never)]
    pub(super) fn get_pins(
        &mut self,
        now: Instant,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let mut levels = [Level::Low; MAX_PINS];
        let read = (0..MAX_PINS as u32)
            .filter(|&pin| matches!(self.pins.get(pin), Slot::Input { .. } | Slot::Output { .. }))
            .try_for_each(|pin| {
                levels[pin as usize] = self.board.read(pin)?;
                Ok(())
            });
        self.answer(now, command, echo, out, read, |e, (), w| {
            w.object_list("pins", |list| {
                for pin in 0..MAX_PINS as u32 {
                    let level = levels[pin as usize];
                    match e.pins.get(pin) {
                        Slot::Free => {}
                        Slot::Input { pull } => list.object(|o| {
                            o.uint("pin", pin.into())?;
                            o.str("mode", Mode::Input.as_str())?;
                            o.str("pull", pull.as_str())?;
                            o.uint("level", level.as_u8().into())?;
                            o.bool("watched", e.watchers.is_watched(pin))
                        })?,
                        Slot::Output { safe, lease } => list.object(|o| {
                            o.uint("pin", pin.into())?;
                            o.str("mode", Mode::Output.as_str())?;
                            o.uint("level", level.as_u8().into())?;
                            o.uint("safe", safe.as_u8().into())?;
                            let Some(l) = lease else { return Ok(()) };
                            o.uint("lease_ms", remaining_ms(l.deadline, now))?;
                            match l.owner.and_then(|i| e.clients.get(i)) {
                                Some(holder) => o.str("held_by", holder.name.as_str()),
                                None => Ok(()),
                            }
                        })?,
                        Slot::Pwm { safe, state, lease } => list.object(|o| {
                            o.uint("pin", pin.into())?;
                            o.str("mode", "pwm")?;
                            o.uint("frequency", state.frequency.into())?;
                            o.decimal("duty", state.duty.into())?;
                            o.decimal("safe_duty", safe.duty.into())?;
                            let Some(l) = lease else { return Ok(()) };
                            o.uint("lease_ms", remaining_ms(l.deadline, now))?;
                            match l.owner.and_then(|i| e.clients.get(i)) {
                                Some(holder) => o.str("held_by", holder.name.as_str()),
                                None => Ok(()),
                            }
                        })?,
                        Slot::Adc => list.object(|o| {
                            o.uint("pin", pin.into())?;
                            o.str("mode", "adc")
                        })?,
                        Slot::I2c { bus, line } => list.object(|o| {
                            o.uint("pin", pin.into())?;
                            o.str("mode", "i2c")?;
                            o.uint("bus", bus.into())?;
                            o.str("line", line.as_str())?;
                            let frequency =
                                e.i2c_buses[usize::from(bus)].map_or(0, |b| b.frequency);
                            o.uint("frequency", frequency.into())
                        })?,
                    }
                }
                Ok(())
            })?;
            Ok(After::Nothing)
        })
    }

    #[inline(always)]
    pub(crate) fn check_pin(&self, pin: u32) -> Result<(), EngineError> {
        if pin as usize >= MAX_PINS {
            return Err(EngineError::PinAbsent(pin));
        }
        match self.board.pin_kind(pin) {
            PinKind::Usable => Ok(()),
            PinKind::Reserved(why) => Err(EngineError::PinReserved(pin, why)),
            PinKind::Absent => Err(EngineError::PinAbsent(pin)),
        }
    }

    #[inline(always)]
    pub(crate) fn setup_slot(&self, pin: u32) -> Result<Slot, EngineError> {
        match self.pins.get(pin) {
            Slot::Free => Err(EngineError::NotSetUp(pin)),
            slot => Ok(slot),
        }
    }

    #[inline(always)]
    pub(crate) fn lease_duration(&self, timeout: f64) -> Result<Duration, EngineError> {
        let max = self.config.max_lease;
        let bad = EngineError::BadTimeout {
            max_secs: max.as_secs(),
        };
        if !(timeout.is_finite() && timeout > 0.0 && timeout <= max.as_secs_f64()) {
            return Err(bad);
        }
        // Whole seconds (the usual case) convert exactly without the
        // general float conversion.
        let secs = timeout as u64;
        if secs as f64 == timeout {
            return Ok(Duration::from_secs(secs));
        }
        // A timeout too small for a nanosecond still gets one: > 0 means
        // the pin is driven at least until the next poll.
        Ok(Duration::from_secs_f64(timeout).max(Duration::from_nanos(1)))
    }
}
