//! A simulated Raspberry Pi Pico W: the default board of the host daemon,
//! and the board of the tests and benchmarks.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use core::fmt;

use crate::eeprom::{Eeprom, EEPROM_ADDRESS};
use crate::sim_flash::SimFlash;
use piconet_engine::board::{
    Adc, Board, BoardError, I2c, I2cError, I2cLine, Level, Mode, PinKind, Pull, Pwm, PwmChannel,
    PwmState, SimulatedInputs, Thermometer,
};
use piconet_engine::pico::{self, GPIO_COUNT};
use piconet_engine::settings::{FlashSettings, SettingsStore};
use piconet_engine::update::UpdateSlot;
use piconet_engine::Instant;
use piconet_protocol::response::ObjectWriter;
use piconet_protocol::sink::Full;

/// Events kept by default; older ones are dropped (and counted) so a
/// long-running daemon's memory stays bounded.
pub const DEFAULT_LOG_CAPACITY: usize = 10_000;

/// The simulated thermometer's reading until [`SimBoard::set_celsius`].
pub const DEFAULT_CELSIUS: f32 = 27.0;

/// Something that happened to the simulated board.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    /// A pin started PWM, or its duty or frequency changed.
    Pwm {
        /// The pin.
        pin: u32,
        /// Its duty cycle now.
        duty: f32,
        /// Its frequency now, in Hz.
        frequency: u32,
    },
    /// A pin became an ADC input.
    Adc {
        /// The pin.
        pin: u32,
    },
    /// An ADC pin's voltage was changed by the test or user.
    Volts {
        /// The pin.
        pin: u32,
        /// The voltage now applied.
        volts: f32,
    },
    /// An I2C bus was set up.
    I2cBus {
        /// The bus.
        bus: u8,
        /// Its data pin.
        sda: u32,
        /// Its clock pin.
        scl: u32,
        /// Its clock, in Hz.
        frequency: u32,
    },
    /// A pin was configured.
    Configured {
        /// The pin.
        pin: u32,
        /// Its direction.
        mode: Mode,
        /// Its pull.
        pull: Pull,
    },
    /// An output changed level (writes of the same level are not changes).
    Level {
        /// The pin.
        pin: u32,
        /// The new level.
        level: Level,
    },
    /// An input's external level was changed by the test or user.
    Input {
        /// The pin.
        pin: u32,
        /// The level now applied from outside.
        level: Level,
    },
    /// The board reset (also at the end of a deep sleep).
    Reset,
    /// The board went to sleep.
    Sleep {
        /// Duration.
        ms: u32,
        /// Deep or light.
        deep: bool,
    },
}

/// An [`Event`] and when it happened on the board's clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stamped {
    /// When.
    pub at: Instant,
    /// What.
    pub event: Event,
}

#[derive(Clone, Copy, Debug, Default)]
struct SimPin {
    mode: Option<Mode>,
    pull: Pull,
    driven: Option<Level>,
    external: Option<Level>,
    /// Running PWM (then `mode` is `None`).
    pwm: Option<PwmState>,
    /// An ADC input (then `mode` is `None`).
    adc: bool,
    /// The voltage applied from outside (ADC pins).
    volts: f32,
}

type Clock = Box<dyn Fn() -> Instant + Send + Sync>;

/// An in-memory Pico W: same pin map, no hardware, a log of every change.
///
/// Undriven inputs read their pull (up: high, down or none: low) unless a
/// level was applied with [`SimBoard::set_input`].
///
/// ```
/// use piconet_engine::{Board, Level, Mode, Pull};
/// use piconet_sim::SimBoard;
/// let mut b = SimBoard::new();
/// b.configure(4, Mode::Input, Pull::Up, None).unwrap();
/// assert_eq!(b.read(4), Ok(Level::High));
/// b.set_input(4, Level::Low);
/// assert_eq!(b.read(4), Ok(Level::Low));
/// ```
pub struct SimBoard {
    pins: [SimPin; GPIO_COUNT as usize],
    clock: Clock,
    log: VecDeque<Stamped>,
    log_capacity: usize,
    dropped: u64,
    led: bool,
    resets: u32,
    epoch_ns: u64,
    flash: Option<SimFlash>,
    settings: Option<Box<SimSettings>>,
    celsius: f32,
    /// Each bus's pins once set up.
    buses: [Option<(u32, u32)>; 2],
    /// The 24C02 at 0x50 on each bus.
    eeproms: [Eeprom; 2],
}

