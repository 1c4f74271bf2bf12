//! Every action the client sends, typed: the one place its wire JSON is
//! written, so no caller builds a command by hand.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::pin::{Level, Mode, Pull};
pub use piconet_protocol::action::events::Edge;

/// One command, typed. [`Action::to_command`] writes it as the wire JSON
/// (without `time_sent`, which [`crate::Connection::request`] stamps).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Action<'a> {
    /// `ping`: answered at once, for round trips.
    Ping,
    /// `get_version`.
    GetVersion,
    /// `list_actions`.
    ListActions,
    /// `get_info`.
    GetInfo,
    /// `get_pins` (piconet servers): every configured pin's state.
    GetPins,
    /// `reset`: the board answers, then restarts.
    Reset,
    /// `sleep`, light or deep, for `time_ms`.
    Sleep {
        /// Milliseconds.
        time_ms: u32,
        /// Deep sleep (the board resets when it wakes).
        deep: bool,
    },
    /// `setup_pin`.
    SetupPin {
        /// GPIO number.
        pin: u32,
        /// Direction.
        mode: Mode,
        /// Level to drive (and, on piconet servers, the safe level).
        value: Option<Level>,
        /// Pull resistor (piconet servers).
        pull: Option<Pull>,
    },
    /// `write_pin`, held for `hold`, then the server puts the pin back.
    WritePin {
        /// GPIO number.
        pin: u32,
        /// Level to drive.
        value: Level,
        /// How long the level holds.
        hold: Duration,
        /// Also put the pin back when this connection ends (piconet servers;
        /// sent only when true, so the original server never sees it).
        release_on_disconnect: bool,
    },
    /// `read_pin`.
    ReadPin {
        /// GPIO number.
        pin: u32,
    },
    /// `update_status`: where an image upload stands.
    UpdateStatus,
    /// `update_begin`: announce a signed image.
    UpdateBegin {
        /// Image size in bytes.
        size: u64,
        /// SHA-256 of the image.
        sha256: &'a [u8; 32],
        /// ed25519 signature of the image's SHA-512 digest.
        signature: &'a [u8; 64],
        /// The version the image carries, if the signer gave it.
        version: Option<&'a str>,
        /// Install it even if older than the running image (sent only
        /// when true).
        allow_downgrade: bool,
    },
    /// `update_chunk`: image bytes at `offset` (at most
    /// [`piconet_protocol::update::MAX_CHUNK`]).
    UpdateChunk {
        /// Where in the image `data` starts.
        offset: u64,
        /// The bytes (sent as base64).
        data: &'a [u8],
    },
    /// `update_finish`: verify the whole image and swap it in.
    UpdateFinish,
    /// `get_config`: the board's stored settings (secrets redacted).
    GetConfig,
    /// `set_wifi` (over the USB cable only); an empty password is an open network.
    SetWifi {
        /// Network name.
        ssid: &'a str,
        /// WPA2 passphrase; empty: none is sent.
        password: &'a str,
    },
    /// `set_name` (over the USB cable only): the board's name, announced
    /// over mDNS as `NAME.local` (1 to 32 of `a-z`, `0-9`, `-`).
    SetName {
        /// The name.
        name: &'a str,
    },
    /// `set_port`: the TCP port the board listens on.
    SetPort {
        /// The port.
        port: u16,
    },
    /// `set_radio_power`: how much power the WiFi chip saves while the
    /// board is awake, at what latency (the default `None`: no power
    /// saving, the lowest latency).
    SetRadioPower {
        /// The mode.
        mode: crate::protocol::provision::RadioPower,
    },
    /// `set_tls`: the board's certificate and private key, DER.
    SetTls {
        /// Certificate, DER.
        cert: &'a [u8],
        /// Private key, DER (SEC1 or PKCS#8).
        key: &'a [u8],
    },
    /// `clear_tls`: back to plaintext.
    ClearTls,
    /// `clear_config` (over the USB cable only): every stored setting
    /// erased; the board runs on its defaults after its next reset.
    ClearConfig,
    /// `watch_pin` (piconet servers): event lines for this connection on
    /// every edge of an input (read them with
    /// [`crate::Connection::next_event`]).
    WatchPin {
        /// GPIO number, set up as an input.
        pin: u32,
        /// Which edges.
        edge: Edge,
        /// Edges this many ms after the last one are bounces (0–1000).
        debounce_ms: u16,
    },
    /// `unwatch_pin`: no more events for that pin.
    UnwatchPin {
        /// GPIO number.
        pin: u32,
    },
    /// `sim_input` (simulated boards only): the level applied to a pin.
    SimInput {
        /// GPIO number.
        pin: u32,
        /// The level.
        value: Level,
    },
    /// `sim_input` with `volts` (simulated boards only): the voltage
    /// applied to an ADC pin.
    SimVolts {
        /// GPIO number, set up as an ADC input.
        pin: u32,
        /// Volts, 0 to 3.6.
        volts: f64,
    },
    /// `setup_pin` with `"mode": "pwm"`: a PWM output whose `safe_duty` at
    /// `frequency` is where every lease ends.
    SetupPwm {
        /// GPIO number.
        pin: u32,
        /// Hz, 10 to 1,000,000.
        frequency: u32,
        /// The safe duty cycle, 0.0 to 1.0.
        safe_duty: f64,
    },
    /// `write_pwm`: `duty` (and `frequency`) held for `hold`, then the
    /// server puts the safe duty and frequency back.
    WritePwm {
        /// GPIO number, set up with [`Action::SetupPwm`].
        pin: u32,
        /// Duty cycle, 0.0 to 1.0.
        duty: f64,
        /// New frequency in Hz; `None` keeps the running one.
        frequency: Option<u32>,
        /// How long it holds.
        hold: Duration,
        /// Also put it back when this connection ends (sent only when true).
        release_on_disconnect: bool,
    },
    /// `setup_pin` with `"mode": "adc"`: an analogue input (GPIO 26–28 on
    /// a Pico W).
    SetupAdc {
        /// GPIO number.
        pin: u32,
    },
    /// `read_adc`: `raw` (0–4095) and `volts`.
    ReadAdc {
        /// GPIO number, set up with [`Action::SetupAdc`].
        pin: u32,
    },
    /// `read_temperature`: `celsius`.
    ReadTemperature,
    /// `i2c_setup`: bus `bus` on `sda`/`scl` at `frequency` Hz.
    I2cSetup {
        /// 0 or 1.
        bus: u8,
        /// Data pin.
        sda: u32,
        /// Clock pin.
        scl: u32,
        /// Hz, 10,000 to 1,000,000.
        frequency: u32,
    },
    /// `i2c_write`: 1 to 256 bytes to the device at `address`.
    I2cWrite {
        /// Bus number.
        bus: u8,
        /// 7-bit address.
        address: u8,
        /// The bytes.
        data: &'a [u8],
    },
    /// `i2c_read`: `count` (1 to 256) bytes from the device at `address`.
    I2cRead {
        /// Bus number.
        bus: u8,
        /// 7-bit address.
        address: u8,
        /// How many bytes.
        count: u16,
    },
    /// `i2c_transfer`: write, then read `count` bytes after a repeated start.
    I2cTransfer {
        /// Bus number.
        bus: u8,
        /// 7-bit address.
        address: u8,
        /// The bytes written first (1 to 256).
        write: &'a [u8],
        /// How many bytes are read (1 to 256).
        count: u16,
    },
    /// `set_clients`: the board's client list (over USB, or as an admin
    /// once it has one); empty turns client authentication off.
    SetClients {
        /// The clients.
        clients: &'a [crate::clients::ClientEntry],
    },
    /// `get_clients`: the board's client list.
    GetClients,
}

