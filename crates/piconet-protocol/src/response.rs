//! Writing response lines: the echoed command plus the action's fields.

use crate::error::ErrorClass;
use crate::json::Object;
use crate::sink::{Full, Sink};

pub use crate::key::KeySet;

/// The command as received, to be echoed back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Echo<'a> {
    /// The validated command object.
    pub object: Object<'a>,
    /// Which server keys the command itself carries.
    pub present: KeySet,
}

/// An error the client can read: a class and a message.
pub trait Message {
    /// The `exception` field.
    fn class(&self) -> ErrorClass;
    /// The `error` field's text.
    fn write(&self, m: &mut MessageWriter<'_>) -> Result<(), Full>;
}

/// Writes the inside of a JSON string.
pub struct MessageWriter<'a> {
    sink: &'a mut dyn Sink,
}

impl MessageWriter<'_> {
    /// Plain text, escaped as JSON needs.
    pub fn text(&mut self, s: &str) -> Result<(), Full> {
        write_escaped(self.sink, s)
    }

    /// Bytes that are already valid JSON string contents (taken from the
    /// request), copied as they are.
    pub fn raw(&mut self, json_str_contents: &[u8]) -> Result<(), Full> {
        self.sink.extend(json_str_contents)
    }

    /// An unsigned integer in decimal.
    pub fn uint(&mut self, v: u64) -> Result<(), Full> {
        self.sink.extend(itoa::Buffer::new().format(v).as_bytes())
    }
}

/// True for the bytes a JSON string cannot hold as they are.
#[inline]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// True when no byte of `b` needs escaping: eight bytes at a time, the
/// last word overlapping the one before.
fn is_plain(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let flagged = |w: u64| {
        let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
        zero(w ^ (ONES * u64::from(b'"')))
            | zero(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGHS)
    };
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(w)
    };
    if b.len() < 8 {
        return !b.iter().any(|&c| needs_escape(c));
    }
    let mut i = 0;
    while i + 8 < b.len() {
        if flagged(word(i)) != 0 {
            return false;
        }
        i += 8;
    }
    flagged(word(b.len() - 8)) == 0
}

fn write_escaped(sink: &mut dyn Sink, s: &str) -> Result<(), Full> {
    let bytes = s.as_bytes();
    if is_plain(bytes) {
        // The common case (every key and name the server writes): one copy.
        return sink.extend(bytes);
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"\\u00",
            _ => continue,
        };
        sink.extend(&bytes[start..i])?;
        sink.extend(esc)?;
        if esc == b"\\u00" {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            sink.extend(&[HEX[(b >> 4) as usize], HEX[(b & 15) as usize]])?;
        }
        start = i + 1;
    }
    sink.extend(&bytes[start..])
}

/// Writes one JSON object member by member.
///
/// ```
/// use piconet_protocol::response::ObjectWriter;
/// let mut out: heapless::Vec<u8, 64> = heapless::Vec::new();
/// let mut w = ObjectWriter::open(&mut out).unwrap();
/// w.uint("a", 1).unwrap();
/// w.str("b", "x\"y").unwrap();
/// w.close().unwrap();
/// assert_eq!(out.as_slice(), br#"{"a": 1, "b": "x\"y"}"#);
/// ```
pub struct ObjectWriter<'a> {
    sink: &'a mut dyn Sink,
    first: bool,
}

impl<'a> ObjectWriter<'a> {
    /// Start an object.
    pub fn open(sink: &'a mut dyn Sink) -> Result<Self, Full> {
        sink.extend(b"{")?;
        Ok(ObjectWriter { sink, first: true })
    }

    /// `, "key": ` then `value` (raw JSON), in one write to the sink when
    /// the key needs no escapes and both fit a small buffer.
    fn member(&mut self, key: &str, value: &[u8]) -> Result<(), Full> {
        if !is_plain(key.as_bytes()) {
            self.escaped_key(key)?;
            return self.sink.extend(value);
        }
        self.plain_member(key, value)
    }

