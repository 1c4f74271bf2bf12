//! JSON values to and from Python objects, through Python's own `json`
//! module: what a board sends is exactly what `json.loads` would make of it.

use pyo3::prelude::*;
use serde_json::{Map, Value};

use crate::errors;

/// A JSON value as Python objects (dict, list, str, int, float, bool, None).
pub(crate) fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value)
        .map_err(|e| errors::argument(py, format!("cannot encode {value}: {e}")))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// A Python dict as a JSON object, as `json.dumps` writes it.
pub(crate) fn command_from_py(command: &Bound<'_, PyAny>) -> PyResult<Map<String, Value>> {
    let py = command.py();
    let text: String = py
        .import("json")?
        .call_method1("dumps", (command,))?
        .extract()?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(errors::argument(
            py,
            format!("a command is a dict with an \"action\", not {text}"),
        )),
    }
}