impl Action<'_> {
    /// The action's wire name.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Ping => "ping",
            Action::GetVersion => "get_version",
            Action::ListActions => "list_actions",
            Action::GetInfo => "get_info",
            Action::GetPins => "get_pins",
            Action::Reset => "reset",
            Action::Sleep { .. } => "sleep",
            Action::SetupPin { .. } => "setup_pin",
            Action::WritePin { .. } => "write_pin",
            Action::ReadPin { .. } => "read_pin",
            Action::UpdateStatus => "update_status",
            Action::UpdateBegin { .. } => "update_begin",
            Action::UpdateChunk { .. } => "update_chunk",
            Action::UpdateFinish => "update_finish",
            Action::GetConfig => "get_config",
            Action::SetWifi { .. } => "set_wifi",
            Action::SetPort { .. } => "set_port",
            Action::SetName { .. } => "set_name",
            Action::SetRadioPower { .. } => "set_radio_power",
            Action::SetTls { .. } => "set_tls",
            Action::ClearTls => "clear_tls",
            Action::ClearConfig => "clear_config",
            Action::WatchPin { .. } => "watch_pin",
            Action::UnwatchPin { .. } => "unwatch_pin",
            Action::SimInput { .. } | Action::SimVolts { .. } => "sim_input",
            Action::SetupPwm { .. } | Action::SetupAdc { .. } => "setup_pin",
            Action::WritePwm { .. } => "write_pwm",
            Action::ReadAdc { .. } => "read_adc",
            Action::ReadTemperature => "read_temperature",
            Action::I2cSetup { .. } => "i2c_setup",
            Action::I2cWrite { .. } => "i2c_write",
            Action::I2cRead { .. } => "i2c_read",
            Action::I2cTransfer { .. } => "i2c_transfer",
            Action::SetClients { .. } => "set_clients",
            Action::GetClients => "get_clients",
        }
    }

    /// The command as the wire carries it.
    pub fn to_command(&self) -> Map<String, Value> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut fields = match *self {
            Action::Sleep { time_ms, deep } => json!({"time_ms": time_ms, "deep": u8::from(deep)}),
            Action::SetupPin {
                pin,
                mode,
                value,
                pull,
            } => {
                let mut cmd = json!({"pin": pin, "mode": mode.as_str()});
                if let Some(value) = value {
                    cmd["value"] = json!(value.as_u8());
                }
                if let Some(pull) = pull {
                    cmd["pull"] = json!(pull.as_str());
                }
                cmd
            }
            Action::WritePin {
                pin,
                value,
                hold,
                release_on_disconnect,
            } => {
                let mut cmd =
                    json!({"pin": pin, "value": value.as_u8(), "timeout": hold.as_secs_f64()});
                if release_on_disconnect {
                    cmd["release_on_disconnect"] = json!(true);
                }
                cmd
            }
            Action::ReadPin { pin } | Action::UnwatchPin { pin } => json!({ "pin": pin }),
            Action::WatchPin {
                pin,
                edge,
                debounce_ms,
            } => json!({"pin": pin, "edge": edge.as_str(), "debounce_ms": debounce_ms}),
            Action::SimInput { pin, value } => json!({"pin": pin, "value": value.as_u8()}),
            Action::SimVolts { pin, volts } => json!({"pin": pin, "volts": volts}),
            Action::SetupPwm {
                pin,
                frequency,
                safe_duty,
            } => json!({"pin": pin, "mode": "pwm", "frequency": frequency, "duty": safe_duty}),
            Action::WritePwm {
                pin,
                duty,
                frequency,
                hold,
                release_on_disconnect,
            } => {
                let mut cmd = json!({"pin": pin, "duty": duty, "timeout": hold.as_secs_f64()});
                if let Some(frequency) = frequency {
                    cmd["frequency"] = json!(frequency);
                }
                if release_on_disconnect {
                    cmd["release_on_disconnect"] = json!(true);
                }
                cmd
            }
            Action::SetupAdc { pin } => json!({"pin": pin, "mode": "adc"}),
            Action::ReadAdc { pin } => json!({ "pin": pin }),
            Action::I2cSetup {
                bus,
                sda,
                scl,
                frequency,
            } => json!({"bus": bus, "sda": sda, "scl": scl, "frequency": frequency}),
            Action::I2cWrite { bus, address, data } => {
                json!({"bus": bus, "address": address, "data": data})
            }
            Action::I2cRead {
                bus,
                address,
                count,
            } => json!({"bus": bus, "address": address, "count": count}),
            Action::I2cTransfer {
                bus,
                address,
                write,
                count,
            } => json!({"bus": bus, "address": address, "write": write, "count": count}),
            Action::UpdateBegin {
                size,
                sha256,
                signature,
                version,
                allow_downgrade,
            } => {
                let mut cmd = json!({
                    "size": size,
                    "sha256": hex(sha256),
                    "signature": hex(signature),
                    "version": version,
                });
                if allow_downgrade {
                    cmd["allow_downgrade"] = json!(true);
                }
                cmd
            }
            Action::SetClients { clients } => {
                json!({"clients": clients.iter().map(|c| c.to_json()).collect::<Vec<_>>()})
            }
            Action::UpdateChunk { offset, data } => {
                json!({"offset": offset, "data": b64.encode(data)})
            }
            Action::SetWifi { ssid, password } => {
                let mut cmd = json!({ "ssid": ssid });
                if !password.is_empty() {
                    cmd["password"] = json!(password);
                }
                cmd
            }
            Action::SetPort { port } => json!({ "port": port }),
            Action::SetName { name } => json!({ "name": name }),
            Action::SetRadioPower { mode } => json!({ "mode": mode.as_str() }),
            Action::SetTls { cert, key } => {
                json!({"cert": b64.encode(cert), "key": b64.encode(key)})
            }
            Action::Ping
            | Action::GetVersion
            | Action::ListActions
            | Action::GetInfo
            | Action::GetPins
            | Action::Reset
            | Action::UpdateStatus
            | Action::UpdateFinish
            | Action::GetConfig
            | Action::GetClients
            | Action::ReadTemperature
            | Action::ClearTls
            | Action::ClearConfig => json!({}),
        };
        let Value::Object(fields) = &mut fields else {
            unreachable!("every action's fields are a JSON object")
        };
        let mut command = Map::new();
        command.insert("action".into(), Value::from(self.name()));
        command.append(fields);
        command
    }
}

