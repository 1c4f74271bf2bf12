//! `get_pins`: every configured pin, in pin order.

use super::tests::Flaky;
use super::*;
use crate::test_board::TestBoard;
use serde_json::{json, Value};
use std::vec::Vec;

fn send<Bd: Board>(e: &mut Engine<Bd>, t: Instant, line: &str) -> Value {
    let mut out = Vec::new();
    e.handle(t, line.as_bytes(), &mut out);
    assert!(out.ends_with(b"\n"));
    serde_json::from_slice(&out).unwrap()
}

fn ok<Bd: Board>(e: &mut Engine<Bd>, t: Instant, line: &str) -> Value {
    let v = send(e, t, line);
    assert!(v.get("error").is_none(), "{line} -> {v}");
    v
}

#[test]
fn no_pin_configured_is_an_empty_list() {
    let mut e = Engine::new(TestBoard::new(), Config::default());
    let t = Instant::from_millis(5);
    let v = ok(&mut e, t, r#"{"action": "get_pins", "id": 3}"#);
    let ts = e.board().timestamp_ns(t);
    assert_eq!(
        v,
        json!({"action": "get_pins", "id": 3, "time_received": ts, "pins": []})
    );
}

#[test]
fn outputs_and_inputs_in_pin_order_with_the_remaining_lease() {
    let mut e = Engine::new(TestBoard::new(), Config::default());
    let t0 = Instant::from_millis(1_000);
    for line in [
        r#"{"action": "setup_pin", "pin": 5, "mode": "input", "pull": "up"}"#,
        r#"{"action": "setup_pin", "pin": 2, "mode": "output", "value": 0}"#,
        r#"{"action": "setup_pin", "pin": 7, "mode": "output", "value": 1}"#,
        r#"{"action": "setup_pin", "pin": 3, "mode": "input"}"#,
        r#"{"action": "write_pin", "pin": 2, "value": 1, "timeout": 5}"#,
    ] {
        ok(&mut e, t0, line);
    }
    // 800 ms later: 4.2 s of the lease remain.
    let t = Instant::from_millis(1_800);
    let v = ok(&mut e, t, r#"{"action": "get_pins"}"#);
    let levels: Vec<u8> = [3, 5]
        .map(|p| e.board().level(p).map_or(0, Level::as_u8))
        .to_vec();
    assert_eq!(
        v["pins"],
        json!([
            {"pin": 2, "mode": "output", "level": 1, "safe": 0, "lease_ms": 4200},
            {"pin": 3, "mode": "input", "pull": "none", "level": levels[0], "watched": false},
            {"pin": 5, "mode": "input", "pull": "up", "level": levels[1], "watched": false},
            {"pin": 7, "mode": "output", "level": 1, "safe": 1},
        ])
    );
    // Once the lease ends the pin is back at its safe level, no lease_ms.
    let v = ok(
        &mut e,
        Instant::from_millis(6_000),
        r#"{"action": "get_pins"}"#,
    );
    assert_eq!(
        v["pins"][0],
        json!({"pin": 2, "mode": "output", "level": 0, "safe": 0})
    );
}

#[test]
fn remaining_lease_rounds_up_and_a_setup_forgets_it() {
    let mut e = Engine::new(TestBoard::new(), Config::default());
    let t0 = Instant::ZERO;
    ok(
        &mut e,
        t0,
        r#"{"action": "setup_pin", "pin": 4, "mode": "output", "value": 0}"#,
    );
    ok(
        &mut e,
        t0,
        r#"{"action": "write_pin", "pin": 4, "value": 1, "timeout": 0.0015}"#,
    );
    let v = ok(&mut e, Instant::from_micros(1), r#"{"action": "get_pins"}"#);
    assert_eq!(v["pins"][0]["lease_ms"], 2);
    ok(
        &mut e,
        t0,
        r#"{"action": "setup_pin", "pin": 4, "mode": "input", "pull": "down"}"#,
    );
    let v = ok(&mut e, Instant::from_micros(2), r#"{"action": "get_pins"}"#);
    assert_eq!(v["pins"][0]["mode"], "input");
    assert_eq!(v["pins"][0]["pull"], "down");
    assert!(v["pins"][0].get("lease_ms").is_none());
}

#[test]
fn a_request_key_named_pins_is_not_echoed_twice() {
    let mut e = Engine::new(TestBoard::new(), Config::default());
    let mut out = Vec::new();
    e.handle(
        Instant::ZERO,
        br#"{"action": "get_pins", "pins": "mine"}"#,
        &mut out,
    );
    let text = std::string::String::from_utf8(out).unwrap();
    assert_eq!(text.matches("\"pins\"").count(), 1, "{text}");
    assert!(text.contains(r#""pins": []"#), "{text}");
}

#[test]
fn a_failing_read_answers_with_the_error_alone() {
    /// Reads fail once `fail` is set (the Flaky board fails writes only).
    struct BadRead(Flaky, bool);
    impl Board for BadRead {
        fn name(&self) -> &str {
            "bad-read"
        }
        fn pin_kind(&self, pin: u32) -> crate::PinKind {
            self.0.pin_kind(pin)
        }
        fn configure(
            &mut self,
            pin: u32,
            mode: crate::Mode,
            pull: crate::Pull,
            initial: Option<Level>,
        ) -> Result<(), crate::BoardError> {
            self.0.configure(pin, mode, pull, initial)
        }
        fn write(&mut self, pin: u32, level: Level) -> Result<(), crate::BoardError> {
            self.0.write(pin, level)
        }
        fn read(&mut self, pin: u32) -> Result<Level, crate::BoardError> {
            if self.1 {
                return Err(crate::BoardError::Io("read failed"));
            }
            self.0.read(pin)
        }
        fn set_status_led(&mut self, _: bool) {}
        fn reset(&mut self) {}
        fn sleep(&mut self, _: u32, _: bool) {}
        fn write_info(
            &mut self,
            _: Instant,
            _: &mut piconet_protocol::response::ObjectWriter<'_>,
        ) -> Result<(), Full> {
            Ok(())
        }
        fn timestamp_ns(&self, now: Instant) -> u64 {
            now.as_nanos()
        }
        fn update_slot(&mut self) -> Option<&mut dyn crate::UpdateSlot> {
            None
        }
        fn settings(&mut self) -> Option<&mut dyn crate::SettingsStore> {
            None
        }
        fn simulated_inputs(&mut self) -> Option<&mut dyn crate::SimulatedInputs> {
            None
        }
        fn pwm(&mut self) -> Option<&mut dyn crate::Pwm> {
            None
        }
        fn adc(&mut self) -> Option<&mut dyn crate::Adc> {
            None
        }
        fn thermometer(&mut self) -> Option<&mut dyn crate::Thermometer> {
            None
        }
        fn i2c(&mut self) -> Option<&mut dyn crate::I2c> {
            None
        }

        fn edge_detection(&mut self) -> Option<&mut dyn crate::EdgeDetection> {
            None
        }
    }
    let mut e = Engine::new(
        BadRead(
            Flaky {
                inner: TestBoard::new(),
                fail_writes: false,
            },
            false,
        ),
        Config::default(),
    );
    ok(
        &mut e,
        Instant::ZERO,
        r#"{"action": "setup_pin", "pin": 2, "mode": "output", "value": 0}"#,
    );
    e.board_mut().1 = true;
    let v = send(&mut e, Instant::ZERO, r#"{"action": "get_pins"}"#);
    assert_eq!(v["exception"], "OSError");
    assert!(v.get("pins").is_none(), "{v}");
}

#[test]
fn get_pins_is_listed_after_the_original_actions_and_before_the_events() {
    let board = TestBoard::new().with_update_slot("1.0.0").with_settings();
    let mut e = Engine::new(board, Config::default());
    let v = ok(&mut e, Instant::ZERO, r#"{"action": "list_actions"}"#);
    let actions = v["actions"].as_array().unwrap();
    assert_eq!(actions[21], "get_pins");
    assert_eq!(actions[22..25], ["watch_pin", "unwatch_pin", "sim_input"]);
    assert_eq!(actions[25..27], ["set_clients", "get_clients"]);
    // Then the PWM, ADC, temperature and I2C actions.
    assert_eq!(
        actions[27..34],
        [
            "write_pwm",
            "read_adc",
            "read_temperature",
            "i2c_setup",
            "i2c_write",
            "i2c_read",
            "i2c_transfer"
        ]
    );
    // Then the board's name and the radio's power mode.
    assert_eq!(actions[34..], ["set_name", "set_radio_power"]);
    assert_eq!(actions.len(), 36);
}
