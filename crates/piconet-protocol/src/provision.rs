//! Provisioning over the line protocol: the fields of the actions that
//! store a board's settings (`set_wifi`, `set_tls`), decoded without
//! allocation.
//!
//! Their secrets (`password`, `key`) are never echoed: every response
//! writes them as [`REDACTED`] (see [`crate::response::ObjectWriter::echo`]).

use heapless::String;

use crate::error::{require, Field, ProtocolError};
use crate::json::{scalar, Member};
use crate::response::Echo;

/// Longest SSID (IEEE 802.11), in bytes.
pub const MAX_SSID: usize = 32;
/// Longest WPA2 passphrase, in bytes.
pub const MAX_PASSWORD: usize = 64;
/// Shortest WPA2 passphrase, in bytes (empty means an open network).
pub const MIN_PASSWORD: usize = 8;
/// Largest certificate `set_tls` takes (DER bytes). In practice the
/// transport's line limit (2 KiB on the Pico W) bounds it first; an EC
/// P-256 certificate is about 500 bytes.
pub const MAX_CERT: usize = 2048;
/// Largest private key `set_tls` takes (DER bytes, SEC1 or PKCS#8).
pub const MAX_KEY: usize = 256;

/// What a secret is echoed as.
pub const REDACTED: &str = "<redacted>";

/// The fields of a `set_wifi`.
///
/// ```
/// use piconet_protocol::{parse, provision::Wifi, Command};
/// let req = parse(br#"{"action": "set_wifi", "ssid": "caf\u00e9", "password": "pass\"word"}"#).unwrap();
/// assert_eq!(req.command, Command::SetWifi);
/// let wifi = Wifi::from_echo(&req.echo).unwrap();
/// assert_eq!((wifi.ssid.as_str(), wifi.password.as_str()), ("café", "pass\"word"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wifi {
    /// Network name, 1 to [`MAX_SSID`] bytes.
    pub ssid: String<MAX_SSID>,
    /// Passphrase, empty for an open network.
    pub password: String<MAX_PASSWORD>,
}

impl Wifi {
    /// Read and check the fields of a `set_wifi` command.
    pub fn from_echo<'a>(echo: &Echo<'a>) -> Result<Self, ProtocolError<'a>> {
        let f = Fields::collect(echo.object.members());
        require(&[(Field::Ssid, f.ssid)])?;
        let ssid = f
            .ssid
            .and_then(unescape::<MAX_SSID>)
            .filter(|s| !s.is_empty())
            .ok_or(ProtocolError::BadValue {
                field: "ssid",
                expected: "the network name, a string of 1 to 32 bytes",
            })?;
        let password = match f.password {
            None | Some(b"null") => String::new(),
            Some(raw) => unescape::<MAX_PASSWORD>(raw)
                .filter(|p| p.is_empty() || p.len() >= MIN_PASSWORD)
                .ok_or(ProtocolError::BadValue {
                    field: "password",
                    expected: "the WPA2 passphrase, a string of 8 to 64 bytes (empty or absent for an open network)",
                })?,
        };
        Ok(Wifi { ssid, password })
    }
}

/// The fields of a `set_tls`, still base64 (decoded once, into the
/// caller's buffers, when used).
///
/// ```
/// use piconet_protocol::{parse, provision::Tls, Command};
/// let req = parse(br#"{"action": "set_tls", "cert": "MAEC", "key": "BAE="}"#).unwrap();
/// assert_eq!(req.command, Command::SetTls);
/// let tls = Tls::from_echo(&req.echo).unwrap();
/// let (mut cert, mut key) = ([0u8; 8], [0u8; 8]);
/// assert_eq!(tls.decode(&mut cert, &mut key).unwrap(), (&[0x30, 1, 2][..], &[4, 1][..]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tls<'a> {
    cert: &'a [u8],
    key: &'a [u8],
}