/// The simulated settings flash: 8 KiB, as the Pico W's CONFIG region.
pub type SimSettings = FlashSettings<piconet_config::ram::RamFlash<2>>;

impl fmt::Debug for SimBoard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimBoard")
            .field("log_len", &self.log.len())
            .field("dropped", &self.dropped)
            .field("led", &self.led)
            .field("resets", &self.resets)
            .finish()
    }
}

impl Default for SimBoard {
    fn default() -> Self {
        Self::new()
    }
}

impl SimBoard {
    /// A board whose log stamps every event with `Instant::ZERO`; use
    /// [`SimBoard::with_clock`] to get real stamps.
    pub fn new() -> Self {
        Self::with_clock(|| Instant::ZERO)
    }

    /// A board stamping its log with `clock`.
    pub fn with_clock(clock: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        SimBoard {
            pins: [SimPin::default(); GPIO_COUNT as usize],
            clock: Box::new(clock),
            log: VecDeque::new(),
            log_capacity: DEFAULT_LOG_CAPACITY,
            dropped: 0,
            led: false,
            resets: 0,
            epoch_ns: 0,
            flash: None,
            settings: None,
            celsius: DEFAULT_CELSIUS,
            buses: [None; 2],
            eeproms: [Eeprom::new(), Eeprom::new()],
        }
    }

    /// What the thermometer reads from now on.
    pub fn set_celsius(&mut self, celsius: f32) {
        self.celsius = celsius;
    }

    /// The PWM state of a pin, `None` if it is not PWM.
    pub fn pwm_state(&self, pin: u32) -> Option<PwmState> {
        self.pins.get(pin as usize)?.pwm
    }

    /// Apply `volts` to ADC pin `pin` from outside.
    pub fn set_volts(&mut self, pin: u32, volts: f32) {
        if let Some(p) = self.pins.get_mut(pin as usize) {
            p.volts = volts;
            self.record(Event::Volts { pin, volts });
        }
    }

    /// The EEPROM on `bus` (0 or 1).
    pub fn eeprom(&self, bus: u8) -> Option<&Eeprom> {
        self.eeproms.get(usize::from(bus))
    }

    /// Give the board a settings store in simulated flash (8 KiB, erased),
    /// so the provisioning actions work as on a Pico W.
    pub fn with_settings(self) -> Self {
        let flash = piconet_config::ram::RamFlash::<2>::new();
        // Two whole pages from offset 0: always a valid region.
        let store = FlashSettings::new(flash, 0..2 * piconet_config::ram::PAGE as u32)
            .unwrap_or_else(|_| unreachable!("two aligned pages are a valid region"));
        self.with_settings_store(store)
    }

    /// Give the board this settings store (e.g. one reopened over the
    /// flash of an earlier board, to simulate a reboot).
    pub fn with_settings_store(mut self, store: SimSettings) -> Self {
        self.settings = Some(Box::new(store));
        self
    }

    /// Take the settings store back (its flash survives the board).
    pub fn take_settings(&mut self) -> Option<SimSettings> {
        self.settings.take().map(|b| *b)
    }

    /// Give the board flash with embassy-boot, so it can update itself:
    /// the update actions write its DFU partition and a reset runs the
    /// bootloader (see [`SimFlash`]).
    pub fn with_flash(mut self, flash: SimFlash) -> Self {
        self.flash = Some(flash);
        self
    }

    /// The simulated flash, if the board has one.
    pub fn flash(&self) -> Option<&SimFlash> {
        self.flash.as_ref()
    }

    /// The simulated flash, mutably (to cut the power in tests).
    pub fn flash_mut(&mut self) -> Option<&mut SimFlash> {
        self.flash.as_mut()
    }

    /// Report `time_received` as `epoch_ns + now`: the host daemon passes
    /// the UNIX time of its clock's origin so clients get wall-clock stamps
    /// as from the original server.
    pub fn with_epoch_ns(mut self, epoch_ns: u64) -> Self {
        self.epoch_ns = epoch_ns;
        self
    }

    /// Keep at most `capacity` events.
    pub fn with_log_capacity(mut self, capacity: usize) -> Self {
        self.log_capacity = capacity.max(1);
        self
    }

