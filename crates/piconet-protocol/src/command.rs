//! Commands: what a request line asks for, typed and checked.

use crate::error::{require, Field, ProtocolError};
use crate::json::{parse_object, scalar, Member};
use crate::provision::{Tls, Wifi};
use crate::response::{Echo, KeySet};
use crate::update::{Begin, Chunk};

/// A logic level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// 0
    Low,
    /// 1
    High,
}

impl Level {
    /// The level as the protocol writes it: 0 or 1.
    pub const fn as_u8(self) -> u8 {
        match self {
            Level::Low => 0,
            Level::High => 1,
        }
    }

    /// `High` for `true`.
    pub const fn from_bool(high: bool) -> Self {
        if high {
            Level::High
        } else {
            Level::Low
        }
    }
}

/// Direction of a pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Read only.
    Input,
    /// Driven by the board.
    Output,
}

impl Mode {
    /// The wire word: `"input"` or `"output"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Input => "input",
            Mode::Output => "output",
        }
    }
}

/// Internal pull resistor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Pull {
    /// Floating.
    #[default]
    None,
    /// To the supply.
    Up,
    /// To ground.
    Down,
}

impl Pull {
    /// The wire word: `"none"`, `"up"` or `"down"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Pull::None => "none",
            Pull::Up => "up",
            Pull::Down => "down",
        }
    }
}

/// A typed command.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Command {
    /// Configure a pin; an output's `value` (else its current level) is
    /// its safe state.
    SetupPin {
        /// GPIO number.
        pin: u32,
        /// Direction.
        mode: Mode,
        /// Level to drive (outputs).
        value: Option<Level>,
        /// Pull resistor; `None` when not given.
        pull: Option<Pull>,
    },
    /// Drive an output for at most `timeout` seconds.
    WritePin {
        /// GPIO number.
        pin: u32,
        /// Level to drive.
        value: Level,
        /// Seconds before the pin returns to its safe state, as sent
        /// (the engine checks its range).
        timeout: f64,
        /// The pin also returns to its safe state when the connection
        /// that wrote it ends (`"release_on_disconnect"`, default false).
        release_on_disconnect: bool,
    },
    /// Read a pin's level.
    ReadPin {
        /// GPIO number.
        pin: u32,
    },
    /// Answer at once; measures round trips.
    Ping,
    /// Reset the board after answering.
    Reset,
    /// Sleep after answering.
    Sleep {
        /// Duration.
        time_ms: u32,
        /// Deep sleep (ends in a reset) rather than light sleep.
        deep: bool,
    },
    /// Report board resources (`get_info`, also `get_resource_info`).
    GetInfo,
    /// Report the server version.
    GetVersion,
    /// List the action names.
    ListActions,
    /// The original's file-copy update (refused: see `UpdateBegin`).
    Update,
    // The update commands' fields are checked by `parse` but read from
    // the echo (`update::Begin::from_echo`, `update::Chunk::from_echo`):
    // carrying them here would make every `Command` larger, and the pin
    // commands' hot path slower.
    /// Start receiving a firmware image (restarts any upload under way);
    /// fields in [`crate::update::Begin`].
    UpdateBegin,
    /// Image bytes at an offset; fields in [`crate::update::Chunk`].
    UpdateChunk,
    /// Report the upload's progress and the running image.
    UpdateStatus,
    /// Check the whole image, mark it for the bootloader, reset.
    UpdateFinish,
    // Provisioning: like the update commands, their fields are read from
    // the echo (`provision::Wifi::from_echo`, `provision::Tls::from_echo`).
    /// Store the WiFi network; fields in [`crate::provision::Wifi`].
    SetWifi,
    /// Store the TCP port the board serves on.
    SetPort {
        /// From 1.
        port: u16,
    },
    /// Store the TLS identity; fields in [`crate::provision::Tls`].
    SetTls,
    /// Forget the TLS identity (plaintext from the next boot).
    ClearTls,
    /// Forget every stored setting.
    ClearConfig,
    /// Report the stored settings, secrets left out.
    GetConfig,
}

