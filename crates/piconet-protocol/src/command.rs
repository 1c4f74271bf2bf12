//! Commands: what a request line asks for, typed and checked. The
//! actions themselves are declared in [`crate::action`].

use crate::error::ProtocolError;
use crate::json::{parse_object, Member};
use crate::key::{Fields, Key, KeySet, MAX_KEY_NAME};
use crate::response::Echo;

pub use crate::action::gpio::{Level, Mode, PinMode, Pull};
pub use crate::action::pwm::PwmState;
pub use crate::action::{Command, ACTIONS};

/// A parsed request: the command and what to echo.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Request<'a> {
    /// What to do.
    pub command: Command<'a>,
    /// The received object.
    pub echo: Echo<'a>,
}

/// A line that is not a usable command.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rejected<'a> {
    /// The received object, when the line was a JSON object at all.
    pub echo: Option<Echo<'a>>,
    /// Why.
    pub error: ProtocolError<'a>,
}

/// Parse one line (without its newline) into a command.
///
/// ```
/// use piconet_protocol::command::{parse, Command, Level};
/// let r = parse(br#"{"action": "write_pin", "pin": 2, "value": true, "timeout": 5}"#).unwrap();
/// assert_eq!(
///     r.command,
///     Command::WritePin { pin: 2, value: Level::High, timeout: 5.0, release_on_disconnect: false }
/// );
/// let e = parse(br#"{"action": "read_pin"}"#).unwrap_err();
/// assert!(e.echo.is_some());
/// ```
pub fn parse(line: &[u8]) -> Result<Request<'_>, Rejected<'_>> {
    let mut fields = Fields::default();
    let mut present = KeySet::EMPTY;
    let object = parse_object(line, |m| {
        // Keys are compared decoded, as Python's `json` reads them, so an
        // escaped "pass\u0077ord" is the password (and redacted) too.
        let key = if m.key_escaped {
            decoded_key(&m)
        } else {
            Key::from_name(m.key)
        };
        if let Some(key) = key {
            present = present.union(KeySet::of(key));
            // Python's json keeps the last of duplicate keys; so do we.
            fields.set(key, m.value);
        }
    })
    .map_err(|e| Rejected {
        echo: None,
        error: ProtocolError::Json(e),
    })?;
    let echo = Echo { object, present };
    command(&fields)
        .map(|command| Request { command, echo })
        .map_err(|error| Rejected {
            echo: Some(echo),
            error,
        })
}

/// The known key an escaped key names, if any.
#[cold]
#[inline(never)]
pub(crate) fn decoded_key(m: &Member<'_>) -> Option<Key> {
    let mut buf = [0u8; MAX_KEY_NAME];
    Key::from_name(m.decoded_key(&mut buf)?)
}

