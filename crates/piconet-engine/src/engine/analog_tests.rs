//! The ADC (`setup_pin` with `"mode": "adc"`, `read_adc`, `sim_input`
//! volts) and `read_temperature`.

use super::test_lines::{fails, ok};
use super::*;
use crate::test_board::TestBoard;
use serde_json::json;
use std::string::String;
use std::vec::Vec;

fn adc_engine() -> Engine<TestBoard> {
    let mut e = Engine::new(TestBoard::new(), Config::default());
    ok(
        &mut e,
        r#"{"action": "setup_pin", "pin": 26, "mode": "adc"}"#,
    );
    e
}

#[test]
fn read_adc_converts_the_applied_voltage() {
    let mut e = adc_engine();
    let v = ok(&mut e, r#"{"action": "read_adc", "pin": 26, "id": 1}"#);
    assert_eq!(
        (v["raw"].as_u64(), v["volts"].as_f64()),
        (Some(0), Some(0.0))
    );
    assert_eq!(v["id"], 1);
    ok(
        &mut e,
        r#"{"action": "sim_input", "pin": 26, "volts": 1.65}"#,
    );
    let v = ok(&mut e, r#"{"action": "read_adc", "pin": 26}"#);
    // 1.65 V of 3.3 V is half of 4095 steps, rounded up.
    assert_eq!(v["raw"], 2048);
    assert_eq!(v["volts"], json!(1.650403));
    ok(
        &mut e,
        r#"{"action": "sim_input", "pin": 26, "volts": 3.6}"#,
    );
    let v = ok(&mut e, r#"{"action": "read_adc", "pin": 26}"#);
    assert_eq!(
        (v["raw"].as_u64(), v["volts"].as_f64()),
        (Some(4095), Some(3.3))
    );
    let v = ok(&mut e, r#"{"action": "get_pins"}"#);
    assert_eq!(v["pins"], json!([{"pin": 26, "mode": "adc"}]));
}

#[test]
fn adc_errors_name_the_pin_and_the_way_out() {
    let mut e = adc_engine();
    ok(
        &mut e,
        r#"{"action": "setup_pin", "pin": 2, "mode": "output"}"#,
    );
    for (line, class, text) in [
        (
            r#"{"action": "setup_pin", "pin": 5, "mode": "adc"}"#,
            "ValueError",
            "pin 5 has no ADC input: the ADC pins on this board are 26, 27, 28",
        ),
        (
            r#"{"action": "read_adc", "pin": 27}"#,
            "GPIOPinNotSetupError",
            "pin 27 not setup: send setup_pin first",
        ),
        (
            r#"{"action": "read_adc", "pin": 2}"#,
            "ValueError",
            "pin 2 is not set up as an ADC input: send setup_pin with \"mode\": \"adc\" first",
        ),
        (
            r#"{"action": "read_adc", "pin": 29}"#,
            "ValueError",
            "pin 29 cannot be used: it is the WiFi chip's SPI clock (CYW43)",
        ),
        (
            r#"{"action": "sim_input", "pin": 2, "volts": 1.0}"#,
            "ValueError",
            "pin 2: volts needs a pin in adc mode: set it up with \"mode\": \"adc\" first, or apply a level with \"value\"",
        ),
        (
            r#"{"action": "watch_pin", "pin": 26}"#,
            "ValueError",
            "pin 26 is set up as adc: set it up with mode \"input\" to watch it",
        ),
    ] {
        let (c, msg) = fails(&mut e, line);
        assert_eq!(c, class, "{line}");
        assert_eq!(msg, text, "{line}");
    }
    // An ADC pin set up as an input stops being one.
    ok(
        &mut e,
        r#"{"action": "setup_pin", "pin": 26, "mode": "input"}"#,
    );
    let (c, _) = fails(&mut e, r#"{"action": "read_adc", "pin": 26}"#);
    assert_eq!(c, "ValueError");
}

#[test]
fn volts_are_refused_on_a_real_board_and_adc_on_a_board_without() {
    let mut real = Engine::new(TestBoard::real(), Config::default());
    ok(
        &mut real,
        r#"{"action": "setup_pin", "pin": 26, "mode": "adc"}"#,
    );
    let (c, _) = fails(
        &mut real,
        r#"{"action": "sim_input", "pin": 26, "volts": 1.0}"#,
    );
    assert_eq!(c, "OSError");
    let mut bare = Engine::new(TestBoard::bare(), Config::default());
    let (c, msg) = fails(
        &mut bare,
        r#"{"action": "setup_pin", "pin": 26, "mode": "adc"}"#,
    );
    assert_eq!(
        (c.as_str(), msg.as_str()),
        ("OSError", "this board has no ADC inputs")
    );
    let (c, msg) = fails(&mut bare, r#"{"action": "read_temperature"}"#);
    assert_eq!(
        (c.as_str(), msg.as_str()),
        ("OSError", "this board has no temperature sensor")
    );
}

#[test]
fn read_temperature_reports_celsius() {
    let mut e = Engine::new(TestBoard::new(), Config::default());
    let v = ok(&mut e, r#"{"action": "read_temperature", "id": 9}"#);
    assert_eq!(
        (v["celsius"].as_f64(), v["id"].as_u64()),
        (Some(27.0), Some(9))
    );
    // Written as a float, as Python's json does.
    let mut out = Vec::new();
    e.handle(
        Instant::ZERO,
        br#"{"action": "read_temperature"}"#,
        &mut out,
    );
    assert!(String::from_utf8(out)
        .unwrap()
        .contains(r#""celsius": 27.0}"#));
    e.board_mut().celsius = -5.5;
    let v = ok(&mut e, r#"{"action": "read_temperature"}"#);
    assert_eq!(v["celsius"], json!(-5.5));
}
