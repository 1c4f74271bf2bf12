//! Firmware update: receiving a signed image into the board's inactive
//! slot, chunk by chunk, and handing it to the bootloader.
//!
//! The engine checks the protocol side (order of chunks, sizes, the
//! SHA-256 of what it received); the board's [`UpdateSlot`] does the
//! flash side (writing, the signature check over what is in flash,
//! marking the image for the bootloader's swap, confirming a boot).

use piconet_protocol::response::{Message, MessageWriter, ObjectWriter};
use piconet_protocol::sink::Full;
use piconet_protocol::update::{
    write_hex, ChunkDataError, Sha256Hex, SignatureHex, CHUNK_ALIGN, MAX_VERSION_LEN,
};
use piconet_protocol::ErrorClass;
use sha2::{Digest, Sha256};

/// What the last update came to, as known since this boot.
///
/// A bootloader state flag is all the hardware keeps: after a confirmed
/// update and one more plain reset the board reports `None` again, while a
/// rollback stays reported until the next update is marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastUpdate {
    /// This boot was a plain one.
    None,
    /// A new image was swapped in and has not confirmed itself yet.
    Unconfirmed,
    /// A new image was swapped in and confirmed itself.
    Confirmed,
    /// A new image never confirmed itself; the previous one was put back.
    RolledBack,
}

impl LastUpdate {
    /// The name `update_status` and `get_info` report.
    pub const fn name(self) -> &'static str {
        match self {
            LastUpdate::None => "none",
            LastUpdate::Unconfirmed => "unconfirmed",
            LastUpdate::Confirmed => "confirmed",
            LastUpdate::RolledBack => "rolled_back",
        }
    }
}

/// The flash side of an update: the inactive (DFU) slot and the
/// bootloader's state, as the firmware (embassy-boot over the RP2040's
/// flash) and the simulated board implement it.
///
/// The engine calls, in order: [`prepare`](UpdateSlot::prepare) once per
/// upload, [`write`](UpdateSlot::write) for each chunk with offsets that
/// follow each other from 0 (every chunk but the last a multiple of
/// [`CHUNK_ALIGN`] bytes), then [`verify_and_mark`](UpdateSlot::verify_and_mark)
/// once the engine's own SHA-256 of the data matched, then the board's
/// reset. [`confirm_boot`](UpdateSlot::confirm_boot) comes with the
/// first command served after every boot.
pub trait UpdateSlot {
    /// The largest image the slot takes, in bytes.
    fn capacity(&self) -> u32;

    /// Get ready for an image of `size` bytes (at most `capacity`) written
    /// from offset 0. Refuse with [`UpdateError::NotConfirmed`] while the
    /// running image is itself an unconfirmed update: overwriting the slot
    /// then would destroy the image a rollback needs.
    fn prepare(&mut self, size: u32) -> Result<(), UpdateError>;

    /// Store `data` at `offset` (erasing flash ahead as needed).
    fn write(&mut self, offset: u32, data: &[u8]) -> Result<(), UpdateError>;

    /// Check the ed25519 `signature` of the SHA-512 digest of the first
    /// `size` bytes of the slot, as stored, against the board's public key
    /// (what embassy-boot's `verify_and_mark_updated` does); if it holds,
    /// mark the image for the bootloader to swap in at the next reset.
    /// Nothing is marked when it fails ([`UpdateError::BadSignature`]).
    fn verify_and_mark(&mut self, signature: &[u8; 64], size: u32) -> Result<(), UpdateError>;

    /// The running image serves clients: keep it (embassy-boot's
    /// `mark_booted`), so the next reset does not roll it back. Cheap and
    /// harmless when there is nothing to confirm.
    fn confirm_boot(&mut self) -> Result<(), UpdateError>;

    /// The running image's version.
    fn running_version(&self) -> &str;

    /// What the last update came to.
    fn last_update(&self) -> LastUpdate;
}

