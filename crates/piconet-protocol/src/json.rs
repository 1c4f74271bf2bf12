//! A strict, allocation-free JSON reader for one command object.
//!
//! Why not serde-json-core: it cannot deserialize a field whose type
//! varies (the original accepts `"pin": 2` and `"pin": "2"`), and the
//! response must echo every member verbatim, unknown ones included, which
//! needs the raw byte span of each member. This reader validates the whole
//! object in one pass (RFC 8259) and hands out those spans.
//!
//! Python's `json` also emits `NaN` and `Infinity`; they are refused with
//! a message that names them, because echoing them back would make the
//! response unreadable to every standard JSON parser.

use core::fmt;

/// Containers nested deeper than this are refused, bounding the work and
/// the stack any line can cost.
pub const MAX_DEPTH: usize = 32;

/// Longest number literal accepted, in bytes (sign, digits, point and
/// exponent). No field needs more (a nanosecond `time_sent` has 19
/// digits, a float's shortest repr at most 24 characters), and a longer
/// one would be echoed to clients that cannot read it back (Python's
/// `json.loads` refuses integers over 4,300 digits).
pub const MAX_NUMBER_LEN: usize = 40;

/// Why a line is not a JSON object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonError {
    /// What was wrong.
    pub reason: &'static str,
    /// Byte offset in the line where it was noticed.
    pub offset: usize,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.offset, self.reason)
    }
}

/// One `"key": value` member of the top-level object, as raw bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member<'a> {
    /// The key's bytes between the quotes, escapes not decoded.
    pub key: &'a [u8],
    /// The key holds a JSON escape: compare it by [`Member::decoded_key`].
    pub key_escaped: bool,
    /// The value's bytes, exactly as sent.
    pub value: &'a [u8],
    /// From the key's opening quote to the value's last byte.
    pub whole: &'a [u8],
}

impl Member<'_> {
    /// The key with its escapes decoded, as Python's `json` reads it, in
    /// `buf`; `None` when it does not fit (then it is longer than any key
    /// the protocol knows).
    pub fn decoded_key<'b>(&self, buf: &'b mut [u8]) -> Option<&'b [u8]> {
        if !self.key_escaped {
            let out = buf.get_mut(..self.key.len())?;
            out.copy_from_slice(self.key);
            return Some(out);
        }
        scalar::unescape_into(self.key, buf)
    }
}

/// A validated top-level JSON object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Object<'a> {
    /// Everything between `{` and `}`, surrounding whitespace trimmed.
    pub inner: &'a [u8],
}

impl<'a> Object<'a> {
    /// The members in order. Only call on an object from [`parse_object`]:
    /// the bytes are known valid, so iteration cannot fail.
    pub fn members(&self) -> Members<'a> {
        Members {
            cur: Cursor {
                b: self.inner,
                i: 0,
            },
        }
    }
}

/// Iterator over the members of a validated [`Object`].
pub struct Members<'a> {
    cur: Cursor<'a>,
}

impl<'a> Iterator for Members<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        let c = &mut self.cur;
        c.ws();
        if c.peek() == Some(b',') {
            c.i += 1;
            c.ws();
        }
        if c.i >= c.b.len() {
            return None;
        }
        c.member().ok()
    }
}