impl<'a> Tls<'a> {
    /// Read and check the fields of a `set_tls` command.
    pub fn from_echo(echo: &Echo<'a>) -> Result<Self, ProtocolError<'a>> {
        let f = Fields::collect(echo.object.members());
        require(&[(Field::Cert, f.cert), (Field::Key, f.key)])?;
        let cert = f
            .cert
            .and_then(|raw| base64_of(raw, MAX_CERT))
            .ok_or(ProtocolError::BadValue {
                field: "cert",
                expected: "the certificate as DER in standard padded base64, 1 to 2048 bytes once decoded",
            })?;
        let key = f
            .key
            .and_then(|raw| base64_of(raw, MAX_KEY))
            .ok_or(ProtocolError::BadValue {
                field: "key",
                expected: "the private key as DER (SEC1 or PKCS#8) in standard padded base64, 1 to 256 bytes once decoded",
            })?;
        Ok(Tls { cert, key })
    }

    /// Decode the certificate and the key into the buffers (which need
    /// [`MAX_CERT`] and [`MAX_KEY`] bytes to take any accepted value).
    pub fn decode<'c, 'k>(
        &self,
        cert: &'c mut [u8],
        key: &'k mut [u8],
    ) -> Result<(&'c [u8], &'k [u8]), ProtocolError<'a>> {
        let cert = decode_into(self.cert, cert).ok_or(ProtocolError::BadValue {
            field: "cert",
            expected: "standard padded base64 (RFC 4648)",
        })?;
        let key = decode_into(self.key, key).ok_or(ProtocolError::BadValue {
            field: "key",
            expected: "standard padded base64 (RFC 4648)",
        })?;
        Ok((cert, key))
    }
}

/// The port of a `set_port`.
pub(crate) fn port<'a>(raw: Option<&[u8]>) -> Result<u16, ProtocolError<'a>> {
    raw.and_then(scalar::integer)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|&p| p != 0)
        .ok_or(ProtocolError::BadValue {
            field: "port",
            expected: "a TCP port, an integer from 1 to 65535",
        })
}

/// The base64 contents of a string value whose decoded length is in
/// `1..=max`. The text is fully checked when decoded.
fn base64_of(raw: &[u8], max: usize) -> Option<&[u8]> {
    let text = scalar::raw_str(raw)?;
    if text.is_empty() || text.len() % 4 != 0 {
        return None;
    }
    let pad = text.iter().rev().take_while(|&&c| c == b'=').count();
    let len = text.len() / 4 * 3 - pad.min(2);
    (pad <= 2 && len <= max && !text.contains(&b'\\')).then_some(text)
}

fn decode_into<'o>(text: &[u8], out: &'o mut [u8]) -> Option<&'o [u8]> {
    use base64::Engine as _;
    let n = base64::engine::general_purpose::STANDARD
        .decode_slice(text, out)
        .ok()?;
    Some(&out[..n])
}

/// A JSON string value's text with its escapes decoded, if it fits `N`
/// bytes. SSIDs and passphrases may hold any character, so unlike the
/// names the engine compares, they must be unescaped.
fn unescape<const N: usize>(raw: &[u8]) -> Option<String<N>> {
    let inner = scalar::raw_str(raw)?;
    // The line was checked as JSON, so the contents are UTF-8 with valid
    // escapes; still, nothing here relies on it.
    let text = core::str::from_utf8(inner).ok()?;
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        let c = if c != '\\' {
            c
        } else {
            match chars.next()? {
                '"' => '"',
                '\\' => '\\',
                '/' => '/',
                'b' => '\u{8}',
                'f' => '\u{c}',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                'u' => {
                    let hi = hex4(&mut chars)?;
                    if (0xD800..0xDC00).contains(&hi) {
                        // A surrogate pair: `\uD83D\uDE00`.
                        if chars.next()? != '\\' || chars.next()? != 'u' {
                            return None;
                        }
                        let lo = hex4(&mut chars)?;
                        if !(0xDC00..0xE000).contains(&lo) {
                            return None;
                        }
                        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                    } else {
                        char::from_u32(hi)?
                    }
                }
                _ => return None,
            }
        };
        out.push(c).ok()?;
    }
    Some(out)
}

fn hex4(chars: &mut core::str::Chars<'_>) -> Option<u32> {
    let mut v = 0;
    for _ in 0..4 {
        v = v * 16 + chars.next()?.to_digit(16)?;
    }
    Some(v)
}

/// The raw values of the provisioning fields (the last of duplicate keys
/// wins, as everywhere in the protocol).
#[derive(Default)]
struct Fields<'a> {
    ssid: Option<&'a [u8]>,
    password: Option<&'a [u8]>,
    cert: Option<&'a [u8]>,
    key: Option<&'a [u8]>,
}