    /// The events kept, oldest first.
    pub fn log(&self) -> impl ExactSizeIterator<Item = &Stamped> {
        self.log.iter()
    }

    /// Events dropped because the log was full.
    pub fn dropped_events(&self) -> u64 {
        self.dropped
    }

    /// Forget the log.
    pub fn clear_log(&mut self) {
        self.log.clear();
    }

    /// The level a configured pin shows, `None` if it is not configured.
    pub fn level(&self, pin: u32) -> Option<Level> {
        let p = self.pins.get(pin as usize)?;
        match p.mode? {
            Mode::Output => p.driven,
            Mode::Input => Some(Self::input_level(p)),
        }
    }

    /// How a pin is configured.
    pub fn mode(&self, pin: u32) -> Option<Mode> {
        self.pins.get(pin as usize)?.mode
    }

    /// Apply a level from outside to `pin` (a button, a sensor).
    pub fn set_input(&mut self, pin: u32, level: Level) {
        if let Some(p) = self.pins.get_mut(pin as usize) {
            p.external = Some(level);
            self.record(Event::Input { pin, level });
        }
    }

    /// Whether the status LED is lit.
    pub fn led(&self) -> bool {
        self.led
    }

    /// How many times the board reset.
    pub fn resets(&self) -> u32 {
        self.resets
    }

    fn input_level(p: &SimPin) -> Level {
        p.external.unwrap_or(match p.pull {
            Pull::Up => Level::High,
            Pull::Down | Pull::None => Level::Low,
        })
    }

    fn record(&mut self, event: Event) {
        if self.log.len() == self.log_capacity {
            self.log.pop_front();
            self.dropped += 1;
        }
        let at = (self.clock)();
        self.log.push_back(Stamped { at, event });
    }

    fn pin_mut(&mut self, pin: u32) -> Result<&mut SimPin, BoardError> {
        self.pins
            .get_mut(pin as usize)
            .ok_or(BoardError::Io("no such pin on the simulated board"))
    }

    fn power_on(&mut self) {
        for p in &mut self.pins {
            // Outside levels stay: they are wired to the board, not part of it.
            *p = SimPin {
                external: p.external,
                volts: p.volts,
                ..SimPin::default()
            };
        }
        // The EEPROMs keep their contents: they are wired to the board.
        self.buses = [None; 2];
        self.led = false;
        self.resets += 1;
        if let Some(flash) = &mut self.flash {
            flash.reboot();
        }
        self.record(Event::Reset);
    }
}

impl Board for SimBoard {
    fn name(&self) -> &str {
        "Simulated Raspberry Pi Pico W with RP2040"
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

    fn set_status_led(&mut self, on: bool) {
        self.led = on;
    }

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
        self.epoch_ns.saturating_add(now.as_nanos())
    }

    fn write_info(&mut self, now: Instant, info: &mut ObjectWriter<'_>) -> Result<(), Full> {
        info.bool("simulated", true)?;
        info.uint("uptime_ms", now.as_nanos() / 1_000_000)?;
        info.uint("resets", self.resets.into())?;
        info.uint("pin_events", self.log.len() as u64 + self.dropped)
    }

    fn update_slot(&mut self) -> Option<&mut dyn UpdateSlot> {
        self.flash.as_mut().map(|f| f as &mut dyn UpdateSlot)
    }

    fn settings(&mut self) -> Option<&mut dyn SettingsStore> {
        self.settings
            .as_deref_mut()
            .map(|s| s as &mut dyn SettingsStore)
    }

    fn simulated_inputs(&mut self) -> Option<&mut dyn SimulatedInputs> {
        Some(self)
    }

    fn pwm(&mut self) -> Option<&mut dyn Pwm> {
        Some(self)
    }

    fn adc(&mut self) -> Option<&mut dyn Adc> {
        Some(self)
    }

    fn thermometer(&mut self) -> Option<&mut dyn Thermometer> {
        Some(self)
    }

    fn i2c(&mut self) -> Option<&mut dyn I2c> {
        Some(self)
    }

    // Its edges come from `sim_input`, detected on every input.
    fn edge_detection(&mut self) -> Option<&mut dyn piconet_engine::EdgeDetection> {
        None
    }
}

impl SimulatedInputs for SimBoard {
    fn set_input(&mut self, pin: u32, level: Level) {
        SimBoard::set_input(self, pin, level);
    }

