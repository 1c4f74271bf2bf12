//! Bridges piconet boards to an MQTT broker and Home Assistant, as
//! PROTOCOL-NEXT.md ("The MQTT bridge") defines it: per board a retained
//! `status`, per pin a retained `state` and a `set` command topic, one
//! Home Assistant device discovery payload, ONs held by renewed leases.
#![warn(missing_docs)]

pub mod board;
pub mod config;
pub mod discovery;
pub mod error;
pub mod topics;

pub use config::{BridgeConfig, ConfigError};
pub use error::BridgeError;
