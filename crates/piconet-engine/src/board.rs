//! The one seam between the engine and hardware.
//!
//! Everything the engine does to the outside world goes through [`Board`]:
//! the RP2040 firmware, the Linux GPIO character device and the simulated
//! board are its implementations.

use crate::settings::SettingsStore;
use crate::time::Instant;
use crate::update::UpdateSlot;
use piconet_protocol::response::ObjectWriter;
use piconet_protocol::sink::Full;

pub use piconet_protocol::command::{Level, Mode, Pull};

/// What a pin number means on a board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinKind {
    /// Free for clients.
    Usable,
    /// Exists but is wired to something the board needs; the text says
    /// what, for the error message (e.g. "drives the WiFi chip (CYW43)").
    Reserved(&'static str),
    /// No such pin on this board.
    Absent,
}

/// A failure of the hardware underneath, reported to the client as an
/// `OSError`. The text is shown to the user: say what failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoardError {
    /// The board cannot do this at all (e.g. a pull on a kernel without
    /// bias support).
    Unsupported(&'static str),
    /// The operation was attempted and failed.
    Io(&'static str),
}

impl BoardError {
    /// The message for the client.
    pub const fn message(&self) -> &'static str {
        match self {
            BoardError::Unsupported(m) | BoardError::Io(m) => m,
        }
    }
}

/// Hardware access for the engine.
///
/// Pin numbers are the board's own (GPIO numbers on the Pico W, line
/// offsets on a Linux GPIO chip). The engine only calls `configure`,
/// `write` and `read` on pins for which `pin_kind` said `Usable`.
///
/// No method has a default body: a wrapper (the `Box<B>` below, piconetd's
/// `HostBoard`) must forward each one, so it can never fall back silently
/// to "no update slot" or "no settings" for a board that has them.
/// Optional capabilities are accessors returning `Option`: a board without
/// one writes `None` explicitly.
pub trait Board {
    /// Short human-readable board name, reported by `get_info` as `board`.
    /// The original client checks that it contains "pico" before updating.
    fn name(&self) -> &str;

    /// What `pin` is on this board.
    fn pin_kind(&self, pin: u32) -> PinKind;

    /// Configure `pin`. For an output, `initial` is driven before the pin
    /// starts driving, so it never glitches through the other level.
    fn configure(
        &mut self,
        pin: u32,
        mode: Mode,
        pull: Pull,
        initial: Option<Level>,
    ) -> Result<(), BoardError>;

    /// Drive a configured output.
    fn write(&mut self, pin: u32, level: Level) -> Result<(), BoardError>;

    /// Read the level of a configured pin (for an output, the driven level).
    fn read(&mut self, pin: u32) -> Result<Level, BoardError>;

    /// Turn the status LED on or off (boards without one ignore it).
    fn set_status_led(&mut self, on: bool);

    /// Reset the board. Called only after the reply to `reset` was sent.
    /// On hardware it does not return; where it does (host boards) it must
    /// leave every pin as at power-on, since the engine forgets them all.
    fn reset(&mut self);

    /// Sleep for `ms` milliseconds, after the reply was sent. A deep sleep
    /// ends in a reset (see [`Board::reset`]); a light sleep ends early
    /// when a command arrives.
    fn sleep(&mut self, ms: u32, deep: bool);

    /// Wall-clock time for the `time_received` field, in nanoseconds.
    /// Boards without a real-time clock report time since boot
    /// (`now.as_nanos()`).
    fn timestamp_ns(&self, now: Instant) -> u64;

    /// Add the board's own `get_info` fields (memory, uptime, radio, ...).
    fn write_info(&mut self, now: Instant, info: &mut ObjectWriter<'_>) -> Result<(), Full>;

    /// The board's firmware update slot. Boards without one (`None`)
    /// refuse the update actions with "this board cannot update itself".
    fn update_slot(&mut self) -> Option<&mut dyn UpdateSlot>;

    /// The board's stored settings. Boards without them (`None`) refuse
    /// the provisioning actions with "this board keeps no settings".
    fn settings(&mut self) -> Option<&mut dyn SettingsStore>;

    /// The inputs a test or user sets by hand: only the simulated board
    /// has them. Real boards (`None`) refuse `sim_input` with an
    /// `OSError`: their wiring sets the inputs.
    fn simulated_inputs(&mut self) -> Option<&mut dyn SimulatedInputs>;
}

/// What `sim_input` sets on a simulated board.
pub trait SimulatedInputs {
    /// Apply `level` to `pin` from outside, overriding its pull.
    fn set_input(&mut self, pin: u32, level: Level);
}

/// A boxed board, so a host can choose its board at run time.
#[cfg(feature = "alloc")]
impl<B: Board + ?Sized> Board for alloc::boxed::Box<B> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn pin_kind(&self, pin: u32) -> PinKind {
        (**self).pin_kind(pin)
    }
    fn configure(
        &mut self,
        pin: u32,
        mode: Mode,
        pull: Pull,
        initial: Option<Level>,
    ) -> Result<(), BoardError> {
        (**self).configure(pin, mode, pull, initial)
    }
    fn write(&mut self, pin: u32, level: Level) -> Result<(), BoardError> {
        (**self).write(pin, level)
    }
    fn read(&mut self, pin: u32) -> Result<Level, BoardError> {
        (**self).read(pin)
    }
    fn set_status_led(&mut self, on: bool) {
        (**self).set_status_led(on)
    }
    fn reset(&mut self) {
        (**self).reset()
    }
    fn sleep(&mut self, ms: u32, deep: bool) {
        (**self).sleep(ms, deep)
    }
    fn timestamp_ns(&self, now: Instant) -> u64 {
        (**self).timestamp_ns(now)
    }
    fn write_info(&mut self, now: Instant, info: &mut ObjectWriter<'_>) -> Result<(), Full> {
        (**self).write_info(now, info)
    }
    fn update_slot(&mut self) -> Option<&mut dyn UpdateSlot> {
        (**self).update_slot()
    }
    fn settings(&mut self) -> Option<&mut dyn SettingsStore> {
        (**self).settings()
    }
    fn simulated_inputs(&mut self) -> Option<&mut dyn SimulatedInputs> {
        (**self).simulated_inputs()
    }
}
