//! `Board`: one board, one connection kept open (opened on first use and
//! again after it broke), every action as a method.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use piconet_client::{
    discover, Action, Client, ClientEntry, Connection, Edge, Endpoint, Error, Fingerprint,
    Identity, KnownHosts, Level, Map, Mode, PingStats, Pull, Response, Role, TlsVerify, Value,
};
use pyo3::prelude::*;
use sha2::{Digest, Sha256};

use crate::runtime::runtime;
use crate::{convert, errors, event};

/// What `write_pin(..., timeout=None)` asks for: the longest lease piconetd
/// grants by default (`--max-lease-secs`).
pub(crate) const MAX_LEASE: Duration = Duration::from_secs(24 * 3600);

/// Bytes per `update_chunk` in `update()`: the protocol's maximum.
const UPDATE_CHUNK: usize = piconet_client::protocol::update::MAX_CHUNK;

/// How long one wait for an event holds the connection before signals
/// (Ctrl-C) are checked and other threads may send commands on it.
const EVENT_SLICE: Duration = Duration::from_millis(100);

/// A piconet board (the Pico W firmware, piconetd, or the original
/// piconetcontrol server) reached over one connection.
#[pyclass(module = "piconet._piconet", name = "Board", subclass, frozen)]
pub(crate) struct Board {
    client: Client,
    conn: Mutex<Option<Connection>>,
    closed: AtomicBool,
    /// Connections opened so far: a caller that sees it grow knows a new
    /// connection (and maybe a reset board) is behind the next answers.
    opened: AtomicU64,
}

/// How one call on the connection ended, besides an answer.
enum Failure {
    /// `close()` was called.
    Closed,
    /// No connection to wait on (it broke, or none was opened).
    NoConnection,
    /// The client's error.
    Client(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Client(e)
    }
}

impl Board {
    fn lock(&self) -> MutexGuard<'_, Option<Connection>> {
        // A panic elsewhere leaves at worst a dropped connection.
        self.conn
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn fail(&self, py: Python<'_>, failure: Failure) -> PyErr {
        match failure {
            Failure::Closed => errors::connection(
                py,
                format!("the board {} was closed", self.client.endpoint()),
            ),
            Failure::NoConnection => errors::connection(
                py,
                format!(
                    "no connection to {} to wait for events on: its watches ended with it \
                     (watch_pin again)",
                    self.client.endpoint()
                ),
            ),
            Failure::Client(e) => errors::to_py(py, e),
        }
    }

    /// Sends `commands` in order on the open connection (opening it first
    /// if needed) and returns the answers, error answers included. After
    /// anything but an answer the connection's state is unknown: it is
    /// dropped, and the next call opens a new one.
    fn send(&self, commands: Vec<Map<String, Value>>) -> Result<Vec<Response>, Failure> {
        let mut guard = self.lock();
        if self.closed.load(Ordering::SeqCst) {
            return Err(Failure::Closed);
        }
        let result = runtime().block_on(async {
            if guard.is_none() {
                *guard = Some(self.client.connect().await?);
                self.opened.fetch_add(1, Ordering::SeqCst);
            }
            let conn = guard.as_mut().expect("connected just above");
            let mut answers = Vec::with_capacity(commands.len());
            for command in commands {
                answers.push(conn.request(command, false).await?);
            }
            Ok::<_, Error>(answers)
        });
        if result.is_err() {
            *guard = None;
        }
        Ok(result?)
    }

    /// One command; an error answer raises its exception.
    fn call(&self, py: Python<'_>, command: Map<String, Value>) -> PyResult<Response> {
        let mut answers = py
            .detach(|| self.send(vec![command]))
            .map_err(|f| self.fail(py, f))?;
        answers
            .remove(0)
            .into_result()
            .map_err(|e| errors::to_py(py, e))
    }

    /// One typed action; its answer as a dict.
    fn perform(&self, py: Python<'_>, action: Action<'_>) -> PyResult<Py<PyAny>> {
        let answer = self.call(py, action.to_command())?;
        answer_to_py(py, &answer)
    }

    /// The `data` array of an I2C answer as bytes.
    fn bytes(&self, py: Python<'_>, answer: &Response) -> PyResult<Vec<u8>> {
        let bad = || {
            errors::to_py(
                py,
                Error::MissingField {
                    action: "i2c".into(),
                    field: "data",
                    response: Box::new(answer.clone()),
                },
            )
        };
        let Value::Array(items) = self.field(py, answer, "data")? else {
            return Err(bad());
        };
        items
            .iter()
            .map(|v| {
                v.as_u64()
                    .and_then(|b| u8::try_from(b).ok())
                    .ok_or_else(bad)
            })
            .collect()
    }

