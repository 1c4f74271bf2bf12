//! The Pico W's settings (WiFi credentials, TCP port, TLS identity) kept in
//! a reserved region of NOR flash, so a user provisions a board over USB
//! instead of rebuilding the firmware.
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
//! assert!(!s.summary().to_string().contains("hunter22"));
//! # });
//! ```
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ram;
mod record;
mod settings;
mod store;

pub use record::{MAX_CERT, MAX_KEY, MAX_PASSWORD, MAX_SSID};
pub use settings::{Settings, Summary, TlsIdentity, Wifi};
pub use store::{ConfigError, ConfigStore, BUFFER_SIZE};

/// The port the server listens on unless provisioned otherwise.
pub const DEFAULT_PORT: u16 = 12345;