/// The action names, in the order `list_actions` reports them.
pub const ACTIONS: &[&str] = &[
    "setup_pin",
    "write_pin",
    "read_pin",
    "ping",
    "reset",
    "get_version",
    "get_info",
    "get_resource_info",
    "sleep",
    "list_actions",
    "update",
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
];

/// A parsed request: the command and what to echo.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Request<'a> {
    /// What to do.
    pub command: Command,
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

#[derive(Default)]
struct Raw<'a> {
    action: Option<&'a [u8]>,
    pin: Option<&'a [u8]>,
    mode: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    pull: Option<&'a [u8]>,
    timeout: Option<&'a [u8]>,
    time_ms: Option<&'a [u8]>,
    deep: Option<&'a [u8]>,
    files: Option<&'a [u8]>,
    compress: Option<&'a [u8]>,
    port: Option<&'a [u8]>,
    release_on_disconnect: Option<&'a [u8]>,
    present: KeySet,
}

impl<'a> Raw<'a> {
    fn take(&mut self, m: Member<'a>) {
        // Python's json keeps the last of duplicate keys; so do we.
        let slot = match m.key {
            b"action" => &mut self.action,
            b"pin" => &mut self.pin,
            b"mode" => &mut self.mode,
            b"value" => {
                self.present = self.present.union(KeySet::VALUE);
                &mut self.value
            }
            b"pull" => &mut self.pull,
            b"timeout" => &mut self.timeout,
            b"time_ms" => &mut self.time_ms,
            b"deep" => &mut self.deep,
            b"files" => &mut self.files,
            b"compress" => &mut self.compress,
            b"port" => &mut self.port,
            b"release_on_disconnect" => &mut self.release_on_disconnect,
            other => {
                self.present = self.present.union(KeySet::of_key(other));
                return;
            }
        };
        *slot = Some(m.value);
    }
}

/// Longest action name quoted back in an "unknown action" error.
const MAX_QUOTED_ACTION: usize = 64;

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
    let mut raw = Raw::default();
    let object = parse_object(line, |m| raw.take(m)).map_err(|e| Rejected {
        echo: None,
        error: ProtocolError::Json(e),
    })?;
    let echo = Echo {
        object,
        present: raw.present,
    };
    command(&raw, &echo)
        .map(|command| Request { command, echo })
        .map_err(|error| Rejected {
            echo: Some(echo),
            error,
        })
}

