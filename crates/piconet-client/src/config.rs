//! What the provisioning actions answer: the board's stored settings.

use serde_json::{Map, Value};

/// The `config` object of `get_config`, `set_wifi`, `set_port`, `set_tls`,
/// `set_name` and `clear_tls` answers. Secrets never appear: only whether a password
/// is set, and the TLS certificate's SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardConfig {
    /// The WiFi network, if one is stored.
    pub ssid: Option<String>,
    /// Whether a WiFi password is stored.
    pub password_set: bool,
    /// The TCP port the board listens on.
    pub port: u16,
    /// The WiFi chip's stored power mode (`"none"`, `"performance"`,
    /// `"power_save"`, `"aggressive"`); `None` from a board that predates
    /// the setting.
    pub radio_power: Option<String>,
    /// The SHA-256 (lower-case hex) of the stored TLS certificate, if any.
    pub tls_fingerprint: Option<String>,
    /// The board's stored name; `None` if none is set (the board goes by
    /// `piconet-XXXX` from its id) or the board predates `set_name`.
    pub name: Option<String>,
    /// The stored settings differ from those the board runs with: they apply at its next reset.
    pub restart_needed: bool,
    /// The whole object, for fields added later.
    pub raw: Map<String, Value>,
}

impl BoardConfig {
    /// Reads the `config` object of an answer; `None` if it is missing or malformed.
    pub fn from_answer(answer: &Map<String, Value>) -> Option<Self> {
        let raw = answer.get("config")?.as_object()?.clone();
        Some(Self {
            ssid: match raw.get("ssid")? {
                Value::Null => None,
                v => Some(v.as_str()?.to_owned()),
            },
            password_set: raw
                .get("password_set")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            port: u16::try_from(raw.get("port")?.as_u64()?).ok()?,
            radio_power: raw
                .get("radio_power")
                .and_then(Value::as_str)
                .map(str::to_owned),
            tls_fingerprint: match raw.get("tls_fingerprint") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_str()?.to_ascii_lowercase()),
            },
            name: match raw.get("name") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_str()?.to_owned()),
            },
            restart_needed: raw
                .get("restart_needed")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            raw,
        })
    }
}
