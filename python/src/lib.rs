//! `piconet._piconet`, the extension module under the `piconet` Python
//! package: a [`Board`] is one [`piconet_client::Connection`] kept open,
//! so TLS verification, certificate pinning, framing and event lines are
//! the Rust client's code. The pure-Python parts (exceptions, watches as
//! iterators and callbacks, the gpiozero pin factory) live in
//! `python/piconet/`.
//!
//! Every wait on the network runs with the GIL released, bounded by the
//! board's timeout; waits for events run in short slices that check for
//! signals, so Ctrl-C interrupts them.

mod board;
mod convert;
mod errors;
mod event;
mod runtime;

use pyo3::prelude::*;

/// The module `piconet._piconet`.
#[pymodule]
fn _piconet(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<board::Board>()?;
    m.add_class::<event::EdgeEvent>()?;
    m.add_class::<event::OverflowEvent>()?;
    m.add("DEFAULT_PORT", piconet_client::DEFAULT_PORT)?;
    m.add(
        "DEFAULT_TIMEOUT",
        piconet_client::DEFAULT_TIMEOUT.as_secs_f64(),
    )?;
    m.add("MAX_LEASE", board::MAX_LEASE.as_secs_f64())?;
    Ok(())
}