#[inline(always)]
fn command<'a>(fields: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    let action = fields
        .get(Key::Action)
        .ok_or(ProtocolError::MissingAction)?;
    crate::action::dispatch(action, fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::events::{Edge, SimValue};
    use crate::error::ErrorClass;
    use crate::response::Message;

    fn ok(line: &str) -> Command<'_> {
        parse(line.as_bytes())
            .unwrap_or_else(|e| panic!("{line}: {:?}", e.error))
            .command
    }

    fn err(line: &str) -> (ProtocolError<'_>, bool) {
        let e = parse(line.as_bytes()).expect_err(line);
        (e.error, e.echo.is_some())
    }

    fn message(e: &ProtocolError<'_>) -> std::string::String {
        let mut out = std::vec::Vec::new();
        let mut sink: heapless::Vec<u8, 512> = heapless::Vec::new();
        crate::response::write_error_line(&mut sink, e).unwrap();
        out.extend_from_slice(&sink);
        std::string::String::from_utf8(out).unwrap()
    }

    #[test]
    fn parses_every_action() {
        let table: &[(&str, Command<'_>)] = &[
            (
                r#"{"action": "setup_pin", "pin": 2, "mode": "output", "value": 0}"#,
                Command::SetupPin {
                    pin: 2,
                    mode: PinMode::Output,
                    value: Some(Level::Low),
                    pull: None,
                },
            ),
            (
                r#"{"action": "setup_pin", "pin": "7", "mode": "input", "pull": "up"}"#,
                Command::SetupPin {
                    pin: 7,
                    mode: PinMode::Input,
                    value: None,
                    pull: Some(Pull::Up),
                },
            ),
            (
                r#"{"action": "setup_pin", "pin": 3, "mode": "input", "pull": null}"#,
                Command::SetupPin {
                    pin: 3,
                    mode: PinMode::Input,
                    value: None,
                    pull: Some(Pull::None),
                },
            ),
            (
                r#"{"action": "write_pin", "pin": 2, "value": 1, "timeout": 0.5}"#,
                Command::WritePin {
                    pin: 2,
                    value: Level::High,
                    timeout: 0.5,
                    release_on_disconnect: false,
                },
            ),
            (
                r#"{"action": "write_pin", "pin": 2, "value": 1, "timeout": 1, "release_on_disconnect": true}"#,
                Command::WritePin {
                    pin: 2,
                    value: Level::High,
                    timeout: 1.0,
                    release_on_disconnect: true,
                },
            ),
            (
                r#"{"action": "write_pin", "pin": 2, "value": 1, "timeout": 1, "release_on_disconnect": 0}"#,
                Command::WritePin {
                    pin: 2,
                    value: Level::High,
                    timeout: 1.0,
                    release_on_disconnect: false,
                },
            ),
            (
                r#"{"action": "write_pin", "pin": 2, "value": 1, "timeout": 1, "release_on_disconnect": 1}"#,
                Command::WritePin {
                    pin: 2,
                    value: Level::High,
                    timeout: 1.0,
                    release_on_disconnect: true,
                },
            ),
            (
                r#"{"action": "write_pin", "pin": 2, "value": "0", "timeout": "3"}"#,
                Command::WritePin {
                    pin: 2,
                    value: Level::Low,
                    timeout: 3.0,
                    release_on_disconnect: false,
                },
            ),
            (
                r#"{"action": "read_pin", "pin": 28}"#,
                Command::ReadPin { pin: 28 },
            ),
            (r#"{"action": "ping", "time_sent": 1}"#, Command::Ping),
            (r#"{"action": "reset"}"#, Command::Reset),
            (
                r#"{"action": "sleep", "time_ms": 1000, "deep": 1}"#,
                Command::Sleep {
                    time_ms: 1000,
                    deep: true,
                },
            ),
            (
                r#"{"action": "sleep", "time_ms": "5"}"#,
                Command::Sleep {
                    time_ms: 5,
                    deep: false,
                },
            ),
            (r#"{"action": "get_info"}"#, Command::GetInfo),
            (r#"{"action": "get_resource_info"}"#, Command::GetInfo),
            (r#"{"action": "get_version"}"#, Command::GetVersion),
            (r#"{"action": "list_actions"}"#, Command::ListActions),
            (
                r#"{"action": "update", "files": {}, "compress": true}"#,
                Command::Update,
            ),
            (r#"{"action": "update_status"}"#, Command::UpdateStatus),
            (r#"{"action": "update_finish"}"#, Command::UpdateFinish),
            (
                r#"{"action": "set_port", "port": "8080"}"#,
                Command::SetPort { port: 8080 },
            ),
            (
                r#"{"action": "set_name", "name": "garden"}"#,
                Command::SetName(crate::provision::Name(br#""garden""#)),
            ),
            (r#"{"action": "clear_tls"}"#, Command::ClearTls),
            (r#"{"action": "clear_config"}"#, Command::ClearConfig),
            (r#"{"action": "get_config"}"#, Command::GetConfig),
            (r#"{"action": "get_pins"}"#, Command::GetPins),
            (
                r#"{"action": "watch_pin", "pin": 5}"#,
                Command::WatchPin {
                    pin: 5,
                    edge: Edge::Both,
                    debounce_ms: 0,
                },
            ),
            (
                r#"{"action": "watch_pin", "pin": 5, "edge": "rising", "debounce_ms": 1000}"#,
                Command::WatchPin {
                    pin: 5,
                    edge: Edge::Rising,
                    debounce_ms: 1000,
                },
            ),
            (
                r#"{"action": "watch_pin", "pin": "6", "edge": "falling", "debounce_ms": "20"}"#,
                Command::WatchPin {
                    pin: 6,
                    edge: Edge::Falling,
                    debounce_ms: 20,
                },
            ),
            (
                r#"{"action": "unwatch_pin", "pin": 5}"#,
                Command::UnwatchPin { pin: 5 },
            ),
            (
                r#"{"action": "sim_input", "pin": 5, "value": 1}"#,
                Command::SimInput {
                    pin: 5,
                    input: SimValue::Level(Level::High),
                },
            ),
            (
                r#"{"action": "sim_input", "pin": 26, "volts": 1.65}"#,
                Command::SimInput {
                    pin: 26,
                    input: SimValue::Volts(1.65),
                },
            ),
            (
                r#"{"action": "setup_pin", "pin": 15, "mode": "pwm", "frequency": 1000, "duty": 0.25}"#,
                Command::SetupPin {
                    pin: 15,
                    mode: PinMode::Pwm(PwmState {
                        duty: 0.25,
                        frequency: 1000,
                    }),
                    value: None,
                    pull: None,
                },
            ),
            (
                r#"{"action": "setup_pin", "pin": 15, "mode": "pwm", "frequency": "10"}"#,
                Command::SetupPin {
                    pin: 15,
                    mode: PinMode::Pwm(PwmState {
                        duty: 0.0,
                        frequency: 10,
                    }),
                    value: None,
                    pull: None,
                },
            ),
            (
                r#"{"action": "setup_pin", "pin": 26, "mode": "adc"}"#,
                Command::SetupPin {
                    pin: 26,
                    mode: PinMode::Adc,
                    value: None,
                    pull: None,
                },
            ),
            (
                r#"{"action": "write_pwm", "pin": 15, "duty": 1, "timeout": 2}"#,
                Command::WritePwm {
                    pin: 15,
                    duty: 1.0,
                    frequency: None,
                    timeout: 2.0,
                    release_on_disconnect: false,
                },
            ),
            (
                r#"{"action": "write_pwm", "pin": 15, "duty": 0.5, "timeout": 0.5, "frequency": 1000000, "release_on_disconnect": true}"#,
                Command::WritePwm {
                    pin: 15,
                    duty: 0.5,
                    frequency: Some(1_000_000),
                    timeout: 0.5,
                    release_on_disconnect: true,
                },
            ),
            (
                r#"{"action": "read_adc", "pin": 27}"#,
                Command::ReadAdc { pin: 27 },
            ),
            (
                r#"{"action": "read_temperature"}"#,
                Command::ReadTemperature,
            ),
            (
                r#"{"action": "i2c_setup", "bus": 1, "sda": 2, "scl": 3, "frequency": 400000}"#,
                Command::I2cSetup {
                    bus: 1,
                    sda: 2,
                    scl: 3,
                    frequency: 400_000,
                },
            ),
            (
                r#"{"action": "i2c_setup", "bus": 0, "sda": 4, "scl": 5}"#,
                Command::I2cSetup {
                    bus: 0,
                    sda: 4,
                    scl: 5,
                    frequency: 100_000,
                },
            ),
            (
                r#"{"action": "i2c_read", "bus": 0, "address": 80, "count": 256}"#,
                Command::I2cRead {
                    bus: 0,
                    address: 0x50,
                    count: 256,
                },
            ),
        ];
        for (line, want) in table {
            assert_eq!(&ok(line), want, "{line}");
        }
        let Command::I2cWrite {
            bus: 1,
            address: 127,
            data,
        } = ok(r#"{"action": "i2c_write", "bus": 1, "address": 127, "data": [0, 17 ,255]}"#)
        else {
            panic!("not an i2c_write")
        };
        assert_eq!(data.len(), 3);
        assert_eq!(data.iter().collect::<std::vec::Vec<_>>(), [0, 17, 255]);
        let mut buf = [0u8; crate::action::i2c::MAX_I2C_BYTES];
        assert_eq!(data.copy_to(&mut buf), [0, 17, 255]);
        let Command::I2cTransfer {
            bus: 0,
            address: 0x50,
            write,
            count: 4,
        } = ok(r#"{"action": "i2c_transfer", "bus": 0, "address": 80, "write": [16], "count": 4}"#)
        else {
            panic!("not an i2c_transfer")
        };
        assert_eq!(write.iter().collect::<std::vec::Vec<_>>(), [16]);
        let most = std::format!(
            r#"{{"action": "i2c_write", "bus": 0, "address": 80, "data": [{}]}}"#,
            ["255"; 256].join(",")
        );
        let Command::I2cWrite { data, .. } = ok(&most) else {
            panic!("not an i2c_write")
        };
        assert_eq!((data.len(), data.iter().count()), (256, 256));
        let Command::SetWifi(wifi) = ok(r#"{"action": "set_wifi", "ssid": "n"}"#) else {
            panic!("not a set_wifi")
        };
        assert_eq!((wifi.ssid().as_str(), wifi.password().as_str()), ("n", ""));
        // The TLS fields stay base64 until used.
        let Command::SetTls(tls) = ok(r#"{"action": "set_tls", "cert": "AA==", "key": "AA=="}"#)
        else {
            panic!("not a set_tls")
        };
        let (mut cert, mut key) = ([1u8; 4], [1u8; 4]);
        assert_eq!(
            tls.decode(&mut cert, &mut key).unwrap(),
            (&[0u8][..], &[0u8][..])
        );
    }

    #[test]
    fn the_table_gives_names_and_reply_keys() {
        use crate::key::Key;
        assert_eq!(ACTIONS.len(), 36);
        assert_eq!(ACTIONS.first(), Some(&"setup_pin"));
        assert_eq!(ACTIONS[21], "get_pins");
        assert_eq!(ACTIONS[24], "sim_input");
        assert_eq!(ACTIONS[26], "get_clients");
        assert_eq!(ACTIONS[27], "write_pwm");
        assert_eq!(ACTIONS[33], "i2c_transfer");
        assert_eq!(ACTIONS[34], "set_name");
        assert_eq!(ACTIONS.last(), Some(&"set_radio_power"));
        let keys = |line: &str| ok(line).reply_keys();
        let t = KeySet::TIME_RECEIVED;
        assert_eq!(keys(r#"{"action": "ping"}"#), t);
        assert_eq!(
            keys(r#"{"action": "read_pin", "pin": 1}"#),
            t.union(KeySet::of(Key::Value))
        );
        assert_eq!(
            keys(r#"{"action": "get_resource_info"}"#),
            t.union(KeySet::of(Key::Info))
        );
        assert_eq!(
            keys(r#"{"action": "get_pins"}"#),
            t.union(KeySet::of(Key::Pins))
        );
        assert_eq!(
            keys(r#"{"action": "clear_tls"}"#),
            t.union(KeySet::of(Key::Config))
        );
        assert_eq!(
            keys(r#"{"action": "set_name", "name": "a"}"#),
            t.union(KeySet::of(Key::Config))
        );
        assert_eq!(
            keys(r#"{"action": "read_adc", "pin": 26}"#),
            t.union(KeySet::of_all(&[Key::Raw, Key::Volts]))
        );
        assert_eq!(
            keys(r#"{"action": "read_temperature"}"#),
            t.union(KeySet::of(Key::Celsius))
        );
        assert_eq!(
            keys(r#"{"action": "i2c_read", "bus": 0, "address": 1, "count": 1}"#),
            t.union(KeySet::of(Key::Data))
        );
        assert_eq!(
            keys(r#"{"action": "write_pwm", "pin": 1, "duty": 0, "timeout": 1}"#),
            t
        );
    }

    #[test]
    fn rejects_bad_pwm_adc_and_i2c_commands() {
        let over = std::format!(
            r#"{{"action": "i2c_write", "bus": 0, "address": 80, "data": [{}]}}"#,
            ["1"; 257].join(",")
        );
        let table: &[(&str, &str)] = &[
            (
                r#"{"action": "setup_pin", "pin": 15, "mode": "pwm"}"#,
                "missing fields: frequency",
            ),
            (
                r#"{"action": "setup_pin", "pin": 15, "mode": "pwm", "frequency": 9}"#,
                "frequency must be a whole number of Hz from 10 to 1000000",
            ),
            (
                r#"{"action": "setup_pin", "pin": 15, "mode": "pwm", "frequency": 1000001}"#,
                "frequency must be a whole number of Hz from 10 to 1000000",
            ),
            (
                r#"{"action": "setup_pin", "pin": 15, "mode": "pwm", "frequency": 100.5}"#,
                "frequency must be a whole number",
            ),
            (
                r#"{"action": "setup_pin", "pin": 15, "mode": "pwm", "frequency": 100, "duty": 1.5}"#,
                "duty must be a number from 0.0 (always low) to 1.0 (always high)",
            ),
            (
                r#"{"action": "setup_pin", "pin": 15, "mode": "pwm", "frequency": 100, "duty": "nan"}"#,
                "duty must be a number from 0.0",
            ),
            (
                r#"{"action": "setup_pin", "pin": 15, "mode": "output", "duty": 0.5}"#,
                "duty must be given only with mode \\\"pwm\\\"",
            ),
            (
                r#"{"action": "setup_pin", "pin": 26, "mode": "adc", "frequency": 10}"#,
                "frequency must be given only with mode \\\"pwm\\\"",
            ),
            (
                r#"{"action": "setup_pin", "pin": 26, "mode": "analog"}"#,
                "mode must be \\\"input\\\", \\\"output\\\", \\\"pwm\\\" or \\\"adc\\\"",
            ),
            (
                r#"{"action": "setup_pin", "pin": 26, "mode": "adc", "value": 1}"#,
                "value must be given only with mode \\\"output\\\"",
            ),
            (
                r#"{"action": "setup_pin", "pin": 15, "mode": "pwm", "frequency": 50, "pull": "up"}"#,
                "pull must be given only with mode \\\"input\\\" or \\\"output\\\"",
            ),
            (
                r#"{"action": "write_pwm", "pin": 15}"#,
                "missing fields: duty, timeout",
            ),
            (
                r#"{"action": "write_pwm", "pin": 15, "duty": -0.1, "timeout": 1}"#,
                "duty must be a number from 0.0",
            ),
            (
                r#"{"action": "write_pwm", "pin": 15, "duty": 0.1, "timeout": 1, "frequency": 5}"#,
                "frequency must be a whole number of Hz from 10",
            ),
            (
                r#"{"action": "write_pwm", "pin": 15, "duty": 0.1, "timeout": "x"}"#,
                "timeout must be a number of seconds",
            ),
            (
                r#"{"action": "write_pwm", "pin": 15, "duty": 0.1, "timeout": 1, "release_on_disconnect": 2}"#,
                "release_on_disconnect must be 0 or 1",
            ),
            (r#"{"action": "read_adc"}"#, "missing fields: pin"),
            (
                r#"{"action": "i2c_setup", "bus": 0}"#,
                "missing fields: sda, scl",
            ),
            (
                r#"{"action": "i2c_setup", "bus": 2, "sda": 4, "scl": 5}"#,
                "bus must be 0 or 1",
            ),
            (
                r#"{"action": "i2c_setup", "bus": 0, "sda": -4, "scl": 5}"#,
                "sda must be a GPIO number",
            ),
            (
                r#"{"action": "i2c_setup", "bus": 0, "sda": 4, "scl": "x"}"#,
                "scl must be a GPIO number",
            ),
            (
                r#"{"action": "i2c_setup", "bus": 0, "sda": 4, "scl": 5, "frequency": 9999}"#,
                "frequency must be a whole number of Hz from 10000 to 1000000",
            ),
            (
                r#"{"action": "i2c_setup", "bus": 0, "sda": 4, "scl": 5, "frequency": 1000001}"#,
                "frequency must be a whole number of Hz from 10000 to 1000000",
            ),
            (
                r#"{"action": "i2c_write", "bus": 0, "address": 80}"#,
                "missing fields: data",
            ),
            (
                r#"{"action": "i2c_write", "bus": 0, "address": 128, "data": [1]}"#,
                "address must be a 7-bit device address: an integer from 0 to 127",
            ),
            (
                r#"{"action": "i2c_write", "bus": 0, "address": 80, "data": []}"#,
                "data must be a list of 1 to 256 bytes, each an integer from 0 to 255",
            ),
            (
                r#"{"action": "i2c_write", "bus": 0, "address": 80, "data": [256]}"#,
                "data must be a list of 1 to 256 bytes",
            ),
            (
                r#"{"action": "i2c_write", "bus": 0, "address": 80, "data": [1.5]}"#,
                "data must be a list of 1 to 256 bytes",
            ),
            (
                r#"{"action": "i2c_write", "bus": 0, "address": 80, "data": ["1,2"]}"#,
                "data must be a list of 1 to 256 bytes",
            ),
            (
                r#"{"action": "i2c_write", "bus": 0, "address": 80, "data": [-1]}"#,
                "data must be a list of 1 to 256 bytes",
            ),
            (
                r#"{"action": "i2c_write", "bus": 0, "address": 80, "data": "AA=="}"#,
                "data must be a list of 1 to 256 bytes",
            ),
            (&over, "data must be a list of 1 to 256 bytes"),
            (
                r#"{"action": "i2c_read", "bus": 0, "address": 80, "count": 0}"#,
                "count must be a number of bytes from 1 to 256",
            ),
            (
                r#"{"action": "i2c_read", "bus": 0, "address": 80, "count": 257}"#,
                "count must be a number of bytes from 1 to 256",
            ),
            (
                r#"{"action": "i2c_transfer", "bus": 0, "address": 80, "count": 1}"#,
                "missing fields: write",
            ),
            (
                r#"{"action": "i2c_transfer", "bus": 0, "address": 80, "write": [[1]], "count": 1}"#,
                "write must be a list of 1 to 256 bytes",
            ),
        ];
        for (line, want) in table {
            let (e, echoed) = err(line);
            assert!(echoed, "{line}");
            assert_eq!(e.class(), ErrorClass::ValueError, "{line}");
            let text = message(&e);
            assert!(text.contains(want), "{line}: {text}");
        }
    }

    #[test]
    fn escaped_keys_are_read_decoded() {
        // As Python's json reads them: the escaped key is the field.
        assert_eq!(
            ok(r#"{"\u0061ction": "read_pin", "p\u0069n": 4}"#),
            Command::ReadPin { pin: 4 }
        );
        // The last duplicate wins whichever way it was written.
        assert_eq!(
            ok(r#"{"action": "read_pin", "p\u0069n": 4, "pin": 5}"#),
            Command::ReadPin { pin: 5 }
        );
        let req = parse(br#"{"action": "ping", "pass\u0077ord": "x"}"#).unwrap();
        assert!(req.echo.present.intersects(KeySet::SECRET));
        // A key longer than any known one once decoded is no field.
        let (e, _) = err(
            r#"{"action": "read_pin", "pin\u0020\u0020\u0020\u0020\u0020\u0020\u0020\u0020\u0020\u0020\u0020\u0020\u0020\u0020\u0020\u0020\u0020\u0020\u0020": 4}"#,
        );
        assert!(matches!(e, ProtocolError::MissingFields(_)), "{e:?}");
    }

    #[test]
    fn over_long_numbers_are_refused_unechoed() {
        let line = std::format!(r#"{{"action": "ping", "time_sent": {}}}"#, "7".repeat(5000));
        let (e, echoed) = err(&line);
        assert_eq!(e.class(), ErrorClass::ValueError);
        assert!(message(&e).contains("number longer than 40 characters"));
        assert!(!echoed);
        // A nanosecond timestamp, as the original client sends, is fine.
        ok(r#"{"action": "ping", "time_sent": 1732451000000000000}"#);
    }

    const SHA: &str = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";

    fn sig() -> std::string::String {
        "0f".repeat(64)
    }

    #[test]
    fn parses_update_commands() {
        let line = std::format!(
            r#"{{"action": "update_begin", "size": 70000, "sha256": "{SHA}", "signature": "{}", "version": "0.2.0-rc1"}}"#,
            sig()
        );
        let Command::UpdateBegin(begin) = ok(&line) else {
            panic!("{line}")
        };
        assert_eq!(begin.size, 70000);
        assert_eq!(begin.sha256.bytes()[..2], [0x00, 0x11]);
        assert_eq!(begin.sha256.bytes()[31], 0xff);
        assert_eq!(begin.signature.bytes(), [0x0f; 64]);
        assert_eq!(begin.version, Some("0.2.0-rc1"));
        assert!(!begin.allow_downgrade);
        let downgrade = line.replace('}', r#", "allow_downgrade": true}"#);
        let Command::UpdateBegin(begin) = ok(&downgrade) else {
            panic!("{downgrade}")
        };
        assert!(begin.allow_downgrade);
        let bad = line.replace('}', r#", "allow_downgrade": "yes"}"#);
        assert_eq!(
            err(&bad).0,
            ProtocolError::BadValue {
                field: "allow_downgrade",
                expected: "true or false"
            }
        );

        let no_version = std::format!(
            r#"{{"action": "update_begin", "size": "12", "sha256": "{SHA}", "signature": "{}", "version": null}}"#,
            sig()
        );
        let Command::UpdateBegin(begin) = ok(&no_version) else {
            panic!("{no_version}")
        };
        assert_eq!((begin.size, begin.version), (12, None));

        let Command::UpdateChunk(chunk) =
            ok(r#"{"action": "update_chunk", "offset": 2048, "data": "aGVsbG8="}"#)
        else {
            panic!("not a chunk")
        };
        let mut buf = [0u8; crate::update::MAX_CHUNK];
        assert_eq!(chunk.offset, 2048);
        assert_eq!(chunk.data.decode(&mut buf).unwrap(), b"hello");
    }

    #[test]
    fn rejects_bad_update_commands() {
        let s = sig();
        let begin = |size: &str, sha: &str, sig: &str, extra: &str| {
            std::format!(
                r#"{{"action": "update_begin", "size": {size}, "sha256": "{sha}", "signature": "{sig}"{extra}}}"#
            )
        };
        let table: std::vec::Vec<(std::string::String, &str)> = std::vec![
            (
                r#"{"action": "update_begin"}"#.into(),
                "missing fields: size, sha256, signature"
            ),
            (begin("0", SHA, &s, ""), "size must be the image size"),
            (begin("-4", SHA, &s, ""), "size must be"),
            (begin("99999999999", SHA, &s, ""), "size must be"),
            (begin("1", &SHA[1..], &s, ""), "sha256 must be"),
            (begin("1", &SHA.replace('a', "x"), &s, ""), "sha256 must be"),
            (begin("1", SHA, &s[2..], ""), "signature must be"),
            (
                begin("1", SHA, &s, r#", "version": "has space""#),
                "version must be"
            ),
            (
                begin(
                    "1",
                    SHA,
                    &s,
                    &std::format!(r#", "version": "{}""#, "v".repeat(33))
                ),
                "version must be"
            ),
            (
                r#"{"action": "update_chunk", "offset": 0}"#.into(),
                "missing fields: data"
            ),
            (
                r#"{"action": "update_chunk", "offset": -1, "data": "AA=="}"#.into(),
                "offset must be"
            ),
            (
                r#"{"action": "update_chunk", "offset": 100, "data": "AA=="}"#.into(),
                "offset must be a multiple of 256"
            ),
            (
                r#"{"action": "update_chunk", "offset": 0, "data": 5}"#.into(),
                "data must be a base64 string"
            ),
        ];
        for (line, text) in &table {
            let (e, echoed) = err(line);
            assert_eq!(e.class(), ErrorClass::ValueError, "{line}");
            let msg = message(&e);
            assert!(msg.contains(text), "{line}: {msg}");
            assert!(echoed, "{line}");
        }
    }

    #[test]
    fn rejects_bad_event_commands() {
        let table: &[(&str, &str)] = &[
            (r#"{"action": "watch_pin"}"#, "missing fields: pin"),
            (
                r#"{"action": "watch_pin", "pin": 5, "edge": "up"}"#,
                "edge must be \\\"rising\\\", \\\"falling\\\" or \\\"both\\\"",
            ),
            (
                r#"{"action": "watch_pin", "pin": 5, "debounce_ms": 1001}"#,
                "debounce_ms must be a whole number of milliseconds from 0 to 1000",
            ),
            (
                r#"{"action": "watch_pin", "pin": 5, "debounce_ms": -1}"#,
                "debounce_ms must be a whole number of milliseconds from 0 to 1000",
            ),
            (
                r#"{"action": "watch_pin", "pin": 5, "debounce_ms": 2.5}"#,
                "debounce_ms must be a whole number",
            ),
            (r#"{"action": "unwatch_pin"}"#, "missing fields: pin"),
            (
                r#"{"action": "sim_input", "pin": 5}"#,
                "value must be given, or \\\"volts\\\" instead, but not both",
            ),
            (
                r#"{"action": "sim_input", "pin": 5, "value": 1, "volts": 1}"#,
                "value must be given, or \\\"volts\\\" instead, but not both",
            ),
            (
                r#"{"action": "sim_input", "pin": 5, "value": 2}"#,
                "value must be 0 or 1",
            ),
            (
                r#"{"action": "sim_input", "pin": 26, "volts": 3.7}"#,
                "volts must be a number of volts from 0 to 3.6",
            ),
            (
                r#"{"action": "sim_input", "pin": 26, "volts": "NaN"}"#,
                "volts must be a number of volts from 0 to 3.6",
            ),
        ];
        for (line, want) in table {
            let (e, echoed) = err(line);
            assert!(echoed, "{line}");
            let text = message(&e);
            assert!(text.contains(want), "{line}: {text}");
        }
    }

    #[test]
    fn every_listed_action_parses() {
        for name in ACTIONS {
            // `update_chunk`'s data is base64, `i2c_write`'s a list; a
            // duty is refused on a pin that is not PWM.
            let data = match *name {
                "i2c_write" => "[1]",
                _ => r#""AA==""#,
            };
            let duty = match *name {
                "write_pwm" => r#", "duty": 0.5"#,
                _ => "",
            };
            // `mode` names a pin mode, or the radio's power mode.
            let mode = match *name {
                "set_radio_power" => "none",
                _ => "input",
            };
            let line = std::format!(
                r#"{{"action": "{name}", "pin": 1, "mode": "{mode}", "value": 0, "timeout": 1, "time_ms": 1, "files": {{}}, "compress": true, "size": 1, "sha256": "{SHA}", "signature": "{}", "offset": 0, "data": {data}, "ssid": "n", "password": "12345678", "port": 80, "cert": "AA==", "key": "AA==", "clients": [], "bus": 0, "sda": 4, "scl": 5, "address": 80, "count": 1, "write": [1], "name": "n"{duty}}}"#,
                sig()
            );
            ok(&line);
        }
    }

    #[test]
    fn rejects_with_the_right_class_and_message() {
        let table: &[(&str, ErrorClass, &str, bool)] = &[
            (
                "not json",
                ErrorClass::ValueError,
                "invalid JSON at byte 0",
                false,
            ),
            (
                "[1, 2]",
                ErrorClass::ValueError,
                "must be a JSON object",
                false,
            ),
            (
                r#"{"pin": 2}"#,
                ErrorClass::KeyError,
                "missing field \\\"action\\\"",
                true,
            ),
            (
                r#"{"action": "fly"}"#,
                ErrorClass::ValueError,
                "unknown action \\\"fly\\\", use \\\"list_actions\\\"",
                true,
            ),
            (
                r#"{"action": 5}"#,
                ErrorClass::ValueError,
                "unknown action \\\"5\\\"",
                true,
            ),
            (
                r#"{"action": "write_pin", "pin": 2}"#,
                ErrorClass::ValueError,
                "incomplete command, missing fields: value, timeout",
                true,
            ),
            (
                r#"{"action": "setup_pin"}"#,
                ErrorClass::ValueError,
                "missing fields: pin, mode",
                true,
            ),
            (
                r#"{"action": "read_pin", "pin": "x"}"#,
                ErrorClass::ValueError,
                "pin must be a GPIO number",
                true,
            ),
            (
                r#"{"action": "read_pin", "pin": -1}"#,
                ErrorClass::ValueError,
                "pin must be",
                true,
            ),
            (
                r#"{"action": "read_pin", "pin": 2.5}"#,
                ErrorClass::ValueError,
                "pin must be",
                true,
            ),
            (
                r#"{"action": "read_pin", "pin": 99999999999}"#,
                ErrorClass::ValueError,
                "pin must be",
                true,
            ),
            (
                r#"{"action": "setup_pin", "pin": 1, "mode": "out"}"#,
                ErrorClass::ValueError,
                "mode must be",
                true,
            ),
            (
                r#"{"action": "setup_pin", "pin": 1, "mode": "input", "pull": "sideways"}"#,
                ErrorClass::ValueError,
                "pull must be",
                true,
            ),
            (
                r#"{"action": "write_pin", "pin": 1, "value": 2, "timeout": 1}"#,
                ErrorClass::ValueError,
                "value must be 0 or 1",
                true,
            ),
            (
                r#"{"action": "write_pin", "pin": 1, "value": 1, "timeout": "soon"}"#,
                ErrorClass::ValueError,
                "timeout must be a number",
                true,
            ),
            (
                r#"{"action": "write_pin", "pin": 1, "value": 1, "timeout": 1, "release_on_disconnect": "yes"}"#,
                ErrorClass::ValueError,
                "release_on_disconnect must be 0 or 1",
                true,
            ),
            (
                r#"{"action": "sleep", "time_ms": -5}"#,
                ErrorClass::ValueError,
                "time_ms must be",
                true,
            ),
            (
                r#"{"action": "sleep", "time_ms": 5, "deep": "yes"}"#,
                ErrorClass::ValueError,
                "deep must be",
                true,
            ),
            (
                r#"{"action": "update"}"#,
                ErrorClass::ValueError,
                "missing fields: files, compress",
                true,
            ),
            (
                r#"{"action": "update", "files": [], "compress": false}"#,
                ErrorClass::ValueError,
                "files must be",
                true,
            ),
            (
                r#"{"action": "update", "files": {}, "compress": 1}"#,
                ErrorClass::ValueError,
                "compress must be",
                true,
            ),
        ];
        for (line, class, text, echoed) in table {
            let (e, has_echo) = err(line);
            assert_eq!(e.class(), *class, "{line}");
            let msg = message(&e);
            assert!(msg.contains(text), "{line}: {msg}");
            assert_eq!(has_echo, *echoed, "{line}");
        }
    }

    #[test]
    fn escaped_names_match_nothing() {
        // Escapes are legal JSON, but names are compared as sent.
        let (e, echoed) = err(r#"{"action": "read\u005fpin", "pin": 2}"#);
        assert!(matches!(e, ProtocolError::UnknownAction(Some(_))), "{e:?}");
        assert!(echoed);
        let (e, _) = err(r#"{"action": "setup_pin", "pin": 2, "mode": "in\u0070ut"}"#);
        assert!(
            matches!(e, ProtocolError::BadValue { field: "mode", .. }),
            "{e:?}"
        );
        let (e, _) =
            err(r#"{"action": "setup_pin", "pin": 2, "mode": "input", "pull": "u\u0070"}"#);
        assert!(
            matches!(e, ProtocolError::BadValue { field: "pull", .. }),
            "{e:?}"
        );
    }

    #[test]
    fn long_or_quoted_unknown_actions_are_not_quoted_back() {
        let long = std::format!(r#"{{"action": "{}"}}"#, "a".repeat(100));
        let (e, _) = err(&long);
        assert_eq!(e, ProtocolError::UnknownAction(None));
        let (e, _) = err(r#"{"action": "a\"b"}"#);
        assert_eq!(e, ProtocolError::UnknownAction(None));
    }

    #[test]
    fn last_duplicate_key_wins_like_python() {
        assert_eq!(
            ok(r#"{"action": "read_pin", "pin": 1, "pin": 4}"#),
            Command::ReadPin { pin: 4 }
        );
    }

    #[test]
    fn nan_literal_is_invalid_json_and_nan_string_reaches_the_engine() {
        let (e, echoed) = err(r#"{"action": "write_pin", "pin": 1, "value": 1, "timeout": NaN}"#);
        assert!(message(&e).contains("NaN and Infinity are not valid JSON"));
        assert!(!echoed);
        match ok(r#"{"action": "write_pin", "pin": 1, "value": 1, "timeout": "nan"}"#) {
            Command::WritePin { timeout, .. } => assert!(timeout.is_nan()),
            c => panic!("{c:?}"),
        }
    }
}
