//! `bridge.toml`: the broker, and the boards with their outputs and inputs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use piconet_client::protocol::action::events::MAX_DEBOUNCE_MS;
use piconet_client::{KnownHosts, Level, Pull, ServerAddr, TlsVerify};
use serde::Deserialize;

/// The MQTT port without TLS, and with it (mqtts://).
pub const MQTT_PORT: u16 = 1883;
/// The MQTT port with TLS.
pub const MQTTS_PORT: u16 = 8883;
/// The topic prefix when `[broker] prefix` is not given.
pub const DEFAULT_PREFIX: &str = "piconet";
/// The shortest `lease_s`: renewals every third of it must stay well above
/// a command's round trip.
pub const MIN_LEASE_S: u64 = 3;
/// The longest `lease_s`, piconetd's and the firmware's longest lease (24 h).
pub const MAX_LEASE_S: u64 = 24 * 3600;

/// The most inputs one board may have here: the pins one connection may
/// watch on piconetd and the firmware (the engine's
/// `MAX_WATCHES_PER_CONNECTION`); a ninth `watch_pin` would be refused.
pub const MAX_INPUTS: usize = 8;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    /// The MQTT broker.
    pub broker: Broker,
    /// The boards served.
    pub boards: Vec<Board>,
}

/// `[broker]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Broker {
    /// `mqtt://host[:port]`, or `mqtts://host[:port]` for TLS.
    pub url: String,
    /// Topic prefix, `piconet` by default.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Optional user name (MQTT CONNECT).
    pub username: Option<String>,
    /// Optional password; needs `username`.
    pub password: Option<String>,
    /// For mqtts://: trust this CA (PEM) instead of the system's roots.
    pub ca: Option<PathBuf>,
}

fn default_prefix() -> String {
    DEFAULT_PREFIX.to_owned()
}

/// One `[[boards]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Board {
    /// `[a-z0-9-]+`: the topic level and Home Assistant id.
    pub name: String,
    /// `host:port` of piconetd or the firmware.
    pub address: String,
    /// Speak TLS, pinning the certificate on first use in the known-hosts file.
    #[serde(default)]
    pub tls: bool,
    /// Trust the board if its certificate is this file's or signed by it (implies TLS).
    pub ca: Option<PathBuf>,
    /// Where first-use pins are kept (default: the CLI's known-hosts file).
    pub known_hosts: Option<PathBuf>,
    /// TLS without verifying the board, as the original client (implies TLS).
    #[serde(default)]
    pub insecure: bool,
    /// Outputs, each a Home Assistant switch.
    #[serde(default)]
    pub outputs: Vec<Output>,
    /// Inputs, each a Home Assistant binary sensor.
    #[serde(default)]
    pub inputs: Vec<Input>,
}

/// One output pin.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// GPIO number.
    pub pin: u32,
    /// Shown in Home Assistant.
    pub name: String,
    /// The level it falls back to: 0 or 1.
    pub safe: u8,
    /// How long one `write_pin` holds an ON; renewed every third of it.
    pub lease_s: u64,
}

/// One input pin.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// GPIO number.
    pub pin: u32,
    /// Shown in Home Assistant.
    pub name: String,
    /// `up`, `down` or `none` (default).
    #[serde(default)]
    pub pull: PullSetting,
    /// Edges closer than this to the last one are bounces (0 to
    /// [`MAX_DEBOUNCE_MS`], default 0: every edge).
    #[serde(default)]
    pub debounce_ms: u16,
}

/// An input's pull resistor as the file spells it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PullSetting {
    /// Floating.
    #[default]
    None,
    /// To the supply.
    Up,
    /// To ground.
    Down,
}

impl From<PullSetting> for Pull {
    fn from(p: PullSetting) -> Pull {
        match p {
            PullSetting::None => Pull::None,
            PullSetting::Up => Pull::Up,
            PullSetting::Down => Pull::Down,
        }
    }
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML, or a field of the wrong type, missing or unknown.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and what (toml names line and column).
        source: Box<toml::de::Error>,
    },
    /// A value that parses but cannot be used.
    #[error("{path}: {field}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Which setting, e.g. `boards[1].outputs[0].lease_s`.
        field: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
}

/// The broker's address as parsed from `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// mqtts://.
    pub tls: bool,
}

impl BrokerUrl {
    /// `mqtt://host[:port]` or `mqtts://host[:port]`; `[v6]` hosts allowed.
    pub fn parse(url: &str) -> Result<Self, String> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("mqtt://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("mqtts://") {
            (true, rest)
        } else {
            return Err(format!(
                "{url:?} is not mqtt://host[:port] or mqtts://host[:port]"
            ));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '@', '?', '#']) {
            return Err(format!(
                "{url:?}: only a host and port are accepted (credentials go in username/password)"
            ));
        }
        let default_port = if tls { MQTTS_PORT } else { MQTT_PORT };
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{url:?}: unclosed [ in the host"))?;
            (host, after.strip_prefix(':'))
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err(format!("{url:?} has no host"));
        }
        let port = match port {
            None => default_port,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("{url:?}: port {p:?} is not 1..=65535"))?,
        };
        Ok(Self {
            host: host.to_owned(),
            port,
            tls,
        })
    }
}

