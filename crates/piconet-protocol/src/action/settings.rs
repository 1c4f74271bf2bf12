//! The provisioning actions: `set_wifi`, `set_port`, `set_tls`,
//! `clear_tls`, `clear_config`, `get_config`, `set_name`. The limits and the field
//! codecs are in [`crate::provision`].

use heapless::String;

use super::Command;
use crate::error::{require, ProtocolError};
use crate::json::scalar;
use crate::key::{Fields, Key};
use crate::provision::{base64_of, decode_into, port, unescape, MAX_CERT, MAX_KEY};
use crate::provision::{MAX_NAME, MAX_PASSWORD, MAX_SSID, MIN_PASSWORD};

/// The fields of a `set_wifi`, checked when parsed and kept as sent
/// (escapes and all) so a [`Command`] stays small; [`Wifi::ssid`] and
/// [`Wifi::password`] decode them.
///
/// ```
/// use piconet_protocol::{parse, Command};
/// let req = parse(br#"{"action": "set_wifi", "ssid": "caf\u00e9", "password": "pass\"word"}"#).unwrap();
/// let Command::SetWifi(wifi) = req.command else { panic!("not a set_wifi") };
/// assert_eq!((wifi.ssid().as_str(), wifi.password().as_str()), ("café", "pass\"word"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wifi<'a> {
    /// The `ssid` value: a string that decodes to 1 to [`MAX_SSID`] bytes.
    ssid: &'a [u8],
    /// The `password` value: absent, `null`, or a string that decodes to
    /// 0 or [`MIN_PASSWORD`] to [`MAX_PASSWORD`] bytes.
    password: Option<&'a [u8]>,
}

impl Wifi<'_> {
    /// Network name, 1 to [`MAX_SSID`] bytes.
    pub fn ssid(&self) -> String<MAX_SSID> {
        decoded(self.ssid)
    }

    /// Passphrase, empty for an open network.
    pub fn password(&self) -> String<MAX_PASSWORD> {
        match self.password {
            None | Some(b"null") => String::new(),
            Some(raw) => decoded(raw),
        }
    }
}

/// A value `set_wifi` checked decodes into `N` bytes (so the empty
/// default is never taken).
fn decoded<const N: usize>(raw: &[u8]) -> String<N> {
    unescape::<N>(raw).unwrap_or_default()
}

/// The fields of a `set_tls`, still base64 (decoded once, into the
/// caller's buffers, when used).
///
/// ```
/// use piconet_protocol::{parse, Command};
/// let req = parse(br#"{"action": "set_tls", "cert": "MAEC", "key": "BAE="}"#).unwrap();
/// let Command::SetTls(tls) = req.command else { panic!("not a set_tls") };
/// let (mut cert, mut key) = ([0u8; 8], [0u8; 8]);
/// assert_eq!(tls.decode(&mut cert, &mut key).unwrap(), (&[0x30, 1, 2][..], &[4, 1][..]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tls<'a> {
    cert: &'a [u8],
    key: &'a [u8],
}

/// A `set_tls` field that is not base64 after all (its length was right,
/// so only decoding finds it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotBase64 {
    /// `cert` or `key`.
    pub field: &'static str,
    /// Completes "`field` must be ...".
    pub expected: &'static str,
}

impl<'a> From<NotBase64> for ProtocolError<'a> {
    fn from(e: NotBase64) -> Self {
        ProtocolError::BadValue {
            field: e.field,
            expected: e.expected,
        }
    }
}

impl Tls<'_> {
    /// Decode the certificate and the key into the buffers (which need
    /// [`MAX_CERT`] and [`MAX_KEY`] bytes to take any accepted value).
    pub fn decode<'c, 'k>(
        &self,
        cert: &'c mut [u8],
        key: &'k mut [u8],
    ) -> Result<(&'c [u8], &'k [u8]), NotBase64> {
        const EXPECTED: &str = "standard padded base64 (RFC 4648)";
        let cert = decode_into(self.cert, cert).ok_or(NotBase64 {
            field: "cert",
            expected: EXPECTED,
        })?;
        let key = decode_into(self.key, key).ok_or(NotBase64 {
            field: "key",
            expected: EXPECTED,
        })?;
        Ok((cert, key))
    }
}

/// The `name` of a `set_name`, checked when parsed: 1 to [`MAX_NAME`] of
/// `a-z`, `0-9` and `-` once decoded, kept as sent.
///
/// ```
/// use piconet_protocol::{parse, Command};
/// let req = parse(br#"{"action": "set_name", "name": "garden\u002d2"}"#).unwrap();
/// let Command::SetName(name) = req.command else { panic!("not a set_name") };
/// assert_eq!(name.decoded().as_str(), "garden-2");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Name<'a>(pub(crate) &'a [u8]);

impl Name<'_> {
    /// The name, decoded.
    pub fn decoded(&self) -> String<MAX_NAME> {
        decoded(self.0)
    }
}

