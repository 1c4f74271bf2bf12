//! PWM: `setup_pin` with `"mode": "pwm"` and `write_pwm` leases.

use super::*;
use crate::board::PwmState;
use crate::test_board::{Event, TestBoard};
use serde_json::{json, Value};
use std::vec::Vec;

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn send<Bd: Board>(e: &mut Engine<Bd>, conn: ConnId, t: Instant, line: &str) -> Value {
    let mut out = Vec::new();
    e.handle_from(t, line.as_bytes(), Peer::network(conn), &mut out);
    assert!(out.ends_with(b"\n"));
    serde_json::from_slice(&out).unwrap()
}

fn ok<Bd: Board>(e: &mut Engine<Bd>, t: Instant, line: &str) -> Value {
    let v = send(e, ConnId(0), t, line);
    assert!(v.get("error").is_none(), "{line} -> {v}");
    v
}

/// The error's class and message.
fn fails<Bd: Board>(e: &mut Engine<Bd>, t: Instant, line: &str) -> (String, String) {
    let v = send(e, ConnId(0), t, line);
    let class = v["exception"]
        .as_str()
        .unwrap_or_else(|| panic!("{line} -> {v}"));
    (class.into(), v["error"].as_str().unwrap().into())
}

use std::string::String;

const SAFE: PwmState = PwmState {
    duty: 0.25,
    frequency: 1000,
};

fn engine() -> Engine<TestBoard> {
    let mut e = Engine::new(TestBoard::new(), Config::default());
    ok(
        &mut e,
        at(0),
        r#"{"action": "setup_pin", "pin": 15, "mode": "pwm", "frequency": 1000, "duty": 0.25}"#,
    );
    e
}

fn pwm(e: &Engine<TestBoard>, pin: u32) -> Option<PwmState> {
    e.board().pwm_state(pin)
}