/// Why an update command was refused. Nothing is marked for the
/// bootloader when any of these happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateError {
    /// The board has no [`UpdateSlot`].
    NoSlot,
    /// The board has a slot but no public key to check images with (a
    /// firmware built without one): it refuses every image.
    NoKey,
    /// `update_begin`'s size is over the slot's capacity.
    TooLarge {
        /// Declared image size.
        size: u32,
        /// The slot's capacity.
        capacity: u32,
    },
    /// A chunk or finish without `update_begin` (or after a failed one).
    NotStarted,
    /// A chunk not at the next expected offset.
    WrongOffset {
        /// Where the chunk claimed to go.
        got: u32,
        /// Where the next chunk must go.
        expected: u32,
    },
    /// A chunk reaching past the declared size.
    PastEnd {
        /// Where the chunk would end (saturated at `u32::MAX`).
        end: u32,
        /// Declared image size.
        size: u32,
    },
    /// A chunk that is not a multiple of [`CHUNK_ALIGN`] and does not end
    /// the image.
    ShortChunk {
        /// Its length.
        len: u32,
    },
    /// The chunk's data cannot be decoded.
    Data(ChunkDataError),
    /// `update_finish` before every byte arrived.
    Incomplete {
        /// Bytes received.
        received: u32,
        /// Declared image size.
        size: u32,
    },
    /// The received bytes do not have the declared SHA-256.
    HashMismatch,
    /// The signature does not verify with the board's key.
    BadSignature,
    /// The running image is an unconfirmed update.
    NotConfirmed,
    /// `update_begin`'s version is older than the running one, without
    /// `"allow_downgrade": true`.
    Downgrade,
    /// The flash failed.
    Flash(FlashOp),
}

/// The flash operation that failed. A small enum rather than a message
/// so that [`UpdateError`], and with it every engine result, stays small:
/// the pin commands' hot path copies those results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlashOp {
    /// Erasing the update slot.
    Erase,
    /// Writing the update slot.
    Write,
    /// Reading the update slot back.
    Read,
    /// Reading or writing the bootloader's state.
    State,
}

impl FlashOp {
    /// What failed, for the client.
    pub const fn message(self) -> &'static str {
        match self {
            FlashOp::Erase => "erasing the update slot failed",
            FlashOp::Write => "writing the update slot failed, send the chunk again",
            FlashOp::Read => "reading the update slot back failed",
            FlashOp::State => "the bootloader state could not be read or written",
        }
    }
}

impl Message for UpdateError {
    fn class(&self) -> ErrorClass {
        match self {
            UpdateError::Flash(_) => ErrorClass::OSError,
            _ => ErrorClass::ValueError,
        }
    }

    fn write(&self, m: &mut MessageWriter<'_>) -> Result<(), Full> {
        match *self {
            UpdateError::NoSlot => m.text(
                "this board cannot update itself: it has no update slot (flash it over USB instead)",
            ),
            UpdateError::NoKey => m.text(
                "this board was built without an update key, so it accepts no image: build the firmware with PICONET_UPDATE_PUBLIC_KEY set to the key `piconet firmware keygen` printed, and flash that build over USB once",
            ),
            UpdateError::TooLarge { size, capacity } => {
                m.text("the image is ")?;
                m.uint(size.into())?;
                m.text(" bytes but this board's update slot holds at most ")?;
                m.uint(capacity.into())
            }
            UpdateError::NotStarted => m.text(
                "no image upload under way: send update_begin first (update_status shows the state)",
            ),
            UpdateError::WrongOffset { got, expected } => {
                m.text("chunk at offset ")?;
                m.uint(got.into())?;
                m.text(if got < expected {
                    " was already received"
                } else {
                    " would leave a gap"
                })?;
                m.text(": the next expected offset is ")?;
                m.uint(expected.into())?;
                m.text(" (update_status reports it), send chunks in order from there")
            }
            UpdateError::PastEnd { end, size } => {
                m.text("chunk ends at byte ")?;
                m.uint(end.into())?;
                m.text(", past the image size ")?;
                m.uint(size.into())?;
                m.text(" given to update_begin")
            }
            UpdateError::ShortChunk { len } => {
                m.text("a chunk of ")?;
                m.uint(len.into())?;
                m.text(" bytes must end the image: every other chunk holds a multiple of 256 bytes")
            }
            UpdateError::Data(e) => {
                m.text("data must be ")?;
                m.text(e.expected())
            }
            UpdateError::Incomplete { received, size } => {
                m.text("only ")?;
                m.uint(received.into())?;
                m.text(" of ")?;
                m.uint(size.into())?;
                m.text(" bytes received: send the rest from offset ")?;
                m.uint(received.into())?;
                m.text(" before update_finish")
            }
            UpdateError::HashMismatch => m.text(
                "the received image's SHA-256 differs from the one given to update_begin: nothing was marked, send update_begin and the image again",
            ),
            UpdateError::BadSignature => m.text(
                "the image's signature does not verify with this board's public key: nothing was marked, sign the image with the key whose public half is built into the firmware",
            ),
            UpdateError::NotConfirmed => m.text(
                "the running image is a new update that has not confirmed itself yet: it does when it serves a command, try again",
            ),
            UpdateError::Downgrade => m.text(
                "the image's version is older than the running one (update_status reports it): send \"allow_downgrade\": true to install it anyway (piconet update --allow-downgrade)",
            ),
            UpdateError::Flash(op) => {
                m.text("flash error: ")?;
                m.text(op.message())
            }
        }
    }
}

