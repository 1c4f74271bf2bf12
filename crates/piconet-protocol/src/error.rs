//! Errors a command can get, as the client sees them: a message and the
//! name of the Python exception class the original server would raise.

use crate::json::JsonError;
use crate::key::Key;
use crate::response::Message;
use crate::sink::Full;

/// The `exception` field of an error response.
///
/// The names are the original server's Python exception classes, so
/// scripts that branch on them keep working.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Bad JSON, unknown action, a value of the wrong type or range.
    ValueError,
    /// A command without an `action`.
    KeyError,
    /// A pin used before `setup_pin`.
    GPIOPinNotSetupError,
    /// The hardware underneath failed.
    OSError,
    /// The connection hit a time limit (idle, unfinished line) and is
    /// closed after this line.
    TimeoutError,
    /// The server has no slot for the connection; it is closed after
    /// this line.
    ConnectionRefusedError,
    /// The client is not allowed to do what it asked (its role, its pins,
    /// another client's lease); nothing changed.
    PermissionError,
}

impl ErrorClass {
    /// The class name as sent in the `exception` field.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorClass::ValueError => "ValueError",
            ErrorClass::KeyError => "KeyError",
            ErrorClass::GPIOPinNotSetupError => "GPIOPinNotSetupError",
            ErrorClass::OSError => "OSError",
            ErrorClass::TimeoutError => "TimeoutError",
            ErrorClass::ConnectionRefusedError => "ConnectionRefusedError",
            ErrorClass::PermissionError => "PermissionError",
        }
    }
}

/// Up to three required fields that a command lacks, in the order the
/// action lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MissingFields {
    fields: [Option<Key>; 3],
}

impl MissingFields {
    /// Note one more missing field.
    pub fn push(&mut self, field: Key) {
        if let Some(slot) = self.fields.iter_mut().find(|f| f.is_none()) {
            *slot = Some(field);
        }
    }

    /// True when nothing is missing.
    pub fn is_empty(&self) -> bool {
        self.fields[0].is_none()
    }

    /// The missing fields.
    pub fn iter(&self) -> impl Iterator<Item = Key> + '_ {
        self.fields.iter().flatten().copied()
    }
}

/// `Ok` when every field is present, else the missing ones (for the
/// commands' required fields). Inlined: as a call it costs the pin
/// commands ~17 instructions each (bench/callgrind.sh).
#[inline(always)]
pub(crate) fn require<'a>(fields: &[(Key, Option<&[u8]>)]) -> Result<(), ProtocolError<'a>> {
    let mut missing = MissingFields::default();
    for (field, raw) in fields {
        if raw.is_none() {
            missing.push(*field);
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ProtocolError::MissingFields(missing))
    }
}

/// Why a line could not become a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolError<'a> {
    /// Not a JSON object.
    Json(JsonError),
    /// The object has no `action`.
    MissingAction,
    /// `action` names no action; the raw JSON string contents, when short.
    UnknownAction(Option<&'a [u8]>),
    /// Required fields are absent.
    MissingFields(MissingFields),
    /// A field is present with a value that cannot be used.
    BadValue {
        /// The field's wire name.
        field: &'static str,
        /// What it must be, phrased to complete "`field` must be ...".
        expected: &'static str,
    },
    /// The line exceeds the transport's limit.
    LineTooLong {
        /// The limit in bytes.
        max: usize,
    },
}

impl Message for ProtocolError<'_> {
    fn class(&self) -> ErrorClass {
        match self {
            ProtocolError::MissingAction => ErrorClass::KeyError,
            _ => ErrorClass::ValueError,
        }
    }

    fn write(&self, m: &mut crate::response::MessageWriter<'_>) -> Result<(), Full> {
        match self {
            ProtocolError::Json(e) => {
                m.text("invalid JSON at byte ")?;
                m.uint(e.offset as u64)?;
                m.text(": ")?;
                m.text(e.reason)
            }
            ProtocolError::MissingAction => {
                m.text("missing field \"action\": every command names its action, use \"list_actions\" to list available actions")
            }
            ProtocolError::UnknownAction(name) => {
                m.text("unknown action")?;
                if let Some(name) = name {
                    m.text(" \"")?;
                    m.raw(name)?;
                    m.text("\"")?;
                }
                m.text(", use \"list_actions\" to list available actions")
            }
            ProtocolError::MissingFields(fields) => {
                m.text("incomplete command, missing fields: ")?;
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        m.text(", ")?;
                    }
                    m.text(f.name())?;
                }
                Ok(())
            }
            ProtocolError::BadValue { field, expected } => {
                m.text(field)?;
                m.text(" must be ")?;
                m.text(expected)
            }
            ProtocolError::LineTooLong { max } => {
                m.text("command longer than ")?;
                m.uint(*max as u64)?;
                m.text(" bytes: it was skipped up to the next newline")
            }
        }
    }
}
