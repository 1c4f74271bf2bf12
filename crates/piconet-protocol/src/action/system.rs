//! The board actions: `ping`, `reset`, `sleep`, `get_info`,
//! `get_version`, `list_actions`.

use super::Command;
use crate::error::{require, ProtocolError};
use crate::json::scalar;
use crate::key::{Fields, Key};

pub(crate) fn ping<'a>(_: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    Ok(Command::Ping)
}

pub(crate) fn reset<'a>(_: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    Ok(Command::Reset)
}

pub(crate) fn get_version<'a>(_: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    Ok(Command::GetVersion)
}

pub(crate) fn get_info<'a>(_: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    Ok(Command::GetInfo)
}

pub(crate) fn list_actions<'a>(_: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    Ok(Command::ListActions)
}

pub(crate) fn sleep<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    require(&[(Key::TimeMs, f.get(Key::TimeMs))])?;
    Ok(Command::Sleep {
        time_ms: scalar::integer(f.get(Key::TimeMs).unwrap_or_default())
            .and_then(|v| u32::try_from(v).ok())
            .ok_or(ProtocolError::BadValue {
                field: "time_ms",
                expected: "a whole number of milliseconds from 0 to 4294967295",
            })?,
        deep: match f.get(Key::Deep) {
            None => false,
            Some(d) => scalar::bit(d).ok_or(ProtocolError::BadValue {
                field: "deep",
                expected: "0 or 1 (or false/true)",
            })?,
        },
    })
}
