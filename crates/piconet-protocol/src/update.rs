//! Firmware images over the line protocol: the limits of the update
//! actions and the decoding of their fields, without allocation.
//!
//! An image travels as `update_begin` (size, SHA-256, ed25519 signature),
//! then `update_chunk`s of base64 data at increasing offsets, then
//! `update_finish`; `update_status` tells where an interrupted upload
//! resumes. See the README's protocol section for the whole exchange.

/// Most decoded bytes in one `update_chunk`. Its base64 line stays near
/// 1.5 KiB, well under the firmware's 4 KiB TLS records.
pub const MAX_CHUNK: usize = 1024;

/// Every chunk but the last holds a multiple of this many bytes, so each
/// flash write starts on a flash program-page boundary (256 B on the
/// RP2040) and a slot never has to buffer a partial page between chunks.
pub const CHUNK_ALIGN: usize = 256;

/// Longest `version` string `update_begin` accepts.
pub const MAX_VERSION_LEN: usize = 32;

/// Longest base64 text that can decode to at most [`MAX_CHUNK`] bytes.
const MAX_CHUNK_BASE64: usize = MAX_CHUNK.div_ceil(3) * 4;

pub use crate::action::update::{Begin, Chunk};

const _: () = assert!(MAX_CHUNK % CHUNK_ALIGN == 0);

/// A SHA-256 digest sent as 64 hex digits (either case).
///
/// ```
/// use piconet_protocol::update::Sha256Hex;
/// let hex = [b'a'; 64];
/// assert_eq!(Sha256Hex::parse(&hex).unwrap().bytes(), [0xaa; 32]);
/// assert!(Sha256Hex::parse(b"abc").is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sha256Hex<'a>(&'a [u8; 64]);

impl<'a> Sha256Hex<'a> {
    /// The digits, if `raw` is exactly 64 hex digits.
    pub fn parse(raw: &'a [u8]) -> Option<Self> {
        let digits: &[u8; 64] = raw.try_into().ok()?;
        digits
            .iter()
            .all(u8::is_ascii_hexdigit)
            .then_some(Sha256Hex(digits))
    }

    /// The digest.
    pub fn bytes(&self) -> [u8; 32] {
        decode_hex(self.0)
    }
}

/// An ed25519 signature sent as 128 hex digits (either case).
///
/// ```
/// use piconet_protocol::update::SignatureHex;
/// let hex = [b'0'; 128];
/// assert_eq!(SignatureHex::parse(&hex).unwrap().bytes(), [0; 64]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureHex<'a>(&'a [u8; 128]);

impl<'a> SignatureHex<'a> {
    /// The digits, if `raw` is exactly 128 hex digits.
    pub fn parse(raw: &'a [u8]) -> Option<Self> {
        let digits: &[u8; 128] = raw.try_into().ok()?;
        digits
            .iter()
            .all(u8::is_ascii_hexdigit)
            .then_some(SignatureHex(digits))
    }

    /// The signature.
    pub fn bytes(&self) -> [u8; 64] {
        decode_hex(self.0)
    }
}

fn decode_hex<const N: usize, const D: usize>(digits: &[u8; D]) -> [u8; N] {
    // Callers checked every digit, so `to_digit` cannot fail.
    let nibble = |d: u8| (d as char).to_digit(16).unwrap_or(0) as u8;
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = nibble(pair[0]) << 4 | nibble(pair[1]);
    }
    out
}

/// Lower-case hex of `bytes` into `out` (twice as long), as text.
///
/// ```
/// let mut buf = [0u8; 4];
/// assert_eq!(piconet_protocol::update::write_hex(&[0xab, 0x01], &mut buf), "ab01");
/// ```
pub fn write_hex<'o>(bytes: &[u8], out: &'o mut [u8]) -> &'o str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n = bytes.len().min(out.len() / 2);
    for (pair, b) in out.chunks_exact_mut(2).zip(&bytes[..n]) {
        pair[0] = HEX[(b >> 4) as usize];
        pair[1] = HEX[(b & 15) as usize];
    }
    // Only ASCII hex digits were written.
    core::str::from_utf8(&out[..2 * n]).unwrap_or_default()
}

