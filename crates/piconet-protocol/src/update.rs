//! Firmware images over the line protocol: the limits of the update
//! actions and the decoding of their fields, without allocation.
//!
//! An image travels as `update_begin` (size, SHA-256, ed25519 signature),
//! then `update_chunk`s of base64 data at increasing offsets, then
//! `update_finish`; `update_status` tells where an interrupted upload
//! resumes. See the README's protocol section for the whole exchange.

use crate::error::{require, Field, ProtocolError};
use crate::json::{scalar, Member};
use crate::response::Echo;

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

/// The fields of an `update_begin`.
///
/// ```
/// use piconet_protocol::{parse, update::Begin, Command};
/// let line = format!(
///     r#"{{"action": "update_begin", "size": 4096, "sha256": "{}", "signature": "{}", "version": "1.2"}}"#,
///     "ab".repeat(32),
///     "0".repeat(128)
/// );
/// let req = parse(line.as_bytes()).unwrap();
/// assert_eq!(req.command, Command::UpdateBegin);
/// let begin = Begin::from_echo(&req.echo).unwrap();
/// assert_eq!((begin.size, begin.version), (4096, Some("1.2")));
/// assert_eq!(begin.sha256.bytes(), [0xab; 32]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Begin<'a> {
    /// Image size in bytes, from 1.
    pub size: u32,
    /// SHA-256 of the image.
    pub sha256: Sha256Hex<'a>,
    /// ed25519 signature of the image's SHA-512 digest.
    pub signature: SignatureHex<'a>,
    /// The image's version as its signer named it: at most
    /// [`MAX_VERSION_LEN`] printable ASCII characters.
    pub version: Option<&'a str>,
}

impl<'a> Begin<'a> {
    /// Read and check the fields of an `update_begin` command.
    pub fn from_echo(echo: &Echo<'a>) -> Result<Self, ProtocolError<'a>> {
        let f = Fields::collect(echo.object.members());
        require(&[
            (Field::Size, f.size),
            (Field::Sha256, f.sha256),
            (Field::Signature, f.signature),
        ])?;
        let size = f
            .size
            .and_then(scalar::integer)
            .and_then(|v| u32::try_from(v).ok())
            .filter(|&v| v > 0)
            .ok_or(ProtocolError::BadValue {
                field: "size",
                expected: "the image size in bytes, an integer from 1",
            })?;
        let sha256 = f
            .sha256
            .and_then(scalar::raw_str)
            .and_then(Sha256Hex::parse)
            .ok_or(ProtocolError::BadValue {
                field: "sha256",
                expected: "the image's SHA-256 as a string of 64 hex digits",
            })?;
        let signature = f
            .signature
            .and_then(scalar::raw_str)
            .and_then(SignatureHex::parse)
            .ok_or(ProtocolError::BadValue {
                field: "signature",
                expected: "the ed25519 signature of the image's SHA-512 digest as a string of 128 hex digits (piconet firmware sign makes it)",
            })?;
        let version = match f.version {
            None | Some(b"null") => None,
            Some(raw) => Some(
                scalar::plain_str(raw)
                    .filter(|v| {
                        v.len() <= MAX_VERSION_LEN && v.bytes().all(|b| b.is_ascii_graphic())
                    })
                    .ok_or(ProtocolError::BadValue {
                        field: "version",
                        expected:
                            "a string of at most 32 printable ASCII characters without spaces",
                    })?,
            ),
        };
        Ok(Begin {
            size,
            sha256,
            signature,
            version,
        })
    }
}

/// The fields of an `update_chunk`.
///
/// ```
/// use piconet_protocol::{parse, update::{Chunk, MAX_CHUNK}};
/// let req = parse(br#"{"action": "update_chunk", "offset": 1024, "data": "aGk="}"#).unwrap();
/// let chunk = Chunk::from_echo(&req.echo).unwrap();
/// let mut buf = [0u8; MAX_CHUNK];
/// assert_eq!((chunk.offset, chunk.data.decode(&mut buf).unwrap()), (1024, &b"hi"[..]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// Where the bytes go in the image: a multiple of [`CHUNK_ALIGN`].
    pub offset: u32,
    /// The bytes, base64.
    pub data: ChunkData<'a>,
}

impl<'a> Chunk<'a> {
    /// Read and check the fields of an `update_chunk` command.
    pub fn from_echo(echo: &Echo<'a>) -> Result<Self, ProtocolError<'a>> {
        let f = Fields::collect(echo.object.members());
        require(&[(Field::Offset, f.offset), (Field::Data, f.data)])?;
        let offset = f
            .offset
            .and_then(scalar::integer)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or(ProtocolError::BadValue {
                field: "offset",
                expected: "the chunk's byte offset in the image, an integer from 0",
            })?;
        // Every chunk but the last is a whole number of flash pages, so
        // every offset is one too.
        if offset as usize % CHUNK_ALIGN != 0 {
            return Err(ProtocolError::BadValue {
                field: "offset",
                expected:
                    "a multiple of 256: every chunk but the last holds a multiple of 256 bytes",
            });
        }
        let data = f.data.and_then(scalar::raw_str).map(ChunkData::new).ok_or(
            ProtocolError::BadValue {
                field: "data",
                expected: "a base64 string of at most 1024 bytes",
            },
        )?;
        Ok(Chunk { offset, data })
    }
}

/// The raw values of the update commands' fields (the last of duplicate
/// keys wins, as everywhere in the protocol).
#[derive(Default)]
struct Fields<'a> {
    size: Option<&'a [u8]>,
    sha256: Option<&'a [u8]>,
    signature: Option<&'a [u8]>,
    version: Option<&'a [u8]>,
    offset: Option<&'a [u8]>,
    data: Option<&'a [u8]>,
}

impl<'a> Fields<'a> {
    fn collect(members: impl Iterator<Item = Member<'a>>) -> Self {
        let mut f = Fields::default();
        for m in members {
            let slot = match m.key {
                b"size" => &mut f.size,
                b"sha256" => &mut f.sha256,
                b"signature" => &mut f.signature,
                b"version" => &mut f.version,
                b"offset" => &mut f.offset,
                b"data" => &mut f.data,
                _ => continue,
            };
            *slot = Some(m.value);
        }
        f
    }
}

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
