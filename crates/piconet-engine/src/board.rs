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

pub use piconet_protocol::command::{Level, Mode, PinMode, Pull, PwmState};

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

    /// The board's PWM outputs. Boards without (`None`) refuse
    /// `"mode": "pwm"` and `write_pwm` with an `OSError`, and
    /// `list_actions` leaves `write_pwm` out.
    fn pwm(&mut self) -> Option<&mut dyn Pwm>;

    /// The board's analogue inputs. Boards without (`None`) refuse
    /// `"mode": "adc"` and `read_adc`; `list_actions` leaves `read_adc` out.
    fn adc(&mut self) -> Option<&mut dyn Adc>;

    /// The board's temperature sensor. Boards without (`None`) answer
    /// `read_temperature` with an `OSError`; `list_actions` leaves it out.
    fn thermometer(&mut self) -> Option<&mut dyn Thermometer>;

    /// The board's I2C controllers. Boards without (`None`) refuse the
    /// `i2c_*` actions; `list_actions` leaves them out.
    fn i2c(&mut self) -> Option<&mut dyn I2c>;

    /// Edge detection the board turns on for watched pins only (piconetd's
    /// GPIO chip: a line request with kernel edge events). `None` on boards
    /// whose every input reports its edges anyway (the RP2040's GPIO
    /// interrupts) or that get them from `sim_input`.
    fn edge_detection(&mut self) -> Option<&mut dyn EdgeDetection>;
}

/// Edge detection switched per pin. The engine turns it on before the
/// first watch of a pin starts and off once the last one ended (unwatch,
/// disconnect, the pin set up as something else); a [`Board::reset`] ends
/// all of it. While it is on, the board's edge source hands the pin's
/// edges to [`crate::Engine::edge`].
pub trait EdgeDetection {
    /// Start (`on`) or stop detecting `pin`'s edges. `pin` is a configured
    /// input when it starts; a failure to start refuses the `watch_pin`
    /// with an `OSError` carrying the message.
    fn detect_edges(&mut self, pin: u32, on: bool) -> Result<(), BoardError>;
}

/// What `sim_input` sets on a simulated board.
pub trait SimulatedInputs {
    /// Apply `level` to `pin` from outside, overriding its pull.
    fn set_input(&mut self, pin: u32, level: Level);

    /// Apply `volts` to the ADC pin `pin` from outside.
    fn set_volts(&mut self, pin: u32, volts: f32);
}

/// Which PWM hardware drives a pin: pins on the same `slice` share one
/// counter, so one frequency; pins with the same `slice` and `output`
/// show the same waveform (GPIO 0 and 16 on the RP2040).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PwmChannel {
    /// The counter (RP2040: slice 0–7; Linux: one per sysfs channel).
    pub slice: u16,
    /// The compare output of that counter (RP2040: A = 0, B = 1).
    pub output: u8,
}

/// PWM outputs. The engine checks pins (`pin_kind`, then
/// [`Pwm::pwm_channel`]) and keeps pins that share a slice at one frequency
/// before it calls `start_pwm` or `set_pwm`.
pub trait Pwm {
    /// The channel that drives `pin`, `None` where the pin has no PWM.
    fn pwm_channel(&self, pin: u32) -> Option<PwmChannel>;

    /// Make `pin` a PWM output running at `state` (from whatever it was;
    /// it stops being PWM when [`Board::configure`], [`Adc::start_adc`] or
    /// [`I2c::configure_i2c`] takes it next).
    fn start_pwm(&mut self, pin: u32, state: PwmState) -> Result<(), BoardError>;

    /// Change the duty and frequency of a pin `start_pwm` made PWM.
    fn set_pwm(&mut self, pin: u32, state: PwmState) -> Result<(), BoardError>;
}

/// Analogue inputs, read with a 12-bit converter over 0–[`ADC_VREF`] volts.
pub trait Adc {
    /// True when `pin` has an ADC input.
    fn has_adc(&self, pin: u32) -> bool;

    /// Make `pin` an analogue input (digital input and output off).
    fn start_adc(&mut self, pin: u32) -> Result<(), BoardError>;

    /// One conversion of a pin `start_adc` set up: 0 to
    /// [`piconet_protocol::action::analog::MAX_ADC_RAW`].
    fn read_adc(&mut self, pin: u32) -> Result<u16, BoardError>;
}

/// The nominal full scale of the ADC: a `raw` of 4095 is this many volts
/// (the Pico W's 3.3 V reference).
pub const ADC_VREF: f32 = 3.3;

/// A temperature sensor.
pub trait Thermometer {
    /// Degrees Celsius now.
    fn celsius(&mut self) -> Result<f32, BoardError>;
}

/// The role of a pin on an I2C bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum I2cLine {
    /// Data.
    Sda,
    /// Clock.
    Scl,
}

impl I2cLine {
    /// `"sda"` or `"scl"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            I2cLine::Sda => "sda",
            I2cLine::Scl => "scl",
        }
    }
}

/// Why an I2C transaction failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum I2cError {
    /// No device acknowledged its address (or a byte).
    NoAck,
    /// The bus or controller failed (arbitration lost, timeout, ...).
    Bus(BoardError),
}

/// I2C controllers. The engine checks the bus number and the pins before
/// `configure_i2c`, and calls the transfers only on a configured bus, with
/// 1 to [`piconet_protocol::action::i2c::MAX_I2C_BYTES`] bytes each way
/// and a 7-bit address. A transfer must give up (`Bus`) when it takes
/// much longer than its bytes at the bus clock: the engine is locked
/// while it runs.
pub trait I2c {
    /// How many buses (numbered from 0).
    fn i2c_buses(&self) -> u8;

    /// What `pin` can be on `bus`, `None` when it cannot serve that bus.
    fn i2c_line(&self, bus: u8, pin: u32) -> Option<I2cLine>;

    /// Set up `bus` on `sda` and `scl` at `frequency` Hz (again: new pins
    /// or clock).
    fn configure_i2c(
        &mut self,
        bus: u8,
        sda: u32,
        scl: u32,
        frequency: u32,
    ) -> Result<(), BoardError>;

    /// Write `data` to the device at `address`.
    fn i2c_write(&mut self, bus: u8, address: u8, data: &[u8]) -> Result<(), I2cError>;

    /// Fill `buf` from the device at `address`.
    fn i2c_read(&mut self, bus: u8, address: u8, buf: &mut [u8]) -> Result<(), I2cError>;

    /// Write `data`, then read `buf` after a repeated start.
    fn i2c_transfer(
        &mut self,
        bus: u8,
        address: u8,
        data: &[u8],
        buf: &mut [u8],
    ) -> Result<(), I2cError>;
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
    fn pwm(&mut self) -> Option<&mut dyn Pwm> {
        (**self).pwm()
    }
    fn adc(&mut self) -> Option<&mut dyn Adc> {
        (**self).adc()
    }
    fn thermometer(&mut self) -> Option<&mut dyn Thermometer> {
        (**self).thermometer()
    }
    fn i2c(&mut self) -> Option<&mut dyn I2c> {
        (**self).i2c()
    }
    fn edge_detection(&mut self) -> Option<&mut dyn EdgeDetection> {
        (**self).edge_detection()
    }
}