    /// The field `name` of `answer`, which the action promises.
    fn field<'a>(
        &self,
        py: Python<'_>,
        answer: &'a Response,
        name: &'static str,
    ) -> PyResult<&'a Value> {
        answer.get(name).ok_or_else(|| {
            errors::to_py(
                py,
                Error::MissingField {
                    action: answer.action().to_owned(),
                    field: name,
                    response: Box::new(answer.clone()),
                },
            )
        })
    }

    /// A provisioning action; the `config` object of its answer.
    fn config(&self, py: Python<'_>, action: Action<'_>) -> PyResult<Py<PyAny>> {
        let answer = self.call(py, action.to_command())?;
        Ok(convert::to_py(py, self.field(py, &answer, "config")?)?.unbind())
    }

    /// An update action; the `update` object of its answer.
    fn update_answer(&self, py: Python<'_>, action: Action<'_>) -> PyResult<Py<PyAny>> {
        let answer = self.call(py, action.to_command())?;
        Ok(convert::to_py(py, self.field(py, &answer, "update")?)?.unbind())
    }

    fn forget_connection(&self) {
        *self.lock() = None;
    }
}

/// One entry of `set_clients` from a Python dict.
fn client_entry(py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<ClientEntry> {
    let bad = |why: String| errors::argument(py, format!("a client {item}: {why}"));
    let fields: HashMap<String, Bound<'_, PyAny>> = item
        .extract()
        .map_err(|_| bad("is a dict of name, sha256, role and optionally pins".into()))?;
    if let Some(other) = fields
        .keys()
        .find(|k| !["name", "sha256", "role", "pins"].contains(&k.as_str()))
    {
        return Err(bad(format!("has no field {other:?}")));
    }
    let text = |key: &str| -> PyResult<String> {
        fields
            .get(key)
            .and_then(|v| v.extract::<String>().ok())
            .ok_or_else(|| bad(format!("needs {key} (a str)")))
    };
    let name = text("name")?;
    let sha256: Fingerprint = text("sha256")?
        .parse()
        .map_err(|e: String| bad(format!("sha256: {e}")))?;
    let role = text("role")?;
    let role = Role::from_name(&role).ok_or_else(|| {
        bad(format!(
            "role is \"viewer\", \"operator\" or \"admin\", not {role:?}"
        ))
    })?;
    let pins = match fields.get("pins") {
        None => None,
        Some(v) if v.is_none() => None,
        Some(v) => Some(
            v.extract::<Vec<u32>>()
                .map_err(|_| bad("pins is a list of GPIO numbers or None".into()))?,
        ),
    };
    Ok(ClientEntry {
        name,
        sha256,
        role,
        pins,
    })
}

/// A duty cycle from Python: 0.0 to 1.0.
fn duty(py: Python<'_>, duty: f64) -> PyResult<f64> {
    if (0.0..=1.0).contains(&duty) {
        Ok(duty)
    } else {
        Err(errors::argument(
            py,
            format!("a duty cycle is 0.0 to 1.0, not {duty}"),
        ))
    }
}

fn answer_to_py(py: Python<'_>, answer: &Response) -> PyResult<Py<PyAny>> {
    Ok(convert::to_py(py, &Value::Object(answer.raw().clone()))?.unbind())
}

fn level(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Level> {
    // bool is an int in Python: True/False and 1/0 alike.
    match value.extract::<i64>() {
        Ok(0) => Ok(Level::Low),
        Ok(1) => Ok(Level::High),
        _ => Err(errors::argument(
            py,
            format!("a level is 0 or 1 (or False/True), not {value}"),
        )),
    }
}

fn mode(py: Python<'_>, word: &str) -> PyResult<Mode> {
    [Mode::Input, Mode::Output]
        .into_iter()
        .find(|m| m.as_str() == word)
        .ok_or_else(|| {
            errors::argument(py, format!("mode is \"input\" or \"output\", not {word:?}"))
        })
}

fn pull(py: Python<'_>, word: &str) -> PyResult<Pull> {
    [Pull::None, Pull::Up, Pull::Down]
        .into_iter()
        .find(|p| p.as_str() == word)
        .ok_or_else(|| {
            errors::argument(
                py,
                format!("pull is \"up\", \"down\" or \"none\", not {word:?}"),
            )
        })
}

fn edge(py: Python<'_>, word: &str) -> PyResult<Edge> {
    [Edge::Both, Edge::Rising, Edge::Falling]
        .into_iter()
        .find(|e| e.as_str() == word)
        .ok_or_else(|| {
            errors::argument(
                py,
                format!("edge is \"both\", \"rising\" or \"falling\", not {word:?}"),
            )
        })
}

/// Seconds from Python as a duration: finite and above zero.
fn seconds(py: Python<'_>, what: &str, secs: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            errors::argument(
                py,
                format!("{what} is a number of seconds above 0, not {secs}"),
            )
        })
}