/// Validate `line` as one JSON object and call `each` for every top-level
/// member, in order.
///
/// ```
/// use piconet_protocol::json::parse_object;
/// let mut keys = 0;
/// let obj = parse_object(br#" {"a": [1, {"b": null}], "c": "d"} "#, |_| keys += 1).unwrap();
/// assert_eq!(keys, 2);
/// assert_eq!(obj.inner, br#""a": [1, {"b": null}], "c": "d""#);
/// ```
pub fn parse_object<'a>(
    line: &'a [u8],
    mut each: impl FnMut(Member<'a>),
) -> Result<Object<'a>, JsonError> {
    // ASCII (every line the original client sends) is UTF-8; the word-wise
    // ASCII check is much cheaper than full validation.
    if !is_ascii(line) {
        if let Err(e) = core::str::from_utf8(line) {
            return Err(JsonError {
                reason: "not valid UTF-8",
                offset: e.valid_up_to(),
            });
        }
    }
    let mut c = Cursor { b: line, i: 0 };
    c.ws();
    if c.peek() != Some(b'{') {
        return Err(c.err(if c.i >= line.len() {
            "empty command"
        } else {
            "a command must be a JSON object"
        }));
    }
    c.i += 1;
    c.ws();
    let inner_start = c.i;
    let mut inner_end = c.i;
    if c.peek() == Some(b'}') {
        c.i += 1;
    } else {
        loop {
            let m = c.member()?;
            inner_end = c.i;
            each(m);
            c.ws();
            match c.peek() {
                Some(b',') => {
                    c.i += 1;
                    c.ws();
                }
                Some(b'}') => {
                    c.i += 1;
                    break;
                }
                _ => return Err(c.err("expected ',' or '}' after a member")),
            }
        }
    }
    c.ws();
    if c.i != line.len() {
        return Err(c.err("unexpected data after the object"));
    }
    Ok(Object {
        inner: &line[inner_start..inner_end],
    })
}

/// The elements of a JSON array, each as its raw bytes, or `None` when
/// `raw` is not an array. Only call on a value from a validated line
/// ([`parse_object`]'s members): iteration stops at the first element
/// that is not valid JSON.
///
/// ```
/// use piconet_protocol::json::array_items;
/// let items: Vec<&[u8]> = array_items(br#"[1, {"a": [2]}, "x"]"#).unwrap().collect();
/// assert_eq!(items, [&b"1"[..], br#"{"a": [2]}"#, br#""x""#]);
/// assert_eq!(array_items(b"[ ]").unwrap().count(), 0);
/// assert!(array_items(b"{}").is_none());
/// ```
pub fn array_items(raw: &[u8]) -> Option<impl Iterator<Item = &[u8]>> {
    let mut c = Cursor { b: raw, i: 0 };
    c.ws();
    c.expect(b'[', "").ok()?;
    Some(core::iter::from_fn(move || {
        c.ws();
        if c.peek() == Some(b',') {
            c.i += 1;
            c.ws();
        }
        if matches!(c.peek(), None | Some(b']')) {
            return None;
        }
        let start = c.i;
        c.value().ok()?;
        Some(&c.b[start..c.i])
    }))
}