    /// [`ObjectWriter::member`] for a key known to need no escapes.
    #[inline(always)]
    fn plain_member(&mut self, key: &str, value: &[u8]) -> Result<(), Full> {
        const ROOM: usize = 80;
        let k = key.as_bytes();
        // ", \"" + key + "\": " + value
        let len = 3 + k.len() + 3 + value.len();
        if len > ROOM {
            self.escaped_key(key)?;
            return self.sink.extend(value);
        }
        let mut buf = [0u8; ROOM];
        let start = if self.first { 2 } else { 0 };
        buf[..3].copy_from_slice(b", \"");
        let mut n = 3;
        buf[n..n + k.len()].copy_from_slice(k);
        n += k.len();
        buf[n..n + 3].copy_from_slice(b"\": ");
        n += 3;
        buf[n..n + value.len()].copy_from_slice(value);
        n += value.len();
        self.sink.extend(&buf[start..n])?;
        self.first = false;
        Ok(())
    }

    fn key(&mut self, key: &str) -> Result<(), Full> {
        self.member(key, b"")
    }

    fn escaped_key(&mut self, key: &str) -> Result<(), Full> {
        if !self.first {
            self.sink.extend(b", ")?;
        }
        self.first = false;
        self.sink.extend(b"\"")?;
        write_escaped(self.sink, key)?;
        self.sink.extend(b"\": ")
    }

    /// Copy the members of the received command, leaving out those whose
    /// keys are in `skip` and redacting secrets (`password`, `key`).
    pub fn echo(&mut self, echo: &Echo<'_>, skip: KeySet) -> Result<(), Full> {
        if !echo.present.intersects(skip.union(KeySet::SECRET)) {
            // The common case: one copy of the member list as received.
            if !echo.object.inner.is_empty() {
                if !self.first {
                    self.sink.extend(b", ")?;
                }
                self.sink.extend(echo.object.inner)?;
                self.first = false;
            }
            return Ok(());
        }
        for m in echo.object.members() {
            // Decoded, as the parser compared it: an escaped secret's name
            // is still a secret.
            let key = match m.key_escaped {
                true => crate::command::decoded_key(&m),
                false => crate::key::Key::from_name(m.key),
            }
            .map_or(KeySet::EMPTY, KeySet::of);
            if key.intersects(skip) {
                continue;
            }
            if !self.first {
                self.sink.extend(b", ")?;
            }
            if key.intersects(KeySet::SECRET) {
                // The key as sent: valid JSON string contents.
                self.sink.extend(b"\"")?;
                self.sink.extend(m.key)?;
                self.sink.extend(b"\": \"")?;
                self.sink.extend(crate::provision::REDACTED.as_bytes())?;
                self.sink.extend(b"\"")?;
            } else {
                self.sink.extend(m.whole)?;
            }
            self.first = false;
        }
        Ok(())
    }

    /// `"key": v`.
    pub fn uint(&mut self, key: &str, v: u64) -> Result<(), Full> {
        self.member(key, itoa::Buffer::new().format(v).as_bytes())
    }

    /// `"key": v` for one of the protocol's own keys, whose names need no
    /// escaping (checked when the crate is built), so none is looked for.
    pub fn key_uint(&mut self, key: crate::key::Key, v: u64) -> Result<(), Full> {
        self.plain_member(key.name(), itoa::Buffer::new().format(v).as_bytes())
    }

    /// `"key": v`.
    pub fn int(&mut self, key: &str, v: i64) -> Result<(), Full> {
        self.member(key, itoa::Buffer::new().format(v).as_bytes())
    }

    /// `"key": true|false`.
    pub fn bool(&mut self, key: &str, v: bool) -> Result<(), Full> {
        self.member(key, if v { b"true" } else { b"false" })
    }

    /// `"key": "v"`, escaped.
    pub fn str(&mut self, key: &str, v: &str) -> Result<(), Full> {
        self.key(key)?;
        self.sink.extend(b"\"")?;
        write_escaped(self.sink, v)?;
        self.sink.extend(b"\"")
    }

    /// `"key": v` as a decimal with at most six places, trailing zeros
    /// dropped but one kept (`0.5`, `27.0`, `-3.25`), the way Python's
    /// `json` writes such floats. Six places are finer than anything a
    /// board measures (a 12-bit ADC step is 0.0008 V); the fixed format
    /// avoids pulling the general float formatter into the firmware.
    /// A non-finite `v` (which no measurement yields) is written as 0.0.
    pub fn decimal(&mut self, key: &str, v: f64) -> Result<(), Full> {
        let mut buf = [0u8; 32];
        let n = write_decimal(&mut buf, v);
        self.member(key, &buf[..n])
    }