/// Whether `name` is a board name: what PROTOCOL-NEXT.md ("Discovery")
/// allows, a DNS label as it stands.
pub fn is_board_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub(crate) fn set_name<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    require(&[(Key::Name, f.get(Key::Name))])?;
    let name = f
        .get(Key::Name)
        .filter(|raw| unescape::<MAX_NAME>(raw).is_some_and(|n| is_board_name(&n)))
        .ok_or(ProtocolError::BadValue {
            field: "name",
            expected:
                "the board's name, a string of 1 to 32 of a-z, 0-9 and - (it becomes NAME.local)",
        })?;
    Ok(Command::SetName(Name(name)))
}

pub(crate) fn set_wifi<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    require(&[(Key::Ssid, f.get(Key::Ssid))])?;
    let ssid = f
        .get(Key::Ssid)
        .filter(|raw| unescape::<MAX_SSID>(raw).is_some_and(|s| !s.is_empty()))
        .ok_or(ProtocolError::BadValue {
            field: "ssid",
            expected: "the network name, a string of 1 to 32 bytes",
        })?;
    let password = match f.get(Key::Password) {
        None | Some(b"null") => None,
        Some(raw) => Some(
            Some(raw)
                .filter(|raw| {
                    unescape::<MAX_PASSWORD>(raw).is_some_and(|p| p.is_empty() || p.len() >= MIN_PASSWORD)
                })
                .ok_or(ProtocolError::BadValue {
                    field: "password",
                    expected: "the WPA2 passphrase, a string of 8 to 64 bytes (empty or absent for an open network)",
                })?,
        ),
    };
    Ok(Command::SetWifi(Wifi { ssid, password }))
}

pub(crate) fn set_port<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    require(&[(Key::Port, f.get(Key::Port))])?;
    Ok(Command::SetPort {
        port: port(f.get(Key::Port))?,
    })
}

/// How the WiFi chip (the Pico W's CYW43) saves power while the board is
/// awake, from least current saved (and least latency added) to most.
/// Power saving lets the radio sleep between the access point's beacons,
/// so a packet to the board waits for the next wake-up: peers measured up
/// to ~200 ms added per packet in the CYW43 driver's own default
/// (`PowerSave`, cyw43-driver#126).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum RadioPower {
    /// No power management: the radio always listens. The lowest latency
    /// (events and replies leave within milliseconds) and the most current.
    #[default]
    None,
    /// Some power saving, latency first.
    Performance,
    /// The CYW43 driver's default: much less current, up to about 200 ms
    /// added per packet.
    PowerSave,
    /// The most power saving the driver supports: the least current and
    /// the most latency.
    Aggressive,
}

impl RadioPower {
    /// Every mode, least power saving first.
    pub const ALL: [RadioPower; 4] = [
        RadioPower::None,
        RadioPower::Performance,
        RadioPower::PowerSave,
        RadioPower::Aggressive,
    ];

    /// The wire word: `"none"`, `"performance"`, `"power_save"` or
    /// `"aggressive"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RadioPower::None => "none",
            RadioPower::Performance => "performance",
            RadioPower::PowerSave => "power_save",
            RadioPower::Aggressive => "aggressive",
        }
    }

    /// The mode named `name`, if any.
    pub fn from_name(name: &[u8]) -> Option<RadioPower> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str().as_bytes() == name)
    }
}

pub(crate) fn set_radio_power<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    require(&[(Key::Mode, f.get(Key::Mode))])?;
    let mode = f
        .get(Key::Mode)
        .and_then(scalar::raw_str)
        .and_then(RadioPower::from_name)
        .ok_or(ProtocolError::BadValue {
            field: "mode",
            expected: "the radio's power mode: \"none\" (no power saving, the default), \"performance\", \"power_save\" or \"aggressive\"",
        })?;
    Ok(Command::SetRadioPower { mode })
}

pub(crate) fn set_tls<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    require(&[(Key::Cert, f.get(Key::Cert)), (Key::Key, f.get(Key::Key))])?;
    let cert = f
        .get(Key::Cert)
        .and_then(|raw| base64_of(raw, MAX_CERT))
        .ok_or(ProtocolError::BadValue {
            field: "cert",
            expected:
                "the certificate as DER in standard padded base64, 1 to 2048 bytes once decoded",
        })?;
    let key = f
        .get(Key::Key)
        .and_then(|raw| base64_of(raw, MAX_KEY))
        .ok_or(ProtocolError::BadValue {
            field: "key",
            expected: "the private key as DER (SEC1 or PKCS#8) in standard padded base64, 1 to 256 bytes once decoded",
        })?;
    Ok(Command::SetTls(Tls { cert, key }))
}

pub(crate) fn clear_tls<'a>(_: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    Ok(Command::ClearTls)
}

pub(crate) fn clear_config<'a>(_: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    Ok(Command::ClearConfig)
}

pub(crate) fn get_config<'a>(_: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    Ok(Command::GetConfig)
}
