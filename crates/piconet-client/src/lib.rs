//! Client for piconet servers: `piconetd` on a Linux host, the Pico W
//! firmware, and the original piconetcontrol server, which all speak the same
//! JSON lines over TCP or TLS, or over the board's USB serial port
//! ([`Client::serial`]).
//!
//! Each command is a JSON object on its own line; after the last one of a
//! connection comes a blank line; each gets one answer line, in order. The
//! client stamps `time_sent` on every command and `time_responded` on every
//! answer, like the original Python client.
//!
//! Unlike the original, TLS verifies the server: against a CA or certificate
//! file, or a certificate pinned on first use in a known-hosts file
//! ([`TlsVerify`]). Answers are capped at 1 MiB and each command at 3 s by default.
//!
//! ```no_run
//! use std::time::Duration;
//! use piconet_client::{Client, Level, Mode};
//!
//! # async fn demo() -> Result<(), piconet_client::Error> {
//! let client = Client::new("127.0.0.1:12345".parse()?);
//! client.setup_pin(2, Mode::Output, Some(Level::Low), None).await?;
//! client.write_pin(2, Level::High, Duration::from_secs(5)).await?;
//! println!("pin 2 is {}", client.read_pin(2).await?.as_u8());
//! let stats = client.ping(5).await?;
//! println!("rtt avg {} µs", stats.round_trip.avg_ns / 1000);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod action;
mod address;
mod client;
mod clients;
mod config;
pub mod discover;
mod error;
mod event;
mod framing;
mod identity;
mod known_hosts;
mod pin;
mod ping;
mod response;
mod serial;
mod tls;
mod update;

#[cfg(test)]
mod test_server;

pub use action::{hex, Action, Edge};
pub use address::{Endpoint, ServerAddr, DEFAULT_PORT};
pub use client::{
    now_ns, AdcReading, Client, Connection, Stream, DEFAULT_TIMEOUT, I2C_SCAN, MDNS_RESOLVE_WAIT,
    WATCH_KEEPALIVE,
};
pub use clients::{ClientEntry, Role, MAX_CLIENTS, MAX_CLIENT_NAME};
pub use config::BoardConfig;
pub use error::Error;
pub use event::{Event, MAX_BUFFERED_EVENTS};
pub use framing::{read_line, LineEnd, DEFAULT_MAX_RESPONSE_BYTES};
pub use identity::{read_certificates, Identity};
pub use known_hosts::{Fingerprint, KnownHost, KnownHosts, KNOWN_HOSTS_ENV};
/// The wire protocol's types and limits, shared with piconetd and the firmware.
pub use piconet_protocol as protocol;
pub use pin::{Level, Mode, PinState, Pull};
pub use ping::{PingStats, Spread};
pub use response::{Response, ServerError};
pub use serde_json::{Map, Value};
pub use serial::{usb_serial_ports, UsbSerialPort, PICONET_USB_PID, PICONET_USB_VID};
pub use tls::{CaRefusal, TlsVerify};
pub use update::UpdateStatus;