/// The base64 `data` of an `update_chunk`, as sent (not yet decoded: it
/// is decoded once, into the caller's buffer, when the chunk is used).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkData<'a>(&'a [u8]);

/// Why a chunk's `data` cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkDataError {
    /// Not standard padded base64 (RFC 4648 §4), or JSON escapes inside.
    NotBase64,
    /// More than [`MAX_CHUNK`] bytes once decoded.
    TooLong,
    /// No bytes at all.
    Empty,
}

impl ChunkDataError {
    /// Completes "data must be ...".
    pub const fn expected(self) -> &'static str {
        match self {
            ChunkDataError::NotBase64 => {
                "standard base64 with padding (RFC 4648), as a plain JSON string"
            }
            ChunkDataError::TooLong => "at most 1024 bytes once decoded: send smaller chunks",
            ChunkDataError::Empty => "at least one byte",
        }
    }
}

impl<'a> ChunkData<'a> {
    /// The JSON string contents of `data` (escapes, if any, kept).
    pub fn new(contents: &'a [u8]) -> Self {
        ChunkData(contents)
    }

    /// Decode into `buf`: the chunk's bytes.
    ///
    /// ```
    /// use piconet_protocol::update::{ChunkData, MAX_CHUNK};
    /// let mut buf = [0u8; MAX_CHUNK];
    /// assert_eq!(ChunkData::new(b"aGk=").decode(&mut buf).unwrap(), b"hi");
    /// assert!(ChunkData::new(b"a\\/k=").decode(&mut buf).is_err());
    /// ```
    pub fn decode<'b>(&self, buf: &'b mut [u8; MAX_CHUNK]) -> Result<&'b [u8], ChunkDataError> {
        use base64::Engine as _;
        if self.0.len() > MAX_CHUNK_BASE64 {
            return Err(ChunkDataError::TooLong);
        }
        let n = base64::engine::general_purpose::STANDARD
            .decode_slice(self.0, buf)
            .map_err(|e| match e {
                base64::DecodeSliceError::OutputSliceTooSmall => ChunkDataError::TooLong,
                base64::DecodeSliceError::DecodeError(_) => ChunkDataError::NotBase64,
            })?;
        if n == 0 {
            return Err(ChunkDataError::Empty);
        }
        Ok(&buf[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_bad_digits() {
        let digest: [u8; 32] = core::array::from_fn(|i| (i * 7) as u8);
        let mut text = [0u8; 64];
        let hex = write_hex(&digest, &mut text).as_bytes().to_vec();
        assert_eq!(Sha256Hex::parse(&hex).unwrap().bytes(), digest);
        let upper = hex.to_ascii_uppercase();
        assert_eq!(Sha256Hex::parse(&upper).unwrap().bytes(), digest);
        let mut bad = hex.clone();
        bad[5] = b'g';
        assert!(Sha256Hex::parse(&bad).is_none());
        assert!(Sha256Hex::parse(&hex[..63]).is_none());
        assert!(SignatureHex::parse(&hex).is_none());
    }

    #[test]
    fn chunk_limits() {
        let mut buf = [0u8; MAX_CHUNK];
        // 341 groups of 3 bytes plus one more byte: exactly MAX_CHUNK.
        let full = "A".repeat(MAX_CHUNK / 3 * 4) + "AA==";
        let n = ChunkData::new(full.as_bytes())
            .decode(&mut buf)
            .unwrap()
            .len();
        assert_eq!(n, MAX_CHUNK);
        // Within the text limit but one byte too many once decoded.
        let just_over = "A".repeat(MAX_CHUNK_BASE64);
        assert_eq!(
            ChunkData::new(just_over.as_bytes()).decode(&mut buf),
            Err(ChunkDataError::TooLong)
        );
        let over = "A".repeat(MAX_CHUNK_BASE64 + 4);
        assert_eq!(
            ChunkData::new(over.as_bytes()).decode(&mut buf),
            Err(ChunkDataError::TooLong)
        );
        assert_eq!(
            ChunkData::new(b"").decode(&mut buf),
            Err(ChunkDataError::Empty)
        );
        assert_eq!(
            ChunkData::new(b"aGk").decode(&mut buf),
            Err(ChunkDataError::NotBase64)
        );
    }
}