fn command<'a>(raw: &Raw<'a>, echo: &Echo<'a>) -> Result<Command, ProtocolError<'a>> {
    let action = raw.action.ok_or(ProtocolError::MissingAction)?;
    let Some(name) = plain_bytes(action) else {
        return Err(unknown(action));
    };
    Ok(match name {
        b"setup_pin" => {
            require(&[(Field::Pin, raw.pin), (Field::Mode, raw.mode)])?;
            Command::SetupPin {
                pin: pin(raw.pin)?,
                mode: mode(raw.mode)?,
                value: raw.value.map(level).transpose()?,
                pull: raw.pull.map(pull).transpose()?,
            }
        }
        b"write_pin" => {
            require(&[
                (Field::Pin, raw.pin),
                (Field::Value, raw.value),
                (Field::Timeout, raw.timeout),
            ])?;
            Command::WritePin {
                pin: pin(raw.pin)?,
                value: level(raw.value.unwrap_or_default())?,
                timeout: scalar::float(raw.timeout.unwrap_or_default()).ok_or(
                    ProtocolError::BadValue {
                        field: "timeout",
                        expected: "a number of seconds",
                    },
                )?,
                release_on_disconnect: match raw.release_on_disconnect {
                    None => false,
                    Some(r) => scalar::bit(r).ok_or(ProtocolError::BadValue {
                        field: "release_on_disconnect",
                        expected: "0 or 1 (or false/true)",
                    })?,
                },
            }
        }
        b"read_pin" => {
            require(&[(Field::Pin, raw.pin)])?;
            Command::ReadPin { pin: pin(raw.pin)? }
        }
        b"ping" => Command::Ping,
        b"reset" => Command::Reset,
        b"sleep" => {
            require(&[(Field::TimeMs, raw.time_ms)])?;
            Command::Sleep {
                time_ms: scalar::integer(raw.time_ms.unwrap_or_default())
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or(ProtocolError::BadValue {
                        field: "time_ms",
                        expected: "a whole number of milliseconds from 0 to 4294967295",
                    })?,
                deep: match raw.deep {
                    None => false,
                    Some(d) => scalar::bit(d).ok_or(ProtocolError::BadValue {
                        field: "deep",
                        expected: "0 or 1 (or false/true)",
                    })?,
                },
            }
        }
        b"get_info" | b"get_resource_info" => Command::GetInfo,
        b"get_version" => Command::GetVersion,
        b"list_actions" => Command::ListActions,
        b"update" => {
            // The original's shape, checked so its client learns what is
            // wrong with the request before learning it is not supported.
            require(&[(Field::Files, raw.files), (Field::Compress, raw.compress)])?;
            if !raw.files.unwrap_or_default().starts_with(b"{") {
                return Err(ProtocolError::BadValue {
                    field: "files",
                    expected: "an object of file names to contents",
                });
            }
            if !matches!(raw.compress, Some(b"true" | b"false")) {
                return Err(ProtocolError::BadValue {
                    field: "compress",
                    expected: "true or false",
                });
            }
            Command::Update
        }
        b"update_begin" => {
            Begin::from_echo(echo)?;
            Command::UpdateBegin
        }
        b"update_chunk" => {
            Chunk::from_echo(echo)?;
            Command::UpdateChunk
        }
        b"update_status" => Command::UpdateStatus,
        b"update_finish" => Command::UpdateFinish,
        b"set_wifi" => {
            Wifi::from_echo(echo)?;
            Command::SetWifi
        }
        b"set_port" => {
            require(&[(Field::Port, raw.port)])?;
            Command::SetPort {
                port: crate::provision::port(raw.port)?,
            }
        }
        b"set_tls" => {
            Tls::from_echo(echo)?;
            Command::SetTls
        }
        b"clear_tls" => Command::ClearTls,
        b"clear_config" => Command::ClearConfig,
        b"get_config" => Command::GetConfig,
        _ => return Err(unknown(action)),
    })
}

/// A string value's contents, for comparing with a name. Unlike
/// [`scalar::plain_str`] this neither checks UTF-8 (the line was checked
/// as a whole) nor refuses escapes: no name contains a backslash, so an
/// escaped value matches none, as with `plain_str`.
fn plain_bytes(raw: &[u8]) -> Option<&[u8]> {
    scalar::raw_str(raw)
}

fn unknown(action: &[u8]) -> ProtocolError<'_> {
    let quoted = scalar::raw_str(action)
        .or(Some(action))
        .filter(|s| s.len() <= MAX_QUOTED_ACTION && !s.contains(&b'"'));
    ProtocolError::UnknownAction(quoted)
}

fn pin<'a>(raw: Option<&[u8]>) -> Result<u32, ProtocolError<'a>> {
    raw.and_then(scalar::integer)
        .and_then(|p| u32::try_from(p).ok())
        .ok_or(ProtocolError::BadValue {
            field: "pin",
            expected: "a GPIO number: an integer from 0, or a string holding one",
        })
}

fn level<'a>(raw: &[u8]) -> Result<Level, ProtocolError<'a>> {
    scalar::bit(raw)
        .map(Level::from_bool)
        .ok_or(ProtocolError::BadValue {
            field: "value",
            expected: "0 or 1 (or false/true)",
        })
}

