//! Event lines as Python objects.

use piconet_client::Event;
use pyo3::prelude::*;

/// An edge on a watched input pin.
#[pyclass(
    module = "piconet._piconet",
    name = "EdgeEvent",
    frozen,
    eq,
    get_all,
    skip_from_py_object
)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EdgeEvent {
    /// The pin.
    pin: u32,
    /// Its level after the edge, 0 or 1.
    value: u8,
    /// The board's monotonic clock when the edge happened, µs.
    time_us: u64,
    /// This connection's edge count, from 1.
    seq: u64,
}

#[pymethods]
impl EdgeEvent {
    fn __repr__(&self) -> String {
        format!(
            "EdgeEvent(pin={}, value={}, time_us={}, seq={})",
            self.pin, self.value, self.time_us, self.seq
        )
    }
}

/// Edges that did not fit a queue: `dropped` of them, the last one `seq`.
#[pyclass(
    module = "piconet._piconet",
    name = "OverflowEvent",
    frozen,
    eq,
    get_all,
    skip_from_py_object
)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OverflowEvent {
    /// How many edges were lost.
    dropped: u64,
    /// The seq of the last one.
    seq: u64,
}

#[pymethods]
impl OverflowEvent {
    fn __repr__(&self) -> String {
        format!("OverflowEvent(dropped={}, seq={})", self.dropped, self.seq)
    }
}

/// The Python object for `event`.
pub(crate) fn to_py(py: Python<'_>, event: Event) -> PyResult<Py<PyAny>> {
    Ok(match event {
        Event::Edge {
            pin,
            value,
            time_us,
            seq,
        } => Py::new(
            py,
            EdgeEvent {
                pin,
                value: value.as_u8(),
                time_us,
                seq,
            },
        )?
        .into_any(),
        Event::Overflow { dropped, seq } => Py::new(py, OverflowEvent { dropped, seq })?.into_any(),
    })
}