    fn set_volts(&mut self, pin: u32, volts: f32) {
        SimBoard::set_volts(self, pin, volts);
    }
}

/// The RP2040's PWM: every GPIO has a channel (slice and output as on the
/// chip); changes are logged, the waveform is not simulated.
impl Pwm for SimBoard {
    fn pwm_channel(&self, pin: u32) -> Option<PwmChannel> {
        pico::pwm_channel(pin)
    }

    fn start_pwm(&mut self, pin: u32, state: PwmState) -> Result<(), BoardError> {
        let p = self.pin_mut(pin)?;
        *p = SimPin {
            external: p.external,
            volts: p.volts,
            pwm: Some(state),
            ..SimPin::default()
        };
        self.record(Event::Pwm {
            pin,
            duty: state.duty,
            frequency: state.frequency,
        });
        Ok(())
    }

    fn set_pwm(&mut self, pin: u32, state: PwmState) -> Result<(), BoardError> {
        let p = self.pin_mut(pin)?;
        match p.pwm {
            None => Err(BoardError::Io("pin is not a PWM output")),
            Some(old) if old == state => Ok(()),
            Some(_) => {
                p.pwm = Some(state);
                self.record(Event::Pwm {
                    pin,
                    duty: state.duty,
                    frequency: state.frequency,
                });
                Ok(())
            }
        }
    }
}

/// The RP2040's ADC on GPIO 26–28: a conversion of the voltage set with
/// `sim_input` (0 V until then).
impl Adc for SimBoard {
    fn has_adc(&self, pin: u32) -> bool {
        pico::has_adc(pin)
    }

    fn start_adc(&mut self, pin: u32) -> Result<(), BoardError> {
        let p = self.pin_mut(pin)?;
        *p = SimPin {
            external: p.external,
            volts: p.volts,
            adc: true,
            ..SimPin::default()
        };
        self.record(Event::Adc { pin });
        Ok(())
    }

    fn read_adc(&mut self, pin: u32) -> Result<u16, BoardError> {
        let p = self.pin_mut(pin)?;
        if !p.adc {
            return Err(BoardError::Io("pin is not an ADC input"));
        }
        // Rounded to the nearest step; above the reference it saturates.
        Ok(pico::raw_from_volts(p.volts))
    }
}

impl Thermometer for SimBoard {
    fn celsius(&mut self) -> Result<f32, BoardError> {
        Ok(self.celsius)
    }
}

impl SimBoard {
    fn eeprom_at(&mut self, bus: u8, address: u8) -> Result<&mut Eeprom, I2cError> {
        if self
            .buses
            .get(usize::from(bus))
            .copied()
            .flatten()
            .is_none()
        {
            return Err(I2cError::Bus(BoardError::Io("the bus is not set up")));
        }
        match address {
            EEPROM_ADDRESS => Ok(&mut self.eeproms[usize::from(bus)]),
            _ => Err(I2cError::NoAck),
        }
    }
}

/// Both RP2040 buses with the chip's pin functions, each with a 24C02 at
/// 0x50 and nothing else.
impl I2c for SimBoard {
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
            *p = SimPin {
                external: p.external,
                volts: p.volts,
                ..SimPin::default()
            };
        }
        let slot = self
            .buses
            .get_mut(usize::from(bus))
            .ok_or(BoardError::Io("no such I2C bus on the simulated board"))?;
        *slot = Some((sda, scl));
        self.record(Event::I2cBus {
            bus,
            sda,
            scl,
            frequency,
        });
        Ok(())
    }

    fn i2c_write(&mut self, bus: u8, address: u8, data: &[u8]) -> Result<(), I2cError> {
        self.eeprom_at(bus, address)?.write(data);
        Ok(())
    }

    fn i2c_read(&mut self, bus: u8, address: u8, buf: &mut [u8]) -> Result<(), I2cError> {
        self.eeprom_at(bus, address)?.read(buf);
        Ok(())
    }

    fn i2c_transfer(
        &mut self,
        bus: u8,
        address: u8,
        data: &[u8],
        buf: &mut [u8],
    ) -> Result<(), I2cError> {
        let eeprom = self.eeprom_at(bus, address)?;
        eeprom.write(data);
        eeprom.read(buf);
        Ok(())
    }
}
