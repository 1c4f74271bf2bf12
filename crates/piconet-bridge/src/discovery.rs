//! Home Assistant MQTT device discovery: one retained payload per board
//! with a `switch` per output and a `binary_sensor` per input.

use serde_json::{json, Map, Value};

use crate::config::Board;
use crate::topics::Topics;

/// The `config` payload of `board` (topic [`Topics::discovery`]).
pub fn payload(board: &Board, topics: &Topics) -> Value {
    let id = format!("piconet_{}", board.name);
    let mut cmps = Map::new();
    for out in &board.outputs {
        let uid = format!("{id}_{}", out.pin);
        cmps.insert(
            uid.clone(),
            json!({
                "p": "switch",
                "name": out.name,
                "unique_id": uid,
                "state_topic": topics.state(out.pin),
                "command_topic": topics.set(out.pin),
                "payload_on": "ON",
                "payload_off": "OFF",
                "state_on": "ON",
                "state_off": "OFF",
                // The state topic reports the board, not the command:
                // Home Assistant waits for it instead of assuming.
                "optimistic": false,
            }),
        );
    }
    for input in &board.inputs {
        let uid = format!("{id}_{}", input.pin);
        cmps.insert(
            uid.clone(),
            json!({
                "p": "binary_sensor",
                "name": input.name,
                "unique_id": uid,
                "state_topic": topics.state(input.pin),
                "payload_on": "ON",
                "payload_off": "OFF",
            }),
        );
    }
    json!({
        "dev": {
            "ids": [id],
            "name": board.name,
            "mf": "piconet",
            "mdl": "piconet board",
        },
        "o": {
            "name": "piconet-bridge",
            "sw": env!("CARGO_PKG_VERSION"),
        },
        "availability_topic": topics.status(),
        "payload_available": "online",
        "payload_not_available": "offline",
        "qos": 1,
        "cmps": cmps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BridgeConfig;

    /// Home Assistant's documented requirements for a device discovery
    /// payload (home-assistant.io/integrations/mqtt, "Device discovery
    /// payload"): the root must hold the `device` (`dev`) and `origin` (`o`)
    /// mappings, the components go under `components` (`cmps`), and each
    /// component needs its `platform` (`p`) and, being entity based, a
    /// `unique_id`. An origin needs a `name`; a device needs `identifiers`
    /// (`ids`) or `connections` to be a device at all. The MQTT switch
    /// requires `command_topic`; the MQTT binary sensor requires
    /// `state_topic`. Availability (shared option) is `availability_topic`
    /// with its payloads.
    const ROOT_REQUIRED: [&str; 3] = ["dev", "o", "cmps"];
    const ORIGIN_REQUIRED: [&str; 1] = ["name"];
    const COMPONENT_REQUIRED: [&str; 2] = ["p", "unique_id"];
    const SWITCH_REQUIRED: [&str; 1] = ["command_topic"];
    const BINARY_SENSOR_REQUIRED: [&str; 1] = ["state_topic"];

    fn has(obj: &Value, keys: &[&str]) {
        for key in keys {
            assert!(obj.get(key).is_some(), "missing {key:?} in {obj}");
        }
    }

    #[test]
    fn payload_has_home_assistants_required_keys() {
        let config = BridgeConfig::parse(
            r#"
            [broker]
            url = "mqtt://127.0.0.1"
            [[boards]]
            name = "garden"
            address = "127.0.0.1:12345"
            outputs = [{ pin = 2, name = "valve", safe = 0, lease_s = 10 },
                       { pin = 3, name = "pump", safe = 1, lease_s = 30 }]
            inputs = [{ pin = 5, name = "button", pull = "up" }]
            "#,
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        let board = &config.boards[0];
        let topics = Topics::new("piconet", "garden");
        let p = payload(board, &topics);
        has(&p, &ROOT_REQUIRED);
        has(&p["o"], &ORIGIN_REQUIRED);
        assert_eq!(p["dev"]["ids"], json!(["piconet_garden"]));
        assert_eq!(p["availability_topic"], "piconet/garden/status");
        let cmps = p["cmps"].as_object().unwrap();
        assert_eq!(cmps.len(), 3);
        let mut ids = std::collections::BTreeSet::new();
        for (key, c) in cmps {
            has(c, &COMPONENT_REQUIRED);
            assert!(ids.insert(c["unique_id"].as_str().unwrap().to_owned()));
            assert_eq!(key, c["unique_id"].as_str().unwrap());
            match c["p"].as_str().unwrap() {
                "switch" => has(c, &SWITCH_REQUIRED),
                "binary_sensor" => {
                    has(c, &BINARY_SENSOR_REQUIRED);
                    assert!(c.get("command_topic").is_none());
                }
                other => panic!("unexpected platform {other}"),
            }
        }
        let valve = &cmps["piconet_garden_2"];
        assert_eq!(valve["p"], "switch");
        assert_eq!(valve["state_topic"], "piconet/garden/2/state");
        assert_eq!(valve["command_topic"], "piconet/garden/2/set");
        assert_eq!(cmps["piconet_garden_5"]["p"], "binary_sensor");
        assert_eq!(
            cmps["piconet_garden_5"]["state_topic"],
            "piconet/garden/5/state"
        );
    }
}
