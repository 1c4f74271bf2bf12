use super::*;
use crate::board::{Mode, PinKind};
use crate::test_board::{Event, TestBoard};
use piconet_protocol::command::ACTIONS;
use piconet_protocol::framing::{Frame, LineDecoder};
use piconet_protocol::response::ObjectWriter;
use serde_json::{json, Value};
use std::string::String;
use std::vec::Vec;

struct Harness {
    engine: Engine<TestBoard>,
    now: Instant,
}

impl Harness {
    fn new() -> Self {
        Harness {
            engine: Engine::new(TestBoard::new(), Config::default()),
            now: Instant::from_millis(1_000),
        }
    }

    fn raw(&mut self, line: &str) -> (String, After) {
        let mut out = Vec::new();
        let after = self.engine.handle(self.now, line.as_bytes(), &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with('\n'), "{text}");
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        (text, after)
    }

    fn send(&mut self, line: &str) -> Value {
        let (text, _) = self.raw(line);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn ok(&mut self, line: &str) -> Value {
        let r = self.send(line);
        assert!(r.get("error").is_none(), "{line} -> {r}");
        r
    }

    fn err(&mut self, line: &str) -> (String, String) {
        let r = self.send(line);
        (
            r["exception"]
                .as_str()
                .unwrap_or_else(|| panic!("{line} -> {r}"))
                .into(),
            r["error"].as_str().unwrap().into(),
        )
    }

    fn advance(&mut self, ms: u64) {
        self.now = self.now + Duration::from_millis(ms);
    }

    fn level(&self, pin: u32) -> Option<u8> {
        self.engine.board().level(pin).map(Level::as_u8)
    }

    fn output(&mut self, pin: u32, value: u8) {
        self.ok(&format!(
            r#"{{"action": "setup_pin", "pin": {pin}, "mode": "output", "value": {value}}}"#
        ));
    }

    fn write(&mut self, pin: u32, value: u8, timeout: f64) -> Value {
        self.send(&format!(
            r#"{{"action": "write_pin", "pin": {pin}, "value": {value}, "timeout": {timeout}}}"#
        ))
    }
}

#[test]
fn every_action_answers_with_the_echo_and_its_fields() {
    let mut h = Harness::new();
    let t = h.engine.board().timestamp_ns(h.now);
    let r = h.ok(r#"{"action": "setup_pin", "pin": 2, "mode": "output", "value": 0, "time_sent": 7, "tag": {"x": [1]}}"#);
    assert_eq!(
        r,
        json!({"action": "setup_pin", "pin": 2, "mode": "output", "value": 0, "time_sent": 7, "tag": {"x": [1]}, "time_received": t})
    );
    let r = h.ok(r#"{"action": "read_pin", "pin": "2"}"#);
    assert_eq!(
        r,
        json!({"action": "read_pin", "pin": "2", "time_received": t, "value": 0})
    );
    let r = h.ok(r#"{"action": "write_pin", "pin": 2, "value": 1, "timeout": 5}"#);
    assert_eq!(r["timeout"], json!(5));
    assert_eq!(h.ok(r#"{"action": "read_pin", "pin": 2}"#)["value"], 1);
    h.ok(r#"{"action": "setup_pin", "pin": 3, "mode": "input", "pull": "up"}"#);
    assert_eq!(h.ok(r#"{"action": "read_pin", "pin": 3}"#)["value"], 1);
    assert_eq!(
        h.ok(r#"{"action": "ping", "time_sent": 1}"#),
        json!({"action": "ping", "time_sent": 1, "time_received": t})
    );
    assert_eq!(
        h.ok(r#"{"action": "get_version"}"#)["version"],
        env!("CARGO_PKG_VERSION")
    );
    // A board without an update slot or settings does not list their
    // actions (they would answer OSError); one with both lists them all.
    let actions = h.ok(r#"{"action": "list_actions"}"#)["actions"].clone();
    let storage = [
        "update_begin",
        "update_chunk",
        "update_status",
        "update_finish",
        "set_wifi",
        "set_port",
        "set_tls",
        "clear_tls",
        "clear_config",
        "get_config",
        "set_name",
        "set_radio_power",
    ];
    let without: Vec<&str> = ACTIONS
        .iter()
        .copied()
        .filter(|a| !storage.contains(a))
        .collect();
    assert_eq!(actions, json!(without));
    let mut full = Engine::new(
        TestBoard::new().with_update_slot("1.0.0").with_settings(),
        Config::default(),
    );
    let mut out = Vec::new();
    full.handle(h.now, br#"{"action": "list_actions"}"#, &mut out);
    let answer: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(answer["actions"], json!(ACTIONS));
    for name in ["get_info", "get_resource_info"] {
        let info = h.ok(&format!(r#"{{"action": "{name}"}}"#))["info"].clone();
        assert!(info["board"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("pico"));
        assert_eq!(info["leases_active"], 1);
        assert_eq!(info["pins_configured"], 2);
        assert_eq!(info["max_lease_s"], 86400);
        assert_eq!(info["simulated"], true);
        assert_eq!(info["lease_reverts"]["count"], 0);
    }
    let (text, after) = h.raw(r#"{"action": "reset"}"#);
    assert_eq!(after, After::Reset);
    assert!(text.contains("time_received"));
    let (_, after) = h.raw(r#"{"action": "sleep", "time_ms": 10, "deep": 0}"#);
    assert_eq!(
        after,
        After::Sleep {
            ms: 10,
            deep: false
        }
    );
}

#[test]
fn server_keys_in_the_request_are_replaced_not_duplicated() {
    let mut h = Harness::new();
    h.output(4, 1);
    let (text, _) =
        h.raw(r#"{"action": "read_pin", "pin": 4, "value": 9, "time_received": 3, "error": "x"}"#);
    assert_eq!(text.matches("\"value\"").count(), 1, "{text}");
    assert_eq!(text.matches("\"time_received\"").count(), 1, "{text}");
    // A success keeps a request's unrelated "error" field verbatim.
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["value"], 1);
    assert_eq!(r["error"], "x");
    let (text, _) = h.raw(r#"{"action": "read_pin", "pin": 9, "error": "mine", "exception": 1}"#);
    assert_eq!(text.matches("\"error\"").count(), 1, "{text}");
    assert_eq!(text.matches("\"exception\"").count(), 1, "{text}");
}

#[test]
fn every_error_has_its_class_and_changes_nothing() {
    let table: &[(&str, &str, &str)] = &[
        ("{not json", "ValueError", "invalid JSON"),
        (r#"{"pin": 2}"#, "KeyError", "action"),
        (
            r#"{"action": "dance"}"#,
            "ValueError",
            "unknown action \"dance\"",
        ),
        (
            r#"{"action": "read_pin", "pin": 5}"#,
            "GPIOPinNotSetupError",
            "pin 5 not setup",
        ),
        (
            r#"{"action": "write_pin", "pin": 5, "value": 1, "timeout": 1}"#,
            "GPIOPinNotSetupError",
            "pin 5 not setup",
        ),
        (
            r#"{"action": "write_pin", "pin": 6, "value": 1, "timeout": 1}"#,
            "ValueError",
            "pin 6 is an input",
        ),
        (
            r#"{"action": "setup_pin", "pin": 23, "mode": "output"}"#,
            "ValueError",
            "pin 23 cannot be used: it powers the WiFi chip",
        ),
        (
            r#"{"action": "setup_pin", "pin": 24, "mode": "input"}"#,
            "ValueError",
            "pin 24 cannot be used",
        ),
        (
            r#"{"action": "setup_pin", "pin": 25, "mode": "input"}"#,
            "ValueError",
            "pin 25 cannot be used",
        ),
        (
            r#"{"action": "read_pin", "pin": 29}"#,
            "ValueError",
            "pin 29 cannot be used",
        ),
        (
            r#"{"action": "read_pin", "pin": 30}"#,
            "ValueError",
            "pin 30 does not exist",
        ),
        (
            r#"{"action": "read_pin", "pin": 4000000000}"#,
            "ValueError",
            "pin 4000000000 does not exist",
        ),
        (
            r#"{"action": "read_pin", "pin": -3}"#,
            "ValueError",
            "pin must be",
        ),
        (
            r#"{"action": "setup_pin", "pin": 7, "mode": "input", "value": 1}"#,
            "ValueError",
            "value applies to outputs only",
        ),
        (
            r#"{"action": "write_pin", "pin": 2, "value": 0, "timeout": 0}"#,
            "ValueError",
            "timeout must be a finite number",
        ),
        (
            r#"{"action": "write_pin", "pin": 2, "value": 0, "timeout": -1}"#,
            "ValueError",
            "timeout must be",
        ),
        (
            r#"{"action": "write_pin", "pin": 2, "value": 0, "timeout": NaN}"#,
            "ValueError",
            "NaN and Infinity are not valid JSON",
        ),
        (
            r#"{"action": "write_pin", "pin": 2, "value": 0, "timeout": "nan"}"#,
            "ValueError",
            "timeout must be",
        ),
        (
            r#"{"action": "write_pin", "pin": 2, "value": 0, "timeout": "inf"}"#,
            "ValueError",
            "timeout must be",
        ),
        (
            r#"{"action": "write_pin", "pin": 2, "value": 0, "timeout": 86400.5}"#,
            "ValueError",
            "at most 86400",
        ),
        (
            r#"{"action": "write_pin", "pin": 2, "value": 0, "timeout": 1e300}"#,
            "ValueError",
            "timeout must be",
        ),
        (
            r#"{"action": "write_pin", "pin": 2, "value": 0}"#,
            "ValueError",
            "missing fields: timeout",
        ),
        (
            r#"{"action": "update", "files": {}, "compress": true}"#,
            "ValueError",
            "update by copying files is not supported",
        ),
    ];
    for (line, class, text) in table {
        let mut h = Harness::new();
        h.output(2, 1);
        h.ok(r#"{"action": "setup_pin", "pin": 6, "mode": "input"}"#);
        let log_before = h.engine.board().log().len();
        let (c, m) = h.err(line);
        assert_eq!(&c, class, "{line}: {m}");
        assert!(m.contains(text), "{line}: {m}");
        assert_eq!(
            h.engine.board().log().len(),
            log_before,
            "{line} changed the board"
        );
        assert_eq!(h.engine.next_deadline(), None, "{line}");
        assert_eq!(h.level(2), Some(1));
    }
}

#[test]
fn a_timeout_beyond_f64_is_refused() {
    // 1e400 is valid JSON that parses to infinity; serde_json cannot read
    // the echo back, so check the raw text.
    let mut h = Harness::new();
    h.output(2, 0);
    let (text, _) = h.raw(r#"{"action": "write_pin", "pin": 2, "value": 1, "timeout": 1e400}"#);
    assert!(text.contains("timeout must be a finite number"), "{text}");
    assert_eq!(h.level(2), Some(0));
}

#[test]
fn errors_echo_the_command_without_time_received_like_the_original() {
    let mut h = Harness::new();
    let r = h.send(r#"{"action": "read_pin", "pin": 5, "time_sent": 11}"#);
    assert_eq!(r["action"], "read_pin");
    assert_eq!(r["time_sent"], 11);
    assert!(r.get("time_received").is_none());
    let r = h.send("garbage");
    assert_eq!(r.as_object().unwrap().len(), 2, "{r}");
}

#[test]
fn lease_reverts_exactly_at_its_deadline() {
    let mut h = Harness::new();
    h.output(2, 0);
    let start = h.now;
    h.write(2, 1, 0.25);
    let deadline = start + Duration::from_millis(250);
    assert_eq!(h.engine.next_deadline(), Some(deadline));
    assert_eq!(
        h.engine.poll(Instant::from_nanos(deadline.as_nanos() - 1)),
        0
    );
    assert_eq!(h.level(2), Some(1));
    let mut seen = Vec::new();
    assert_eq!(h.engine.poll_with(deadline, |r| seen.push(r)), 1);
    assert_eq!(h.level(2), Some(0));
    assert_eq!(
        seen,
        [Revert {
            pin: 2,
            safe: Safe::Level(Level::Low),
            deadline,
            at: deadline,
            error: None
        }]
    );
    assert_eq!(h.engine.next_deadline(), None);
}

#[test]
fn safe_state_is_the_setup_value_not_the_opposite_of_the_write() {
    // The original reverted to 1 - value, and skipped pins already at value.
    let mut h = Harness::new();
    h.output(2, 1);
    h.write(2, 0, 1.0);
    h.advance(1000);
    h.engine.poll(h.now);
    assert_eq!(h.level(2), Some(1));
}

#[test]
fn setup_without_value_keeps_the_current_level_as_safe() {
    let mut h = Harness::new();
    h.output(2, 1);
    h.ok(r#"{"action": "setup_pin", "pin": 2, "mode": "output"}"#);
    h.write(2, 0, 1.0);
    h.advance(1000);
    h.engine.poll(h.now);
    assert_eq!(h.level(2), Some(1));
}

#[test]
fn a_second_write_replaces_the_deadline() {
    let mut h = Harness::new();
    h.output(2, 0);
    h.write(2, 1, 1.0);
    h.advance(500);
    h.write(2, 1, 1.0);
    h.advance(600); // past the first deadline, before the second
    h.engine.poll(h.now);
    assert_eq!(h.level(2), Some(1), "the first timer must not fire");
    h.advance(400);
    h.engine.poll(h.now);
    assert_eq!(h.level(2), Some(0));
}

#[test]
fn writing_the_safe_value_ends_the_lease() {
    let mut h = Harness::new();
    h.output(2, 0);
    h.write(2, 1, 1.0);
    h.write(2, 0, 1.0);
    assert_eq!(h.engine.next_deadline(), None);
    assert_eq!(h.level(2), Some(0));
}

#[test]
fn setup_again_cancels_the_lease() {
    let mut h = Harness::new();
    h.output(2, 0);
    h.write(2, 1, 1.0);
    h.output(2, 1);
    assert_eq!(h.engine.next_deadline(), None);
    h.advance(5000);
    h.engine.poll(h.now);
    assert_eq!(h.level(2), Some(1));
}

#[test]
fn a_read_after_the_deadline_sees_the_revert_even_without_a_poll() {
    let mut h = Harness::new();
    h.output(2, 0);
    h.write(2, 1, 0.1);
    h.advance(100);
    assert_eq!(h.ok(r#"{"action": "read_pin", "pin": 2}"#)["value"], 0);
}

#[test]
fn twenty_six_leases_expiring_together_revert_in_deadline_order() {
    let mut h = Harness::new();
    let pins: Vec<u32> = crate::pico::usable_pins().collect();
    assert_eq!(pins.len(), 26);
    // Later pins get earlier deadlines, so deadline order differs from pin order.
    for (i, &pin) in pins.iter().enumerate() {
        h.output(pin, 0);
        h.write(pin, 1, 0.5 - i as f64 * 0.01);
    }
    assert_eq!(h.engine.leases(), 26);
    h.advance(10_000);
    let mut order = Vec::new();
    assert_eq!(
        h.engine
            .poll_with(h.now, |r| order.push((r.deadline, r.pin))),
        26
    );
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    assert_eq!(order.first().unwrap().1, 28);
    // Polled 10 s after the deadlines: every revert was late, and says so.
    assert_eq!(h.engine.lateness().count(), 26);
    assert!(h.engine.lateness().percentile_us(50.0) > 9_000_000);
    for &pin in &pins {
        assert_eq!(h.level(pin), Some(0), "pin {pin}");
    }
    assert_eq!(h.engine.next_deadline(), None);
}

#[test]
fn max_lease_is_accepted_and_configurable() {
    let mut h = Harness::new();
    h.output(2, 0);
    assert!(h.write(2, 1, 86400.0).get("error").is_none());
    let mut short = Engine::new(
        TestBoard::new(),
        Config {
            max_lease: Duration::from_secs(10),
            ..Config::default()
        },
    );
    let mut out = Vec::new();
    short.handle(
        Instant::ZERO,
        br#"{"action": "setup_pin", "pin": 2, "mode": "output"}"#,
        &mut out,
    );
    out.clear();
    short.handle(
        Instant::ZERO,
        br#"{"action": "write_pin", "pin": 2, "value": 1, "timeout": 11}"#,
        &mut out,
    );
    assert!(String::from_utf8(out).unwrap().contains("at most 10"));
}

#[test]
fn release_all_reverts_every_lease_now() {
    let mut h = Harness::new();
    h.output(2, 0);
    h.output(3, 1);
    h.write(2, 1, 100.0);
    h.write(3, 0, 200.0);
    let mut n = Vec::new();
    assert_eq!(h.engine.release_all(h.now, |r| n.push(r.pin)), 2);
    assert_eq!(n, [2, 3]);
    assert_eq!((h.level(2), h.level(3)), (Some(0), Some(1)));
    assert_eq!(h.engine.leases(), 0);
}

#[test]
fn reset_and_deep_sleep_forget_every_pin() {
    for after in [After::Reset, After::Sleep { ms: 5, deep: true }] {
        let mut h = Harness::new();
        h.output(2, 0);
        h.write(2, 1, 10.0);
        h.engine.after_reply(after);
        assert_eq!(h.engine.leases(), 0);
        assert_eq!(h.engine.board().resets(), 1);
        assert_eq!(
            h.err(r#"{"action": "read_pin", "pin": 2}"#).0,
            "GPIOPinNotSetupError"
        );
    }
    let mut h = Harness::new();
    h.output(2, 0);
    h.engine.after_reply(After::Sleep { ms: 5, deep: false });
    assert_eq!(h.ok(r#"{"action": "read_pin", "pin": 2}"#)["value"], 0);
    assert!(h
        .engine
        .board()
        .log()
        .any(|e| e.event == Event::Sleep { ms: 5, deep: false }));
}

/// A board whose writes fail on demand, to test that reverts retry.
pub(super) struct Flaky {
    pub(super) inner: TestBoard,
    pub(super) fail_writes: bool,
}

impl Board for Flaky {
    fn name(&self) -> &str {
        "flaky"
    }
    fn pin_kind(&self, pin: u32) -> PinKind {
        self.inner.pin_kind(pin)
    }
    fn configure(
        &mut self,
        pin: u32,
        mode: Mode,
        pull: crate::Pull,
        initial: Option<Level>,
    ) -> Result<(), crate::BoardError> {
        self.inner.configure(pin, mode, pull, initial)
    }
    fn write(&mut self, pin: u32, level: Level) -> Result<(), crate::BoardError> {
        if self.fail_writes {
            return Err(crate::BoardError::Io("line request failed"));
        }
        self.inner.write(pin, level)
    }
    fn read(&mut self, pin: u32) -> Result<Level, crate::BoardError> {
        self.inner.read(pin)
    }
    fn set_status_led(&mut self, _: bool) {}
    fn reset(&mut self) {}
    fn sleep(&mut self, _: u32, _: bool) {}
    fn write_info(&mut self, _: Instant, _: &mut ObjectWriter<'_>) -> Result<(), Full> {
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
        self.inner.simulated_inputs()
    }
    fn pwm(&mut self) -> Option<&mut dyn crate::Pwm> {
        self.inner.pwm()
    }
    fn adc(&mut self) -> Option<&mut dyn crate::Adc> {
        self.inner.adc()
    }
    fn thermometer(&mut self) -> Option<&mut dyn crate::Thermometer> {
        self.inner.thermometer()
    }
    fn i2c(&mut self) -> Option<&mut dyn crate::I2c> {
        self.inner.i2c()
    }
    fn edge_detection(&mut self) -> Option<&mut dyn crate::EdgeDetection> {
        self.inner.edge_detection()
    }
}

#[test]
fn a_failed_revert_is_retried_and_a_failed_write_is_an_os_error() {
    let mut e = Engine::new(
        Flaky {
            inner: TestBoard::new(),
            fail_writes: false,
        },
        Config::default(),
    );
    let mut out = Vec::new();
    e.handle(
        Instant::ZERO,
        br#"{"action": "setup_pin", "pin": 2, "mode": "output", "value": 0}"#,
        &mut out,
    );
    e.handle(
        Instant::ZERO,
        br#"{"action": "write_pin", "pin": 2, "value": 1, "timeout": 1}"#,
        &mut out,
    );
    e.board_mut().fail_writes = true;
    out.clear();
    e.handle(
        Instant::ZERO,
        br#"{"action": "write_pin", "pin": 2, "value": 1, "timeout": 5}"#,
        &mut out,
    );
    let r: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(r["exception"], "OSError");
    assert!(r["error"].as_str().unwrap().contains("line request failed"));
    // The failed write left the first lease in place.
    assert_eq!(e.next_deadline(), Some(Instant::from_millis(1000)));
    let t = Instant::from_millis(1000);
    let mut errors = 0;
    assert_eq!(
        e.poll_with(t, |r| errors += usize::from(r.error.is_some())),
        0
    );
    assert_eq!(errors, 1);
    assert_eq!(e.next_deadline(), Some(t + REVERT_RETRY));
    e.board_mut().fail_writes = false;
    assert_eq!(e.poll(t + REVERT_RETRY), 1);
    assert_eq!(e.board().inner.level(2), Some(Level::Low));
}

#[test]
fn a_response_too_large_for_the_buffer_becomes_a_short_error() {
    let mut e = Engine::new(TestBoard::new(), Config::default());
    let mut out: heapless::Vec<u8, 128> = heapless::Vec::new();
    let big = format!(r#"{{"action": "ping", "pad": "{}"}}"#, "x".repeat(200));
    assert_eq!(
        e.handle(Instant::ZERO, big.as_bytes(), &mut out),
        After::Nothing
    );
    let r: Value = serde_json::from_slice(&out).unwrap();
    assert!(r["error"].as_str().unwrap().contains("did not fit"));
}

#[test]
fn too_long_lines_get_one_error() {
    let mut e = Engine::new(TestBoard::new(), Config::default());
    let mut out = Vec::new();
    e.handle_too_long(64, &mut out);
    let r: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(r["exception"], "ValueError");
    assert!(r["error"]
        .as_str()
        .unwrap()
        .contains("longer than 64 bytes"));
}

/// The bytes the original Python client (piconetcontrol 0.2.4) sends for
/// the seed's example: json.dumps with its default separators, time_sent
/// added, "\n" after each command and "\n\n" after the last.
#[test]
fn the_original_clients_bytes_get_the_original_servers_answers() {
    let wire = concat!(
        r#"{"action": "setup_pin", "pin": 2, "mode": "output", "value": 0, "time_sent": 1732451000000000000}"#,
        "\n",
        r#"{"action": "read_pin", "pin": 2, "time_sent": 1732451000000100000}"#,
        "\n",
        r#"{"action": "write_pin", "pin": 2, "value": 1, "timeout": 5, "time_sent": 1732451000000200000}"#,
        "\n",
        r#"{"action": "read_pin", "pin": 2, "time_sent": 1732451000000300000}"#,
        "\n\n",
    );
    let mut engine = Engine::new(TestBoard::new(), Config::default());
    let mut dec = LineDecoder::new(Vec::new(), 1024);
    let mut responses = Vec::new();
    let mut ended = false;
    // Arbitrary segmenting, as TCP may deliver it.
    for chunk in wire.as_bytes().chunks(7) {
        let mut input = chunk;
        while let Some(frame) = dec.decode(&mut input) {
            match frame {
                Frame::Line(line) => {
                    let mut out = Vec::new();
                    engine.handle(Instant::ZERO, line, &mut out);
                    responses.push(serde_json::from_slice::<Value>(&out).unwrap());
                }
                Frame::End => ended = true,
                Frame::TooLong => panic!("too long"),
            }
        }
    }
    assert!(ended);
    assert_eq!(responses.len(), 4);
    for r in &responses {
        assert!(r.get("error").is_none(), "{r}");
        assert!(r["time_sent"].is_u64());
        assert!(r["time_received"].is_u64());
    }
    assert_eq!(responses[1]["value"], 0);
    assert_eq!(responses[2]["timeout"], 5);
    assert_eq!(responses[3]["value"], 1);
    // After the 5 s timeout (the seed's `sleep 5`) the pin is back at 0.
    let mut out = Vec::new();
    engine.handle(
        Instant::from_millis(5000),
        br#"{"action": "read_pin", "pin": 2, "time_sent": 1732451005000000000}"#,
        &mut out,
    );
    assert_eq!(serde_json::from_slice::<Value>(&out).unwrap()["value"], 0);
}

#[test]
fn a_board_without_an_update_slot_refuses_the_image_actions() {
    let mut h = Harness::new();
    let begin = std::format!(
        r#"{{"action": "update_begin", "size": 10, "sha256": "{}", "signature": "{}"}}"#,
        "0".repeat(64),
        "0".repeat(128)
    );
    for line in [
        begin.as_str(),
        r#"{"action": "update_chunk", "offset": 0, "data": "AA=="}"#,
        r#"{"action": "update_status"}"#,
        r#"{"action": "update_finish"}"#,
    ] {
        let r = h.send(line);
        assert_eq!(r["exception"], "ValueError", "{r}");
        let e = r["error"].as_str().unwrap();
        assert!(e.contains("this board cannot update itself"), "{e}");
    }
    // get_version stays the configured version.
    assert_eq!(
        h.ok(r#"{"action": "get_version"}"#)["version"],
        env!("CARGO_PKG_VERSION")
    );
}

#[test]
fn the_original_file_update_explains_the_image_flow() {
    let mut h = Harness::new();
    let r = h.send(r#"{"action": "update", "files": {"main.py": "x"}, "compress": false}"#);
    let e = r["error"].as_str().unwrap();
    assert!(e.contains("piconet update ADDR firmware.bin"), "{e}");
    assert!(e.contains("update_begin"), "{e}");
}
