//! The byte layout of each stored item. Versioned by its first byte so a
//! later firmware can read what an earlier one wrote.

use heapless::{String, Vec};

use crate::settings::{RadioPower, TlsIdentity, Wifi};
use crate::{MAX_CERT, MAX_KEY, MAX_NAME, MAX_PASSWORD, MAX_SSID};

const V1: u8 = 1;

/// Keys of the map in flash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Key {
    Wifi = 1,
    Port = 2,
    Tls = 3,
    /// The client list: an opaque record the engine encodes (it owns the
    /// client type).
    Clients = 4,
    Name = 5,
    /// The WiFi chip's power mode.
    RadioPower = 6,
}

/// Why a record could not be written or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecordError {
    TooLong(&'static str),
    Malformed,
}

fn put(out: &mut [u8], at: &mut usize, bytes: &[u8]) -> Result<(), RecordError> {
    let end = *at + bytes.len();
    out.get_mut(*at..end)
        .ok_or(RecordError::TooLong("record"))?
        .copy_from_slice(bytes);
    *at = end;
    Ok(())
}

pub(crate) fn encode_wifi(
    ssid: &str,
    password: &str,
    out: &mut [u8],
) -> Result<usize, RecordError> {
    if ssid.is_empty() || ssid.len() > MAX_SSID {
        return Err(RecordError::TooLong("the SSID must be 1 to 32 bytes"));
    }
    if password.len() > MAX_PASSWORD {
        return Err(RecordError::TooLong(
            "the password must be at most 64 bytes",
        ));
    }
    let mut at = 0;
    put(out, &mut at, &[V1, ssid.len() as u8])?;
    put(out, &mut at, ssid.as_bytes())?;
    put(out, &mut at, password.as_bytes())?;
    Ok(at)
}

fn text(b: &[u8]) -> Result<&str, RecordError> {
    core::str::from_utf8(b).map_err(|_| RecordError::Malformed)
}

pub(crate) fn decode_wifi(bytes: &[u8]) -> Result<Wifi, RecordError> {
    let [V1, n, rest @ ..] = bytes else {
        return Err(RecordError::Malformed);
    };
    let (ssid, password) = rest
        .split_at_checked(usize::from(*n))
        .ok_or(RecordError::Malformed)?;
    Ok(Wifi {
        ssid: String::try_from(text(ssid)?).map_err(|_| RecordError::Malformed)?,
        password: String::try_from(text(password)?).map_err(|_| RecordError::Malformed)?,
    })
}

pub(crate) fn encode_tls(cert: &[u8], key: &[u8], out: &mut [u8]) -> Result<usize, RecordError> {
    if cert.is_empty() || cert.len() > MAX_CERT {
        return Err(RecordError::TooLong(
            "the certificate must be 1 to 2048 bytes of DER",
        ));
    }
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(RecordError::TooLong(
            "the key must be 1 to 256 bytes of DER",
        ));
    }
    let mut at = 0;
    put(out, &mut at, &[V1])?;
    put(out, &mut at, &(cert.len() as u16).to_le_bytes())?;
    put(out, &mut at, cert)?;
    put(out, &mut at, key)?;
    Ok(at)
}

pub(crate) fn decode_tls(bytes: &[u8]) -> Result<TlsIdentity, RecordError> {
    let [V1, a, b, rest @ ..] = bytes else {
        return Err(RecordError::Malformed);
    };
    let (cert, key) = rest
        .split_at_checked(usize::from(u16::from_le_bytes([*a, *b])))
        .ok_or(RecordError::Malformed)?;
    Ok(TlsIdentity {
        cert: Vec::from_slice(cert).map_err(|_| RecordError::Malformed)?,
        key: Vec::from_slice(key).map_err(|_| RecordError::Malformed)?,
    })
}

pub(crate) fn encode_port(port: u16, out: &mut [u8]) -> Result<usize, RecordError> {
    if port == 0 {
        return Err(RecordError::TooLong("the port must be 1 to 65535"));
    }
    let mut at = 0;
    put(out, &mut at, &[V1])?;
    put(out, &mut at, &port.to_le_bytes())?;
    Ok(at)
}

pub(crate) fn decode_port(bytes: &[u8]) -> Result<u16, RecordError> {
    match bytes {
        [V1, a, b] if u16::from_le_bytes([*a, *b]) != 0 => Ok(u16::from_le_bytes([*a, *b])),
        _ => Err(RecordError::Malformed),
    }
}

