//! The piconet engine: everything a piconet server does between receiving
//! a command line and sending the response, with no I/O of its own.
//!
//! The engine owns no socket, no runtime and no clock. The caller passes
//! the current [`Instant`] in, gets response bytes out, asks for the next
//! lease deadline and calls [`Engine::poll`] when it passes. All hardware
//! access goes through the [`Board`] trait. The Pico W firmware, the host
//! daemon and the tests therefore run exactly this code.
//!
//! ```
//! use core::time::Duration;
//! use piconet_engine::{Config, Engine, Instant, Level, SimBoard};
//!
//! let mut engine = Engine::new(SimBoard::new(), Config::default());
//! let mut out = Vec::new();
//! let t0 = Instant::ZERO;
//! engine.handle(t0, br#"{"action": "setup_pin", "pin": 2, "mode": "output", "value": 0}"#, &mut out);
//! engine.handle(t0, br#"{"action": "write_pin", "pin": 2, "value": 1, "timeout": 5}"#, &mut out);
//! assert_eq!(engine.next_deadline(), Some(t0 + Duration::from_secs(5)));
//! assert_eq!(engine.board().level(2), Some(Level::High));
//! engine.poll(t0 + Duration::from_secs(5));
//! assert_eq!(engine.board().level(2), Some(Level::Low));
//! ```
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod action;
pub mod board;
#[cfg(feature = "embassy-boot")]
pub mod boot_slot;
mod engine;
mod error;
pub mod lateness;
pub mod led;
pub mod levels;
mod peer;
pub mod pico;
mod pins;
pub mod session;
pub mod settings;
#[cfg(feature = "sim")]
pub mod sim;
#[cfg(feature = "sim")]
pub mod sim_flash;
pub mod slots;
mod time;
pub mod update;
pub mod watchers;

pub use board::{Board, BoardError, Level, Mode, PinKind, Pull, SimulatedInputs};
pub use engine::{After, Config, Engine, Revert, RESPONSE_OVERHEAD};
pub use error::EngineError;
pub use peer::{ConnId, Peer};
pub use piconet_protocol::action::events::Edge;
pub use pins::MAX_PINS;
pub use settings::{Origin, SettingsStore};
#[cfg(feature = "sim")]
pub use sim::SimBoard;
pub use time::Instant;
pub use update::{FlashOp, LastUpdate, UpdateError, UpdateSlot};
