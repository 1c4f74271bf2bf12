//! What the update actions answer: the board's `update` status object.

use serde_json::{Map, Value};

use crate::error::Error;
use crate::response::Response;

/// The `update` object of an update action's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateStatus {
    /// `idle`, `receiving`, `ready`, ...
    pub state: String,
    /// The size of the image being received (0 when idle).
    pub size: u64,
    /// Where the next chunk goes: an interrupted upload resumes here.
    pub next_offset: u64,
    /// SHA-256 (hex) of the image being received.
    pub sha256: Option<String>,
    /// The version the image being received carries.
    pub version: Option<String>,
    /// The version the board runs.
    pub running_version: Option<String>,
    /// How the last update ended: `none`, `updated`, `rolled_back`, ...
    pub last: Option<String>,
    /// The whole object, for fields added later.
    pub raw: Map<String, Value>,
}

impl UpdateStatus {
    /// Reads the status from an update action's answer.
    pub(crate) fn of(answer: &Response) -> Result<Self, Error> {
        let raw = answer.field("update", |v| v.as_object().cloned())?;
        let text = |key: &str| raw.get(key).and_then(Value::as_str).map(str::to_owned);
        let number = |key: &str| raw.get(key).and_then(Value::as_u64).unwrap_or(0);
        Ok(Self {
            state: text("state").unwrap_or_default(),
            size: number("size"),
            next_offset: number("next_offset"),
            sha256: text("sha256"),
            version: text("version"),
            running_version: text("running_version"),
            last: text("last"),
            raw,
        })
    }

    /// Whether the board is receiving exactly the image of this size and SHA-256 (hex).
    pub fn is_receiving(&self, size: u64, sha256_hex: &str) -> bool {
        self.state == "receiving" && self.size == size && self.sha256.as_deref() == Some(sha256_hex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_status_reads_its_fields_and_knows_its_image() {
        let answer = Response::from_raw(
            json!({"action": "update_status", "update": {"state": "receiving", "size": 4096,
                "next_offset": 2048, "sha256": "ab", "running_version": "0.4.0", "last": "none"}})
            .as_object()
            .unwrap()
            .clone(),
        );
        let status = UpdateStatus::of(&answer).unwrap();
        assert_eq!(status.next_offset, 2048);
        assert_eq!(status.running_version.as_deref(), Some("0.4.0"));
        assert!(status.is_receiving(4096, "ab"));
        assert!(!status.is_receiving(4096, "cd"));
        let none = Response::from_raw(
            json!({"action": "update_status"})
                .as_object()
                .unwrap()
                .clone(),
        );
        assert!(matches!(
            UpdateStatus::of(&none),
            Err(Error::MissingField {
                field: "update",
                ..
            })
        ));
    }
}
