//! A board's client list as the client reads and writes it
//! (`get_clients`, `set_clients`).

use serde_json::{json, Value};

pub use piconet_protocol::action::clients::{Role, MAX_CLIENTS, MAX_CLIENT_NAME};

use crate::known_hosts::Fingerprint;

/// One client a board lets in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientEntry {
    /// Its name on the board (`held_by`, error messages).
    pub name: String,
    /// SHA-256 of its certificate's DER.
    pub sha256: Fingerprint,
    /// What it may do.
    pub role: Role,
    /// The GPIOs an operator may set up and drive; `None`: all.
    pub pins: Option<Vec<u32>>,
}

impl ClientEntry {
    /// The entry as `set_clients` carries it.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "sha256": self.sha256.to_string(),
            "role": self.role.as_str(),
        });
        if let Some(pins) = &self.pins {
            v["pins"] = json!(pins);
        }
        v
    }

    /// An entry of a `get_clients` answer.
    pub fn from_json(v: &Value) -> Option<ClientEntry> {
        let hex = v.get("sha256")?.as_str()?;
        let sha256: Fingerprint = hex.parse().ok()?;
        let pins = match v.get("pins") {
            None | Some(Value::Null) => None,
            Some(list) => Some(
                list.as_array()?
                    .iter()
                    .map(|p| p.as_u64().and_then(|p| u32::try_from(p).ok()))
                    .collect::<Option<Vec<u32>>>()?,
            ),
        };
        Some(ClientEntry {
            name: v.get("name")?.as_str()?.to_owned(),
            sha256,
            role: Role::from_name(v.get("role")?.as_str()?)?,
            pins,
        })
    }

    /// The list of a `get_clients` or `set_clients` answer.
    pub fn list_from_json(v: &Value) -> Option<Vec<ClientEntry>> {
        v.as_array()?.iter().map(ClientEntry::from_json).collect()
    }
}
