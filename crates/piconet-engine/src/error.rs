//! Errors of the engine, as the client reads them.

use crate::board::{BoardError, I2cLine};
use crate::settings::ConfigError;
use crate::update::UpdateError;
use piconet_protocol::response::{Message, MessageWriter};
use piconet_protocol::sink::Full;
use piconet_protocol::{ErrorClass, ProtocolError};

/// Why a well-formed command could not be carried out. Nothing changed on
/// the board when a command fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineError {
    /// No such pin on this board.
    PinAbsent(u32),
    /// The pin exists but the board needs it.
    PinReserved(u32, &'static str),
    /// The pin was not set up with `setup_pin`.
    NotSetUp(u32),
    /// `write_pin` on an input.
    NotOutput(u32),
    /// `setup_pin` with a `value` for an input.
    ValueOnInput(u32),
    /// `timeout` outside (0, max].
    BadTimeout {
        /// The board's longest lease, in seconds.
        max_secs: u64,
    },
    /// The hardware failed.
    Board(BoardError),
    /// The original's file-copy `update`.
    UpdateUnsupported,
    /// A firmware image update action failed.
    Update(UpdateError),
    /// The response did not fit the transport's buffer.
    ResponseTooLarge,
    /// A settings change from the network.
    SettingsLocalOnly,
    /// The board stores no settings.
    NoSettings,
    /// A provisioning field's value cannot be stored.
    SettingsValue {
        /// The field's wire name.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// The settings store failed.
    Settings(ConfigError),
    /// `watch_pin` on an output.
    NotInput(u32),
    /// `watch_pin` on a pin set up as neither input nor output.
    WatchNeedsInput {
        /// The pin.
        pin: u32,
        /// What it is set up as.
        mode: &'static str,
    },
    /// `unwatch_pin` on a pin this connection does not watch.
    NotWatched(u32),
    /// Every slot for connections that watch is taken.
    TooManyWatchers {
        /// The slots.
        max: usize,
    },
    /// This connection watches as many pins as one may.
    TooManyWatches {
        /// Pins per connection.
        max: usize,
    },
    /// `sim_input` on a real board.
    NotSimulated,
    /// `sim_input` with `volts` on a pin that is not an ADC input.
    NoAdc(u32),
    /// The board has no PWM at all.
    PwmUnsupported,
    /// The pin has no PWM channel.
    NoPwmChannel(u32),
    /// `write_pwm` on a pin not set up for PWM.
    NotPwm(u32),
    /// Another PWM pin shows the same output (GPIO 0 and 16).
    PwmSameOutput {
        /// The pin asked for.
        pin: u32,
        /// The PWM pin already on that output.
        holder: u32,
    },
    /// Another PWM pin on the slice runs at another frequency.
    PwmSliceFrequency {
        /// The pin asked for.
        pin: u32,
        /// The PWM pin that holds the slice.
        holder: u32,
        /// The slice's frequency, which `holder` runs at.
        frequency: u32,
    },
    /// The board has no ADC.
    AdcUnsupported,
    /// The pin has no ADC input.
    NoAdcInput {
        /// The pin asked for.
        pin: u32,
        /// Bit `p` set: pin `p` has one.
        adc_pins: u64,
    },
    /// `read_adc` on a pin not set up as an ADC input.
    NotAdc(u32),
    /// The board has no temperature sensor.
    NoThermometer,
    /// The board has no I2C.
    I2cUnsupported,
    /// No such I2C bus on this board.
    NoI2cBus {
        /// The bus asked for.
        bus: u8,
        /// How many the board has.
        buses: u8,
    },
    /// A pin that cannot be this line of this bus.
    I2cPin {
        /// The bus.
        bus: u8,
        /// The role asked for.
        line: I2cLine,
        /// The pin asked for.
        pin: u32,
        /// Bit `p` set: pin `p` can be that line of that bus.
        valid: u64,
    },
    /// A transfer on a bus that was not set up.
    I2cNotSetUp(u8),
    /// No device acknowledged.
    I2cNoAck {
        /// The bus.
        bus: u8,
        /// The device address.
        address: u8,
    },
    /// The bus failed during a transfer.
    I2cBus {
        /// The bus.
        bus: u8,
        /// The device address.
        address: u8,
        /// What failed.
        error: BoardError,
    },
}

impl Message for EngineError {
    fn class(&self) -> ErrorClass {
        match self {
            EngineError::NotSetUp(_) => ErrorClass::GPIOPinNotSetupError,
            EngineError::Board(_) => ErrorClass::OSError,
            EngineError::Update(e) => e.class(),
            EngineError::SettingsLocalOnly | EngineError::NoSettings => ErrorClass::OSError,
            EngineError::Settings(ConfigError::Invalid(_)) => ErrorClass::ValueError,
            EngineError::Settings(_) => ErrorClass::OSError,
            EngineError::TooManyWatchers { .. }
            | EngineError::TooManyWatches { .. }
            | EngineError::NotSimulated => ErrorClass::OSError,
            EngineError::PwmUnsupported
            | EngineError::AdcUnsupported
            | EngineError::NoThermometer
            | EngineError::I2cUnsupported
            | EngineError::I2cNoAck { .. }
            | EngineError::I2cBus { .. } => ErrorClass::OSError,
            _ => ErrorClass::ValueError,
        }
    }

    fn write(&self, m: &mut MessageWriter<'_>) -> Result<(), Full> {
        let pin = |m: &mut MessageWriter<'_>, p: u32| {
            m.text("pin ")?;
            m.uint(p.into())
        };
        match *self {
            EngineError::PinAbsent(p) => {
                pin(m, p)?;
                m.text(" does not exist on this board")
            }
            EngineError::PinReserved(p, why) => {
                pin(m, p)?;
                m.text(" cannot be used: ")?;
                m.text(why)
            }
            EngineError::NotSetUp(p) => {
                pin(m, p)?;
                m.text(" not setup: send setup_pin first")
            }
            EngineError::NotOutput(p) => {
                pin(m, p)?;
                m.text(" is an input: set it up with mode \"output\" to write it")
            }
            EngineError::ValueOnInput(p) => {
                pin(m, p)?;
                m.text(": value applies to outputs only, an input cannot be driven")
            }
            EngineError::BadTimeout { max_secs } => {
                m.text("timeout must be a finite number of seconds, more than 0 and at most ")?;
                m.uint(max_secs)?;
                m.text(": it bounds how long the pin stays away from its safe state")
            }
            EngineError::Board(e) => {
                m.text("board error: ")?;
                m.text(e.message())
            }
            EngineError::UpdateUnsupported => m.text(
                "update by copying files is not supported: piconet firmware is replaced as a whole signed image with update_begin, update_chunk and update_finish; run `piconet update ADDR firmware.bin --sig firmware.bin.sig`",
            ),
            EngineError::Update(e) => e.write(m),
            EngineError::ResponseTooLarge => m.text(
                "the response did not fit in the server's buffer: send shorter commands",
            ),
            EngineError::SettingsLocalOnly => m.text(
                "settings can be changed only over the USB cable, not over the network: run `piconet provision` on a computer connected to the board",
            ),
            EngineError::NoSettings => m.text(
                "this board keeps no settings: a host server (piconetd) is configured with its command-line flags",
            ),
            // Worded as the parser words a bad field.
            EngineError::SettingsValue { field, expected } => {
                ProtocolError::BadValue { field, expected }.write(m)
            }
            EngineError::Settings(e) => {
                m.text("settings flash: ")?;
                let mut text: heapless::String<96> = heapless::String::new();
                let _ = core::fmt::write(&mut text, format_args!("{e}"));
                m.text(&text)
            }
            EngineError::NotInput(p) => {
                pin(m, p)?;
                m.text(" is an output: set it up with mode \"input\" to watch it")
            }
            EngineError::WatchNeedsInput { pin: p, mode } => {
                pin(m, p)?;
                m.text(" is set up as ")?;
                m.text(mode)?;
                m.text(": set it up with mode \"input\" to watch it")
            }
            EngineError::NotWatched(p) => {
                pin(m, p)?;
                m.text(" is not watched by this connection: nothing to unwatch")
            }
            EngineError::TooManyWatchers { max } => {
                m.uint(max as u64)?;
                m.text(" other connections already watch pins, the most this board serves events to: close one of them, or unwatch its pins there (a connection keeps its place until it ends or unwatches its last pin)")
            }
            EngineError::TooManyWatches { max } => {
                m.text("this connection already watches ")?;
                m.uint(max as u64)?;
                m.text(" pins, the most one connection may: unwatch_pin one first")
            }
            EngineError::NotSimulated => m.text(
                "sim_input works on the simulated board only: on this board the wiring sets the inputs",
            ),
            EngineError::NoAdc(p) => {
                pin(m, p)?;
                m.text(": volts needs a pin in adc mode: set it up with \"mode\": \"adc\" first, or apply a level with \"value\"")
            }
            EngineError::PwmUnsupported => m.text("this board has no PWM outputs"),
            EngineError::NoPwmChannel(p) => {
                pin(m, p)?;
                m.text(" has no PWM channel on this board")
            }
            EngineError::NotPwm(p) => {
                pin(m, p)?;
                m.text(" is not set up for PWM: send setup_pin with \"mode\": \"pwm\" first")
            }
            EngineError::PwmSameOutput { pin: p, holder } => {
                pin(m, p)?;
                m.text(" is driven by the same PWM output as pin ")?;
                m.uint(holder.into())?;
                m.text(", which is set up for PWM: set pin ")?;
                m.uint(holder.into())?;
                m.text(" up as something else first")
            }
            EngineError::PwmSliceFrequency {
                pin: p,
                holder,
                frequency,
            } => {
                pin(m, p)?;
                m.text(" shares its PWM slice with pin ")?;
                m.uint(holder.into())?;
                m.text(", which runs at ")?;
                m.uint(frequency.into())?;
                m.text(" Hz: use that frequency, or set pin ")?;
                m.uint(holder.into())?;
                m.text(" up as something else first")
            }
            EngineError::AdcUnsupported => m.text("this board has no ADC inputs"),
            EngineError::NoAdcInput { pin: p, adc_pins } => {
                pin(m, p)?;
                m.text(" has no ADC input: the ADC pins on this board are ")?;
                pin_list(m, adc_pins)
            }
            EngineError::NotAdc(p) => {
                pin(m, p)?;
                m.text(" is not set up as an ADC input: send setup_pin with \"mode\": \"adc\" first")
            }
            EngineError::NoThermometer => m.text("this board has no temperature sensor"),
            EngineError::I2cUnsupported => m.text("this board has no I2C buses"),
            EngineError::NoI2cBus { bus, buses } => {
                m.text("i2c bus ")?;
                m.uint(bus.into())?;
                m.text(" does not exist on this board: it has ")?;
                m.uint(buses.into())?;
                m.text(" (numbered from 0)")
            }
            EngineError::I2cPin {
                bus,
                line,
                pin: p,
                valid,
            } => {
                pin(m, p)?;
                m.text(" cannot be ")?;
                m.text(line.as_str())?;
                m.text(" of i2c bus ")?;
                m.uint(bus.into())?;
                if valid == 0 {
                    // A host board serves only the buses it was given.
                    return m.text(": no pin can be, that bus has no pins on this board");
                }
                m.text(": it must be one of pins ")?;
                pin_list(m, valid)
            }
            EngineError::I2cNotSetUp(bus) => {
                m.text("i2c bus ")?;
                m.uint(bus.into())?;
                m.text(" is not set up: send i2c_setup first")
            }
            EngineError::I2cNoAck { bus, address } => {
                m.text("no device answered at address ")?;
                hex(m, address)?;
                m.text(" on i2c bus ")?;
                m.uint(bus.into())
            }
            EngineError::I2cBus {
                bus,
                address,
                error,
            } => {
                m.text("i2c bus ")?;
                m.uint(bus.into())?;
                m.text(", address ")?;
                hex(m, address)?;
                m.text(": ")?;
                m.text(error.message())
            }
        }
    }
}

