//! A server's answer to one command.

use std::fmt;

use serde_json::{Map, Value};

use crate::error::Error;

/// One answer, kept whole: the echoed command, the server's fields, and the
/// client's `time_sent` and `time_responded`.
///
/// A server error is still a `Response` here (see [`Response::server_error`]);
/// [`Response::into_result`] turns it into [`Error::Server`].
#[derive(Clone, Debug, PartialEq)]
pub struct Response(Map<String, Value>);

/// The `error` and `exception` fields of a failed command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerError {
    /// The server's message.
    pub error: String,
    /// The error class (the original's Python exception name, e.g. `ValueError`).
    pub exception: String,
}

impl Response {
    /// Wraps a decoded answer.
    pub fn from_raw(raw: Map<String, Value>) -> Self {
        Self(raw)
    }

    /// The answer as received, plus `time_responded`.
    pub fn raw(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The answer as received, plus `time_responded`.
    pub fn into_raw(self) -> Map<String, Value> {
        self.0
    }

    /// One field.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field)
    }

    /// The echoed `action`, or `"?"`.
    pub fn action(&self) -> &str {
        self.0.get("action").and_then(Value::as_str).unwrap_or("?")
    }

    /// When the client sent the command (ns since the UNIX epoch, client clock).
    pub fn time_sent(&self) -> Option<i64> {
        self.0.get("time_sent").and_then(Value::as_i64)
    }

    /// When the server read the command (ns, server clock).
    pub fn time_received(&self) -> Option<i64> {
        self.0.get("time_received").and_then(Value::as_i64)
    }

    /// When the client read the answer (ns since the UNIX epoch, client clock).
    pub fn time_responded(&self) -> Option<i64> {
        self.0.get("time_responded").and_then(Value::as_i64)
    }

    /// `Some` when the answer carries an `error` field.
    ///
    /// An answer with `error` but no `exception` still counts as an error, as
    /// the original client reads it.
    pub fn server_error(&self) -> Option<ServerError> {
        let error = self.0.get("error")?;
        let text = |v: Option<&Value>| match v {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        Some(ServerError {
            error: text(Some(error)),
            exception: text(self.0.get("exception")),
        })
    }

    /// `Err(Error::Server)` when the answer is an error, else the answer.
    pub fn into_result(self) -> Result<Self, Error> {
        match self.server_error() {
            Some(ServerError { error, exception }) => Err(Error::Server {
                error,
                exception,
                response: Box::new(self),
            }),
            None => Ok(self),
        }
    }

    pub(crate) fn field<'a, T>(
        &'a self,
        field: &'static str,
        read: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<T, Error> {
        self.0
            .get(field)
            .and_then(read)
            .ok_or_else(|| Error::MissingField {
                action: self.action().to_owned(),
                field,
                response: Box::new(self.clone()),
            })
    }
}

/// Compact JSON, one line: what `piconet send` prints.
impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = serde_json::to_string(&self.0).map_err(|_| fmt::Error)?;
        f.write_str(&line)
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.exception, self.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn response(v: Value) -> Response {
        Response::from_raw(v.as_object().unwrap().clone())
    }

    #[test]
    fn an_error_answer_becomes_a_server_error_with_both_strings() {
        let r = response(json!({"action": "read_pin", "pin": 3,
            "error": "pin 3 not set up", "exception": "GPIOPinNotSetupError"}));
        let e = r.server_error().unwrap();
        assert_eq!(e.exception, "GPIOPinNotSetupError");
        assert_eq!(e.error, "pin 3 not set up");
        match r.clone().into_result() {
            Err(Error::Server {
                error,
                exception,
                response,
            }) => {
                assert_eq!(
                    (error.as_str(), exception.as_str()),
                    ("pin 3 not set up", "GPIOPinNotSetupError")
                );
                assert_eq!(*response, r);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_plain_answer_is_ok() {
        let r = response(json!({"action": "ping", "time_received": 5}));
        assert!(r.server_error().is_none());
        assert_eq!(r.clone().into_result().unwrap(), r);
        assert_eq!(r.time_received(), Some(5));
    }

    #[test]
    fn a_missing_field_names_it() {
        let r = response(json!({"action": "read_pin"}));
        let e = r.field("value", Value::as_u64).unwrap_err();
        assert!(
            matches!(e, Error::MissingField { field: "value", .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("read_pin"));
    }
}
