//! The words of the GPIO commands: the protocol crate's types, and how the
//! client reads them back from an answer.

pub use piconet_protocol::command::{Level, Mode, Pull};

/// Reads a level the way servers write it: `0`/`1` (the original) or `false`/`true`.
pub(crate) fn level_from_json(value: &serde_json::Value) -> Option<Level> {
    match value {
        serde_json::Value::Bool(b) => Some(Level::from_bool(*b)),
        v => match v.as_u64()? {
            0 => Some(Level::Low),
            1 => Some(Level::High),
            _ => None,
        },
    }
}

/// One configured pin as `get_pins` reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct PinState {
    /// GPIO number.
    pub pin: u32,
    /// `"input"`, `"output"`, and later `"pwm"`, `"adc"`: kept as the
    /// server wrote it, so a newer server's modes still show.
    pub mode: String,
    /// The level read or driven, if the server gave one.
    pub level: Option<Level>,
    /// An output's safe level, which it returns to when its lease ends.
    pub safe: Option<Level>,
    /// An input's pull resistor (`"up"`, `"down"`, `"none"`).
    pub pull: Option<String>,
    /// Milliseconds left on a running lease (absent: no lease).
    pub lease_ms: Option<u64>,
    /// The client identity holding the lease, when clients are authenticated.
    pub held_by: Option<String>,
    /// The whole object, for fields this client does not know.
    pub raw: serde_json::Map<String, serde_json::Value>,
}

impl PinState {
    /// One pin object; `None` without a numeric `pin` and a `mode`.
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        let raw = value.as_object()?;
        let text = |key: &str| raw.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        Some(Self {
            pin: u32::try_from(raw.get("pin")?.as_u64()?).ok()?,
            mode: text("mode")?,
            level: raw.get("level").and_then(level_from_json),
            safe: raw.get("safe").and_then(level_from_json),
            pull: text("pull"),
            lease_ms: raw.get("lease_ms").and_then(|v| v.as_u64()),
            held_by: text("held_by"),
            raw: raw.clone(),
        })
    }

    /// The `pins` array of a `get_pins` answer; `None` if any entry is malformed.
    pub(crate) fn list_from_json(value: &serde_json::Value) -> Option<Vec<Self>> {
        value.as_array()?.iter().map(Self::from_json).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn levels_read_as_servers_write_them() {
        assert_eq!(level_from_json(&json!(0)), Some(Level::Low));
        assert_eq!(level_from_json(&json!(1)), Some(Level::High));
        assert_eq!(level_from_json(&json!(true)), Some(Level::High));
        assert_eq!(level_from_json(&json!(2)), None);
        assert_eq!(level_from_json(&json!("1")), None);
        assert_eq!(level_from_json(&json!(-1)), None);
    }

    #[test]
    fn pins_read_as_protocol_next_writes_them() {
        let pins = PinState::list_from_json(&json!([
            {"pin": 2, "mode": "output", "level": 1, "safe": 0, "lease_ms": 4200},
            {"pin": 5, "mode": "input", "pull": "up", "level": 0, "watched": true},
            {"pin": 26, "mode": "adc"}
        ]))
        .unwrap();
        assert_eq!(pins.len(), 3);
        assert_eq!(pins[0].pin, 2);
        assert_eq!(pins[0].level, Some(Level::High));
        assert_eq!(pins[0].safe, Some(Level::Low));
        assert_eq!(pins[0].lease_ms, Some(4200));
        assert_eq!(pins[1].pull.as_deref(), Some("up"));
        assert_eq!(pins[1].lease_ms, None);
        assert_eq!(pins[1].raw["watched"], json!(true));
        assert_eq!((pins[2].mode.as_str(), pins[2].level), ("adc", None));
        assert!(PinState::list_from_json(&json!([{"mode": "output"}])).is_none());
        assert!(PinState::list_from_json(&json!({"pin": 2})).is_none());
    }

    #[test]
    fn wire_words_are_the_protocols() {
        assert_eq!(Mode::Output.as_str(), "output");
        assert_eq!(Pull::Down.as_str(), "down");
    }
}
