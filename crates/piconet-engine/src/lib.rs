//! The piconet engine: everything a piconet server does between receiving
//! a command line and sending the response, with no I/O of its own.
//!
//! The engine owns no socket, no runtime and no clock. The caller passes
//! the current [`Instant`] in, gets response bytes out, asks for the next
//! lease deadline and calls [`Engine::poll`] when it passes. All hardware
//! access goes through the [`Board`] trait. The Pico W firmware, the host
//! daemon and the tests therefore run exactly this code.
//!
//! The boards are adapters in their own crates: `piconet-sim` (the
//! simulated Pico W and the minimal board) and `piconet-boot-slot` (the
//! [`UpdateSlot`] over embassy-boot); the firmware's board is in
//! `firmware/`. None of them is a dependency of this crate.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod action;
pub mod board;
#[cfg(feature = "settings")]
mod client_record;
pub mod clients;
mod engine;
mod error;
mod event_line;
pub mod lateness;
pub mod led;
mod peer;
pub mod pico;
mod pins;
pub mod session;
pub mod settings;
pub mod slots;
#[cfg(test)]
mod test_board;
mod time;
pub mod update;
pub mod watchers;

pub use board::{
    Adc, Board, BoardError, EdgeDetection, I2c, I2cError, I2cLine, Level, Mode, PinKind, Pull, Pwm,
    PwmChannel, PwmState, SimulatedInputs, Thermometer, ADC_VREF,
};
pub use clients::{Client, Clients, ClientsError, Fingerprint, Role};
pub use engine::{After, Config, Engine, Revert, MAX_I2C_BUSES, RESPONSE_OVERHEAD};
pub use error::EngineError;
pub use peer::{ConnId, Peer};
pub use piconet_protocol::action::events::Edge;
pub use pins::{Safe, MAX_PINS};
pub use settings::{Origin, SettingsStore};
pub use time::Instant;
pub use update::{FlashOp, LastUpdate, UpdateError, UpdateSlot};
