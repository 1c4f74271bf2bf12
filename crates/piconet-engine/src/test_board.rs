//! The unit tests' board: a Pico W pin map in memory with a log of what
//! happened, inputs set by hand (`sim_input`) and an optional settings
//! store in RAM flash.
//!
//! The full simulated board lives in `piconet-sim`, which depends on this
//! crate; unit tests cannot use it (they would see a second copy of the
//! engine's types), so they get this small one. Integration tests in
//! `tests/` use `piconet-sim`.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::board::{Board, BoardError, Level, Mode, PinKind, Pull, SimulatedInputs};
use crate::pico::{self, GPIO_COUNT};
use crate::settings::{FlashSettings, SettingsStore};
use crate::time::Instant;
use crate::update::UpdateSlot;
use piconet_protocol::response::ObjectWriter;
use piconet_protocol::sink::Full;

/// Something that happened to the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A pin was configured.
    Configured { pin: u32, mode: Mode, pull: Pull },
    /// An output changed level (writes of the same level are not changes).
    Level { pin: u32, level: Level },
    /// An input's external level was set by the test.
    Input { pin: u32, level: Level },
    /// The board reset (also at the end of a deep sleep).
    Reset,
    /// The board went to sleep.
    Sleep { ms: u32, deep: bool },
}

/// A logged [`Event`] (the shape of the simulated board's log entries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Logged {
    pub event: Event,
}

#[derive(Clone, Copy, Debug, Default)]
struct Pin {
    mode: Option<Mode>,
    pull: Pull,
    driven: Option<Level>,
    external: Option<Level>,
}

/// Settings in 8 KiB of RAM flash, as the Pico W's CONFIG region.
pub type TestSettings = FlashSettings<piconet_config::ram::RamFlash<2>>;

/// The board itself. Undriven inputs read their pull unless a level was
/// set from outside.
pub struct TestBoard {
    pins: [Pin; GPIO_COUNT as usize],
    log: Vec<Logged>,
    resets: u32,
    settings: Option<Box<TestSettings>>,
    /// Whether `sim_input` may set its inputs (not on a real board).
    simulated: bool,
    /// An update slot that takes any upload's start (`update_begin`).
    slot: Option<TestSlot>,
}

/// An update slot that only prepares: enough for `update_begin`'s checks.
pub struct TestSlot {
    running: &'static str,
    pub prepared: u32,
}

impl UpdateSlot for TestSlot {
    fn capacity(&self) -> u32 {
        1 << 20
    }
    fn prepare(&mut self, _size: u32) -> Result<(), crate::UpdateError> {
        self.prepared += 1;
        Ok(())
    }
    fn write(&mut self, _offset: u32, _data: &[u8]) -> Result<(), crate::UpdateError> {
        Ok(())
    }
    fn verify_and_mark(&mut self, _sig: &[u8; 64], _size: u32) -> Result<(), crate::UpdateError> {
        Err(crate::UpdateError::BadSignature)
    }
    fn confirm_boot(&mut self) -> Result<(), crate::UpdateError> {
        Ok(())
    }
    fn running_version(&self) -> &str {
        self.running
    }
    fn last_update(&self) -> crate::LastUpdate {
        crate::LastUpdate::None
    }
}

impl TestBoard {
    pub fn new() -> Self {
        TestBoard {
            pins: [Pin::default(); GPIO_COUNT as usize],
            log: Vec::new(),
            resets: 0,
            settings: None,
            simulated: true,
            slot: None,
        }
    }

    /// With an update slot whose running image has version `running`.
    pub fn with_update_slot(mut self, running: &'static str) -> Self {
        self.slot = Some(TestSlot {
            running,
            prepared: 0,
        });
        self
    }

    /// The update slot, if it has one.
    pub fn slot(&self) -> Option<&TestSlot> {
        self.slot.as_ref()
    }

    /// A board standing in for real hardware: its wiring sets the inputs,
    /// so it offers no simulated inputs.
    pub fn real() -> Self {
        TestBoard {
            simulated: false,
            ..Self::new()
        }
    }

    /// With an erased settings store.
    pub fn with_settings(self) -> Self {
        let flash = piconet_config::ram::RamFlash::<2>::new();
        let store = FlashSettings::new(flash, 0..2 * piconet_config::ram::PAGE as u32)
            .unwrap_or_else(|_| unreachable!("two aligned pages are a valid region"));
        self.with_settings_store(store)
    }

    /// With this settings store (one reopened over an earlier board's flash).
    pub fn with_settings_store(mut self, store: TestSettings) -> Self {
        self.settings = Some(Box::new(store));
        self
    }