#[test]
fn setup_starts_the_pin_at_its_safe_state_and_get_pins_shows_it() {
    let mut e = engine();
    assert_eq!(pwm(&e, 15), Some(SAFE));
    assert!(e.board().log().any(|l| l.event
        == Event::Pwm {
            pin: 15,
            state: SAFE
        }));
    let v = ok(&mut e, at(1), r#"{"action": "get_pins"}"#);
    assert_eq!(
        v["pins"],
        json!([{"pin": 15, "mode": "pwm", "frequency": 1000, "duty": 0.25, "safe_duty": 0.25}])
    );
    // The safe duty defaults to 0.
    ok(
        &mut e,
        at(1),
        r#"{"action": "setup_pin", "pin": 2, "mode": "pwm", "frequency": 50}"#,
    );
    assert_eq!(
        pwm(&e, 2),
        Some(PwmState {
            duty: 0.0,
            frequency: 50
        })
    );
}

#[test]
fn a_lease_ends_back_at_the_safe_duty_and_frequency() {
    let mut e = engine();
    let r = ok(
        &mut e,
        at(1_000),
        r#"{"action": "write_pwm", "pin": 15, "duty": 0.75, "frequency": 2000, "timeout": 5}"#,
    );
    // The request is echoed and nothing else is added.
    assert_eq!(r["duty"], 0.75);
    assert!(r.get("raw").is_none());
    let running = PwmState {
        duty: 0.75,
        frequency: 2000,
    };
    assert_eq!(pwm(&e, 15), Some(running));
    assert_eq!(e.next_deadline(), Some(at(6_000)));
    let v = ok(&mut e, at(1_800), r#"{"action": "get_pins"}"#);
    assert_eq!(
        v["pins"][0],
        json!({"pin": 15, "mode": "pwm", "frequency": 2000, "duty": 0.75, "safe_duty": 0.25, "lease_ms": 4200})
    );
    // A write without a frequency keeps the running one.
    ok(
        &mut e,
        at(2_000),
        r#"{"action": "write_pwm", "pin": 15, "duty": 0.5, "timeout": 4}"#,
    );
    assert_eq!(
        pwm(&e, 15),
        Some(PwmState {
            duty: 0.5,
            frequency: 2000
        })
    );
    let mut seen = Vec::new();
    assert_eq!(e.poll_with(at(5_999), |r| seen.push(r)), 0);
    assert_eq!(e.poll_with(at(6_000), |r| seen.push(r)), 1);
    assert_eq!(pwm(&e, 15), Some(SAFE));
    assert_eq!(
        seen,
        [Revert {
            pin: 15,
            safe: Safe::Pwm(SAFE),
            deadline: at(6_000),
            at: at(6_000),
            error: None,
        }]
    );
    assert_eq!((e.leases(), e.next_deadline()), (0, None));
    let v = ok(&mut e, at(6_001), r#"{"action": "get_pins"}"#);
    assert_eq!(
        v["pins"][0],
        json!({"pin": 15, "mode": "pwm", "frequency": 1000, "duty": 0.25, "safe_duty": 0.25})
    );
}

#[test]
fn writing_the_safe_state_ends_the_lease() {
    let mut e = engine();
    ok(
        &mut e,
        at(0),
        r#"{"action": "write_pwm", "pin": 15, "duty": 1, "timeout": 5}"#,
    );
    assert_eq!(e.leases(), 1);
    ok(
        &mut e,
        at(1),
        r#"{"action": "write_pwm", "pin": 15, "duty": 0.25, "frequency": 1000, "timeout": 5}"#,
    );
    assert_eq!((e.leases(), e.next_deadline()), (0, None));
}

#[test]
fn release_on_disconnect_reverts_when_the_writer_goes() {
    let mut e = engine();
    let (a, b) = (ConnId(1), ConnId(2));
    let r = send(
        &mut e,
        a,
        at(0),
        r#"{"action": "write_pwm", "pin": 15, "duty": 0.9, "timeout": 60, "release_on_disconnect": true}"#,
    );
    assert!(r.get("error").is_none(), "{r}");
    // Another connection ending changes nothing.
    assert_eq!(e.disconnected(at(10), b, |_| {}), 0);
    assert_eq!(pwm(&e, 15).map(|s| s.duty), Some(0.9));
    let mut seen = Vec::new();
    assert_eq!(e.disconnected(at(20), a, |r| seen.push(r)), 1);
    assert_eq!(pwm(&e, 15), Some(SAFE));
    assert_eq!(seen[0].safe, Safe::Pwm(SAFE));
    assert_eq!(e.leases(), 0);
    // Without the flag the lease outlives its writer.
    send(
        &mut e,
        a,
        at(30),
        r#"{"action": "write_pwm", "pin": 15, "duty": 0.9, "timeout": 60}"#,
    );
    assert_eq!(e.disconnected(at(40), a, |_| {}), 0);
    assert_eq!(e.leases(), 1);
}

#[test]
fn shutdown_and_reset_leave_the_safe_state() {
    let mut e = engine();
    ok(
        &mut e,
        at(0),
        r#"{"action": "write_pwm", "pin": 15, "duty": 0.5, "timeout": 60}"#,
    );
    let mut seen = Vec::new();
    assert_eq!(e.release_all(at(5), |r| seen.push(r)), 1);
    assert_eq!(pwm(&e, 15), Some(SAFE));
    assert_eq!(seen[0].safe, Safe::Pwm(SAFE));
    ok(
        &mut e,
        at(6),
        r#"{"action": "write_pwm", "pin": 15, "duty": 0.5, "timeout": 60}"#,
    );
    let after = {
        let mut out = Vec::new();
        e.handle(at(7), br#"{"action": "reset"}"#, &mut out)
    };
    e.after_reply(after);
    // The board is as at power-on and the registry forgot the pin.
    assert_eq!((e.leases(), pwm(&e, 15)), (0, None));
    let (class, _) = fails(
        &mut e,
        at(8),
        r#"{"action": "write_pwm", "pin": 15, "duty": 0.5, "timeout": 1}"#,
    );
    assert_eq!(class, "GPIOPinNotSetupError");
}

#[test]
fn a_failed_revert_is_retried() {
    let mut e = engine();
    ok(
        &mut e,
        at(0),
        r#"{"action": "write_pwm", "pin": 15, "duty": 0.5, "timeout": 1}"#,
    );
    e.board_mut().fail_pwm = true;
    let mut seen = Vec::new();
    assert_eq!(e.poll_with(at(1_000), |r| seen.push(r)), 0);
    assert!(seen[0].error.is_some());
    assert_eq!(e.leases(), 1);
    e.board_mut().fail_pwm = false;
    let retry = e.next_deadline().unwrap();
    assert_eq!(e.poll(retry), 1);
    assert_eq!(pwm(&e, 15), Some(SAFE));
}

#[test]
fn setting_the_pin_up_again_ends_pwm_and_its_lease() {
    let mut e = engine();
    ok(
        &mut e,
        at(0),
        r#"{"action": "write_pwm", "pin": 15, "duty": 0.5, "timeout": 60}"#,
    );
    ok(
        &mut e,
        at(1),
        r#"{"action": "setup_pin", "pin": 15, "mode": "output", "value": 0}"#,
    );
    assert_eq!((pwm(&e, 15), e.leases()), (None, 0));
    assert_eq!(e.board().level(15), Some(Level::Low));
    let (class, msg) = fails(
        &mut e,
        at(2),
        r#"{"action": "write_pwm", "pin": 15, "duty": 0.5, "timeout": 1}"#,
    );
    assert_eq!(class, "ValueError");
    assert_eq!(
        msg,
        "pin 15 is not set up for PWM: send setup_pin with \"mode\": \"pwm\" first"
    );
    // And write_pin refuses a PWM pin.
    ok(
        &mut e,
        at(3),
        r#"{"action": "setup_pin", "pin": 14, "mode": "pwm", "frequency": 1000}"#,
    );
    let (class, _) = fails(
        &mut e,
        at(4),
        r#"{"action": "write_pin", "pin": 14, "value": 1, "timeout": 1}"#,
    );
    assert_eq!(class, "ValueError");
    let (_, msg) = fails(&mut e, at(5), r#"{"action": "watch_pin", "pin": 14}"#);
    assert_eq!(
        msg,
        "pin 14 is set up as pwm: set it up with mode \"input\" to watch it"
    );
}

#[test]
fn pins_sharing_a_slice_share_its_frequency() {
    let mut e = engine();
    // 14 and 15 are slice 7's outputs A and B.
    let (class, msg) = fails(
        &mut e,
        at(0),
        r#"{"action": "setup_pin", "pin": 14, "mode": "pwm", "frequency": 2000}"#,
    );
    assert_eq!(class, "ValueError");
    assert_eq!(
        msg,
        "pin 14 shares its PWM slice with pin 15, which runs at 1000 Hz: use that frequency, or set pin 15 up as something else first"
    );
    assert_eq!(pwm(&e, 14), None);
    ok(
        &mut e,
        at(1),
        r#"{"action": "setup_pin", "pin": 14, "mode": "pwm", "frequency": 1000}"#,
    );
    let (class, msg) = fails(
        &mut e,
        at(2),
        r#"{"action": "write_pwm", "pin": 14, "duty": 0.5, "frequency": 3000, "timeout": 1}"#,
    );
    assert_eq!(class, "ValueError");
    assert!(
        msg.starts_with("pin 14 shares its PWM slice with pin 15"),
        "{msg}"
    );
    assert_eq!(e.leases(), 0);
    // Pins 0 and 16 are the same output of slice 0.
    ok(
        &mut e,
        at(3),
        r#"{"action": "setup_pin", "pin": 0, "mode": "pwm", "frequency": 1000}"#,
    );
    let (class, msg) = fails(
        &mut e,
        at(4),
        r#"{"action": "setup_pin", "pin": 16, "mode": "pwm", "frequency": 1000}"#,
    );
    assert_eq!(class, "ValueError");
    assert_eq!(
        msg,
        "pin 16 is driven by the same PWM output as pin 0, which is set up for PWM: set pin 0 up as something else first"
    );
    // Alone on its slice a pin changes frequency freely.
    ok(
        &mut e,
        at(5),
        r#"{"action": "write_pwm", "pin": 0, "duty": 0.5, "frequency": 20000, "timeout": 1}"#,
    );
}

#[test]
fn bad_writes_change_nothing() {
    let mut e = engine();
    for (line, class, text) in [
        (
            r#"{"action": "write_pwm", "pin": 3, "duty": 0.5, "timeout": 1}"#,
            "GPIOPinNotSetupError",
            "pin 3 not setup",
        ),
        (
            r#"{"action": "write_pwm", "pin": 15, "duty": 0.5, "timeout": 0}"#,
            "ValueError",
            "timeout must be a finite number of seconds, more than 0",
        ),
        (
            r#"{"action": "write_pwm", "pin": 15, "duty": 0.5, "timeout": 1e9}"#,
            "ValueError",
            "timeout must be",
        ),
        (
            r#"{"action": "write_pwm", "pin": 23, "duty": 0.5, "timeout": 1}"#,
            "ValueError",
            "pin 23 cannot be used",
        ),
        (
            r#"{"action": "write_pwm", "pin": 15, "duty": 2, "timeout": 1}"#,
            "ValueError",
            "duty must be a number from 0.0",
        ),
        (
            r#"{"action": "setup_pin", "pin": 40, "mode": "pwm", "frequency": 1000}"#,
            "ValueError",
            "pin 40 does not exist",
        ),
    ] {
        let (c, msg) = fails(&mut e, at(0), line);
        assert_eq!(c, class, "{line}");
        assert!(msg.contains(text), "{line}: {msg}");
    }
    assert_eq!((pwm(&e, 15), e.leases()), (Some(SAFE), 0));
}

#[test]
fn a_board_without_pwm_refuses_it_and_does_not_list_it() {
    let mut e = Engine::new(TestBoard::bare(), Config::default());
    let (class, msg) = fails(
        &mut e,
        at(0),
        r#"{"action": "setup_pin", "pin": 15, "mode": "pwm", "frequency": 1000}"#,
    );
    assert_eq!(
        (class.as_str(), msg.as_str()),
        ("OSError", "this board has no PWM outputs")
    );
    let v = ok(&mut e, at(0), r#"{"action": "list_actions"}"#);
    let names: Vec<&str> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for absent in [
        "write_pwm",
        "read_adc",
        "read_temperature",
        "i2c_setup",
        "i2c_write",
        "i2c_read",
        "i2c_transfer",
    ] {
        assert!(!names.contains(&absent), "{absent}");
    }
    assert!(names.contains(&"write_pin") && names.contains(&"sim_input"));
    // Less the 7 above and the 12 of the update slot and settings it
    // lacks too.
    assert_eq!(
        names.len(),
        piconet_protocol::command::ACTIONS.len() - 7 - 12
    );
    // The full board lists every action.
    let mut full = Engine::new(
        TestBoard::new().with_update_slot("1.0.0").with_settings(),
        Config::default(),
    );
    let v = ok(&mut full, at(0), r#"{"action": "list_actions"}"#);
    assert_eq!(
        v["actions"].as_array().unwrap().len(),
        piconet_protocol::command::ACTIONS.len()
    );
}
