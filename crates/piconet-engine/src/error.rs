//! Errors of the engine, as the client reads them.

use crate::board::BoardError;
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
    /// `sim_input` with `volts`, which needs ADC pins.
    NoAdc(u32),
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
                m.text(": volts needs a pin in adc mode, which this server does not offer yet: apply a level with \"value\" instead")
            }
        }
    }
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
