//! The image update actions: `update` (the original's, refused by the
//! engine), `update_begin`, `update_chunk`, `update_status`,
//! `update_finish`. The limits and the field codecs are in
//! [`crate::update`].

use super::Command;
use crate::error::{require, ProtocolError};
use crate::json::scalar;
use crate::key::{Fields, Key};
use crate::update::{ChunkData, Sha256Hex, SignatureHex, CHUNK_ALIGN, MAX_VERSION_LEN};

/// The fields of an `update_begin`.
///
/// ```
/// use piconet_protocol::{parse, Command};
/// let line = format!(
///     r#"{{"action": "update_begin", "size": 4096, "sha256": "{}", "signature": "{}", "version": "1.2"}}"#,
///     "ab".repeat(32),
///     "0".repeat(128)
/// );
/// let Command::UpdateBegin(begin) = parse(line.as_bytes()).unwrap().command else {
///     panic!("not an update_begin")
/// };
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
    /// Install the image even when `version` is older than the running
    /// one (`"allow_downgrade"`, default false).
    pub allow_downgrade: bool,
}

/// The fields of an `update_chunk`.
///
/// ```
/// use piconet_protocol::{parse, update::MAX_CHUNK, Command};
/// let req = parse(br#"{"action": "update_chunk", "offset": 1024, "data": "aGk="}"#).unwrap();
/// let Command::UpdateChunk(chunk) = req.command else { panic!("not a chunk") };
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

pub(crate) fn update<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    // The original's shape, checked so its client learns what is wrong
    // with the request before learning it is not supported.
    require(&[
        (Key::Files, f.get(Key::Files)),
        (Key::Compress, f.get(Key::Compress)),
    ])?;
    if !f.get(Key::Files).unwrap_or_default().starts_with(b"{") {
        return Err(ProtocolError::BadValue {
            field: "files",
            expected: "an object of file names to contents",
        });
    }
    if !matches!(f.get(Key::Compress), Some(b"true" | b"false")) {
        return Err(ProtocolError::BadValue {
            field: "compress",
            expected: "true or false",
        });
    }
    Ok(Command::Update)
}

pub(crate) fn begin<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    require(&[
        (Key::Size, f.get(Key::Size)),
        (Key::Sha256, f.get(Key::Sha256)),
        (Key::Signature, f.get(Key::Signature)),
    ])?;
    let size = f
        .get(Key::Size)
        .and_then(scalar::integer)
        .and_then(|v| u32::try_from(v).ok())
        .filter(|&v| v > 0)
        .ok_or(ProtocolError::BadValue {
            field: "size",
            expected: "the image size in bytes, an integer from 1",
        })?;
    let sha256 = f
        .get(Key::Sha256)
        .and_then(scalar::raw_str)
        .and_then(Sha256Hex::parse)
        .ok_or(ProtocolError::BadValue {
            field: "sha256",
            expected: "the image's SHA-256 as a string of 64 hex digits",
        })?;
    let signature = f
        .get(Key::Signature)
        .and_then(scalar::raw_str)
        .and_then(SignatureHex::parse)
        .ok_or(ProtocolError::BadValue {
            field: "signature",
            expected: "the ed25519 signature of the image's SHA-512 digest as a string of 128 hex digits (piconet firmware sign makes it)",
        })?;
    let version = match f.get(Key::Version) {
        None | Some(b"null") => None,
        Some(raw) => Some(
            scalar::plain_str(raw)
                .filter(|v| v.len() <= MAX_VERSION_LEN && v.bytes().all(|b| b.is_ascii_graphic()))
                .ok_or(ProtocolError::BadValue {
                    field: "version",
                    expected: "a string of at most 32 printable ASCII characters without spaces",
                })?,
        ),
    };
    let allow_downgrade = match f.get(Key::AllowDowngrade) {
        None => false,
        Some(raw) => scalar::bit(raw).ok_or(ProtocolError::BadValue {
            field: "allow_downgrade",
            expected: "true or false",
        })?,
    };
    Ok(Command::UpdateBegin(Begin {
        size,
        sha256,
        signature,
        version,
        allow_downgrade,
    }))
}

pub(crate) fn chunk<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    require(&[
        (Key::Offset, f.get(Key::Offset)),
        (Key::Data, f.get(Key::Data)),
    ])?;
    let offset = f
        .get(Key::Offset)
        .and_then(scalar::integer)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or(ProtocolError::BadValue {
            field: "offset",
            expected: "the chunk's byte offset in the image, an integer from 0",
        })?;
    // Every chunk but the last is a whole number of flash pages, so every
    // offset is one too.
    if offset as usize % CHUNK_ALIGN != 0 {
        return Err(ProtocolError::BadValue {
            field: "offset",
            expected: "a multiple of 256: every chunk but the last holds a multiple of 256 bytes",
        });
    }
    let data = f
        .get(Key::Data)
        .and_then(scalar::raw_str)
        .map(ChunkData::new)
        .ok_or(ProtocolError::BadValue {
            field: "data",
            expected: "a base64 string of at most 1024 bytes",
        })?;
    Ok(Command::UpdateChunk(Chunk { offset, data }))
}

pub(crate) fn status<'a>(_: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    Ok(Command::UpdateStatus)
}

pub(crate) fn finish<'a>(_: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    Ok(Command::UpdateFinish)
}
