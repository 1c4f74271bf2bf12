//! Carrying out the actions: one exhaustive match from [`Command`] to the
//! family that applies it (`gpio`, `system`, `update`, `settings`,
//! `events`, `pwm`, `analog`, `i2c`), each
//! family's file holding its actions. A new action is a new `Command`
//! variant, which this match does not compile without.

mod analog;
mod clients;
mod events;
mod gpio;
mod i2c;
mod pwm;
mod settings;
mod system;
mod update;

use crate::board::Board;
use crate::engine::{After, Engine};
use crate::error::EngineError;
use crate::time::Instant;
use piconet_protocol::command::Command;
use piconet_protocol::key::Key;
use piconet_protocol::response::{write_error_line, Echo, KeySet, Message, ObjectWriter};
use piconet_protocol::sink::{Full, Sink};

/// How a pin action's answer ends (the pin actions are answered inline,
/// on the hot path).
#[derive(Clone, Copy)]
enum Done {
    /// The echo alone.
    Plain(After),
    /// The echo plus the pin's `value`.
    Value(crate::board::Level),
}

impl<B: Board> Engine<B> {
    // Inlined into `handle`: a call and a frame per command cost the hot
    // path ~20 instructions (bench/callgrind.sh). The other families are
    // answered out of line so this stays small.
    #[inline(always)]
    pub(crate) fn execute(
        &mut self,
        now: Instant,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let nothing = Done::Plain(After::Nothing);
        // One load and branch on a board without a client list.
        if !self.clients.is_empty() {
            if let Err(denied) = self.authorize(now, command.requires(), command.name()) {
                return write_failure(out, Some(echo), &denied).map(|()| After::Nothing);
            }
        }
        let done = match *command {
            // gpio
            Command::SetupPin {
                pin,
                mode,
                value,
                pull,
            } => self.setup_pin(pin, mode, value, pull).map(|()| nothing),
            Command::WritePin {
                pin,
                value,
                timeout,
                release_on_disconnect,
            } => self
                .write_pin(now, pin, value, timeout, release_on_disconnect)
                .map(|()| nothing),
            Command::ReadPin { pin } => self.read_pin(pin).map(Done::Value),
            Command::GetPins => return self.get_pins(now, command, echo, out),
            // system
            Command::Ping => Ok(nothing),
            Command::Reset => Ok(Done::Plain(After::Reset)),
            Command::Sleep { time_ms, deep } => Ok(Done::Plain(After::Sleep { ms: time_ms, deep })),
            Command::GetInfo => return self.get_info(now, command, echo, out),
            Command::GetVersion => return self.get_version(now, command, echo, out),
            Command::ListActions => return self.list_actions(now, command, echo, out),
            // update
            Command::Update => Err(EngineError::UpdateUnsupported),
            Command::UpdateBegin(ref begin) => {
                return self.update_begin(now, begin, command, echo, out)
            }
            Command::UpdateChunk(ref chunk) => {
                return self.update_chunk(now, chunk, command, echo, out)
            }
            Command::UpdateStatus => return self.update_status(now, command, echo, out),
            Command::UpdateFinish => return self.update_finish(now, command, echo, out),
            // settings
            Command::SetWifi(ref wifi) => return self.set_wifi(now, wifi, command, echo, out),
            Command::SetPort { port } => return self.set_port(now, port, command, echo, out),
            Command::SetRadioPower { mode } => {
                return self.set_radio_power(now, mode, command, echo, out)
            }
            Command::SetTls(ref tls) => return self.set_tls(now, tls, command, echo, out),
            Command::ClearTls => return self.clear_tls(now, command, echo, out),
            Command::ClearConfig => return self.clear_config(now, command, echo, out),
            Command::GetConfig => return self.get_config(now, command, echo, out),
            Command::SetName(ref name) => return self.set_name(now, name, command, echo, out),
            // events
            Command::WatchPin {
                pin,
                edge,
                debounce_ms,
            } => return self.watch_pin(now, pin, edge, debounce_ms, command, echo, out),
            Command::UnwatchPin { pin } => return self.unwatch_pin(now, pin, command, echo, out),
            Command::SimInput { pin, input } => {
                return self.sim_input(now, pin, input, command, echo, out)
            }
            // clients
            Command::SetClients(ref list) => {
                return self.set_clients_action(now, list, command, echo, out)
            }
            Command::GetClients => return self.get_clients(now, command, echo, out),
            // pwm
            Command::WritePwm {
                pin,
                duty,
                frequency,
                timeout,
                release_on_disconnect,
            } => {
                return self.write_pwm(
                    now,
                    pin,
                    duty,
                    frequency,
                    timeout,
                    release_on_disconnect,
                    command,
                    echo,
                    out,
                )
            }
            // analog
            Command::ReadAdc { pin } => return self.read_adc(now, pin, command, echo, out),
            Command::ReadTemperature => return self.read_temperature(now, command, echo, out),
            // i2c
            Command::I2cSetup {
                bus,
                sda,
                scl,
                frequency,
            } => return self.i2c_setup(now, bus, sda, scl, frequency, command, echo, out),
            Command::I2cWrite { bus, address, data } => {
                let t = i2c::Transfer::Write(data);
                return self.i2c_move(now, bus, address, t, command, echo, out);
            }
            Command::I2cRead {
                bus,
                address,
                count,
            } => {
                let t = i2c::Transfer::Read(count);
                return self.i2c_move(now, bus, address, t, command, echo, out);
            }
            Command::I2cTransfer {
                bus,
                address,
                write,
                count,
            } => {
                let t = i2c::Transfer::WriteRead(write, count);
                return self.i2c_move(now, bus, address, t, command, echo, out);
            }
        };
        let done = match done {
            Ok(done) => done,
            Err(e) => return write_failure(out, Some(echo), &e).map(|()| After::Nothing),
        };
        let mut w = ObjectWriter::open(out)?;
        w.echo(echo, command.reply_keys())?;
        w.key_uint(Key::TimeReceived, self.board.timestamp_ns(now))?;
        let after = match done {
            Done::Plain(after) => after,
            Done::Value(level) => {
                w.key_uint(Key::Value, level.as_u8().into())?;
                After::Nothing
            }
        };
        w.close()?;
        out.extend(b"\n")?;
        Ok(after)
    }