impl BridgeConfig {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and checks `text`; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        config
            .check()
            .map_err(|(field, reason)| ConfigError::Invalid {
                path: path.to_owned(),
                field,
                reason,
            })?;
        Ok(config)
    }

    /// The broker's parsed address (valid after [`BridgeConfig::load`]).
    pub fn broker_url(&self) -> BrokerUrl {
        BrokerUrl::parse(&self.broker.url).expect("checked at load")
    }

    fn check(&self) -> Result<(), (String, String)> {
        let broker = &self.broker;
        let url = BrokerUrl::parse(&broker.url).map_err(|r| ("broker.url".to_owned(), r))?;
        if broker.password.is_some() && broker.username.is_none() {
            return Err((
                "broker.password".into(),
                "a password needs a username".into(),
            ));
        }
        if broker.ca.is_some() && !url.tls {
            return Err(("broker.ca".into(), "a CA file needs an mqtts:// url".into()));
        }
        if broker.prefix.is_empty() || broker.prefix.contains(['+', '#']) {
            return Err((
                "broker.prefix".into(),
                format!(
                    "{:?}: must be non-empty, without the MQTT wildcards + and #",
                    broker.prefix
                ),
            ));
        }
        if self.boards.is_empty() {
            return Err(("boards".into(), "no [[boards]]: nothing to bridge".into()));
        }
        let mut names = BTreeSet::new();
        for (i, board) in self.boards.iter().enumerate() {
            let at = |field: &str| format!("boards[{i}].{field}");
            if !valid_name(&board.name) {
                return Err((
                    at("name"),
                    format!(
                        "{:?}: use 1 to 64 of a-z, 0-9 and - (it is a topic level and a Home Assistant id)",
                        board.name
                    ),
                ));
            }
            if !names.insert(board.name.as_str()) {
                return Err((at("name"), format!("{:?} is used twice", board.name)));
            }
            board
                .address
                .parse::<ServerAddr>()
                .map_err(|e| (at("address"), e.to_string()))?;
            if board.insecure && (board.ca.is_some() || board.known_hosts.is_some()) {
                return Err((
                    at("insecure"),
                    "insecure does not verify: it cannot go with ca or known_hosts".into(),
                ));
            }
            let mut pins = BTreeSet::new();
            for (j, out) in board.outputs.iter().enumerate() {
                let at = |field: &str| format!("boards[{i}].outputs[{j}].{field}");
                if !pins.insert(out.pin) {
                    return Err((at("pin"), format!("pin {} is listed twice", out.pin)));
                }
                if out.safe > 1 {
                    return Err((at("safe"), format!("{} is not 0 or 1", out.safe)));
                }
                if !(MIN_LEASE_S..=MAX_LEASE_S).contains(&out.lease_s) {
                    return Err((
                        at("lease_s"),
                        format!(
                            "{} is not {MIN_LEASE_S}..={MAX_LEASE_S} seconds",
                            out.lease_s
                        ),
                    ));
                }
            }
            if board.inputs.len() > MAX_INPUTS {
                return Err((
                    at("inputs"),
                    format!(
                        "{} inputs: a board watches at most {MAX_INPUTS} pins per connection",
                        board.inputs.len()
                    ),
                ));
            }
            for (j, input) in board.inputs.iter().enumerate() {
                if !pins.insert(input.pin) {
                    return Err((
                        format!("boards[{i}].inputs[{j}].pin"),
                        format!("pin {} is listed twice", input.pin),
                    ));
                }
                if input.debounce_ms > MAX_DEBOUNCE_MS {
                    return Err((
                        format!("boards[{i}].inputs[{j}].debounce_ms"),
                        format!("{} is not 0..={MAX_DEBOUNCE_MS}", input.debounce_ms),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Board {
    /// How to reach the board, TLS as the CLI's options choose it.
    pub fn client(&self) -> Result<piconet_client::Client, piconet_client::Error> {
        let addr: ServerAddr = self.address.parse()?;
        let client = piconet_client::Client::new(addr);
        let verify = if self.insecure {
            Some(TlsVerify::Insecure)
        } else if let Some(ca) = &self.ca {
            Some(TlsVerify::CaFile(ca.clone()))
        } else if self.tls || self.known_hosts.is_some() {
            Some(TlsVerify::KnownHosts(match &self.known_hosts {
                Some(path) => path.clone(),
                None => KnownHosts::default_path()?,
            }))
        } else {
            None
        };
        Ok(match verify {
            Some(v) => client.with_tls(v),
            None => client,
        })
    }
}

impl Output {
    /// The safe level.
    pub fn safe_level(&self) -> Level {
        Level::from_bool(self.safe == 1)
    }

    /// One lease.
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_s)
    }
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests;