/// The pins whose bits are set, as `26, 27, 28`.
fn pin_list(m: &mut MessageWriter<'_>, pins: u64) -> Result<(), Full> {
    let mut bits = pins;
    let mut first = true;
    while bits != 0 {
        if !first {
            m.text(", ")?;
        }
        first = false;
        m.uint(bits.trailing_zeros().into())?;
        bits &= bits - 1;
    }
    Ok(())
}

/// An I2C address as `0x50`, the way datasheets and i2cdetect write it.
fn hex(m: &mut MessageWriter<'_>, v: u8) -> Result<(), Full> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let text = [
        b'0',
        b'x',
        DIGITS[usize::from(v >> 4)],
        DIGITS[usize::from(v & 0xf)],
    ];
    m.text(core::str::from_utf8(&text).unwrap_or("0x??"))
}

impl From<BoardError> for EngineError {
    fn from(e: BoardError) -> Self {
        EngineError::Board(e)
    }
}

impl From<ConfigError> for EngineError {
    fn from(e: ConfigError) -> Self {
        EngineError::Settings(e)
    }
}

impl From<UpdateError> for EngineError {
    fn from(e: UpdateError) -> Self {
        EngineError::Update(e)
    }
}

impl From<piconet_protocol::provision::NotBase64> for EngineError {
    fn from(e: piconet_protocol::provision::NotBase64) -> Self {
        EngineError::SettingsValue {
            field: e.field,
            expected: e.expected,
        }
    }
}
