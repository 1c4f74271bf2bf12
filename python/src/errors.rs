//! The Rust client's errors as the exceptions of `piconet.errors`, whose
//! classes also derive from the matching built-in ones (ValueError,
//! OSError, TimeoutError, PermissionError, ...), so callers can catch
//! either.

use piconet_client::Error;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert;

/// The `piconet.errors` class for a server's `exception` field (the
/// protocol's error classes, README "exception | when").
fn server_class(exception: &str) -> &'static str {
    match exception {
        "GPIOPinNotSetupError" => "PinNotSetupError",
        "ValueError" | "JSONDecodeError" => "InvalidRequestError",
        "KeyError" => "MissingActionError",
        "OSError" => "BoardOSError",
        "TimeoutError" => "ServerTimeoutError",
        "PermissionError" => "PermissionError",
        "ConnectionRefusedError" => "BusyError",
        _ => "ServerError",
    }
}

/// The `piconet.errors` class for a client-side failure.
fn client_class(error: &Error) -> &'static str {
    match error {
        Error::InvalidAddress { .. } | Error::InvalidArgument(_) => "InvalidArgumentError",
        Error::Timeout { .. } => "TimeoutError",
        Error::Resolve { .. }
        | Error::ConnectionRefused { .. }
        | Error::Connect { .. }
        | Error::Io { .. }
        | Error::Closed { .. }
        | Error::SerialOpen { .. }
        | Error::SerialList { .. } => "ConnectionError",
        Error::Tls { .. } | Error::ServerWantsTls { .. } => "TLSError",
        Error::CertificateRejected { .. } | Error::AnnouncementMismatch { .. } => {
            "CertificateError"
        }
        Error::HostKeyChanged { .. } => "HostKeyChangedError",
        Error::CaFile { .. }
        | Error::KnownHostsIo { .. }
        | Error::KnownHostsSyntax { .. }
        | Error::NoConfigDir
        | Error::Identity { .. } => "TLSConfigError",
        Error::ResponseTooLarge { .. }
        | Error::InvalidResponse { .. }
        | Error::MissingField { .. } => "ProtocolError",
        Error::Server { exception, .. } => server_class(exception),
        _ => "PiconetError",
    }
}

/// An instance of `piconet.errors.<class>(message, exception=..., response=...)`.
fn raise(
    py: Python<'_>,
    class: &str,
    message: String,
    server: Option<(&str, &str, &serde_json::Map<String, serde_json::Value>)>,
) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let cls = py.import("piconet.errors")?.getattr(class)?;
        let kwargs = PyDict::new(py);
        if let Some((exception, error, response)) = server {
            kwargs.set_item("exception", exception)?;
            kwargs.set_item("error", error)?;
            let raw = serde_json::Value::Object(response.clone());
            kwargs.set_item("response", convert::to_py(py, &raw)?)?;
        }
        Ok(PyErr::from_value(cls.call((message,), Some(&kwargs))?))
    };
    // Without the Python half (a broken install) the import error says so.
    build().unwrap_or_else(|e| e)
}

/// The exception for `error`.
pub(crate) fn to_py(py: Python<'_>, error: Error) -> PyErr {
    let class = client_class(&error);
    let message = error.to_string();
    match &error {
        Error::Server {
            error: text,
            exception,
            response,
        } => raise(py, class, message, Some((exception, text, response.raw()))),
        _ => raise(py, class, message, None),
    }
}

/// An `InvalidArgumentError` (a `ValueError`): the caller's value cannot be sent.
pub(crate) fn argument(py: Python<'_>, message: String) -> PyErr {
    raise(py, "InvalidArgumentError", message, None)
}

/// A `ConnectionError` for a board closed by its owner or whose connection ended.
pub(crate) fn connection(py: Python<'_>, message: String) -> PyErr {
    raise(py, "ConnectionError", message, None)
}