impl<'a> Fields<'a> {
    fn collect(members: impl Iterator<Item = Member<'a>>) -> Self {
        let mut f = Fields::default();
        for m in members {
            let slot = match m.key {
                b"ssid" => &mut f.ssid,
                b"password" => &mut f.password,
                b"cert" => &mut f.cert,
                b"key" => &mut f.key,
                _ => continue,
            };
            *slot = Some(m.value);
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn wifi(line: &str) -> Result<Wifi, std::string::String> {
        let req = parse(line.as_bytes()).map_err(|e| std::format!("{:?}", e.error))?;
        Wifi::from_echo(&req.echo).map_err(|e| std::format!("{e:?}"))
    }

    #[test]
    fn wifi_fields() {
        let w =
            wifi(r#"{"action": "set_wifi", "ssid": "garden", "password": "hunter22"}"#).unwrap();
        assert_eq!(
            (w.ssid.as_str(), w.password.as_str()),
            ("garden", "hunter22")
        );
        let open = wifi(r#"{"action": "set_wifi", "ssid": "cafe"}"#).unwrap();
        assert_eq!(open.password.as_str(), "");
        let emoji =
            wifi(r#"{"action": "set_wifi", "ssid": "\ud83d\ude00 \t\/", "password": null}"#)
                .unwrap();
        assert_eq!(emoji.ssid.as_str(), "😀 \t/");
        let s32 = "s".repeat(32);
        assert!(wifi(&std::format!(
            r#"{{"action": "set_wifi", "ssid": "{s32}"}}"#
        ))
        .is_ok());
        for bad in [
            r#"{"action": "set_wifi"}"#.into(),
            r#"{"action": "set_wifi", "ssid": ""}"#.into(),
            r#"{"action": "set_wifi", "ssid": 5}"#.into(),
            std::format!(r#"{{"action": "set_wifi", "ssid": "{s32}x"}}"#),
            r#"{"action": "set_wifi", "ssid": "a", "password": "short"}"#.into(),
            std::format!(
                r#"{{"action": "set_wifi", "ssid": "a", "password": "{}"}}"#,
                "p".repeat(65)
            ),
            r#"{"action": "set_wifi", "ssid": "\ud83d"}"#.into(),
        ] {
            assert!(wifi(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tls_fields() {
        let line = r#"{"action": "set_tls", "cert": "AAECAw==", "key": "BAUG"}"#;
        let req = parse(line.as_bytes()).unwrap();
        let t = Tls::from_echo(&req.echo).unwrap();
        let (mut c, mut k) = ([0u8; MAX_CERT], [0u8; MAX_KEY]);
        assert_eq!(
            t.decode(&mut c, &mut k).unwrap(),
            (&[0, 1, 2, 3][..], &[4, 5, 6][..])
        );
        // The largest accepted certificate decodes into a buffer of its size.
        let max = std::format!(
            r#"{{"action": "set_tls", "cert": "{}", "key": "{}"}}"#,
            "A".repeat(MAX_CERT / 3 * 4) + "AAA=",
            "A".repeat(MAX_KEY / 3 * 4) + "AA=="
        );
        let req = parse(max.as_bytes()).unwrap();
        let t = Tls::from_echo(&req.echo).unwrap();
        let (cert, key) = t.decode(&mut c, &mut k).unwrap();
        assert_eq!((cert.len(), key.len()), (MAX_CERT, MAX_KEY));
        let big = "A".repeat(MAX_CERT.div_ceil(3) * 4 + 4);
        for bad in [
            r#"{"action": "set_tls", "cert": "AAEC"}"#.into(),
            r#"{"action": "set_tls", "cert": "", "key": "AAEC"}"#.into(),
            r#"{"action": "set_tls", "cert": "AAE", "key": "AAEC"}"#.into(),
            r#"{"action": "set_tls", "cert": 1, "key": "AAEC"}"#.into(),
            std::format!(r#"{{"action": "set_tls", "cert": "{big}", "key": "AAEC"}}"#),
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
        }
        // Right length, not base64: found when decoded.
        let req = parse(br#"{"action": "set_tls", "cert": "A!==", "key": "AAEC"}"#).unwrap();
        let t = Tls::from_echo(&req.echo).unwrap();
        assert!(t.decode(&mut c, &mut k).is_err());
    }

    #[test]
    fn ports() {
        assert_eq!(port(Some(b"4242")), Ok(4242));
        assert_eq!(port(Some(b"\"80\"")), Ok(80));
        for bad in [&b"0"[..], b"65536", b"-1", b"\"x\""] {
            assert!(port(Some(bad)).is_err());
        }
    }
}