    /// The whole answer of an action answered out of line: the failure,
    /// or the echo, `time_received` and what `fields` writes.
    fn answer<T>(
        &mut self,
        now: Instant,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
        result: Result<T, EngineError>,
        fields: impl FnOnce(&mut Self, T, &mut ObjectWriter<'_>) -> Result<After, Full>,
    ) -> Result<After, Full> {
        let value = match result {
            Ok(value) => value,
            Err(e) => return write_failure(out, Some(echo), &e).map(|()| After::Nothing),
        };
        let time_received = self.board.timestamp_ns(now);
        let mut w = ObjectWriter::open(out)?;
        w.echo(echo, command.reply_keys())?;
        w.key_uint(Key::TimeReceived, time_received)?;
        let after = fields(self, value, &mut w)?;
        w.close()?;
        out.extend(b"\n")?;
        Ok(after)
    }
}

/// Milliseconds from `now` to `deadline`, rounded up so a running lease
/// never reads as 0.
pub(crate) fn remaining_ms(deadline: Instant, now: Instant) -> u64 {
    deadline
        .as_nanos()
        .saturating_sub(now.as_nanos())
        .div_ceil(1_000_000)
}

/// An error answer: the echo (when the line was an object) plus `error`
/// and `exception`.
pub(crate) fn write_failure(
    out: &mut dyn Sink,
    echo: Option<&Echo<'_>>,
    error: &dyn Message,
) -> Result<(), Full> {
    let Some(echo) = echo else {
        return write_error_line(out, error);
    };
    let mut w = ObjectWriter::open(out)?;
    w.echo(echo, KeySet::ERROR)?;
    w.error(error)?;
    w.close()?;
    out.extend(b"\n")
}
