//! The Pico W's settings (WiFi credentials, TCP port, TLS identity, client
//! list, the board's name) kept in a reserved region of NOR flash, so a
//! user provisions a board over USB instead of rebuilding the firmware.
//!
//! Storage is the `sequential-storage` crate's map: items are appended with
//! a CRC and old ones invalidated only after the new one is complete, so a
//! power cut during a write leaves the previous settings readable, and pages
//! are rotated to spread wear. Each setting that must change as a unit (SSID
//! with password, certificate with key) is one item.
//!
//! `no_std`, no alloc; async over `embedded-storage-async`'s `NorFlash`
//! (embassy-rp's flash driver implements it).
//!
//! ```
//! # futures::executor::block_on(async {
//! use piconet_config::{ConfigStore, Settings, ram::RamFlash};
//! let mut store = ConfigStore::new(RamFlash::<4>::new(), 0..4 * 4096).unwrap();
//! let mut buf = [0u8; piconet_config::BUFFER_SIZE];
//! store.set_wifi("garden", "hunter22", &mut buf).await.unwrap();
//! store.set_port(4242, &mut buf).await.unwrap();
//! let s: Settings = store.load(&mut buf).await.unwrap();
//! assert_eq!(s.wifi.as_ref().unwrap().ssid, "garden");
//! assert_eq!(s.port, 4242);
//! // Not provisioned: the radio saves no power, for latency.
//! assert_eq!(s.radio_power, piconet_config::RadioPower::None);
//! store.set_radio_power(piconet_config::RadioPower::PowerSave, &mut buf).await.unwrap();
//! assert_eq!(store.load(&mut buf).await.unwrap().radio_power.as_str(), "power_save");
//! assert!(!s.summary().to_string().contains("hunter22"));
//! # });
//! ```
//!
//! The value types ([`Settings`], [`ConfigError`], the limits) need no
//! flash: without the default `store` feature the crate has no
//! `sequential-storage` or flash dependency, for code that only reads or
//! reports settings.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod name;
#[cfg(feature = "store")]
pub mod ram;
#[cfg(feature = "store")]
mod record;
mod settings;
#[cfg(feature = "store")]
mod store;

pub use error::ConfigError;
pub use name::{check_name, default_name, MAX_NAME};
pub use settings::{RadioPower, Settings, Summary, TlsIdentity, Wifi};
#[cfg(feature = "store")]
pub use store::{ConfigStore, BUFFER_SIZE};

/// Longest SSID (IEEE 802.11).
pub const MAX_SSID: usize = 32;
/// Longest WPA2 passphrase.
pub const MAX_PASSWORD: usize = 64;
/// Largest certificate (DER); an EC P-256 self-signed one is about 500 B.
pub const MAX_CERT: usize = 2048;
/// Largest private key (DER, SEC1 or PKCS#8); EC P-256 is about 140 B.
pub const MAX_KEY: usize = 256;

/// Largest client list record: 8 clients of 75 bytes (name length and
/// 32 bytes, SHA-256, role, pins) plus a version and a count byte.
pub const MAX_CLIENTS_RECORD: usize = 2 + 8 * 75;

/// The port the server listens on unless provisioned otherwise.
pub const DEFAULT_PORT: u16 = 12345;