    /// `"key": [1, 2, 3]`, each byte an integer.
    pub fn byte_list(&mut self, key: &str, bytes: &[u8]) -> Result<(), Full> {
        self.key(key)?;
        self.sink.extend(b"[")?;
        for (i, b) in bytes.iter().enumerate() {
            if i > 0 {
                self.sink.extend(b", ")?;
            }
            self.sink
                .extend(itoa::Buffer::new().format(*b).as_bytes())?;
        }
        self.sink.extend(b"]")
    }

    /// `"key": null`.
    pub fn null(&mut self, key: &str) -> Result<(), Full> {
        self.member(key, b"null")
    }

    /// `"key": ["a", "b"]`.
    pub fn str_list<'s>(
        &mut self,
        key: &str,
        items: impl IntoIterator<Item = &'s str>,
    ) -> Result<(), Full> {
        self.key(key)?;
        self.sink.extend(b"[")?;
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.sink.extend(b", ")?;
            }
            self.sink.extend(b"\"")?;
            write_escaped(self.sink, item)?;
            self.sink.extend(b"\"")?;
        }
        self.sink.extend(b"]")
    }

    /// `"key": [1, 2]`.
    pub fn uint_list(
        &mut self,
        key: &str,
        items: impl IntoIterator<Item = u64>,
    ) -> Result<(), Full> {
        self.key(key)?;
        self.sink.extend(b"[")?;
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.sink.extend(b", ")?;
            }
            self.sink
                .extend(itoa::Buffer::new().format(item).as_bytes())?;
        }
        self.sink.extend(b"]")
    }

    /// `"key": {...}`, its members written by `f`.
    pub fn object(
        &mut self,
        key: &str,
        f: impl FnOnce(&mut ObjectWriter<'_>) -> Result<(), Full>,
    ) -> Result<(), Full> {
        self.key(key)?;
        let mut inner = ObjectWriter::open(self.sink)?;
        f(&mut inner)?;
        inner.close()
    }

    /// `"key": [{...}, ...]`, the objects written by `f` through the list.
    pub fn object_list(
        &mut self,
        key: &str,
        f: impl FnOnce(&mut ListWriter<'_>) -> Result<(), Full>,
    ) -> Result<(), Full> {
        self.key(key)?;
        self.sink.extend(b"[")?;
        let mut list = ListWriter {
            sink: self.sink,
            first: true,
        };
        f(&mut list)?;
        self.sink.extend(b"]")
    }

    /// `"error": "...", "exception": "..."`.
    pub fn error(&mut self, e: &dyn Message) -> Result<(), Full> {
        self.key("error")?;
        self.sink.extend(b"\"")?;
        e.write(&mut MessageWriter { sink: self.sink })?;
        self.sink.extend(b"\"")?;
        self.str("exception", e.class().name())
    }

    /// End the object.
    pub fn close(self) -> Result<(), Full> {
        self.sink.extend(b"}")
    }
}

/// `v` rounded to six decimal places into `buf`, as [`ObjectWriter::decimal`]
/// describes; returns the length. Values beyond ±1e12 are clamped there
/// (no measurement is that large).
fn write_decimal(buf: &mut [u8; 32], v: f64) -> usize {
    const PLACES: usize = 6;
    const SCALE: f64 = 1_000_000.0;
    let v = if v.is_finite() {
        v.clamp(-1e12, 1e12)
    } else {
        0.0
    };
    // Rounded half away from zero without `f64::round` (not in core).
    let scaled = v.abs() * SCALE + 0.5;
    let units = scaled as u64;
    let (whole, mut frac) = (units / SCALE as u64, units % SCALE as u64);
    let mut n = 0;
    if v < 0.0 && units != 0 {
        buf[0] = b'-';
        n = 1;
    }
    let mut whole_buf = itoa::Buffer::new();
    let digits = whole_buf.format(whole).as_bytes();
    buf[n..n + digits.len()].copy_from_slice(digits);
    n += digits.len();
    buf[n] = b'.';
    n += 1;
    let mut places = [b'0'; PLACES];
    for slot in places.iter_mut().rev() {
        *slot = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    let keep = places.iter().rposition(|&d| d != b'0').map_or(1, |i| i + 1);
    buf[n..n + keep].copy_from_slice(&places[..keep]);
    n + keep
}

/// Writes the objects of a JSON array (see [`ObjectWriter::object_list`]).
///
/// ```
/// use piconet_protocol::response::ObjectWriter;
/// let mut out: heapless::Vec<u8, 64> = heapless::Vec::new();
/// let mut w = ObjectWriter::open(&mut out).unwrap();
/// w.object_list("l", |l| {
///     l.object(|o| o.uint("a", 1))?;
///     l.object(|o| o.uint("a", 2))
/// })
/// .unwrap();
/// w.close().unwrap();
/// assert_eq!(out.as_slice(), br#"{"l": [{"a": 1}, {"a": 2}]}"#);
/// ```
pub struct ListWriter<'a> {
    sink: &'a mut dyn Sink,
    first: bool,
}

impl ListWriter<'_> {
    /// One more object, its members written by `f`.
    pub fn object(
        &mut self,
        f: impl FnOnce(&mut ObjectWriter<'_>) -> Result<(), Full>,
    ) -> Result<(), Full> {
        if !self.first {
            self.sink.extend(b", ")?;
        }
        self.first = false;
        let mut inner = ObjectWriter::open(self.sink)?;
        f(&mut inner)?;
        inner.close()
    }
}

/// Write a whole error response line with no echo, as for a line that is
/// not JSON: `{"error": ..., "exception": ...}\n`.
///
/// ```
/// use piconet_protocol::{response::write_error_line, ProtocolError};
/// let mut out: heapless::Vec<u8, 128> = heapless::Vec::new();
/// write_error_line(&mut out, &ProtocolError::LineTooLong { max: 8 }).unwrap();
/// assert!(out.starts_with(br#"{"error": "command longer than 8 bytes"#));
/// assert!(out.ends_with(b"\"exception\": \"ValueError\"}\n"));
/// ```
pub fn write_error_line(sink: &mut dyn Sink, e: &dyn Message) -> Result<(), Full> {
    let start = sink.len();
    let r = (|| {
        let mut w = ObjectWriter::open(sink)?;
        w.error(e)?;
        w.close()?;
        sink.extend(b"\n")
    })();
    if r.is_err() {
        sink.truncate(start);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse_object;

    fn echoed(line: &str, skip: KeySet) -> std::string::String {
        let mut out: heapless::Vec<u8, 256> = heapless::Vec::new();
        let (echo, _) = match crate::parse(line.as_bytes()) {
            Ok(r) => (r.echo, ()),
            Err(e) => (e.echo.unwrap(), ()),
        };
        let mut w = ObjectWriter::open(&mut out).unwrap();
        w.echo(&echo, skip).unwrap();
        w.close().unwrap();
        std::string::String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn decimals_read_back_as_the_float_and_bytes_as_a_list() {
        for (v, want) in [
            (0.5, "0.5"),
            (0.0, "0.0"),
            (1.0, "1.0"),
            (27.0, "27.0"),
            (1.65, "1.65"),
            (0.1f32 as f64, "0.1"),
            (-3.25, "-3.25"),
            (-0.0000001, "0.0"),
            (3.3 * 4095.0 / 4095.0, "3.3"),
            (0.0008058608, "0.000806"),
            (123456.7, "123456.7"),
            (f64::NAN, "0.0"),
            (1e300, "1000000000000.0"),
        ] {
            let mut buf = [0u8; 32];
            let n = write_decimal(&mut buf, v);
            assert_eq!(core::str::from_utf8(&buf[..n]).unwrap(), want, "{v}");
        }
        let mut out: heapless::Vec<u8, 64> = heapless::Vec::new();
        let mut w = ObjectWriter::open(&mut out).unwrap();
        w.decimal("duty", 0.25).unwrap();
        w.byte_list("data", &[0, 80, 255]).unwrap();
        w.close().unwrap();
        assert_eq!(out.as_slice(), br#"{"duty": 0.25, "data": [0, 80, 255]}"#);
    }

    #[test]
    fn secrets_are_never_echoed() {
        for (line, want) in [
            (
                r#"{"action": "set_wifi", "ssid": "n", "password": "hunter22", "id": 1}"#,
                r#"{"action": "set_wifi", "ssid": "n", "password": "<redacted>", "id": 1}"#,
            ),
            // A command that fails to parse is echoed with the error.
            (
                r#"{"action": "set_tls", "key": "c2VjcmV0", "cert": 5}"#,
                r#"{"action": "set_tls", "key": "<redacted>", "cert": 5}"#,
            ),
            // Whatever the action, and a nested value too.
            (
                r#"{"action": "ping", "password": {"a": [1]}}"#,
                r#"{"action": "ping", "password": "<redacted>"}"#,
            ),
            // The key is compared decoded, as Python's json reads it, and
            // echoed as sent.
            (
                r#"{"action": "set_wifi", "ssid": "n", "pass\u0077ord": "hunter22"}"#,
                r#"{"action": "set_wifi", "ssid": "n", "pass\u0077ord": "<redacted>"}"#,
            ),
            (
                r#"{"action": "ping", "\u006bey": "c2VjcmV0", "k\u0065y2": 1}"#,
                r#"{"action": "ping", "\u006bey": "<redacted>", "k\u0065y2": 1}"#,
            ),
        ] {
            assert_eq!(echoed(line, KeySet::EMPTY), want);
            assert_eq!(echoed(line, KeySet::TIME_RECEIVED), want);
        }
    }

    #[test]
    fn escapes_control_characters() {
        let mut out: heapless::Vec<u8, 64> = heapless::Vec::new();
        let mut w = ObjectWriter::open(&mut out).unwrap();
        w.str("k", "a\u{1}\tb\\").unwrap();
        w.close().unwrap();
        assert_eq!(out.as_slice(), br#"{"k": "a\u0001\tb\\"}"#);
    }

    #[test]
    fn plain_text_is_recognised() {
        for len in 0..20 {
            let plain = "a".repeat(len);
            assert!(is_plain(plain.as_bytes()), "{plain}");
            for at in 0..len {
                for bad in [b'"', b'\\', b'\n', 0, 0x1f] {
                    let mut b = plain.clone().into_bytes();
                    b[at] = bad;
                    assert!(!is_plain(&b), "{b:?}");
                }
                let mut b = plain.clone().into_bytes();
                b[at] = 0x7f;
                assert!(is_plain(&b));
            }
        }
        assert!(is_plain("é☃ é".as_bytes()));
    }

    #[test]
    fn members_with_escaped_or_long_keys() {
        let long = "k".repeat(100);
        let mut out: heapless::Vec<u8, 512> = heapless::Vec::new();
        let mut w = ObjectWriter::open(&mut out).unwrap();
        w.uint("a\"b", 1).unwrap();
        w.bool(&long, true).unwrap();
        w.null("").unwrap();
        w.int("i", -5).unwrap();
        w.str("s\n", "v").unwrap();
        w.close().unwrap();
        let want = std::format!(r#"{{"a\"b": 1, "{long}": true, "": null, "i": -5, "s\n": "v"}}"#);
        assert_eq!(core::str::from_utf8(&out).unwrap(), want);

        // A member that does not fit leaves the sink as it was.
        let mut small: heapless::Vec<u8, 8> = heapless::Vec::new();
        let mut w = ObjectWriter::open(&mut small).unwrap();
        assert_eq!(w.uint("abcdef", 1), Err(Full));
        assert_eq!(small.as_slice(), b"{");
    }

    #[test]
    fn echo_skips_server_keys_only_when_present() {
        let line = br#"{"action": "read_pin", "value": 7, "x": [1]}"#;
        let mut present = KeySet::EMPTY;
        let object =
            parse_object(line, |m| present = present.union(KeySet::of_name(m.key))).unwrap();
        let echo = Echo { object, present };
        let mut out: heapless::Vec<u8, 128> = heapless::Vec::new();
        let mut w = ObjectWriter::open(&mut out).unwrap();
        w.echo(&echo, KeySet::of(crate::key::Key::Value)).unwrap();
        w.uint("value", 1).unwrap();
        w.close().unwrap();
        assert_eq!(
            out.as_slice(),
            br#"{"action": "read_pin", "x": [1], "value": 1}"#
        );

        out.clear();
        let mut w = ObjectWriter::open(&mut out).unwrap();
        w.echo(&echo, KeySet::of(crate::key::Key::Version)).unwrap();
        w.close().unwrap();
        assert_eq!(out.as_slice(), line);
    }

    #[test]
    fn error_line_rolls_back_when_full() {
        let mut out: heapless::Vec<u8, 16> = heapless::Vec::new();
        out.extend_from_slice(b"keep").unwrap();
        assert_eq!(
            write_error_line(&mut out, &crate::ProtocolError::MissingAction),
            Err(Full)
        );
        assert_eq!(out.as_slice(), b"keep");
    }
}