/// Where an upload stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Nothing under way.
    Idle,
    /// `update_begin` accepted, chunks arriving.
    Receiving,
    /// Verified and marked: the next reset swaps it in.
    Ready,
}

impl Phase {
    const fn name(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Receiving => "receiving",
            Phase::Ready => "ready",
        }
    }
}

/// The engine's side of an upload. No allocation: the running hash and
/// the declared fields live here.
#[derive(Clone)]
pub(crate) struct Upload {
    phase: Phase,
    size: u32,
    next: u32,
    sha256: [u8; 32],
    signature: [u8; 64],
    version: [u8; MAX_VERSION_LEN],
    version_len: u8,
    hasher: Sha256,
}

impl Default for Upload {
    fn default() -> Self {
        Upload {
            phase: Phase::Idle,
            size: 0,
            next: 0,
            sha256: [0; 32],
            signature: [0; 64],
            version: [0; MAX_VERSION_LEN],
            version_len: 0,
            hasher: Sha256::new(),
        }
    }
}

impl Upload {
    /// `update_begin`: a new upload replaces any other, in any phase.
    pub(crate) fn begin(
        &mut self,
        slot: &mut dyn UpdateSlot,
        size: u32,
        sha256: Sha256Hex<'_>,
        signature: SignatureHex<'_>,
        version: Option<&str>,
    ) -> Result<(), UpdateError> {
        *self = Upload::default();
        let capacity = slot.capacity();
        if size > capacity {
            return Err(UpdateError::TooLarge { size, capacity });
        }
        slot.prepare(size)?;
        let version = version.unwrap_or_default().as_bytes();
        let n = version.len().min(MAX_VERSION_LEN);
        self.version[..n].copy_from_slice(&version[..n]);
        self.version_len = n as u8;
        self.phase = Phase::Receiving;
        self.size = size;
        self.sha256 = sha256.bytes();
        self.signature = signature.bytes();
        Ok(())
    }

    /// `update_chunk`: `data` must go exactly at the next offset.
    pub(crate) fn chunk(
        &mut self,
        slot: &mut dyn UpdateSlot,
        offset: u32,
        data: &[u8],
    ) -> Result<(), UpdateError> {
        if self.phase != Phase::Receiving {
            return Err(UpdateError::NotStarted);
        }
        if offset != self.next {
            return Err(UpdateError::WrongOffset {
                got: offset,
                expected: self.next,
            });
        }
        let end = u64::from(offset) + data.len() as u64;
        if end > u64::from(self.size) {
            return Err(UpdateError::PastEnd {
                end: u32::try_from(end).unwrap_or(u32::MAX),
                size: self.size,
            });
        }
        let len = data.len() as u32;
        if end != u64::from(self.size) && data.len() % CHUNK_ALIGN != 0 {
            return Err(UpdateError::ShortChunk { len });
        }
        // On a flash error the offset stays, so the same chunk can be
        // sent again: rewriting bytes with their own value is harmless.
        slot.write(offset, data)?;
        self.hasher.update(data);
        self.next += len;
        Ok(())
    }

