//! PWM: `setup_pin` with `"mode": "pwm"` and `write_pwm`, a lease on the
//! duty and frequency that ends back at the safe ones, as `write_pin`'s
//! does at the safe level.

use crate::board::{Board, PwmChannel, PwmState};
use crate::engine::{After, Engine};
use crate::error::EngineError;
use crate::pins::{Lease, Slot};
use crate::time::Instant;
use piconet_protocol::command::Command;
use piconet_protocol::response::Echo;
use piconet_protocol::sink::{Full, Sink};

impl<B: Board> Engine<B> {
    /// Make `pin` a PWM output at its safe state.
    #[inline(never)]
    pub(super) fn setup_pwm(&mut self, pin: u32, safe: PwmState) -> Result<(), EngineError> {
        let channel = self.pwm_channel(pin)?;
        self.check_slice(pin, channel, safe.frequency, true)?;
        self.board
            .pwm()
            .ok_or(EngineError::PwmUnsupported)?
            .start_pwm(pin, safe)?;
        self.unwatch_everywhere(pin);
        self.leave_i2c(pin);
        self.pins.set(
            pin,
            Slot::Pwm {
                safe,
                state: safe,
                lease: None,
            },
        );
        Ok(())
    }

    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn write_pwm(
        &mut self,
        now: Instant,
        pin: u32,
        duty: f32,
        frequency: Option<u32>,
        timeout: f64,
        release_on_disconnect: bool,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let result = self.lease_pwm(now, pin, duty, frequency, timeout, release_on_disconnect);
        self.answer(now, command, echo, out, result, |_, (), _| {
            Ok(After::Nothing)
        })
    }

    fn lease_pwm(
        &mut self,
        now: Instant,
        pin: u32,
        duty: f32,
        frequency: Option<u32>,
        timeout: f64,
        release_on_disconnect: bool,
    ) -> Result<(), EngineError> {
        self.check_pin(pin)?;
        let Slot::Pwm { safe, state, .. } = self.setup_slot(pin)? else {
            return Err(EngineError::NotPwm(pin));
        };
        let lease = self.lease_duration(timeout)?;
        let next = PwmState {
            duty,
            frequency: frequency.unwrap_or(state.frequency),
        };
        if next.frequency != state.frequency {
            let channel = self.pwm_channel(pin)?;
            self.check_slice(pin, channel, next.frequency, false)?;
        }
        self.board
            .pwm()
            .ok_or(EngineError::PwmUnsupported)?
            .set_pwm(pin, next)?;
        // As for `write_pin`: the safe state ends any lease, anything else
        // starts a new one owned by this connection.
        let lease = (next != safe).then(|| Lease {
            deadline: now + lease,
            conn: self.peer.conn,
            release_on_disconnect,
            owner: self.client,
        });
        self.pins.set(
            pin,
            Slot::Pwm {
                safe,
                state: next,
                lease,
            },
        );
        Ok(())
    }

    fn pwm_channel(&mut self, pin: u32) -> Result<PwmChannel, EngineError> {
        self.board
            .pwm()
            .ok_or(EngineError::PwmUnsupported)?
            .pwm_channel(pin)
            .ok_or(EngineError::NoPwmChannel(pin))
    }

    /// Refuse what would change another PWM pin: running `pin` at
    /// `frequency` when a pin on the same slice runs at another one, or
    /// (`new_pin`, when it starts) taking an output another pin shows.
    fn check_slice(
        &mut self,
        pin: u32,
        channel: PwmChannel,
        frequency: u32,
        new_pin: bool,
    ) -> Result<(), EngineError> {
        let Some(pwm) = self.board.pwm() else {
            return Err(EngineError::PwmUnsupported);
        };
        for (other, slot) in self.pins.configured_pins() {
            let Slot::Pwm { state, .. } = slot else {
                continue;
            };
            if other == pin {
                continue;
            }
            let Some(theirs) = pwm.pwm_channel(other) else {
                continue;
            };
            if new_pin && theirs == channel {
                return Err(EngineError::PwmSameOutput { pin, holder: other });
            }
            if theirs.slice == channel.slice && state.frequency != frequency {
                return Err(EngineError::PwmSliceFrequency {
                    pin,
                    holder: other,
                    frequency: state.frequency,
                });
            }
        }
        Ok(())
    }
}