    /// The settings store back (its flash survives the board).
    pub fn take_settings(&mut self) -> Option<TestSettings> {
        self.settings.take().map(|b| *b)
    }

    pub fn log(&self) -> impl ExactSizeIterator<Item = &Logged> {
        self.log.iter()
    }

    pub fn clear_log(&mut self) {
        self.log.clear();
    }

    /// The level a configured pin shows, `None` if it is not configured.
    pub fn level(&self, pin: u32) -> Option<Level> {
        let p = self.pins.get(pin as usize)?;
        match p.mode? {
            Mode::Output => p.driven,
            Mode::Input => Some(p.external.unwrap_or(match p.pull {
                Pull::Up => Level::High,
                Pull::Down | Pull::None => Level::Low,
            })),
        }
    }

    pub fn resets(&self) -> u32 {
        self.resets
    }

    fn record(&mut self, event: Event) {
        self.log.push(Logged { event });
    }

    fn pin_mut(&mut self, pin: u32) -> Result<&mut Pin, BoardError> {
        self.pins
            .get_mut(pin as usize)
            .ok_or(BoardError::Io("no such pin on the test board"))
    }

    fn power_on(&mut self) {
        for p in &mut self.pins {
            // Outside levels stay: they are wired to the board, not part of it.
            *p = Pin {
                external: p.external,
                ..Pin::default()
            };
        }
        self.resets += 1;
        self.record(Event::Reset);
    }
}

impl Board for TestBoard {
    fn name(&self) -> &str {
        "Test board with the Pico W pin map"
    }

    fn pin_kind(&self, pin: u32) -> PinKind {
        pico::pin_kind(pin)
    }

    fn configure(
        &mut self,
        pin: u32,
        mode: Mode,
        pull: Pull,
        initial: Option<Level>,
    ) -> Result<(), BoardError> {
        let p = self.pin_mut(pin)?;
        p.mode = Some(mode);
        p.pull = pull;
        let changed = match mode {
            Mode::Input => {
                p.driven = None;
                None
            }
            Mode::Output => {
                // Like the RP2040: an output that was never driven starts low.
                let level = initial.or(p.driven).unwrap_or(Level::Low);
                let changed = p.driven != Some(level);
                p.driven = Some(level);
                changed.then_some(level)
            }
        };
        self.record(Event::Configured { pin, mode, pull });
        if let Some(level) = changed {
            self.record(Event::Level { pin, level });
        }
        Ok(())
    }

    fn write(&mut self, pin: u32, level: Level) -> Result<(), BoardError> {
        let p = self.pin_mut(pin)?;
        if p.mode != Some(Mode::Output) {
            return Err(BoardError::Io("pin is not an output"));
        }
        if p.driven != Some(level) {
            p.driven = Some(level);
            self.record(Event::Level { pin, level });
        }
        Ok(())
    }

    fn read(&mut self, pin: u32) -> Result<Level, BoardError> {
        self.level(pin)
            .ok_or(BoardError::Io("pin is not configured"))
    }

    fn set_status_led(&mut self, _on: bool) {}

    fn reset(&mut self) {
        self.power_on();
    }

    fn sleep(&mut self, ms: u32, deep: bool) {
        self.record(Event::Sleep { ms, deep });
        if deep {
            // A Pico W wakes from deep sleep through a reset.
            self.power_on();
        }
    }

    fn timestamp_ns(&self, now: Instant) -> u64 {
        now.as_nanos()
    }

    fn write_info(&mut self, now: Instant, info: &mut ObjectWriter<'_>) -> Result<(), Full> {
        info.bool("simulated", true)?;
        info.uint("uptime_ms", now.as_nanos() / 1_000_000)?;
        info.uint("resets", self.resets.into())
    }

    fn update_slot(&mut self) -> Option<&mut dyn UpdateSlot> {
        self.slot.as_mut().map(|s| s as &mut dyn UpdateSlot)
    }

    fn settings(&mut self) -> Option<&mut dyn SettingsStore> {
        self.settings
            .as_deref_mut()
            .map(|s| s as &mut dyn SettingsStore)
    }

    fn simulated_inputs(&mut self) -> Option<&mut dyn SimulatedInputs> {
        if self.simulated {
            Some(self)
        } else {
            None
        }
    }
}

impl SimulatedInputs for TestBoard {
    fn set_input(&mut self, pin: u32, level: Level) {
        if let Some(p) = self.pins.get_mut(pin as usize) {
            p.external = Some(level);
            self.record(Event::Input { pin, level });
        }
    }
}
