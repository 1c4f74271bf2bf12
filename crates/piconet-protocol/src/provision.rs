//! Provisioning over the line protocol: the fields of the actions that
//! store a board's settings (`set_wifi`, `set_tls`), decoded without
//! allocation.
//!
//! Their secrets (`password`, `key`) are never echoed: every response
//! writes them as [`REDACTED`] (see [`crate::response::ObjectWriter::echo`]).

use heapless::String;

use crate::error::ProtocolError;
use crate::json::scalar;

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

/// Longest board name `set_name` takes, in bytes (of `a-z`, `0-9`, `-`).
pub const MAX_NAME: usize = 32;

/// What a secret is echoed as.
pub const REDACTED: &str = "<redacted>";

pub use crate::action::settings::{is_board_name, Name, NotBase64, RadioPower, Tls, Wifi};

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
pub(crate) fn base64_of(raw: &[u8], max: usize) -> Option<&[u8]> {
    let text = scalar::raw_str(raw)?;
    if text.is_empty() || text.len() % 4 != 0 {
        return None;
    }
    let pad = text.iter().rev().take_while(|&&c| c == b'=').count();
    let len = text.len() / 4 * 3 - pad.min(2);
    (pad <= 2 && len <= max && !text.contains(&b'\\')).then_some(text)
}

pub(crate) fn decode_into<'o>(text: &[u8], out: &'o mut [u8]) -> Option<&'o [u8]> {
    use base64::Engine as _;
    let n = base64::engine::general_purpose::STANDARD
        .decode_slice(text, out)
        .ok()?;
    Some(&out[..n])
}

/// A JSON string value's text with its escapes decoded, if it fits `N`
/// bytes. SSIDs and passphrases may hold any character, so unlike the
/// names the engine compares, they must be unescaped.
pub(crate) fn unescape<const N: usize>(raw: &[u8]) -> Option<String<N>> {
    let mut buf = [0u8; N];
    let text = scalar::unescape_into(scalar::raw_str(raw)?, &mut buf)?;
    let mut out = String::new();
    // `unescape_into` wrote UTF-8 that fits `N` bytes.
    out.push_str(core::str::from_utf8(text).ok()?).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn wifi(line: &str) -> Result<Wifi<'_>, std::string::String> {
        match parse(line.as_bytes()).map_err(|e| std::format!("{:?}", e.error))? {
            crate::Request {
                command: crate::Command::SetWifi(wifi),
                ..
            } => Ok(wifi),
            other => Err(std::format!("{other:?}")),
        }
    }

    #[test]
    fn wifi_fields() {
        let w =
            wifi(r#"{"action": "set_wifi", "ssid": "garden", "password": "hunter22"}"#).unwrap();
        assert_eq!(
            (w.ssid().as_str(), w.password().as_str()),
            ("garden", "hunter22")
        );
        let open = wifi(r#"{"action": "set_wifi", "ssid": "cafe"}"#).unwrap();
        assert_eq!(open.password().as_str(), "");
        let emoji =
            wifi(r#"{"action": "set_wifi", "ssid": "\ud83d\ude00 \t\/", "password": null}"#)
                .unwrap();
        assert_eq!(emoji.ssid().as_str(), "😀 \t/");
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

    fn tls(line: &str) -> Tls<'_> {
        match parse(line.as_bytes()).unwrap().command {
            crate::Command::SetTls(tls) => tls,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tls_fields() {
        let line = r#"{"action": "set_tls", "cert": "AAECAw==", "key": "BAUG"}"#;
        let t = tls(line);
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
        let t = tls(&max);
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
        let t = tls(r#"{"action": "set_tls", "cert": "A!==", "key": "AAEC"}"#);
        assert!(t.decode(&mut c, &mut k).is_err());
    }

    fn name(line: &str) -> Result<std::string::String, std::string::String> {
        match parse(line.as_bytes()) {
            Ok(crate::Request {
                command: crate::Command::SetName(name),
                ..
            }) => Ok(name.decoded().as_str().into()),
            Ok(other) => Err(std::format!("{other:?}")),
            Err(e) => {
                let mut out: heapless::Vec<u8, 512> = heapless::Vec::new();
                crate::response::write_error_line(&mut out, &e.error).unwrap();
                Err(core::str::from_utf8(&out).unwrap().into())
            }
        }
    }

    #[test]
    fn name_fields() {
        let n32 = "n".repeat(MAX_NAME);
        for (line, want) in [
            (
                r#"{"action": "set_name", "name": "garden"}"#.into(),
                "garden",
            ),
            (r#"{"action": "set_name", "name": "a"}"#.into(), "a"),
            (
                r#"{"action": "set_name", "name": "valve-2-a"}"#.into(),
                "valve-2-a",
            ),
            (
                std::format!(r#"{{"action": "set_name", "name": "{n32}"}}"#),
                n32.as_str(),
            ),
        ] {
            assert_eq!(name(&line).as_deref(), Ok(want), "{line}");
        }
        let missing = name(r#"{"action": "set_name"}"#).unwrap_err();
        assert!(missing.contains("missing fields: name"), "{missing}");
        assert!(
            missing.contains("\"exception\": \"ValueError\""),
            "{missing}"
        );
        for bad in [
            r#"{"action": "set_name", "name": ""}"#.into(),
            std::format!(r#"{{"action": "set_name", "name": "{n32}x"}}"#),
            r#"{"action": "set_name", "name": "Garden"}"#.into(),
            r#"{"action": "set_name", "name": "garden.local"}"#.into(),
            r#"{"action": "set_name", "name": "a_b"}"#.into(),
            r#"{"action": "set_name", "name": "a b"}"#.into(),
            r#"{"action": "set_name", "name": "café"}"#.into(),
            r#"{"action": "set_name", "name": 5}"#.into(),
            r#"{"action": "set_name", "name": null}"#.into(),
        ] {
            let e = name(&bad).unwrap_err();
            assert!(
                e.contains("name must be the board's name, a string of 1 to 32 of a-z, 0-9 and -")
                    && e.contains("\"exception\": \"ValueError\""),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn radio_power_modes() {
        for mode in RadioPower::ALL {
            let line = std::format!(
                r#"{{"action": "set_radio_power", "mode": "{}"}}"#,
                mode.as_str()
            );
            assert_eq!(
                parse(line.as_bytes()).unwrap().command,
                crate::Command::SetRadioPower { mode },
                "{line}"
            );
        }
        assert_eq!(RadioPower::default(), RadioPower::None);
        for bad in [
            r#"{"action": "set_radio_power"}"#,
            r#"{"action": "set_radio_power", "mode": "PowerSave"}"#,
            r#"{"action": "set_radio_power", "mode": 1}"#,
            r#"{"action": "set_radio_power", "mode": "super_save"}"#,
        ] {
            let e = std::format!("{:?}", parse(bad.as_bytes()).unwrap_err().error);
            assert!(e.contains("mode") || e.contains("Mode"), "{bad}: {e}");
        }
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
