//! The smallest [`Board`]: a Pico W that only remembers levels. No log, no
//! allocation, no hardware: for benchmarks and allocation tests, and as the
//! shortest example of implementing the trait.

use piconet_engine::board::{Board, BoardError, Level, Mode, PinKind, Pull};
use piconet_engine::pico;
use piconet_engine::Instant;
use piconet_protocol::response::ObjectWriter;
use piconet_protocol::sink::Full;

/// A Pico W pin map over an array of levels.
///
/// ```
/// use piconet_engine::{Board, Level, Mode, Pull};
/// use piconet_sim::levels::LevelsBoard;
/// let mut b = LevelsBoard::new();
/// b.configure(2, Mode::Output, Pull::None, Some(Level::High)).unwrap();
/// assert_eq!(b.read(2), Ok(Level::High));
/// ```
#[derive(Clone, Debug, Default)]
pub struct LevelsBoard {
    levels: [Option<Level>; pico::GPIO_COUNT as usize],
}

impl LevelsBoard {
    /// Every pin unconfigured.
    pub const fn new() -> Self {
        LevelsBoard {
            levels: [None; pico::GPIO_COUNT as usize],
        }
    }

    fn slot(&mut self, pin: u32) -> Result<&mut Option<Level>, BoardError> {
        self.levels
            .get_mut(pin as usize)
            .ok_or(BoardError::Io("no such pin"))
    }
}

impl Board for LevelsBoard {
    fn name(&self) -> &str {
        "levels only (Pico W pin map)"
    }
    fn pin_kind(&self, pin: u32) -> PinKind {
        pico::pin_kind(pin)
    }
    fn configure(
        &mut self,
        pin: u32,
        _mode: Mode,
        _pull: Pull,
        initial: Option<Level>,
    ) -> Result<(), BoardError> {
        let slot = self.slot(pin)?;
        *slot = Some(initial.or(*slot).unwrap_or(Level::Low));
        Ok(())
    }
    fn write(&mut self, pin: u32, level: Level) -> Result<(), BoardError> {
        *self.slot(pin)? = Some(level);
        Ok(())
    }
    fn read(&mut self, pin: u32) -> Result<Level, BoardError> {
        self.levels
            .get(pin as usize)
            .copied()
            .flatten()
            .ok_or(BoardError::Io("pin is not configured"))
    }
    fn set_status_led(&mut self, _on: bool) {}
    fn reset(&mut self) {
        *self = LevelsBoard::new();
    }
    fn sleep(&mut self, _ms: u32, deep: bool) {
        if deep {
            self.reset();
        }
    }
    fn write_info(&mut self, _now: Instant, _info: &mut ObjectWriter<'_>) -> Result<(), Full> {
        Ok(())
    }
    fn timestamp_ns(&self, now: Instant) -> u64 {
        now.as_nanos()
    }
    fn update_slot(&mut self) -> Option<&mut dyn piconet_engine::UpdateSlot> {
        None
    }
    fn settings(&mut self) -> Option<&mut dyn piconet_engine::SettingsStore> {
        None
    }
    fn simulated_inputs(&mut self) -> Option<&mut dyn piconet_engine::SimulatedInputs> {
        None
    }
    fn pwm(&mut self) -> Option<&mut dyn piconet_engine::Pwm> {
        None
    }
    fn adc(&mut self) -> Option<&mut dyn piconet_engine::Adc> {
        None
    }
    fn thermometer(&mut self) -> Option<&mut dyn piconet_engine::Thermometer> {
        None
    }
    fn i2c(&mut self) -> Option<&mut dyn piconet_engine::I2c> {
        None
    }

    fn edge_detection(&mut self) -> Option<&mut dyn piconet_engine::EdgeDetection> {
        None
    }
}
