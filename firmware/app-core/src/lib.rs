//! The Pico W firmware's logic without the HAL.
//!
//! Everything here is generic over the byte stream (embedded-io-async
//! `Read + Write`: an embassy-net `TcpSocket`, an mbedtls-rs `Session`, or a
//! test double), the engine's [`Board`](piconet_engine::Board) and the
//! embassy-sync raw mutex, so the same code runs on the RP2040 and in host
//! tests under embassy's std time driver:
//!
//! - [`conn::serve`]: one connection, bytes → lines → engine → replies;
//! - [`edges::run`]: input edges from the GPIO interrupt to the engine's
//!   watches, and the wake-up of the connections with new event lines;
//! - [`lease::run`]: the fail-safe timer, sleeping until the engine's next
//!   lease deadline;
//! - [`status::run_led`]: the original server's LED patterns;
//! - [`gate`]: who gets one of the few connection slots (the engine's
//!   slot policy, piconetd's), shared by the socket listeners;
//! - [`entropy`]: a ChaCha20 CSPRNG seeded from many conditioned noise bits;
//! - [`pwm`]: a PWM slice's divider, wrap and compare for a frequency and duty;
//! - [`i2c`]: how long an I2C transfer may take, and [`bounded`]: running
//!   a driver's future to completion or to that deadline;
//! - [`i2c_recovery`]: freeing a bus a device holds (SDA low): up to 9 SCL
//!   clocks, then a START and a STOP;
//! - [`settings`]: provisioned settings from the CONFIG flash region, or
//!   the build-time fallback;
//! - [`tls`] (feature `tls`): a TLS server session around [`conn::serve`],
//!   and [`client_cert`]: on a board with a client list, MbedTLS accepts
//!   exactly the listed client certificates;
//! - [`listener`] (feature `server`): an embassy-net TCP socket that accepts
//!   one client at a time, asks the [`gate`] for a slot and serves it
//!   plaintext or over TLS.
#![no_std]
#![warn(missing_docs)]

pub mod bounded;
#[cfg(feature = "tls")]
pub mod client_cert;
pub mod clock;
pub mod conn;
pub mod edges;
pub mod entropy;
pub mod gate;
pub mod i2c;
pub mod i2c_recovery;
pub mod lease;
#[cfg(feature = "server")]
pub mod listener;
pub mod mdns;
pub mod pwm;
pub mod settings;
pub mod shared;
pub mod status;
#[cfg(feature = "tls")]
pub mod tickets;
#[cfg(feature = "tls")]
pub mod tls;

pub use shared::Shared;
