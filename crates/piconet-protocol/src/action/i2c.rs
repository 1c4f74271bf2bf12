//! The I2C actions: `i2c_setup`, `i2c_write`, `i2c_read`, `i2c_transfer`.

use super::gpio::pin;
use super::Command;
use crate::error::{require, ProtocolError};
use crate::json::scalar;
use crate::key::{Fields, Key};

/// The most bytes one I2C action writes or reads.
pub const MAX_I2C_BYTES: usize = 256;
/// The highest 7-bit I2C address.
pub const MAX_I2C_ADDRESS: u8 = 127;
/// The highest bus number (the RP2040 has I2C0 and I2C1).
pub const MAX_I2C_BUS: u8 = 1;
/// The lowest I2C clock accepted, in Hz.
pub const MIN_I2C_FREQUENCY: u32 = 10_000;
/// The highest I2C clock accepted, in Hz (Fast-mode Plus).
pub const MAX_I2C_FREQUENCY: u32 = 1_000_000;
/// The clock when `i2c_setup` gives none: standard mode.
pub const DEFAULT_I2C_FREQUENCY: u32 = 100_000;

/// A JSON array of 1 to [`MAX_I2C_BYTES`] integers 0–255, checked when
/// parsed and kept as sent (it borrows the line; [`Bytes::iter`] decodes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bytes<'a> {
    raw: &'a [u8],
    len: u16,
}

impl<'a> Bytes<'a> {
    /// The array `raw` (a JSON value) if it holds 1 to [`MAX_I2C_BYTES`]
    /// bytes.
    pub fn parse(raw: &'a [u8]) -> Option<Self> {
        let inner = raw.strip_prefix(b"[")?.strip_suffix(b"]")?;
        let mut len = 0usize;
        // Splitting at every comma is safe: an element that holds one (a
        // string, an array) leaves a piece that is no integer.
        for item in inner.split(|&c| c == b',') {
            byte(item)?;
            len += 1;
        }
        (1..=MAX_I2C_BYTES).contains(&len).then_some(Bytes {
            raw: inner,
            len: len as u16,
        })
    }

    /// How many bytes.
    pub fn len(&self) -> usize {
        self.len.into()
    }

    /// Never true: an array holds at least one byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes in order.
    pub fn iter(&self) -> impl Iterator<Item = u8> + 'a {
        self.raw.split(|&c| c == b',').filter_map(byte)
    }

    /// Copy the bytes into the front of `buf` (at least [`Bytes::len`]
    /// long) and return that part.
    pub fn copy_to<'b>(&self, buf: &'b mut [u8; MAX_I2C_BYTES]) -> &'b [u8] {
        for (slot, b) in buf.iter_mut().zip(self.iter()) {
            *slot = b;
        }
        &buf[..self.len()]
    }
}

/// One array element: 1 to 3 ASCII digits (JSON whitespace around them)
/// whose value fits a byte.
fn byte(item: &[u8]) -> Option<u8> {
    let digits = item.trim_ascii();
    if digits.is_empty() || digits.len() > 3 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits.len() > 1 && digits[0] == b'0' {
        return None;
    }
    let v = digits
        .iter()
        .fold(0u16, |v, &d| v * 10 + u16::from(d - b'0'));
    u8::try_from(v).ok()
}

pub(crate) fn i2c_setup<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    require(&[
        (Key::Bus, f.get(Key::Bus)),
        (Key::Sda, f.get(Key::Sda)),
        (Key::Scl, f.get(Key::Scl)),
    ])?;
    Ok(Command::I2cSetup {
        bus: bus(f)?,
        sda: named_pin(f.get(Key::Sda), "sda")?,
        scl: named_pin(f.get(Key::Scl), "scl")?,
        frequency: match f.get(Key::Frequency) {
            None => DEFAULT_I2C_FREQUENCY,
            Some(raw) => scalar::integer(raw)
                .and_then(|hz| u32::try_from(hz).ok())
                .filter(|hz| (MIN_I2C_FREQUENCY..=MAX_I2C_FREQUENCY).contains(hz))
                .ok_or(ProtocolError::BadValue {
                    field: "frequency",
                    expected: "a whole number of Hz from 10000 to 1000000",
                })?,
        },
    })
}

pub(crate) fn i2c_write<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    require(&[
        (Key::Bus, f.get(Key::Bus)),
        (Key::Address, f.get(Key::Address)),
        (Key::Data, f.get(Key::Data)),
    ])?;
    Ok(Command::I2cWrite {
        bus: bus(f)?,
        address: address(f)?,
        data: bytes(f.get(Key::Data), "data")?,
    })
}

pub(crate) fn i2c_read<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    require(&[
        (Key::Bus, f.get(Key::Bus)),
        (Key::Address, f.get(Key::Address)),
        (Key::Count, f.get(Key::Count)),
    ])?;
    Ok(Command::I2cRead {
        bus: bus(f)?,
        address: address(f)?,
        count: count(f)?,
    })
}

pub(crate) fn i2c_transfer<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    require(&[
        (Key::Bus, f.get(Key::Bus)),
        (Key::Address, f.get(Key::Address)),
        (Key::Write, f.get(Key::Write)),
        (Key::Count, f.get(Key::Count)),
    ])?;
    Ok(Command::I2cTransfer {
        bus: bus(f)?,
        address: address(f)?,
        write: bytes(f.get(Key::Write), "write")?,
        count: count(f)?,
    })
}

fn bus<'a>(f: &Fields<'a>) -> Result<u8, ProtocolError<'a>> {
    f.get(Key::Bus)
        .and_then(scalar::integer)
        .and_then(|b| u8::try_from(b).ok())
        .filter(|&b| b <= MAX_I2C_BUS)
        .ok_or(ProtocolError::BadValue {
            field: "bus",
            expected: "0 or 1",
        })
}

fn named_pin<'a>(raw: Option<&[u8]>, field: &'static str) -> Result<u32, ProtocolError<'a>> {
    pin(raw).map_err(|_| ProtocolError::BadValue {
        field,
        expected: "a GPIO number: an integer from 0, or a string holding one",
    })
}

fn address<'a>(f: &Fields<'a>) -> Result<u8, ProtocolError<'a>> {
    f.get(Key::Address)
        .and_then(scalar::integer)
        .and_then(|a| u8::try_from(a).ok())
        .filter(|&a| a <= MAX_I2C_ADDRESS)
        .ok_or(ProtocolError::BadValue {
            field: "address",
            expected: "a 7-bit device address: an integer from 0 to 127",
        })
}

fn count<'a>(f: &Fields<'a>) -> Result<u16, ProtocolError<'a>> {
    f.get(Key::Count)
        .and_then(scalar::integer)
        .and_then(|c| u16::try_from(c).ok())
        .filter(|&c| (1..=MAX_I2C_BYTES as u16).contains(&c))
        .ok_or(ProtocolError::BadValue {
            field: "count",
            expected: "a number of bytes from 1 to 256",
        })
}

fn bytes<'a>(raw: Option<&'a [u8]>, field: &'static str) -> Result<Bytes<'a>, ProtocolError<'a>> {
    raw.and_then(Bytes::parse).ok_or(ProtocolError::BadValue {
        field,
        expected: "a list of 1 to 256 bytes, each an integer from 0 to 255",
    })
}
