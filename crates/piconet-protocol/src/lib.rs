//! The piconet wire protocol: line framing, JSON commands and responses.
//!
//! `no_std` and allocation-free so the Pico W firmware and the host daemon
//! share it byte for byte. The wire format is the one of the original
//! Python piconetcontrol 0.2.4: one JSON object per line, a blank line to
//! say "no more commands", responses that echo the command back.
//!
//! ```
//! use piconet_protocol::command::{parse, Command};
//! let req = parse(br#"{"action": "read_pin", "pin": "2", "time_sent": 1}"#).unwrap();
//! assert_eq!(req.command, Command::ReadPin { pin: 2 });
//! ```
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod action;
pub mod command;
pub mod error;
pub mod framing;
pub mod json;
pub mod key;
pub mod provision;
pub mod response;
pub mod sink;
pub mod update;

pub use command::{parse, Command, Request};
pub use error::{ErrorClass, ProtocolError};
pub use framing::{Frame, LineDecoder};
pub use sink::{Full, Sink};

/// The TCP port the original server listens on.
pub const DEFAULT_PORT: u16 = 12345;

/// The Pico W firmware's longest command line, in bytes.
pub const PICO_W_MAX_LINE: usize = 2048;

/// The Pico W's GPIOs on its header, ascending: 23, 24, 25 and 29 are wired
/// to the WiFi chip (the engine's `pico::pin_kind` says why for each).
pub const PICO_W_HEADER_PINS: [u32; 26] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 26, 27, 28,
];
