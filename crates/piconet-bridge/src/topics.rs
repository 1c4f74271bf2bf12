//! The topic names of one board, as PROTOCOL-NEXT.md ("The MQTT bridge") fixes them.

/// Home Assistant's birth/will topic: `online` there means re-send discovery.
pub const HA_STATUS: &str = "homeassistant/status";

/// The topics of one board under a prefix.
#[derive(Debug, Clone)]
pub struct Topics {
    base: String,
    board: String,
}

impl Topics {
    /// `<prefix>/<board>/...`.
    pub fn new(prefix: &str, board: &str) -> Self {
        Self {
            base: format!("{prefix}/{board}"),
            board: board.to_owned(),
        }
    }

    /// `<prefix>/<board>/status`: retained `online` | `offline`.
    pub fn status(&self) -> String {
        format!("{}/status", self.base)
    }

    /// `<prefix>/<board>/<pin>/state`: retained `ON` | `OFF`.
    pub fn state(&self, pin: u32) -> String {
        format!("{}/{pin}/state", self.base)
    }

    /// `<prefix>/<board>/<pin>/set`: `ON` | `OFF` | `1` | `0`, not retained.
    pub fn set(&self, pin: u32) -> String {
        format!("{}/{pin}/set", self.base)
    }

    /// The subscription matching every `set` topic of the board.
    pub fn set_filter(&self) -> String {
        format!("{}/+/set", self.base)
    }

    /// The pin a `set` topic addresses, if it is one of this board's.
    pub fn pin_of_set(&self, topic: &str) -> Option<u32> {
        let rest = topic.strip_prefix(&self.base)?.strip_prefix('/')?;
        let pin = rest.strip_suffix("/set")?;
        if pin.starts_with('+') {
            return None;
        }
        pin.parse().ok()
    }

    /// `homeassistant/device/piconet_<board>/config`.
    pub fn discovery(&self) -> String {
        format!("homeassistant/device/piconet_{}/config", self.board)
    }
}

/// What a `set` payload asks for: `Some(true)` for ON.
pub fn parse_set(payload: &[u8]) -> Option<bool> {
    match payload.trim_ascii() {
        b"ON" | b"1" => Some(true),
        b"OFF" | b"0" => Some(false),
        _ => None,
    }
}

/// The state payload of a level: `ON` for 1.
pub fn state_payload(high: bool) -> &'static str {
    if high {
        "ON"
    } else {
        "OFF"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_follow_the_contract() {
        let t = Topics::new("piconet", "garden");
        assert_eq!(t.status(), "piconet/garden/status");
        assert_eq!(t.state(2), "piconet/garden/2/state");
        assert_eq!(t.set(2), "piconet/garden/2/set");
        assert_eq!(t.set_filter(), "piconet/garden/+/set");
        assert_eq!(t.pin_of_set("piconet/garden/2/set"), Some(2));
        assert_eq!(t.pin_of_set("piconet/garden/x/set"), None);
        assert_eq!(t.pin_of_set("piconet/garden2/2/set"), None);
        assert_eq!(t.pin_of_set("piconet/garden/2/state"), None);
        assert_eq!(t.discovery(), "homeassistant/device/piconet_garden/config");
    }

    #[test]
    fn set_payloads() {
        assert_eq!(parse_set(b"ON"), Some(true));
        assert_eq!(parse_set(b"1"), Some(true));
        assert_eq!(parse_set(b"OFF\n"), Some(false));
        assert_eq!(parse_set(b"0"), Some(false));
        assert_eq!(parse_set(b"on"), None);
        assert_eq!(parse_set(b"2"), None);
    }
}
