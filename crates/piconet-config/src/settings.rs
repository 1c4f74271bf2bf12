//! The settings as the firmware uses them, and a summary safe to show.

use core::fmt;

use heapless::{String, Vec};
use sha2::{Digest, Sha256};

use crate::{MAX_CERT, MAX_KEY, MAX_NAME, MAX_PASSWORD, MAX_SSID};

pub use piconet_protocol::provision::RadioPower;

/// WiFi network to join.
#[derive(Clone, PartialEq, Eq)]
pub struct Wifi {
    /// Network name.
    pub ssid: String<MAX_SSID>,
    /// WPA2 passphrase (empty for an open network).
    pub password: String<MAX_PASSWORD>,
}

/// The server's TLS certificate and private key, DER.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsIdentity {
    /// Certificate.
    pub cert: Vec<u8, MAX_CERT>,
    /// Private key (SEC1 or PKCS#8).
    pub key: Vec<u8, MAX_KEY>,
}

impl TlsIdentity {
    /// SHA-256 of the certificate: what `piconet` pins on first use.
    pub fn fingerprint(&self) -> [u8; 32] {
        Sha256::digest(&self.cert).into()
    }
}

/// Everything provisioned.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// WiFi network, if provisioned.
    pub wifi: Option<Wifi>,
    /// TCP port.
    pub port: u16,
    /// TLS identity; plaintext without one.
    pub tls: Option<TlsIdentity>,
    /// The board's name (`NAME.local`), if one was set; without one the
    /// board goes by [`crate::default_name`] of its id.
    pub name: Option<String<MAX_NAME>>,
    /// The WiFi chip's power mode while awake (default: no power saving,
    /// for latency).
    pub radio_power: RadioPower,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            wifi: None,
            port: crate::DEFAULT_PORT,
            tls: None,
            name: None,
            radio_power: RadioPower::None,
        }
    }
}

// Secrets must not reach a log through `{:?}`.
impl fmt::Debug for Wifi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wifi")
            .field("ssid", &self.ssid)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("cert_len", &self.cert.len())
            .field("key", &"<redacted>")
            .finish()
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.summary(), f)
    }
}

impl Settings {
    /// What can be shown: no password, no key.
    pub fn summary(&self) -> Summary<'_> {
        Summary(self)
    }
}

/// The settings without secrets, for `get_config` and logs.
pub struct Summary<'a>(&'a Settings);

impl Summary<'_> {
    /// The SSID, if set.
    pub fn ssid(&self) -> Option<&str> {
        self.0.wifi.as_ref().map(|w| w.ssid.as_str())
    }
    /// Whether a WiFi password is stored (never the password itself).
    pub fn password_set(&self) -> bool {
        self.0.wifi.as_ref().is_some_and(|w| !w.password.is_empty())
    }
    /// The port.
    pub fn port(&self) -> u16 {
        self.0.port
    }
    /// The board's name, if one is stored.
    pub fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// The radio's power mode.
    pub fn radio_power(&self) -> RadioPower {
        self.0.radio_power
    }
    /// The certificate fingerprint, if a TLS identity is stored.
    pub fn tls_fingerprint(&self) -> Option<[u8; 32]> {
        self.0.tls.as_ref().map(TlsIdentity::fingerprint)
    }
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "name={} ssid={:?} password={} port={} tls=",
            self.name().unwrap_or("default"),
            self.ssid().unwrap_or(""),
            if self.password_set() { "set" } else { "none" },
            self.port()
        )?;
        match self.tls_fingerprint() {
            Some(fp) => fp.iter().try_for_each(|b| write!(f, "{b:02x}"))?,
            None => f.write_str("none")?,
        }
        write!(f, " radio_power={}", self.radio_power().as_str())
    }
}
