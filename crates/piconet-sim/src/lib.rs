//! Simulated boards for the piconet engine: the simulated Raspberry Pi
//! Pico W ([`SimBoard`], the host daemon's default board and the board of
//! the tests), its RAM flash with embassy-boot ([`sim_flash`]), and the
//! minimal array-backed board ([`levels::LevelsBoard`]) of the benchmarks
//! and allocation tests.
//!
//! They live outside the engine so the engine stays the sans-IO core:
//! it never depends on this crate.
//!
//! ```
//! use core::time::Duration;
//! use piconet_engine::{Config, Engine, Instant, Level};
//! use piconet_sim::SimBoard;
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

extern crate alloc;

pub mod eeprom;
pub mod levels;
pub mod sim;
pub mod sim_flash;

pub use sim::SimBoard;
