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

use crate::board::{
    Adc, Board, BoardError, EdgeDetection, I2c, I2cError, I2cLine, Level, Mode, PinKind, Pull, Pwm,
    PwmChannel, PwmState, SimulatedInputs, Thermometer,
};
use crate::pico::{self, GPIO_COUNT};
use crate::settings::{FlashSettings, SettingsStore};
use crate::time::Instant;
use crate::update::UpdateSlot;
use piconet_protocol::response::ObjectWriter;
use piconet_protocol::sink::Full;

/// Something that happened to the board.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    /// A pin's PWM duty or frequency changed (or it started PWM).
    Pwm { pin: u32, state: PwmState },
    /// A pin became an ADC input.
    Adc { pin: u32 },
    /// An ADC pin's voltage was set by the test.
    Volts { pin: u32, volts: f32 },
    /// An I2C bus was set up.
    I2cBus {
        bus: u8,
        sda: u32,
        scl: u32,
        frequency: u32,
    },
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
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Logged {
    pub event: Event,
}

#[derive(Clone, Copy, Debug, Default)]
struct Pin {
    mode: Option<Mode>,
    pull: Pull,
    driven: Option<Level>,
    external: Option<Level>,
    /// Running PWM (then `mode` is `None`).
    pwm: Option<PwmState>,
    /// An ADC input (then `mode` is `None`).
    adc: bool,
    volts: f32,
}