/// Lower-case hex, as the update actions carry digests and signatures.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(action: Action<'_>) -> Value {
        Value::Object(action.to_command())
    }

    #[test]
    fn pwm_adc_and_i2c_actions_are_protocol_next_json() {
        assert_eq!(
            wire(Action::SetupPwm {
                pin: 15,
                frequency: 1000,
                safe_duty: 0.0
            }),
            json!({"action": "setup_pin", "pin": 15, "mode": "pwm", "frequency": 1000, "duty": 0.0})
        );
        assert_eq!(
            wire(Action::WritePwm {
                pin: 15,
                duty: 0.5,
                frequency: None,
                hold: Duration::from_millis(1500),
                release_on_disconnect: false
            }),
            json!({"action": "write_pwm", "pin": 15, "duty": 0.5, "timeout": 1.5})
        );
        assert_eq!(
            wire(Action::WritePwm {
                pin: 15,
                duty: 1.0,
                frequency: Some(2000),
                hold: Duration::from_secs(5),
                release_on_disconnect: true
            }),
            json!({"action": "write_pwm", "pin": 15, "duty": 1.0, "timeout": 5.0, "frequency": 2000, "release_on_disconnect": true})
        );
        assert_eq!(
            wire(Action::SetupAdc { pin: 26 }),
            json!({"action": "setup_pin", "pin": 26, "mode": "adc"})
        );
        assert_eq!(
            wire(Action::ReadAdc { pin: 26 }),
            json!({"action": "read_adc", "pin": 26})
        );
        assert_eq!(
            wire(Action::ReadTemperature),
            json!({"action": "read_temperature"})
        );
        assert_eq!(
            wire(Action::SimVolts {
                pin: 26,
                volts: 1.65
            }),
            json!({"action": "sim_input", "pin": 26, "volts": 1.65})
        );
        assert_eq!(
            wire(Action::I2cSetup {
                bus: 0,
                sda: 4,
                scl: 5,
                frequency: 100_000
            }),
            json!({"action": "i2c_setup", "bus": 0, "sda": 4, "scl": 5, "frequency": 100000})
        );
        assert_eq!(
            wire(Action::I2cWrite {
                bus: 1,
                address: 0x50,
                data: &[0, 255]
            }),
            json!({"action": "i2c_write", "bus": 1, "address": 80, "data": [0, 255]})
        );
        assert_eq!(
            wire(Action::I2cRead {
                bus: 0,
                address: 0x50,
                count: 4
            }),
            json!({"action": "i2c_read", "bus": 0, "address": 80, "count": 4})
        );
        assert_eq!(
            wire(Action::I2cTransfer {
                bus: 0,
                address: 0x50,
                write: &[16],
                count: 2
            }),
            json!({"action": "i2c_transfer", "bus": 0, "address": 80, "write": [16], "count": 2})
        );
    }

    #[test]
    fn gpio_actions_are_the_original_clients_json() {
        assert_eq!(
            wire(Action::SetupPin {
                pin: 2,
                mode: Mode::Output,
                value: Some(Level::Low),
                pull: None
            }),
            json!({"action": "setup_pin", "pin": 2, "mode": "output", "value": 0})
        );
        assert_eq!(
            wire(Action::WritePin {
                pin: 2,
                value: Level::High,
                hold: Duration::from_millis(1500),
                release_on_disconnect: false
            }),
            json!({"action": "write_pin", "pin": 2, "value": 1, "timeout": 1.5})
        );
        assert_eq!(
            wire(Action::WritePin {
                pin: 2,
                value: Level::High,
                hold: Duration::from_secs(5),
                release_on_disconnect: true
            }),
            json!({"action": "write_pin", "pin": 2, "value": 1, "timeout": 5.0,
                   "release_on_disconnect": true})
        );
        assert_eq!(
            wire(Action::Sleep {
                time_ms: 10,
                deep: true
            }),
            json!({"action": "sleep", "time_ms": 10, "deep": 1})
        );
        assert_eq!(wire(Action::GetPins), json!({"action": "get_pins"}));
        assert_eq!(
            wire(Action::WatchPin {
                pin: 5,
                edge: Edge::Rising,
                debounce_ms: 20
            }),
            json!({"action": "watch_pin", "pin": 5, "edge": "rising", "debounce_ms": 20})
        );
        assert_eq!(
            wire(Action::UnwatchPin { pin: 5 }),
            json!({"action": "unwatch_pin", "pin": 5})
        );
        assert_eq!(
            wire(Action::SimInput {
                pin: 5,
                value: Level::High
            }),
            json!({"action": "sim_input", "pin": 5, "value": 1})
        );
    }

    #[test]
    fn update_and_provisioning_actions() {
        assert_eq!(
            wire(Action::UpdateBegin {
                size: 3,
                sha256: &[0xab; 32],
                signature: &[1; 64],
                version: Some("1.2.3"),
                allow_downgrade: false,
            }),
            json!({"action": "update_begin", "size": 3, "sha256": "ab".repeat(32),
                   "signature": "01".repeat(64), "version": "1.2.3"})
        );
        assert_eq!(
            wire(Action::UpdateBegin {
                size: 3,
                sha256: &[0xab; 32],
                signature: &[1; 64],
                version: None,
                allow_downgrade: true,
            })["allow_downgrade"],
            json!(true)
        );
        let clients = [crate::clients::ClientEntry {
            name: "ha".into(),
            sha256: crate::Fingerprint::of_certificate(b"x"),
            role: crate::Role::Operator,
            pins: Some(vec![2, 3]),
        }];
        let cmd = wire(Action::SetClients { clients: &clients });
        assert_eq!(
            cmd["clients"],
            json!([{"name": "ha", "sha256": clients[0].sha256.to_string(), "role": "operator", "pins": [2, 3]}])
        );
        assert_eq!(
            crate::ClientEntry::list_from_json(&cmd["clients"]).unwrap(),
            clients
        );
        assert_eq!(wire(Action::GetClients), json!({"action": "get_clients"}));
        assert_eq!(
            wire(Action::UpdateChunk {
                offset: 1024,
                data: b"hello"
            }),
            json!({"action": "update_chunk", "offset": 1024, "data": "aGVsbG8="})
        );
        assert_eq!(
            wire(Action::SetWifi {
                ssid: "net",
                password: ""
            }),
            json!({"action": "set_wifi", "ssid": "net"})
        );
        assert_eq!(
            wire(Action::SetWifi {
                ssid: "net",
                password: "12345678"
            }),
            json!({"action": "set_wifi", "ssid": "net", "password": "12345678"})
        );
        assert_eq!(
            wire(Action::SetTls {
                cert: b"c",
                key: b"k"
            }),
            json!({"action": "set_tls", "cert": "Yw==", "key": "aw=="})
        );
        assert_eq!(
            wire(Action::SetPort { port: 1234 }),
            json!({"action": "set_port", "port": 1234})
        );
        assert_eq!(
            wire(Action::SetName { name: "garden" }),
            json!({"action": "set_name", "name": "garden"})
        );
        assert_eq!(
            wire(Action::SetRadioPower {
                mode: crate::protocol::provision::RadioPower::PowerSave
            }),
            json!({"action": "set_radio_power", "mode": "power_save"})
        );
        assert_eq!(wire(Action::ClearTls), json!({"action": "clear_tls"}));
        assert_eq!(wire(Action::ClearConfig), json!({"action": "clear_config"}));
    }
}