fn mode<'a>(raw: Option<&[u8]>) -> Result<Mode, ProtocolError<'a>> {
    match raw.and_then(plain_bytes) {
        Some(b"input") => Ok(Mode::Input),
        Some(b"output") => Ok(Mode::Output),
        _ => Err(ProtocolError::BadValue {
            field: "mode",
            expected: "\"input\" or \"output\"",
        }),
    }
}

fn pull<'a>(raw: &[u8]) -> Result<Pull, ProtocolError<'a>> {
    match (raw, plain_bytes(raw)) {
        (b"null", _) | (_, Some(b"none")) => Ok(Pull::None),
        (_, Some(b"up")) => Ok(Pull::Up),
        (_, Some(b"down")) => Ok(Pull::Down),
        _ => Err(ProtocolError::BadValue {
            field: "pull",
            expected: "\"up\", \"down\" or \"none\"",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;
    use crate::response::Message;

    fn ok(line: &str) -> Command {
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
        let table: &[(&str, Command)] = &[
            (
                r#"{"action": "setup_pin", "pin": 2, "mode": "output", "value": 0}"#,
                Command::SetupPin {
                    pin: 2,
                    mode: Mode::Output,
                    value: Some(Level::Low),
                    pull: None,
                },
            ),
            (
                r#"{"action": "setup_pin", "pin": "7", "mode": "input", "pull": "up"}"#,
                Command::SetupPin {
                    pin: 7,
                    mode: Mode::Input,
                    value: None,
                    pull: Some(Pull::Up),
                },
            ),
            (
                r#"{"action": "setup_pin", "pin": 3, "mode": "input", "pull": null}"#,
                Command::SetupPin {
                    pin: 3,
                    mode: Mode::Input,
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
            (r#"{"action": "set_wifi", "ssid": "n"}"#, Command::SetWifi),
            (
                r#"{"action": "set_port", "port": "8080"}"#,
                Command::SetPort { port: 8080 },
            ),
            (
                r#"{"action": "set_tls", "cert": "AA==", "key": "AA=="}"#,
                Command::SetTls,
            ),
            (r#"{"action": "clear_tls"}"#, Command::ClearTls),
            (r#"{"action": "clear_config"}"#, Command::ClearConfig),
            (r#"{"action": "get_config"}"#, Command::GetConfig),
        ];
        for (line, want) in table {
            assert_eq!(&ok(line), want, "{line}");
        }
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
        let req = parse(line.as_bytes()).unwrap();
        assert_eq!(req.command, Command::UpdateBegin);
        let begin = Begin::from_echo(&req.echo).unwrap();
        assert_eq!(begin.size, 70000);
        assert_eq!(begin.sha256.bytes()[..2], [0x00, 0x11]);
        assert_eq!(begin.sha256.bytes()[31], 0xff);
        assert_eq!(begin.signature.bytes(), [0x0f; 64]);
        assert_eq!(begin.version, Some("0.2.0-rc1"));

        let no_version = std::format!(
            r#"{{"action": "update_begin", "size": "12", "sha256": "{SHA}", "signature": "{}", "version": null}}"#,
            sig()
        );
        let req = parse(no_version.as_bytes()).unwrap();
        let begin = Begin::from_echo(&req.echo).unwrap();
        assert_eq!((begin.size, begin.version), (12, None));

        let req =
            parse(br#"{"action": "update_chunk", "offset": 2048, "data": "aGVsbG8="}"#).unwrap();
        assert_eq!(req.command, Command::UpdateChunk);
        let chunk = Chunk::from_echo(&req.echo).unwrap();
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
    fn every_listed_action_parses() {
        for name in ACTIONS {
            let line = std::format!(
                r#"{{"action": "{name}", "pin": 1, "mode": "input", "value": 0, "timeout": 1, "time_ms": 1, "files": {{}}, "compress": true, "size": 1, "sha256": "{SHA}", "signature": "{}", "offset": 0, "data": "AA==", "ssid": "n", "password": "12345678", "port": 80, "cert": "AA==", "key": "AA=="}}"#,
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