/// The address of the test board's I2C memory on every bus.
pub const MEMORY_ADDRESS: u8 = 0x50;

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
    /// Whether it has PWM, an ADC, a thermometer and I2C.
    peripherals: bool,
    /// The next PWM changes fail (to test reverts that fail).
    pub fail_pwm: bool,
    /// The next I2C transfers fail with a bus error.
    pub fail_i2c: bool,
    /// What the thermometer reads.
    pub celsius: f32,
    /// The set-up buses.
    buses: [Option<(u32, u32)>; 2],
    /// A 256-byte memory at [`MEMORY_ADDRESS`] (as a 24C02) and its
    /// address pointer.
    memory: [u8; 256],
    pointer: u8,
    /// With per-pin edge detection (as piconetd's GPIO chip): bit `p` is
    /// set while pin `p`'s edges are detected.
    detecting: Option<u64>,
    /// The next edge detection that starts fails.
    pub fail_edges: bool,
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
            peripherals: true,
            fail_pwm: false,
            fail_i2c: false,
            celsius: 27.0,
            buses: [None; 2],
            memory: [0xff; 256],
            pointer: 0,
            detecting: None,
            fail_edges: false,
        }
    }

    /// With edge detection switched per pin, as piconetd's GPIO chip.
    pub fn with_edge_detection(mut self) -> Self {
        self.detecting = Some(0);
        self
    }

    /// Bit `p`: pin `p`'s edges are detected (`None` without per-pin
    /// detection).
    pub fn detecting(&self) -> Option<u64> {
        self.detecting
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

    /// A board with GPIO only: no PWM, ADC, thermometer or I2C.
    pub fn bare() -> Self {
        TestBoard {
            peripherals: false,
            ..Self::new()
        }
    }

    /// The PWM state of a pin, `None` if it is not PWM.
    pub fn pwm_state(&self, pin: u32) -> Option<PwmState> {
        self.pins.get(pin as usize)?.pwm
    }

    /// The I2C memory's contents.
    pub fn memory(&self) -> &[u8; 256] {
        &self.memory
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
        if let Some(mask) = self.detecting.as_mut() {
            *mask = 0;
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
        p.pwm = None;
        p.adc = false;
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

    fn pwm(&mut self) -> Option<&mut dyn Pwm> {
        self.peripherals.then_some(self as &mut dyn Pwm)
    }

    fn adc(&mut self) -> Option<&mut dyn Adc> {
        self.peripherals.then_some(self as &mut dyn Adc)
    }

    fn thermometer(&mut self) -> Option<&mut dyn Thermometer> {
        self.peripherals.then_some(self as &mut dyn Thermometer)
    }

    fn i2c(&mut self) -> Option<&mut dyn I2c> {
        self.peripherals.then_some(self as &mut dyn I2c)
    }

    fn edge_detection(&mut self) -> Option<&mut dyn EdgeDetection> {
        match self.detecting {
            Some(_) => Some(self),
            None => None,
        }
    }
}

impl EdgeDetection for TestBoard {
    fn detect_edges(&mut self, pin: u32, on: bool) -> Result<(), BoardError> {
        let Some(mask) = self.detecting.as_mut() else {
            unreachable!("only offered with per-pin detection");
        };
        if on && core::mem::take(&mut self.fail_edges) {
            return Err(BoardError::Io("edge detection failed"));
        }
        match on {
            true => *mask |= 1 << pin,
            false => *mask &= !(1 << pin),
        }
        Ok(())
    }
}

impl Pwm for TestBoard {
    fn pwm_channel(&self, pin: u32) -> Option<PwmChannel> {
        pico::pwm_channel(pin)
    }

    fn start_pwm(&mut self, pin: u32, state: PwmState) -> Result<(), BoardError> {
        if self.fail_pwm {
            return Err(BoardError::Io("PWM failed on the test board"));
        }
        let p = self.pin_mut(pin)?;
        *p = Pin {
            external: p.external,
            pwm: Some(state),
            ..Pin::default()
        };
        self.record(Event::Pwm { pin, state });
        Ok(())
    }

    fn set_pwm(&mut self, pin: u32, state: PwmState) -> Result<(), BoardError> {
        if self.fail_pwm {
            return Err(BoardError::Io("PWM failed on the test board"));
        }
        let p = self.pin_mut(pin)?;
        match p.pwm {
            None => Err(BoardError::Io("pin is not PWM")),
            Some(old) if old == state => Ok(()),
            Some(_) => {
                p.pwm = Some(state);
                self.record(Event::Pwm { pin, state });
                Ok(())
            }
        }
    }
}

impl Adc for TestBoard {
    fn has_adc(&self, pin: u32) -> bool {
        pico::has_adc(pin)
    }

    fn start_adc(&mut self, pin: u32) -> Result<(), BoardError> {
        let p = self.pin_mut(pin)?;
        *p = Pin {
            external: p.external,
            volts: p.volts,
            adc: true,
            ..Pin::default()
        };
        self.record(Event::Adc { pin });
        Ok(())
    }

    fn read_adc(&mut self, pin: u32) -> Result<u16, BoardError> {
        let p = self.pin_mut(pin)?;
        if !p.adc {
            return Err(BoardError::Io("pin is not an ADC input"));
        }
        Ok(pico::raw_from_volts(p.volts))
    }
}

impl Thermometer for TestBoard {
    fn celsius(&mut self) -> Result<f32, BoardError> {
        Ok(self.celsius)
    }
}

impl TestBoard {
    fn device(&self, bus: u8, address: u8) -> Result<(), I2cError> {
        if self
            .buses
            .get(usize::from(bus))
            .copied()
            .flatten()
            .is_none()
        {
            return Err(I2cError::Bus(BoardError::Io("bus not configured")));
        }
        if self.fail_i2c {
            return Err(I2cError::Bus(BoardError::Io("arbitration lost")));
        }
        match address {
            MEMORY_ADDRESS => Ok(()),
            _ => Err(I2cError::NoAck),
        }
    }

    fn store(&mut self, data: &[u8]) {
        if let Some((&first, rest)) = data.split_first() {
            self.pointer = first;
            for &b in rest {
                self.memory[usize::from(self.pointer)] = b;
                self.pointer = self.pointer.wrapping_add(1);
            }
        }
    }

    fn load(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.memory[usize::from(self.pointer)];
            self.pointer = self.pointer.wrapping_add(1);
        }
    }
}

impl I2c for TestBoard {
    fn i2c_buses(&self) -> u8 {
        pico::I2C_BUSES
    }

    fn i2c_line(&self, bus: u8, pin: u32) -> Option<I2cLine> {
        pico::i2c_line(bus, pin)
    }

    fn configure_i2c(
        &mut self,
        bus: u8,
        sda: u32,
        scl: u32,
        frequency: u32,
    ) -> Result<(), BoardError> {
        for pin in [sda, scl] {
            let p = self.pin_mut(pin)?;
            *p = Pin {
                external: p.external,
                ..Pin::default()
            };
        }
        self.buses[usize::from(bus)] = Some((sda, scl));
        self.record(Event::I2cBus {
            bus,
            sda,
            scl,
            frequency,
        });
        Ok(())
    }

    fn i2c_write(&mut self, bus: u8, address: u8, data: &[u8]) -> Result<(), I2cError> {
        self.device(bus, address)?;
        self.store(data);
        Ok(())
    }

    fn i2c_read(&mut self, bus: u8, address: u8, buf: &mut [u8]) -> Result<(), I2cError> {
        self.device(bus, address)?;
        self.load(buf);
        Ok(())
    }

    fn i2c_transfer(
        &mut self,
        bus: u8,
        address: u8,
        data: &[u8],
        buf: &mut [u8],
    ) -> Result<(), I2cError> {
        self.device(bus, address)?;
        self.store(data);
        self.load(buf);
        Ok(())
    }
}

impl SimulatedInputs for TestBoard {
    fn set_input(&mut self, pin: u32, level: Level) {
        if let Some(p) = self.pins.get_mut(pin as usize) {
            p.external = Some(level);
            self.record(Event::Input { pin, level });
        }
    }

    fn set_volts(&mut self, pin: u32, volts: f32) {
        if let Some(p) = self.pins.get_mut(pin as usize) {
            p.volts = volts;
            self.record(Event::Volts { pin, volts });
        }
    }
}
