//! The I2C actions: `i2c_setup`, `i2c_write`, `i2c_read`, `i2c_transfer`.

use crate::board::{Board, I2cError, I2cLine, PinKind};
use crate::engine::{After, Engine, I2cBus};
use crate::error::EngineError;
use crate::pins::{Slot, MAX_PINS};
use crate::time::Instant;
use piconet_protocol::action::i2c::{Bytes, MAX_I2C_BYTES};
use piconet_protocol::command::Command;
use piconet_protocol::key::Key;
use piconet_protocol::response::Echo;
use piconet_protocol::sink::{Full, Sink};

/// What an I2C action moves.
#[derive(Clone, Copy)]
pub(super) enum Transfer<'a> {
    Write(Bytes<'a>),
    Read(u16),
    WriteRead(Bytes<'a>, u16),
}

impl<B: Board> Engine<B> {
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn i2c_setup(
        &mut self,
        now: Instant,
        bus: u8,
        sda: u32,
        scl: u32,
        frequency: u32,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let result = self.setup_bus(bus, sda, scl, frequency);
        self.answer(now, command, echo, out, result, |_, (), _| {
            Ok(After::Nothing)
        })
    }

    fn setup_bus(
        &mut self,
        bus: u8,
        sda: u32,
        scl: u32,
        frequency: u32,
    ) -> Result<(), EngineError> {
        let buses = self
            .board
            .i2c()
            .ok_or(EngineError::I2cUnsupported)?
            .i2c_buses();
        if bus >= buses || usize::from(bus) >= self.i2c_buses.len() {
            return Err(EngineError::NoI2cBus { bus, buses });
        }
        self.check_pin(sda)?;
        self.check_pin(scl)?;
        self.check_line(bus, I2cLine::Sda, sda)?;
        self.check_line(bus, I2cLine::Scl, scl)?;
        self.board
            .i2c()
            .ok_or(EngineError::I2cUnsupported)?
            .configure_i2c(bus, sda, scl, frequency)?;
        // The bus's old pins (another pair) and whatever the new pins
        // were part of are given up.
        self.leave_i2c(sda);
        self.leave_i2c(scl);
        if let Some(old) = self.i2c_buses[usize::from(bus)].take() {
            self.pins.set(old.sda, Slot::Free);
            self.pins.set(old.scl, Slot::Free);
        }
        for (pin, line) in [(sda, I2cLine::Sda), (scl, I2cLine::Scl)] {
            self.unwatch_everywhere(pin);
            self.pins.set(pin, Slot::I2c { bus, line });
        }
        self.i2c_buses[usize::from(bus)] = Some(I2cBus {
            sda,
            scl,
            frequency,
        });
        Ok(())
    }

    /// `pin` must be able to be `line` of `bus`; the error names those
    /// that can.
    fn check_line(&mut self, bus: u8, line: I2cLine, pin: u32) -> Result<(), EngineError> {
        let i2c = self.board.i2c().ok_or(EngineError::I2cUnsupported)?;
        if i2c.i2c_line(bus, pin) == Some(line) {
            return Ok(());
        }
        let able = (0..MAX_PINS as u32)
            .filter(|&p| i2c.i2c_line(bus, p) == Some(line))
            .fold(0u64, |m, p| m | 1 << p);
        let valid = (0..MAX_PINS as u32)
            .filter(|&p| able & 1 << p != 0 && self.board.pin_kind(p) == PinKind::Usable)
            .fold(0u64, |m, p| m | 1 << p);
        Err(EngineError::I2cPin {
            bus,
            line,
            pin,
            valid,
        })
    }

    /// `pin` is being set up as something else: if it was a line of an
    /// I2C bus, that bus is no longer set up and its other pin is free.
    pub(crate) fn leave_i2c(&mut self, pin: u32) {
        let Slot::I2c { bus, .. } = self.pins.get(pin) else {
            return;
        };
        if let Some(old) = self.i2c_buses[usize::from(bus)].take() {
            for p in [old.sda, old.scl] {
                if p != pin {
                    self.pins.set(p, Slot::Free);
                }
            }
        }
    }

    /// One I2C action: the bytes read (if any) are answered as `data`.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn i2c_move(
        &mut self,
        now: Instant,
        bus: u8,
        address: u8,
        transfer: Transfer<'_>,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let mut read = [0u8; MAX_I2C_BYTES];
        let result = self.run_transfer(bus, address, transfer, &mut read);
        self.answer(now, command, echo, out, result, |_, n, w| {
            if let Transfer::Read(_) | Transfer::WriteRead(..) = transfer {
                w.byte_list(Key::Data.name(), &read[..n])?;
            }
            Ok(After::Nothing)
        })
    }

    /// Returns how many bytes were read into `read`.
    fn run_transfer(
        &mut self,
        bus: u8,
        address: u8,
        transfer: Transfer<'_>,
        read: &mut [u8; MAX_I2C_BYTES],
    ) -> Result<usize, EngineError> {
        let i2c = self.board.i2c().ok_or(EngineError::I2cUnsupported)?;
        if self
            .i2c_buses
            .get(usize::from(bus))
            .copied()
            .flatten()
            .is_none()
        {
            return Err(EngineError::I2cNotSetUp(bus));
        }
        let mut written = [0u8; MAX_I2C_BYTES];
        let failed = |e: I2cError| match e {
            I2cError::NoAck => EngineError::I2cNoAck { bus, address },
            I2cError::Bus(error) => EngineError::I2cBus {
                bus,
                address,
                error,
            },
        };
        match transfer {
            Transfer::Write(data) => {
                i2c.i2c_write(bus, address, data.copy_to(&mut written))
                    .map_err(failed)?;
                Ok(0)
            }
            Transfer::Read(count) => {
                let buf = &mut read[..usize::from(count)];
                i2c.i2c_read(bus, address, buf).map_err(failed)?;
                Ok(buf.len())
            }
            Transfer::WriteRead(data, count) => {
                let buf = &mut read[..usize::from(count)];
                i2c.i2c_transfer(bus, address, data.copy_to(&mut written), buf)
                    .map_err(failed)?;
                Ok(buf.len())
            }
        }
    }
}