/// Eight bytes as one little-endian word, for the scans below.
#[inline(always)]
fn word(b: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(..8)?.try_into().ok()?))
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Bytes of `b` before its first `"`, `\` or control character (all of
/// `b` if none): the part of a string that needs no attention. Eight bytes
/// at a time; in each word the lowest flagged byte is exact, which is the
/// one that counts.
#[inline(always)] // see `Cursor::value`
fn plain_run(b: &[u8]) -> usize {
    let mut i = 0;
    while let Some(w) = b.get(i..).and_then(word) {
        let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
        let quote = zero(w ^ (ONES * u64::from(b'"')));
        let backslash = zero(w ^ (ONES * u64::from(b'\\')));
        let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
        let hits = quote | backslash | control;
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// `<[u8]>::is_ascii`, but tuned for lines of a hundred-odd bytes: whole
/// words OR-ed together, one test at the end.
fn is_ascii(b: &[u8]) -> bool {
    let mut chunks = b.chunks_exact(8);
    let mut acc = 0u64;
    for c in &mut chunks {
        acc |= word(c).unwrap_or(HIGHS);
    }
    acc & HIGHS == 0 && chunks.remainder().is_ascii()
}

/// Leading ASCII digits of `b`, eight bytes at a time.
#[inline]
fn digit_run(b: &[u8]) -> usize {
    let mut i = 0;
    while let Some(w) = b.get(i..).and_then(word) {
        // High bit set in a byte above '9' (+0x46 reaches 0x80) or below
        // '0' (-0x30 wraps); carries and borrows only move upwards.
        let hits = (w.wrapping_add(ONES * 0x46) | w.wrapping_sub(ONES * 0x30)) & HIGHS;
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

const TOO_LONG_NUMBER: &str =
    "number longer than 40 characters: no field needs one, send it as a string";
const _: () = assert!(MAX_NUMBER_LEN == 40, "TOO_LONG_NUMBER names the limit");

const NOT_FINITE: &str = "NaN and Infinity are not valid JSON numbers, send a finite number";

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn err(&self, reason: &'static str) -> JsonError {
        JsonError {
            reason,
            offset: self.i,
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), JsonError> {
        if self.peek() == Some(byte) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(reason))
        }
    }

    /// `"key" : value`, starting at the key's quote. Inlined: returned
    /// through memory, its `Result<Member>` (four slices) cost about 37
    /// instructions a member (BENCHMARKS.md, session 5).
    #[inline(always)]
    fn member(&mut self) -> Result<Member<'a>, JsonError> {
        let start = self.i;
        if self.peek() != Some(b'"') {
            return Err(self.err("expected a member name in double quotes"));
        }
        let key_escaped = self.string()?;
        let key = &self.b[start + 1..self.i - 1];
        self.ws();
        self.expect(b':', "expected ':' after a member name")?;
        self.ws();
        let vstart = self.i;
        self.value()?;
        Ok(Member {
            key,
            key_escaped,
            value: &self.b[vstart..self.i],
            whole: &self.b[start..self.i],
        })
    }

    /// A string starting at its opening quote; UTF-8 was checked up front.
    /// True when it holds an escape.
    #[inline(always)]
    fn string(&mut self) -> Result<bool, JsonError> {
        self.i += 1;
        // The common case, inlined: no escapes up to the closing quote.
        self.i += plain_run(self.b.get(self.i..).unwrap_or_default());
        if self.peek() == Some(b'"') {
            self.i += 1;
            return Ok(false);
        }
        self.string_rest()
    }

    /// The rest of a string from its first escape or control character:
    /// a valid one holds an escape (a control character is an error).
    #[inline(never)]
    fn string_rest(&mut self) -> Result<bool, JsonError> {
        loop {
            self.i += plain_run(self.b.get(self.i..).unwrap_or_default());
            let Some(c) = self.peek() else {
                return Err(self.err("unterminated string"));
            };
            self.i += 1;
            match c {
                b'"' => return Ok(true),
                b'\\' => match self.peek() {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                    Some(b'u') => {
                        self.i += 1;
                        let hex = self.b.get(self.i..self.i + 4);
                        if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                            return Err(self.err("\\u must be followed by 4 hex digits"));
                        }
                        self.i += 4;
                    }
                    _ => return Err(self.err("invalid escape in string")),
                },
                0..=0x1f => {
                    self.i -= 1;
                    return Err(self.err("control character in string"));
                }
                _ => {}
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), JsonError> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("expected a value"))
        }
    }

    #[inline(always)] // see `value`
    fn digits(&mut self) -> usize {
        let n = digit_run(self.b.get(self.i..).unwrap_or_default());
        self.i += n;
        n
    }

    #[inline(always)] // see `value`
    fn number(&mut self) -> Result<(), JsonError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
            if self.peek() == Some(b'I') {
                return Err(self.err(NOT_FINITE));
            }
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err("expected digits after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err("expected digits in exponent"));
            }
        }
        if self.i - start > MAX_NUMBER_LEN {
            self.i = start;
            return Err(self.err(TOO_LONG_NUMBER));
        }
        Ok(())
    }

    /// Any value, nested containers walked with an explicit stack so a
    /// hostile line cannot recurse. Inlined into `member` (the hot path:
    /// ~5 members per command); `array_items` is a second, cold caller that
    /// made the compiler stop inlining it (+150 Ir per write_pin).
    #[inline(always)]
    fn value(&mut self) -> Result<(), JsonError> {
        // Bit d set: the container at depth d is an object.
        let mut objects: u64 = 0;
        let mut depth = 0usize;
        loop {
            self.ws();
            let mut opened = false;
            match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    self.i += 1;
                    self.ws();
                    let close = if open == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.i += 1;
                    } else {
                        if depth == MAX_DEPTH {
                            return Err(self.err("nested too deeply"));
                        }
                        if open == b'{' {
                            objects |= 1 << depth;
                        } else {
                            objects &= !(1 << depth);
                        }
                        depth += 1;
                        opened = true;
                        if open == b'{' {
                            self.key_colon()?;
                        }
                    }
                }
                Some(b'"') => {
                    self.string()?;
                }
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'N' | b'I') => return Err(self.err(NOT_FINITE)),
                _ => return Err(self.err("expected a value")),
            }
            if opened {
                continue;
            }
            // A value ended: close whatever containers end with it.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                self.ws();
                let in_object = objects & (1 << (depth - 1)) != 0;
                match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        if in_object {
                            self.ws();
                            self.key_colon()?;
                        }
                        break;
                    }
                    Some(b'}') if in_object => {
                        self.i += 1;
                        depth -= 1;
                    }
                    Some(b']') if !in_object => {
                        self.i += 1;
                        depth -= 1;
                    }
                    _ => {
                        return Err(self.err(if in_object {
                            "expected ',' or '}' in object"
                        } else {
                            "expected ',' or ']' in array"
                        }))
                    }
                }
            }
        }
    }

    fn key_colon(&mut self) -> Result<(), JsonError> {
        if self.peek() != Some(b'"') {
            return Err(self.err("expected a member name in double quotes"));
        }
        self.string()?;
        self.ws();
        self.expect(b':', "expected ':' after a member name")
    }
}

/// Decoding of single scalar values from their raw bytes.
pub mod scalar {
    /// The contents of a string value without escapes, or `None` if the
    /// value is not a string or uses escapes. Escapes are legal but no
    /// field the engine reads (`action`, `mode`, `pull`) needs them, and
    /// comparing escaped text with a name simply does not match.
    pub fn plain_str(raw: &[u8]) -> Option<&str> {
        let inner = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
        if inner.contains(&b'\\') {
            return None;
        }
        core::str::from_utf8(inner).ok()
    }

    /// The raw contents of a string value (escapes kept), or `None`.
    /// Being valid JSON string content, they can be copied into another
    /// JSON string as they are.
    pub fn raw_str(raw: &[u8]) -> Option<&[u8]> {
        raw.strip_prefix(b"\"")?.strip_suffix(b"\"")
    }

    /// An integer given as a JSON integer or as a string holding one (as
    /// Python's `int()` takes it: surrounding spaces and a sign allowed).
    pub fn integer(raw: &[u8]) -> Option<i64> {
        if let Some(v) = small_digits(raw) {
            return Some(v as i64);
        }
        let text = match raw_str(raw) {
            Some(s) => core::str::from_utf8(s).ok()?.trim(),
            None => core::str::from_utf8(raw).ok()?,
        };
        text.parse().ok()
    }

    /// A float given as a JSON number or a string holding one, as Python's
    /// `float()` takes it (so `"inf"` and `"nan"` too: callers check range).
    pub fn float(raw: &[u8]) -> Option<f64> {
        if let Some(v) = small_digits(raw) {
            // Below 2^53: exact, as parsing the digits would give.
            return Some(v as f64);
        }
        let text = match raw_str(raw) {
            Some(s) => core::str::from_utf8(s).ok()?.trim(),
            None => core::str::from_utf8(raw).ok()?,
        };
        text.parse().ok()
    }

    /// The common case of [`integer`] and [`float`]: 1 to 15 ASCII digits
    /// and nothing else (a JSON integer without sign), decoded without
    /// UTF-8 checks or the general parsers. Anything else is `None`.
    fn small_digits(raw: &[u8]) -> Option<u64> {
        if raw.is_empty() || raw.len() > 15 {
            return None;
        }
        let mut v: u64 = 0;
        for &c in raw {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                return None;
            }
            v = v * 10 + u64::from(d);
        }
        Some(v)
    }

    /// JSON string contents (between the quotes) with their escapes
    /// decoded into `buf`, as UTF-8; `None` if they do not fit or are not
    /// valid string contents.
    ///
    /// ```
    /// use piconet_protocol::json::scalar::unescape_into;
    /// let mut buf = [0u8; 16];
    /// assert_eq!(unescape_into(br"pass\u0077ord", &mut buf), Some(&b"password"[..]));
    /// assert_eq!(unescape_into(br"\ud83d\ude00", &mut buf), Some("😀".as_bytes()));
    /// assert_eq!(unescape_into(br"\ud83d", &mut buf), None);
    /// ```
    pub fn unescape_into<'b>(contents: &[u8], buf: &'b mut [u8]) -> Option<&'b [u8]> {
        let text = core::str::from_utf8(contents).ok()?;
        let mut n = 0;
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
            let len = c.len_utf8();
            c.encode_utf8(buf.get_mut(n..n + len)?);
            n += len;
        }
        Some(&buf[..n])
    }

    fn hex4(chars: &mut core::str::Chars<'_>) -> Option<u32> {
        let mut v = 0;
        for _ in 0..4 {
            v = v * 16 + chars.next()?.to_digit(16)?;
        }
        Some(v)
    }

    /// A bit: 0 or 1 (number or string), or `true`/`false`.
    pub fn bit(raw: &[u8]) -> Option<bool> {
        match raw {
            b"true" => Some(true),
            b"false" => Some(false),
            _ => match integer(raw)? {
                0 => Some(false),
                1 => Some(true),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(line: &[u8]) -> Result<usize, JsonError> {
        let mut n = 0;
        parse_object(line, |_| n += 1).map(|_| n)
    }

    #[test]
    fn accepts_valid_objects() {
        for ok in [
            &b"{}"[..],
            b" { } ",
            br#"{"a":1}"#,
            br#"{"a": -0.5e+3, "b": [true, false, null, "x\"\u00e9\n"], "c": {"d": {}}}"#,
            "{\"\u{e9}\": \"\u{2603}\"}".as_bytes(),
            br#"{"a": [[], [[]], {}]}"#,
        ] {
            assert!(
                keys(ok).is_ok(),
                "{:?} {:?}",
                core::str::from_utf8(ok),
                keys(ok)
            );
        }
    }

    #[test]
    fn refuses_invalid_input() {
        for bad in [
            &b""[..],
            b"   ",
            b"[1]",
            b"\"s\"",
            b"{",
            br#"{"a"}"#,
            br#"{"a":}"#,
            br#"{"a":1,}"#,
            br#"{"a":1 "b":2}"#,
            br#"{a:1}"#,
            br#"{"a":01}"#,
            br#"{"a":1.}"#,
            br#"{"a":1e}"#,
            br#"{"a":-}"#,
            br#"{"a":tru}"#,
            br#"{"a":"\x"}"#,
            br#"{"a":"\u12g4"}"#,
            b"{\"a\":\"\x01\"}",
            b"{\"a\":\"\xff\"}",
            br#"{"a":[1,]}"#,
            br#"{"a":[1}"#,
            br#"{"a":{"b":1]}"#,
            br#"{"a":1} x"#,
            br#"{"a":"unterminated}"#,
            br#"{"t": NaN}"#,
            br#"{"t": Infinity}"#,
            br#"{"t": [-Infinity]}"#,
        ] {
            assert!(keys(bad).is_err(), "{:?}", core::str::from_utf8(bad));
        }
    }

    #[test]
    fn numbers_are_bounded() {
        let at_limit = std::format!(r#"{{"n": -{}}}"#, "1".repeat(MAX_NUMBER_LEN - 1));
        assert_eq!(keys(at_limit.as_bytes()), Ok(1));
        let float = std::format!(r#"{{"n": [0.{}e-5]}}"#, "1".repeat(MAX_NUMBER_LEN - 5));
        assert_eq!(keys(float.as_bytes()), Ok(1));
        for over in [
            std::format!(r#"{{"n": {}}}"#, "1".repeat(MAX_NUMBER_LEN + 1)),
            std::format!(r#"{{"n": {{"m": [{}]}}}}"#, "9".repeat(5000)),
            std::format!(r#"{{"n": 1.{}}}"#, "0".repeat(MAX_NUMBER_LEN)),
        ] {
            let e = keys(over.as_bytes()).unwrap_err();
            assert!(e.reason.starts_with("number longer than 40"), "{e:?}");
        }
    }

    #[test]
    fn escaped_keys_are_flagged_and_decode() {
        let line = br#"{"pass\u0077ord": 1, "plain": 2, "\"": 3}"#;
        let obj = parse_object(line, |_| {}).unwrap();
        let mut buf = [0u8; 16];
        let got: std::vec::Vec<(bool, std::vec::Vec<u8>)> = obj
            .members()
            .map(|m| (m.key_escaped, m.decoded_key(&mut buf).unwrap().to_vec()))
            .collect();
        assert_eq!(
            got,
            [
                (true, b"password".to_vec()),
                (false, b"plain".to_vec()),
                (true, b"\"".to_vec())
            ]
        );
        let long = std::format!(r#"{{"{}": 1}}"#, "k".repeat(17));
        let obj = parse_object(long.as_bytes(), |_| {}).unwrap();
        assert_eq!(obj.members().next().unwrap().decoded_key(&mut buf), None);
    }

    #[test]
    fn depth_is_bounded() {
        let mut deep = [0u8; 2 * (MAX_DEPTH + 1) + 8];
        let open = b"{\"a\":";
        deep[..open.len()].copy_from_slice(open);
        let mut n = open.len();
        for _ in 0..=MAX_DEPTH {
            deep[n] = b'[';
            n += 1;
        }
        let e = keys(&deep[..n]).unwrap_err();
        assert_eq!(e.reason, "nested too deeply");
        // One level less is fine.
        let mut ok = [0u8; 2 * MAX_DEPTH + 8];
        ok[..open.len()].copy_from_slice(open);
        let mut n = open.len();
        for _ in 0..MAX_DEPTH {
            ok[n] = b'[';
            n += 1;
        }
        for _ in 0..MAX_DEPTH {
            ok[n] = b']';
            n += 1;
        }
        ok[n] = b'}';
        assert_eq!(keys(&ok[..n + 1]), Ok(1));
    }

    #[test]
    fn members_give_raw_spans() {
        let line = br#"{"action": "ping", "meta": {"x": [1, 2]}, "n": -1.5}"#;
        let obj = parse_object(line, |_| {}).unwrap();
        let got: heapless::Vec<(&[u8], &[u8]), 4> =
            obj.members().map(|m| (m.key, m.value)).collect();
        assert_eq!(
            got.as_slice(),
            &[
                (&b"action"[..], &b"\"ping\""[..]),
                (b"meta", br#"{"x": [1, 2]}"#),
                (b"n", b"-1.5"),
            ]
        );
    }

    proptest::proptest! {
        #[test]
        fn word_scans_match_byte_scans(
            b in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::Just(b'"'),
                    proptest::prelude::Just(b'\\'),
                    b'0'..=b'9',
                    b'a'..=b'z',
                    proptest::prelude::any::<u8>(),
                ],
                0..40,
            ),
        ) {
            let plain = b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20).unwrap_or(b.len());
            let digits = b.iter().position(|c| !c.is_ascii_digit()).unwrap_or(b.len());
            proptest::prop_assert_eq!(plain_run(&b), plain);
            proptest::prop_assert_eq!(digit_run(&b), digits);
            proptest::prop_assert_eq!(is_ascii(&b), b.is_ascii());
        }
    }

    #[test]
    fn scalars_decode_like_python() {
        use scalar::*;
        assert_eq!(integer(b"2"), Some(2));
        assert_eq!(integer(b"\" 2 \""), Some(2));
        assert_eq!(integer(b"-3"), Some(-3));
        assert_eq!(integer(b"2.5"), None);
        assert_eq!(integer(b"\"x\""), None);
        assert_eq!(float(b"5"), Some(5.0));
        assert_eq!(float(b"\"0.25\""), Some(0.25));
        assert!(float(b"\"nan\"").unwrap().is_nan());
        assert_eq!(float(b"\"-inf\""), Some(f64::NEG_INFINITY));
        assert_eq!(float(b"1e400"), Some(f64::INFINITY));
        assert_eq!(bit(b"true"), Some(true));
        assert_eq!(bit(b"\"0\""), Some(false));
        assert_eq!(bit(b"2"), None);
        assert_eq!(plain_str(b"\"ab\""), Some("ab"));
        assert_eq!(plain_str(b"\"a\\nb\""), None);
        assert_eq!(plain_str(b"12"), None);
    }
}