#[pymethods]
impl Board {
    /// Reach the board at `address` (`host`, `host:port`, `[v6]:port`, or a
    /// serial port such as `/dev/ttyACM0`). Nothing is sent until the first
    /// call (or `connect()`).
    ///
    /// TLS: `ca` trusts that CA or certificate file; `insecure=True`
    /// encrypts without verifying (as the original client); `tls=True`
    /// alone pins the certificate on first use in `known_hosts` (default:
    /// the piconet CLI's file, or `$PICONET_KNOWN_HOSTS`). `identity=(cert,
    /// key)` presents that client certificate (files, PEM) to a board with
    /// a client list; it implies TLS. `tls12=True` offers TLS 1.2 only
    /// (implies TLS): a Pico W resumes a TLS 1.2 session in 15 ms, a TLS 1.3
    /// one in 482 ms, so reconnections are cheap; the client certificate
    /// then crosses the network in the clear.
    #[new]
    #[pyo3(signature = (address, *, tls=false, ca=None, insecure=false, known_hosts=None, identity=None, timeout=piconet_client::DEFAULT_TIMEOUT.as_secs_f64(), tls12=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        address: &str,
        tls: bool,
        ca: Option<PathBuf>,
        insecure: bool,
        known_hosts: Option<PathBuf>,
        identity: Option<(PathBuf, PathBuf)>,
        timeout: f64,
        tls12: bool,
    ) -> PyResult<Self> {
        let tls = tls || tls12 || identity.is_some();
        let endpoint =
            if address.starts_with('/') || address.to_ascii_uppercase().starts_with("COM") {
                Endpoint::Serial(address.into())
            } else {
                Endpoint::Tcp(address.parse().map_err(|e| errors::to_py(py, e))?)
            };
        let verify = match (ca, insecure) {
            (Some(_), true) => {
                return Err(errors::argument(
                    py,
                    "ca= verifies the certificate and insecure=True does not: give one".into(),
                ))
            }
            (Some(ca), false) => Some(TlsVerify::CaFile(ca)),
            (None, true) => Some(TlsVerify::Insecure),
            (None, false) if tls || known_hosts.is_some() => {
                Some(TlsVerify::KnownHosts(match known_hosts {
                    Some(path) => path,
                    None => KnownHosts::default_path().map_err(|e| errors::to_py(py, e))?,
                }))
            }
            (None, false) => None,
        };
        let mut client = Client::to(endpoint).with_timeout(seconds(py, "timeout", timeout)?);
        if let Some(verify) = verify {
            client = client.with_tls(verify);
            if tls12 {
                client = client.with_tls12_only();
            }
        }
        if let Some((cert, key)) = identity {
            client = client.with_identity(Identity::new(cert, key));
        }
        Ok(Board {
            client,
            conn: Mutex::new(None),
            closed: AtomicBool::new(false),
            opened: AtomicU64::new(0),
        })
    }

    /// Where the board is reached, as `host:port` (or the serial port).
    #[getter]
    fn address(&self) -> String {
        self.client.endpoint().to_string()
    }

    /// How many connections this board has opened: one more after each
    /// reconnection (the board may have been reset in between).
    #[getter]
    fn connections(&self) -> u64 {
        self.opened.load(Ordering::SeqCst)
    }

    /// True while a connection is open (it opens on the next call otherwise).
    #[getter]
    fn connected(&self, py: Python<'_>) -> bool {
        py.detach(|| self.lock().is_some())
    }

    /// True after `close()`.
    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Another `Board` for the same address and settings, with its own
    /// connection (watches belong to a connection).
    fn _another(&self) -> Board {
        Board {
            client: self.client.clone(),
            conn: Mutex::new(None),
            closed: AtomicBool::new(false),
            opened: AtomicU64::new(0),
        }
    }

    /// Opens the connection now (TLS handshake included) if it is not open,
    /// so a wrong address or certificate fails here.
    fn connect(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.send(Vec::new()))
            .map(drop)
            .map_err(|f| self.fail(py, f))
    }

    /// Closes the connection; the board's `release_on_disconnect` leases of
    /// it end, and its watches. Later calls raise `ConnectionError`.
    fn close(&self, py: Python<'_>) {
        self.closed.store(true, Ordering::SeqCst);
        let conn = py.detach(|| self.lock().take());
        if let Some(conn) = conn {
            py.detach(|| runtime().block_on(conn.close()));
        }
    }

    /// `count` pings on the connection: `{"count", "round_trip": {"min_ns",
    /// "avg_ns", "max_ns"}, "to_server": {...}}`.
    #[pyo3(signature = (count=1))]
    fn ping(&self, py: Python<'_>, count: usize) -> PyResult<Py<PyAny>> {
        if count == 0 {
            return Err(errors::argument(py, "ping needs at least one ping".into()));
        }
        let pings = vec![Action::Ping.to_command(); count];
        let answers = py
            .detach(|| self.send(pings))
            .map_err(|f| self.fail(py, f))?;
        let stats = PingStats::from_responses(&answers).map_err(|e| errors::to_py(py, e))?;
        let value = serde_json::to_value(stats).expect("PingStats serializes");
        Ok(convert::to_py(py, &value)?.unbind())
    }

    /// The server software's version.
    fn get_version(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let answer = self.call(py, Action::GetVersion.to_command())?;
        Ok(convert::to_py(py, self.field(py, &answer, "version")?)?.unbind())
    }

    /// What the board reports about itself (`info`), as a dict.
    fn get_info(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let answer = self.call(py, Action::GetInfo.to_command())?;
        Ok(convert::to_py(py, self.field(py, &answer, "info")?)?.unbind())
    }

    /// The actions the server knows.
    fn list_actions(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let answer = self.call(py, Action::ListActions.to_command())?;
        Ok(convert::to_py(py, self.field(py, &answer, "actions")?)?.unbind())
    }

    /// Every configured pin, in pin order, as dicts (`pin`, `mode`, `level`,
    /// `safe`, `lease_ms`, `pull`, `watched`, ...).
    fn get_pins(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let answer = self.call(py, Action::GetPins.to_command())?;
        Ok(convert::to_py(py, self.field(py, &answer, "pins")?)?.unbind())
    }

    /// Sets a pin up as `"input"` (with `pull`) or `"output"`; an output's
    /// `value` is also its safe state. `"pwm"` takes `frequency` (Hz) and
    /// `duty` (its safe duty, 0.0-1.0); `"adc"` (GPIO 26-28) nothing more.
    #[pyo3(signature = (pin, mode, value=None, pull=None, frequency=None, duty=None))]
    #[allow(clippy::too_many_arguments)]
    fn setup_pin(
        &self,
        py: Python<'_>,
        pin: u32,
        mode: &str,
        value: Option<&Bound<'_, PyAny>>,
        pull: Option<&str>,
        frequency: Option<u32>,
        duty: Option<f64>,
    ) -> PyResult<Py<PyAny>> {
        if mode == "pwm" || mode == "adc" {
            if value.is_some() || pull.is_some() {
                return Err(errors::argument(
                    py,
                    format!("a {mode} pin takes no value= or pull="),
                ));
            }
            let action = if mode == "adc" {
                if frequency.is_some() || duty.is_some() {
                    return Err(errors::argument(
                        py,
                        "an adc pin takes no frequency= or duty=".into(),
                    ));
                }
                Action::SetupAdc { pin }
            } else {
                let Some(frequency) = frequency else {
                    return Err(errors::argument(
                        py,
                        "mode=\"pwm\" needs frequency= (Hz, 10 to 1,000,000)".into(),
                    ));
                };
                Action::SetupPwm {
                    pin,
                    frequency,
                    safe_duty: self::duty(py, duty.unwrap_or(0.0))?,
                }
            };
            return self.perform(py, action);
        }
        if frequency.is_some() || duty.is_some() {
            return Err(errors::argument(
                py,
                "frequency= and duty= are for mode=\"pwm\"".into(),
            ));
        }
        let action = Action::SetupPin {
            pin,
            mode: self::mode(py, mode)?,
            value: value.map(|v| level(py, v)).transpose()?,
            pull: pull.map(|p| self::pull(py, p)).transpose()?,
        };
        self.perform(py, action)
    }

    /// Drives an output to `value` for `timeout` seconds (None: the longest
    /// lease, 24 h), after which the board puts it back to its safe state.
    /// `release_on_disconnect=True` also puts it back when this board's
    /// connection ends.
    #[pyo3(signature = (pin, value, timeout=None, release_on_disconnect=false))]
    fn write_pin(
        &self,
        py: Python<'_>,
        pin: u32,
        value: &Bound<'_, PyAny>,
        timeout: Option<f64>,
        release_on_disconnect: bool,
    ) -> PyResult<Py<PyAny>> {
        let hold = match timeout {
            Some(t) => seconds(py, "timeout", t)?,
            None => MAX_LEASE,
        };
        let action = Action::WritePin {
            pin,
            value: level(py, value)?,
            hold,
            release_on_disconnect,
        };
        self.perform(py, action)
    }

    /// Drives a PWM pin (set up with mode `"pwm"`) at `duty` (0.0-1.0), and
    /// `frequency` Hz if given, for `timeout` seconds (None: 24 h); then it
    /// returns to its safe duty and frequency. `release_on_disconnect` as
    /// for `write_pin`.
    #[pyo3(signature = (pin, duty, timeout=None, frequency=None, release_on_disconnect=false))]
    fn write_pwm(
        &self,
        py: Python<'_>,
        pin: u32,
        duty: f64,
        timeout: Option<f64>,
        frequency: Option<u32>,
        release_on_disconnect: bool,
    ) -> PyResult<Py<PyAny>> {
        let hold = match timeout {
            Some(t) => seconds(py, "timeout", t)?,
            None => MAX_LEASE,
        };
        let action = Action::WritePwm {
            pin,
            duty: self::duty(py, duty)?,
            frequency,
            hold,
            release_on_disconnect,
        };
        self.perform(py, action)
    }

    /// An ADC pin's reading: `{"raw": 0-4095, "volts": float}`.
    fn read_adc(&self, py: Python<'_>, pin: u32) -> PyResult<Py<PyAny>> {
        let answer = self.call(py, Action::ReadAdc { pin }.to_command())?;
        let reading = serde_json::json!({
            "raw": self.field(py, &answer, "raw")?,
            "volts": self.field(py, &answer, "volts")?,
        });
        Ok(convert::to_py(py, &reading)?.unbind())
    }

    /// The board's temperature in °C (the RP2040's sensor; piconetd: the
    /// CPU's, or the simulated board's).
    fn read_temperature(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let answer = self.call(py, Action::ReadTemperature.to_command())?;
        Ok(convert::to_py(py, self.field(py, &answer, "celsius")?)?.unbind())
    }

    /// Sets I2C bus `bus` (0 or 1) up on `sda`/`scl` (a pair the RP2040
    /// allows for that bus) at `frequency` Hz (10,000 to 1,000,000).
    #[pyo3(signature = (bus, sda, scl, frequency=100_000))]
    fn i2c_setup(
        &self,
        py: Python<'_>,
        bus: u8,
        sda: u32,
        scl: u32,
        frequency: u32,
    ) -> PyResult<Py<PyAny>> {
        self.perform(
            py,
            Action::I2cSetup {
                bus,
                sda,
                scl,
                frequency,
            },
        )
    }

    /// Writes `data` (1 to 256 bytes) to the device at `address` (0-127).
    fn i2c_write(
        &self,
        py: Python<'_>,
        bus: u8,
        address: u8,
        data: Vec<u8>,
    ) -> PyResult<Py<PyAny>> {
        self.perform(
            py,
            Action::I2cWrite {
                bus,
                address,
                data: &data,
            },
        )
    }

    /// Reads `count` bytes (1 to 256) from the device at `address`.
    fn i2c_read(&self, py: Python<'_>, bus: u8, address: u8, count: u16) -> PyResult<Vec<u8>> {
        let answer = self.call(
            py,
            Action::I2cRead {
                bus,
                address,
                count,
            }
            .to_command(),
        )?;
        self.bytes(py, &answer)
    }

    /// Writes `write`, then reads `count` bytes after a repeated start
    /// (a register read: `i2c_transfer(0, 0x50, b"\x10", 4)`).
    fn i2c_transfer(
        &self,
        py: Python<'_>,
        bus: u8,
        address: u8,
        write: Vec<u8>,
        count: u16,
    ) -> PyResult<Vec<u8>> {
        let answer = self.call(
            py,
            Action::I2cTransfer {
                bus,
                address,
                write: &write,
                count,
            }
            .to_command(),
        )?;
        self.bytes(py, &answer)
    }

    /// The addresses on `bus` that answer a one-byte read, 0x08 to 0x77
    /// (what i2cdetect probes); the bus must be set up.
    fn i2c_scan(&self, py: Python<'_>, bus: u8) -> PyResult<Vec<u32>> {
        // u32, not u8: PyO3 turns a Vec<u8> into bytes, and this is a list.
        let mut found = Vec::new();
        for address in piconet_client::I2C_SCAN {
            let read = Action::I2cRead {
                bus,
                address,
                count: 1,
            };
            match py.detach(|| self.send(vec![read.to_command()])) {
                Err(f) => return Err(self.fail(py, f)),
                Ok(mut answers) => match answers.remove(0).into_result() {
                    Ok(_) => found.push(u32::from(address)),
                    // No device answered: the board says OSError.
                    Err(Error::Server { ref exception, .. }) if exception == "OSError" => {}
                    Err(e) => return Err(errors::to_py(py, e)),
                },
            }
        }
        Ok(found)
    }

    /// A pin's level, 0 or 1.
    fn read_pin(&self, py: Python<'_>, pin: u32) -> PyResult<u8> {
        let answer = self.call(py, Action::ReadPin { pin }.to_command())?;
        let value = self.field(py, &answer, "value")?;
        match value {
            Value::Bool(b) => Ok(u8::from(*b)),
            Value::Number(n) if n.as_u64() == Some(0) || n.as_u64() == Some(1) => {
                Ok(n.as_u64().unwrap_or(0) as u8)
            }
            _ => Err(errors::to_py(
                py,
                Error::MissingField {
                    action: "read_pin".into(),
                    field: "value",
                    response: Box::new(answer.clone()),
                },
            )),
        }
    }

    /// Resets the board (it answers first); every connection closes.
    fn reset(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let answer = self.perform(py, Action::Reset)?;
        self.forget_connection();
        Ok(answer)
    }

    /// Light (`deep=False`) or deep sleep for `time_ms`; deep sleep closes
    /// every connection.
    #[pyo3(signature = (time_ms, deep=false))]
    fn sleep(&self, py: Python<'_>, time_ms: u32, deep: bool) -> PyResult<Py<PyAny>> {
        let answer = self.perform(py, Action::Sleep { time_ms, deep })?;
        if deep {
            self.forget_connection();
        }
        Ok(answer)
    }

    /// Event lines for every `edge` of input `pin` on this board's
    /// connection, from now until `unwatch_pin` or the connection's end;
    /// read them with `next_event()`.
    #[pyo3(signature = (pin, edge="both", debounce_ms=0))]
    fn watch_pin(
        &self,
        py: Python<'_>,
        pin: u32,
        edge: &str,
        debounce_ms: u16,
    ) -> PyResult<Py<PyAny>> {
        let action = Action::WatchPin {
            pin,
            edge: self::edge(py, edge)?,
            debounce_ms,
        };
        self.perform(py, action)
    }

    /// No more events for `pin` on this connection.
    fn unwatch_pin(&self, py: Python<'_>, pin: u32) -> PyResult<Py<PyAny>> {
        self.perform(py, Action::UnwatchPin { pin })
    }

    /// Simulated boards only: the level the outside applies to input `pin`,
    /// or the voltage on ADC `pin`.
    #[pyo3(signature = (pin, value=None, volts=None))]
    fn sim_input(
        &self,
        py: Python<'_>,
        pin: u32,
        value: Option<&Bound<'_, PyAny>>,
        volts: Option<f64>,
    ) -> PyResult<Py<PyAny>> {
        match (value, volts) {
            (Some(value), None) => {
                let value = level(py, value)?;
                self.perform(py, Action::SimInput { pin, value })
            }
            (None, Some(volts)) => self.perform(py, Action::SimVolts { pin, volts }),
            _ => Err(errors::argument(
                py,
                "sim_input takes value= (a level) or volts= (an ADC pin), one of them".into(),
            )),
        }
    }

    /// The board's stored settings (`get_config`) as a dict: `ssid`,
    /// `password_set`, `port`, `tls_fingerprint`, `name`, `restart_needed`
    /// (secrets never appear).
    fn get_config(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.config(py, Action::GetConfig)
    }

    /// Stores the WiFi network (`set_wifi`; an empty password is an open
    /// network) and returns the stored settings. Boards take settings over
    /// their USB cable only; they apply at the next reset.
    fn set_wifi(&self, py: Python<'_>, ssid: &str, password: &str) -> PyResult<Py<PyAny>> {
        self.config(py, Action::SetWifi { ssid, password })
    }

    /// Stores the TCP port the board listens on (`set_port`; USB only) and
    /// returns the stored settings.
    fn set_port(&self, py: Python<'_>, port: u16) -> PyResult<Py<PyAny>> {
        self.config(py, Action::SetPort { port })
    }

    /// Stores the board's name (`set_name`; USB only), announced over mDNS
    /// as NAME.local, and returns the stored settings. A name that is not
    /// 1 to 32 of a-z, 0-9 and - is a ValueError, raised before anything
    /// is sent.
    fn set_name(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        if !piconet_client::protocol::provision::is_board_name(name) {
            return Err(errors::argument(
                py,
                format!(
                    "board name {name:?}: use 1 to 32 of a-z, 0-9 and - (it becomes NAME.local)"
                ),
            ));
        }
        self.config(py, Action::SetName { name })
    }

    /// Stores the radio's power mode (`set_radio_power`; USB only):
    /// `none` (the default: lowest latency), `performance`, `power_save` or
    /// `aggressive` (least current, most latency); applies at the next
    /// reset. Returns the stored settings. Another mode is a ValueError,
    /// raised before anything is sent.
    fn set_radio_power(&self, py: Python<'_>, mode: &str) -> PyResult<Py<PyAny>> {
        use piconet_client::protocol::provision::RadioPower;
        let Some(mode) = RadioPower::from_name(mode.as_bytes()) else {
            return Err(errors::argument(
                py,
                format!(
                    "radio power mode {mode:?}: use none, performance, power_save or aggressive"
                ),
            ));
        };
        self.config(py, Action::SetRadioPower { mode })
    }

    /// Stores the board's TLS certificate and private key, both DER
    /// (`set_tls`; USB only), and returns the stored settings.
    fn set_tls(&self, py: Python<'_>, cert: &[u8], key: &[u8]) -> PyResult<Py<PyAny>> {
        self.config(py, Action::SetTls { cert, key })
    }

    /// Erases the stored TLS certificate and key (`clear_tls`; USB only):
    /// plaintext after the next reset. Returns the stored settings.
    fn clear_tls(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.config(py, Action::ClearTls)
    }

    /// Erases every stored setting (`clear_config`; USB only): defaults
    /// after the next reset. Returns the stored settings.
    fn clear_config(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.config(py, Action::ClearConfig)
    }

    /// The board's client list (`get_clients`) as dicts: `name`, `sha256`
    /// (hex), `role` (`"viewer"`, `"operator"`, `"admin"`), `pins` (None:
    /// all). Empty when the board authenticates no one.
    fn get_clients(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let answer = self.call(py, Action::GetClients.to_command())?;
        Ok(convert::to_py(py, self.field(py, &answer, "clients")?)?.unbind())
    }

    /// Replaces the board's client list (`set_clients`) with `clients`,
    /// dicts of `name`, `sha256` (hex of the certificate's DER), `role` and
    /// optionally `pins` (a list of GPIOs; None or absent: all), and returns
    /// the list stored. A board without a list takes one over its USB cable
    /// only; then an admin may change it over the network. An empty list
    /// turns client authentication off.
    fn set_clients(&self, py: Python<'_>, clients: Vec<Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let entries = clients
            .iter()
            .map(|c| client_entry(py, c))
            .collect::<PyResult<Vec<_>>>()?;
        let answer = self.call(py, Action::SetClients { clients: &entries }.to_command())?;
        Ok(convert::to_py(py, self.field(py, &answer, "clients")?)?.unbind())
    }

    /// Where an image upload stands (`update_status`) as a dict: `state`
    /// (`"idle"`, `"receiving"`, ...), `size`, `next_offset` (where an
    /// interrupted upload resumes), `sha256`, `version`, `running_version`,
    /// `last`.
    fn update_status(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.update_answer(py, Action::UpdateStatus)
    }

    /// Announces a signed image (`update_begin`): its `size`, `sha256` (32
    /// bytes), the ed25519 `signature` (64 bytes) of its SHA-512 digest and
    /// the `version` it carries; chunks follow from offset 0. Returns the
    /// update status.
    #[pyo3(signature = (size, sha256, signature, version=None, allow_downgrade=false))]
    fn update_begin(
        &self,
        py: Python<'_>,
        size: u64,
        sha256: &[u8],
        signature: &[u8],
        version: Option<&str>,
        allow_downgrade: bool,
    ) -> PyResult<Py<PyAny>> {
        let sha256: &[u8; 32] = sha256.try_into().map_err(|_| {
            errors::argument(py, format!("sha256 is 32 bytes, not {}", sha256.len()))
        })?;
        let signature: &[u8; 64] = signature.try_into().map_err(|_| {
            errors::argument(
                py,
                format!("signature is 64 bytes, not {}", signature.len()),
            )
        })?;
        self.update_answer(
            py,
            Action::UpdateBegin {
                size,
                sha256,
                signature,
                version,
                allow_downgrade,
            },
        )
    }

    /// Image bytes at `offset` (`update_chunk`, at most 1024 bytes each, in
    /// order). Returns the update status.
    fn update_chunk(&self, py: Python<'_>, offset: u64, data: &[u8]) -> PyResult<Py<PyAny>> {
        self.update_answer(py, Action::UpdateChunk { offset, data })
    }

    /// Verifies the whole image and lets the board swap it in at its next
    /// reset (`update_finish`). Returns the update status.
    fn update_finish(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.update_answer(py, Action::UpdateFinish)
    }

    /// Uploads a whole signed image (`bytes`, or the path of its file):
    /// `update_status`, then `update_begin` (or, if the board is already
    /// receiving this very image, on from where it stands), every chunk
    /// and `update_finish`. `signature` is the ed25519 signature (64
    /// bytes) of the image's SHA-512 digest. Returns the final update
    /// status; the board swaps the image in at its next reset. A real
    /// board hashes the image before it answers `update_finish`: give the
    /// `Board` a `timeout` long enough for that.
    #[pyo3(signature = (image, signature, version=None, allow_downgrade=false))]
    fn update(
        &self,
        py: Python<'_>,
        image: &Bound<'_, PyAny>,
        signature: &[u8],
        version: Option<&str>,
        allow_downgrade: bool,
    ) -> PyResult<Py<PyAny>> {
        let image: Vec<u8> = match image.extract::<&[u8]>() {
            Ok(bytes) => bytes.to_vec(),
            Err(_) => {
                let path: PathBuf = image.extract().map_err(|_| {
                    errors::argument(py, format!("an image is bytes or a path, not {image}"))
                })?;
                py.detach(|| std::fs::read(&path)).map_err(|e| {
                    errors::argument(py, format!("cannot read the image {}: {e}", path.display()))
                })?
            }
        };
        let signature: &[u8; 64] = signature.try_into().map_err(|_| {
            errors::argument(
                py,
                format!("signature is 64 bytes, not {}", signature.len()),
            )
        })?;
        let size = image.len() as u64;
        let sha256: [u8; 32] = py.detach(|| Sha256::digest(&image).into());
        let sha256_hex = piconet_client::hex(&sha256);
        let status = self.call(py, Action::UpdateStatus.to_command())?;
        let status = self.field(py, &status, "update")?;
        let text = |key: &str| status.get(key).and_then(Value::as_str);
        let number = |key: &str| status.get(key).and_then(Value::as_u64);
        let receiving_this = text("state") == Some("receiving")
            && number("size") == Some(size)
            && text("sha256") == Some(sha256_hex.as_str());
        let mut offset = match (receiving_this, number("next_offset")) {
            (true, Some(next)) if next <= size => next,
            _ => {
                self.call(
                    py,
                    Action::UpdateBegin {
                        size,
                        sha256: &sha256,
                        signature,
                        version,
                        allow_downgrade,
                    }
                    .to_command(),
                )?;
                0
            }
        };
        while offset < size {
            py.check_signals()?;
            let start = usize::try_from(offset).expect("below the image's length");
            let data = &image[start..image.len().min(start + UPDATE_CHUNK)];
            self.call(py, Action::UpdateChunk { offset, data }.to_command())?;
            offset += data.len() as u64;
        }
        self.update_answer(py, Action::UpdateFinish)
    }

    /// Sends any command (a dict with an `action`) and returns the answer;
    /// an error answer raises its exception.
    fn request(&self, py: Python<'_>, command: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let answer = self.call(py, convert::command_from_py(command)?)?;
        answer_to_py(py, &answer)
    }

    /// The next event line of this connection (`EdgeEvent` or
    /// `OverflowEvent`), waiting at most `timeout` seconds (None: until one
    /// comes). None when the time is up or the board was closed.
    #[pyo3(signature = (timeout=None))]
    fn next_event(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        let deadline = match timeout {
            Some(t) if t <= 0.0 => Some(Instant::now()),
            Some(t) => Some(Instant::now() + seconds(py, "timeout", t)?),
            None => None,
        };
        loop {
            let slice = deadline.map_or(EVENT_SLICE, |d| {
                d.saturating_duration_since(Instant::now()).min(EVENT_SLICE)
            });
            let waited = py.detach(|| {
                let mut guard = self.lock();
                if self.closed.load(Ordering::SeqCst) {
                    return Err(Failure::Closed);
                }
                let conn = guard.as_mut().ok_or(Failure::NoConnection)?;
                // Cancel-safe: a line cut by the slice's end is finished next time.
                // The timer needs the runtime: made inside block_on.
                let wait = async { tokio::time::timeout(slice, conn.next_event()).await };
                match runtime().block_on(wait) {
                    Err(_) => Ok(None),
                    Ok(Ok(event)) => Ok(Some(event)),
                    Ok(Err(e)) => {
                        *guard = None;
                        Err(Failure::Client(e))
                    }
                }
            });
            match waited {
                Ok(Some(event)) => return Ok(Some(event::to_py(py, event)?)),
                Err(Failure::Closed) => return Ok(None),
                Err(failure) => return Err(self.fail(py, failure)),
                Ok(None) => {
                    py.check_signals()?;
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// The boards that answer an mDNS browse for `_piconet._tcp` within
    /// `timeout` seconds (at most 60), by name: dicts with `name`, `host`,
    /// `addresses`, `port`, `api`, `fw`, `id`, `tls` (the certificate's
    /// SHA-256, empty without TLS), `auth`, and `address` (`ip:port` of the
    /// first address, for `Board(...)`).
    #[staticmethod]
    #[pyo3(signature = (timeout=3.0))]
    fn discover(py: Python<'_>, timeout: f64) -> PyResult<Py<PyAny>> {
        let timeout = seconds(py, "timeout", timeout)?;
        if timeout > discover::MAX_BROWSE {
            return Err(errors::argument(
                py,
                format!(
                    "discover browses for at most {} s",
                    discover::MAX_BROWSE.as_secs()
                ),
            ));
        }
        let found = py
            .detach(|| discover::browse(timeout))
            .map_err(|e| errors::connection(py, e.to_string()))?;
        let boards: Vec<Value> = found
            .iter()
            .map(|board| {
                let mut json = board.json();
                if let Some(ip) = board.addresses.first() {
                    let addr = std::net::SocketAddr::new(*ip, board.port);
                    json["address"] = Value::from(addr.to_string());
                }
                json
            })
            .collect();
        Ok(convert::to_py(py, &Value::Array(boards))?.unbind())
    }

    fn __repr__(&self) -> String {
        format!("Board({:?})", self.client.endpoint().to_string())
    }
}