pub(crate) fn encode_name(name: &str, out: &mut [u8]) -> Result<usize, RecordError> {
    crate::check_name(name).map_err(|_| {
        RecordError::TooLong("name must be 1 to 32 of a-z, 0-9 and - (it becomes NAME.local)")
    })?;
    let mut at = 0;
    put(out, &mut at, &[V1])?;
    put(out, &mut at, name.as_bytes())?;
    Ok(at)
}

/// A stored name is checked again: the announcer takes it as a DNS label.
pub(crate) fn decode_name(bytes: &[u8]) -> Result<String<MAX_NAME>, RecordError> {
    let [V1, name @ ..] = bytes else {
        return Err(RecordError::Malformed);
    };
    let name = text(name)?;
    crate::check_name(name).map_err(|_| RecordError::Malformed)?;
    String::try_from(name).map_err(|_| RecordError::Malformed)
}

/// A radio power mode's stored code (never reused: a later firmware
/// reads what this one wrote).
const fn radio_power_code(mode: RadioPower) -> u8 {
    match mode {
        RadioPower::None => 0,
        RadioPower::Performance => 1,
        RadioPower::PowerSave => 2,
        RadioPower::Aggressive => 3,
    }
}

pub(crate) fn encode_radio_power(mode: RadioPower) -> [u8; 2] {
    [V1, radio_power_code(mode)]
}

pub(crate) fn decode_radio_power(bytes: &[u8]) -> Result<RadioPower, RecordError> {
    match bytes {
        [V1, code] => RadioPower::ALL
            .into_iter()
            .find(|&m| radio_power_code(m) == *code)
            .ok_or(RecordError::Malformed),
        _ => Err(RecordError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let mut buf = [0u8; 4096];
        let n = encode_wifi("net", "pass word", &mut buf).unwrap();
        let w = decode_wifi(&buf[..n]).unwrap();
        assert_eq!((w.ssid.as_str(), w.password.as_str()), ("net", "pass word"));
        let n = encode_tls(&[1, 2, 3], &[9; 40], &mut buf).unwrap();
        let t = decode_tls(&buf[..n]).unwrap();
        assert_eq!((t.cert.as_slice(), t.key.len()), (&[1u8, 2, 3][..], 40));
        let n = encode_port(80, &mut buf).unwrap();
        assert_eq!(decode_port(&buf[..n]), Ok(80));
        let n = encode_name("garden-2", &mut buf).unwrap();
        assert_eq!(decode_name(&buf[..n]).unwrap().as_str(), "garden-2");
        for mode in RadioPower::ALL {
            assert_eq!(decode_radio_power(&encode_radio_power(mode)), Ok(mode));
        }
        for bad in [&[][..], &[V1], &[V1, 4], &[2, 0], &[V1, 0, 0]] {
            assert_eq!(decode_radio_power(bad), Err(RecordError::Malformed));
        }
    }

    #[test]
    fn limits_and_garbage() {
        let mut buf = [0u8; 4096];
        assert!(encode_wifi("", "x", &mut buf).is_err());
        assert!(encode_wifi(&"s".repeat(33), "x", &mut buf).is_err());
        assert!(encode_wifi("s", &"p".repeat(65), &mut buf).is_err());
        assert!(encode_tls(&[0; 2049], &[1], &mut buf).is_err());
        assert!(encode_port(0, &mut buf).is_err());
        assert!(encode_wifi("s", "p", &mut buf[..2]).is_err());
        assert_eq!(
            decode_wifi(&[2, 1, b'a']).unwrap_err(),
            RecordError::Malformed
        );
        assert_eq!(
            decode_wifi(&[1, 5, b'a']).unwrap_err(),
            RecordError::Malformed
        );
        assert_eq!(
            decode_tls(&[1, 9, 0, 1]).unwrap_err(),
            RecordError::Malformed
        );
        assert_eq!(decode_port(&[1, 0, 0]).unwrap_err(), RecordError::Malformed);
        assert!(encode_name("", &mut buf).is_err());
        assert!(encode_name("Garden", &mut buf).is_err());
        assert!(encode_name(&"n".repeat(33), &mut buf).is_err());
        assert_eq!(decode_name(&[1]).unwrap_err(), RecordError::Malformed);
        assert_eq!(decode_name(&[1, b'A']).unwrap_err(), RecordError::Malformed);
        assert_eq!(decode_name(&[2, b'a']).unwrap_err(), RecordError::Malformed);
    }
}
