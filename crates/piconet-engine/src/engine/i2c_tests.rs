//! I2C: `i2c_setup`, `i2c_write`, `i2c_read`, `i2c_transfer` against the
//! test board's memory at 0x50.

use super::test_lines::{fails, ok};
use super::*;
use crate::test_board::TestBoard;
use serde_json::json;
use std::vec::Vec;

fn bus0() -> Engine<TestBoard> {
    let mut e = Engine::new(TestBoard::new(), Config::default());
    ok(
        &mut e,
        r#"{"action": "i2c_setup", "bus": 0, "sda": 4, "scl": 5, "frequency": 400000}"#,
    );
    e
}

#[test]
fn writes_are_read_back_through_the_pointer() {
    let mut e = bus0();
    let v = ok(
        &mut e,
        r#"{"action": "i2c_write", "bus": 0, "address": 80, "data": [16, 1, 2, 3]}"#,
    );
    assert!(v.get("time_received").is_some());
    assert_eq!(&e.board().memory()[16..19], &[1, 2, 3]);
    let v = ok(
        &mut e,
        r#"{"action": "i2c_transfer", "bus": 0, "address": 80, "write": [16], "count": 4}"#,
    );
    assert_eq!(v["data"], json!([1, 2, 3, 255]));
    assert_eq!(v["write"], json!([16]));
    // A plain read goes on from where the last one ended.
    let v = ok(
        &mut e,
        r#"{"action": "i2c_read", "bus": 0, "address": 80, "count": 2}"#,
    );
    assert_eq!(v["data"], json!([255, 255]));
    // 256 bytes, the most, in one read.
    let v = ok(
        &mut e,
        r#"{"action": "i2c_read", "bus": 0, "address": 80, "count": 256}"#,
    );
    assert_eq!(v["data"].as_array().unwrap().len(), 256);
}

#[test]
fn get_pins_shows_the_bus_pins() {
    let mut e = bus0();
    let v = ok(&mut e, r#"{"action": "get_pins"}"#);
    assert_eq!(
        v["pins"],
        json!([
            {"pin": 4, "mode": "i2c", "bus": 0, "line": "sda", "frequency": 400000},
            {"pin": 5, "mode": "i2c", "bus": 0, "line": "scl", "frequency": 400000},
        ])
    );
}

#[test]
fn no_answer_and_bus_errors_are_os_errors_with_the_address() {
    let mut e = bus0();
    let (c, msg) = fails(
        &mut e,
        r#"{"action": "i2c_read", "bus": 0, "address": 81, "count": 1}"#,
    );
    assert_eq!(
        (c.as_str(), msg.as_str()),
        ("OSError", "no device answered at address 0x51 on i2c bus 0")
    );
    e.board_mut().fail_i2c = true;
    let (c, msg) = fails(
        &mut e,
        r#"{"action": "i2c_write", "bus": 0, "address": 80, "data": [0, 9]}"#,
    );
    assert_eq!(
        (c.as_str(), msg.as_str()),
        ("OSError", "i2c bus 0, address 0x50: arbitration lost")
    );
    assert_eq!(e.board().memory()[0], 0xff);
}

#[test]
fn setup_checks_the_bus_and_its_pins() {
    let mut e = Engine::new(TestBoard::new(), Config::default());
    for (line, class, text) in [
        (
            r#"{"action": "i2c_write", "bus": 0, "address": 80, "data": [0]}"#,
            "ValueError",
            "i2c bus 0 is not set up: send i2c_setup first",
        ),
        (
            r#"{"action": "i2c_setup", "bus": 0, "sda": 6, "scl": 5}"#,
            "ValueError",
            "pin 6 cannot be sda of i2c bus 0: it must be one of pins 0, 4, 8, 12, 16, 20, 28",
        ),
        (
            r#"{"action": "i2c_setup", "bus": 1, "sda": 2, "scl": 2}"#,
            "ValueError",
            "pin 2 cannot be scl of i2c bus 1: it must be one of pins 3, 7, 11, 15, 19, 27",
        ),
        (
            r#"{"action": "i2c_setup", "bus": 0, "sda": 24, "scl": 5}"#,
            "ValueError",
            "pin 24 cannot be used: it is the WiFi chip's SPI data line (CYW43)",
        ),
    ] {
        let (c, msg) = fails(&mut e, line);
        assert_eq!(c, class, "{line}");
        assert_eq!(msg, text, "{line}");
    }
    let v = ok(&mut e, r#"{"action": "get_pins"}"#);
    assert_eq!(v["pins"], json!([]));
    let mut bare = Engine::new(TestBoard::bare(), Config::default());
    let (c, msg) = fails(
        &mut bare,
        r#"{"action": "i2c_setup", "bus": 0, "sda": 4, "scl": 5}"#,
    );
    assert_eq!(
        (c.as_str(), msg.as_str()),
        ("OSError", "this board has no I2C buses")
    );
}

#[test]
fn taking_a_bus_pin_for_something_else_ends_the_bus() {
    let mut e = bus0();
    ok(
        &mut e,
        r#"{"action": "setup_pin", "pin": 5, "mode": "output"}"#,
    );
    let (c, _) = fails(
        &mut e,
        r#"{"action": "i2c_read", "bus": 0, "address": 80, "count": 1}"#,
    );
    assert_eq!(c, "ValueError");
    // The other line is free again.
    let v = ok(&mut e, r#"{"action": "get_pins"}"#);
    assert_eq!(v["pins"].as_array().unwrap().len(), 1);
    assert_eq!(v["pins"][0]["pin"], 5);
    // Moving a bus to other pins frees the old ones.
    ok(
        &mut e,
        r#"{"action": "i2c_setup", "bus": 0, "sda": 4, "scl": 1}"#,
    );
    ok(
        &mut e,
        r#"{"action": "i2c_setup", "bus": 0, "sda": 8, "scl": 9}"#,
    );
    let v = ok(&mut e, r#"{"action": "get_pins"}"#);
    let pins: Vec<u64> = v["pins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pin"].as_u64().unwrap())
        .collect();
    assert_eq!(pins, [5, 8, 9]);
    // A reset forgets the bus.
    let mut out = Vec::new();
    let after = e.handle(Instant::ZERO, br#"{"action": "reset"}"#, &mut out);
    e.after_reply(after);
    let (c, _) = fails(
        &mut e,
        r#"{"action": "i2c_read", "bus": 0, "address": 80, "count": 1}"#,
    );
    assert_eq!(c, "ValueError");
}