    /// `update_finish`: the hash, then the slot's signature check and mark.
    pub(crate) fn finish(&mut self, slot: &mut dyn UpdateSlot) -> Result<(), UpdateError> {
        if self.phase != Phase::Receiving {
            return Err(UpdateError::NotStarted);
        }
        if self.next != self.size {
            return Err(UpdateError::Incomplete {
                received: self.next,
                size: self.size,
            });
        }
        let digest: [u8; 32] = self.hasher.clone().finalize().into();
        if digest != self.sha256 {
            // The data is wrong somewhere: only a fresh upload can fix it.
            *self = Upload::default();
            return Err(UpdateError::HashMismatch);
        }
        if let Err(e) = slot.verify_and_mark(&self.signature, self.size) {
            if e == UpdateError::BadSignature {
                *self = Upload::default();
            }
            return Err(e);
        }
        self.phase = Phase::Ready;
        Ok(())
    }

    /// The `update` object of the update actions' answers.
    pub(crate) fn write_status(
        &self,
        slot: &dyn UpdateSlot,
        w: &mut ObjectWriter<'_>,
    ) -> Result<(), Full> {
        w.str("state", self.phase.name())?;
        w.uint("size", self.size.into())?;
        w.uint("next_offset", self.next.into())?;
        if self.phase != Phase::Idle {
            let mut hex = [0u8; 64];
            w.str("sha256", write_hex(&self.sha256, &mut hex))?;
            let version = &self.version[..self.version_len.into()];
            if !version.is_empty() {
                // Copied from a string the protocol checked as ASCII.
                w.str("version", core::str::from_utf8(version).unwrap_or_default())?;
            }
        }
        w.str("running_version", slot.running_version())?;
        w.str("last", slot.last_update().name())
    }
}

/// True when the semantic version `offered` orders before `running`
/// (semver precedence: numbers compared as numbers, a pre-release before
/// its release, build metadata ignored); `None` when either is not one.
pub fn is_older(offered: &str, running: &str) -> Option<bool> {
    Some(semver(offered)?.cmp_with(&semver(running)?) == core::cmp::Ordering::Less)
}

struct Semver<'a> {
    core: [u64; 3],
    pre: Option<&'a str>,
}

fn semver(v: &str) -> Option<Semver<'_>> {
    let v = v.split_once('+').map_or(v, |(v, _)| v);
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (v, None),
    };
    let mut parts = core.split('.');
    let mut out = [0u64; 3];
    for slot in &mut out {
        let part = parts.next()?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    if parts.next().is_some()
        || pre.is_some_and(|p| p.is_empty() || p.split('.').any(str::is_empty))
    {
        return None;
    }
    Some(Semver { core: out, pre })
}

impl Semver<'_> {
    fn cmp_with(&self, other: &Semver<'_>) -> core::cmp::Ordering {
        use core::cmp::Ordering;
        self.core
            .cmp(&other.core)
            .then_with(|| match (self.pre, other.pre) {
                (None, None) => Ordering::Equal,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(a), Some(b)) => {
                    let (mut a, mut b) = (a.split('.'), b.split('.'));
                    loop {
                        match (a.next(), b.next()) {
                            (None, None) => return Ordering::Equal,
                            (None, Some(_)) => return Ordering::Less,
                            (Some(_), None) => return Ordering::Greater,
                            (Some(x), Some(y)) => {
                                let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                                    (Ok(x), Ok(y)) => x.cmp(&y),
                                    (Ok(_), Err(_)) => Ordering::Less,
                                    (Err(_), Ok(_)) => Ordering::Greater,
                                    (Err(_), Err(_)) => x.cmp(y),
                                };
                                if o != Ordering::Equal {
                                    return o;
                                }
                            }
                        }
                    }
                }
            })
    }
}

#[cfg(test)]
mod tests;
