//! The RP2040 / Pico W implementation of the engine's `Board`.

use core::fmt::Write as _;
use core::sync::atomic::Ordering;

use embassy_rp::adc;
use embassy_rp::gpio::{AnyPin, Flex, Pull as RpPull};
use embassy_rp::Peri;
use piconet_engine::{
    pico, Board, BoardError, I2cError, I2cLine, Instant, Level, Mode, PinKind, Pull, PwmChannel,
    PwmState, SettingsStore, Thermometer, UpdateSlot,
};
use piconet_protocol::response::ObjectWriter;
use piconet_protocol::Full;

use crate::analog::{self, Analog};
use crate::i2c::Buses;
use crate::pwm::Slices as PwmSlices;
use crate::radio::{self, LED};
use crate::settings::PicoSettings;
use crate::update::{PicoSlot, NO_KEY};
use crate::{power, HEAP, HEAP_SIZE};

const NAME: &str = "Raspberry Pi Pico W (RP2040)";

/// What a GPIO is used as. Each variant holds (or stands for) the pin's
/// one handle: the board gets the handles of its usable pins once, from
/// `main`, and a pin changes use by dropping its old driver before the new
/// one takes a fresh copy of the handle (`AnyPin::steal`, the typed pins'
/// `steal`), so there is never more than one live driver per pin.
enum Slot {
    /// Not the board's (the CYW43's pins).
    Absent,
    /// Not in use (since boot, or since its I2C bus ended): function NULL,
    /// the pad at its reset state.
    Free(Peri<'static, AnyPin>),
    /// An input or output, or a PWM output (its bit in `PwmSlices`; the
    /// `Flex` still owns the pin while its function is PWM).
    Gpio(Flex<'static>),
    /// An ADC input.
    Adc(adc::Channel<'static>),
    /// SDA or SCL of this I2C bus (the bus's driver drives it).
    I2c(u8),
}

/// GPIO 0–29 and the peripherals the engine drives through them.
pub struct PicoBoard {
    slots: [Slot; 30],
    /// Bit n set: GPIO n is an output.
    outputs: u32,
    pwm: PwmSlices,
    analog: Analog,
    i2c: Buses,
    unique_id: [u8; 8],
    update: PicoSlot,
    settings: Option<PicoSettings>,
    running: Running,
}

/// The settings the board booted with (`get_info` reports them; what is
/// stored, possibly changed since, is `get_config`'s).
#[derive(Clone, Copy)]
pub struct Running {
    /// The WiFi network joined; `None`: none configured.
    pub ssid: Option<&'static str>,
    /// The TCP port served.
    pub port: u16,
    /// The board's name (`set_name`'s, else `piconet-XXXX`).
    pub name: &'static str,
}

/// The peripherals besides GPIO that the board owns.
pub struct Peripherals {
    /// The 8 PWM slices.
    pub pwm: PwmSlices,
    /// The ADC and the temperature sensor.
    pub analog: Analog,
    /// The I2C controllers.
    pub i2c: Buses,
}

impl PicoBoard {
    /// A board over the usable pins; `pins[n]` must be GPIO n (or `None`).
    pub fn new(
        pins: [Option<Peri<'static, AnyPin>>; 30],
        peripherals: Peripherals,
        unique_id: [u8; 8],
        update: PicoSlot,
        settings: Option<PicoSettings>,
        running: Running,
    ) -> Self {
        PicoBoard {
            slots: pins.map(|p| p.map_or(Slot::Absent, Slot::Free)),
            outputs: 0,
            pwm: peripherals.pwm,
            analog: peripherals.analog,
            i2c: peripherals.i2c,
            unique_id,
            update,
            settings,
            running,
        }
    }

    fn slot(&self, pin: u32) -> Result<&Slot, BoardError> {
        match self.slots.get(pin as usize) {
            None | Some(Slot::Absent) => Err(BoardError::Unsupported("this GPIO is not available")),
            Some(s) => Ok(s),
        }
    }

    /// Take `pin` out of its current use and return its handle, with the
    /// pin back at function NULL (not driven) where it was something
    /// else. An I2C pin ends its whole bus (the other pin is freed too).
    fn take(&mut self, pin: u32) -> Result<Peri<'static, AnyPin>, BoardError> {
        self.slot(pin)?;
        let i = pin as usize;
        let handle = match core::mem::replace(&mut self.slots[i], Slot::Absent) {
            Slot::Absent => return Err(BoardError::Unsupported("this GPIO is not available")),
            Slot::Free(p) => return Ok(p),
            Slot::Gpio(flex) => {
                // An input's edge interrupts end with its input use.
                crate::edges::disable(pin);
                self.pwm.stop(pin);
                drop(flex);
                self.outputs &= !(1 << pin);
                // SAFETY: the pin's only driver was just dropped.
                unsafe { AnyPin::steal(pin as u8) }
            }
            Slot::Adc(channel) => {
                drop(channel);
                // SAFETY: as above.
                unsafe { AnyPin::steal(pin as u8) }
            }
            Slot::I2c(bus) => {
                self.close_bus(bus);
                match core::mem::replace(&mut self.slots[i], Slot::Absent) {
                    Slot::Free(p) => p,
                    // SAFETY: the bus is closed, nothing drives the pin.
                    _ => unsafe { AnyPin::steal(pin as u8) },
                }
            }
        };
        Ok(handle)
    }

    /// End I2C `bus`: both its pins go back to function NULL, free.
    fn close_bus(&mut self, bus: u8) {
        if let Some((sda, scl)) = self.i2c.close(bus) {
            for pin in [sda, scl] {
                // SAFETY: the bus held the pins and its driver is gone.
                // Flex::new then its drop puts the pin at function NULL
                // with the pad at its reset state.
                drop(Flex::new(unsafe { AnyPin::steal(pin as u8) }));
                self.slots[pin as usize] = Slot::Free(unsafe { AnyPin::steal(pin as u8) });
            }
        }
    }

    /// `pin` as a `Flex`, made from whatever it was (a PWM pin stays PWM
    /// until the caller has set its SIO side up).
    fn gpio(&mut self, pin: u32) -> Result<&mut Flex<'static>, BoardError> {
        if !matches!(self.slot(pin)?, Slot::Gpio(_)) {
            let p = self.take(pin)?;
            self.slots[pin as usize] = Slot::Gpio(Flex::new(p));
        }
        match &mut self.slots[pin as usize] {
            Slot::Gpio(flex) => Ok(flex),
            _ => unreachable!("made above"),
        }
    }

    fn configured(&mut self, pin: u32) -> Result<&mut Flex<'static>, BoardError> {
        match self.slots.get_mut(pin as usize) {
            Some(Slot::Gpio(flex)) => Ok(flex),
            _ => Err(BoardError::Io("pin not configured")),
        }
    }
}

fn rp_level(level: Level) -> embassy_rp::gpio::Level {
    match level {
        Level::Low => embassy_rp::gpio::Level::Low,
        Level::High => embassy_rp::gpio::Level::High,
    }
}

fn level(high: bool) -> Level {
    if high {
        Level::High
    } else {
        Level::Low
    }
}

impl Board for PicoBoard {
    fn name(&self) -> &str {
        NAME
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
        let was_pwm = self.pwm.is_routed(pin);
        let flex = self.gpio(pin)?;
        flex.set_pull(match pull {
            Pull::None => RpPull::None,
            Pull::Up => RpPull::Up,
            Pull::Down => RpPull::Down,
        });
        match mode {
            Mode::Input => {
                flex.set_as_input();
                self.outputs &= !(1 << pin);
                crate::edges::enable(pin);
            }
            Mode::Output => {
                crate::edges::disable(pin);
                // The output register is set before the driver is enabled,
                // so the pin never glitches through the other level.
                if let Some(l) = initial {
                    flex.set_level(rp_level(l));
                }
                flex.set_as_output();
                self.outputs |= 1 << pin;
            }
        }
        // A PWM pin switches to SIO only now that SIO is set up, so it
        // goes from the waveform straight to the new mode.
        if was_pwm {
            self.pwm.stop(pin);
        }
        Ok(())
    }

    fn write(&mut self, pin: u32, l: Level) -> Result<(), BoardError> {
        if self.pwm.is_routed(pin) {
            return Err(BoardError::Io("this pin is a PWM output"));
        }
        self.configured(pin)?.set_level(rp_level(l));
        Ok(())
    }

    fn read(&mut self, pin: u32) -> Result<Level, BoardError> {
        if self.pwm.is_routed(pin) {
            return Err(BoardError::Io("this pin is a PWM output"));
        }
        let output = self.outputs & (1 << pin) != 0;
        let flex = self.configured(pin)?;
        // An output reads back its driven level (the SIO output register);
        // an input its pad.
        Ok(level(if output {
            flex.is_set_high()
        } else {
            flex.is_high()
        }))
    }

    fn set_status_led(&mut self, on: bool) {
        LED.signal(on);
    }

    fn reset(&mut self) {
        power::reset_now()
    }

    fn sleep(&mut self, ms: u32, deep: bool) {
        power::request_sleep(ms, deep);
    }

    fn write_info(&mut self, now: Instant, info: &mut ObjectWriter<'_>) -> Result<(), Full> {
        // Not HEAP.used(): embedded-alloc 0.7.0's TLSF `used` borrows its
        // RefCell twice and panics (rust-embedded/embedded-alloc#119, fixed
        // after 0.7.0). What is not free is in use (blocks'
        // headers included), so the two add up to heap_size as the
        // original's gc figures do.
        let free = HEAP.free() as u64;
        let used = HEAP_SIZE as u64 - free;
        // The original's names first, so its client finds them.
        info.uint("mem_free", free)?;
        info.uint("mem_alloc", used)?;
        info.uint("heap_size", HEAP_SIZE as u64)?;
        info.uint("uptime_ms", now.as_nanos() / 1_000_000)?;
        info.str(
            "firmware",
            concat!("piconet-firmware ", env!("CARGO_PKG_VERSION")),
        )?;
        let mut id = heapless::String::<16>::new();
        for b in self.unique_id {
            let _ = write!(id, "{b:02x}");
        }
        info.str("unique_id", &id)?;
        info.str("name", self.running.name)?;
        match radio::RSSI.load(Ordering::Relaxed) {
            0 => info.null("rssi_dbm")?,
            r => info.int("rssi_dbm", r.into())?,
        }
        match radio::IPV4.load(Ordering::Relaxed) {
            0 => info.null("ip")?,
            ip => {
                let [a, b, c, d] = ip.to_be_bytes();
                let mut s = heapless::String::<16>::new();
                let _ = write!(s, "{a}.{b}.{c}.{d}");
                info.str("ip", &s)?
            }
        }
        info.str("wifi", crate::wifi::status())?;
        info.uint("edges_lost", crate::edges::lost().into())?;
        info.bool("tls", crate::tls_configured())?;
        info.str("config", crate::config_source().as_str())?;
        match self.running.ssid {
            Some(ssid) => info.str("ssid", ssid)?,
            None => info.null("ssid")?,
        }
        info.uint("port", self.running.port.into())?;
        if self.update.has_key() {
            info.str("update_key", "built in")?;
        } else {
            info.str("update_key", NO_KEY)?;
        }
        Ok(())
    }

    // No real-time clock: time since boot.
    fn timestamp_ns(&self, now: Instant) -> u64 {
        now.as_nanos()
    }

    fn update_slot(&mut self) -> Option<&mut dyn UpdateSlot> {
        Some(&mut self.update)
    }

    fn settings(&mut self) -> Option<&mut dyn SettingsStore> {
        self.settings.as_mut().map(|s| s as &mut dyn SettingsStore)
    }
    fn simulated_inputs(&mut self) -> Option<&mut dyn piconet_engine::SimulatedInputs> {
        None
    }

    fn pwm(&mut self) -> Option<&mut dyn piconet_engine::Pwm> {
        Some(self)
    }

    fn adc(&mut self) -> Option<&mut dyn piconet_engine::Adc> {
        Some(self)
    }

    fn thermometer(&mut self) -> Option<&mut dyn Thermometer> {
        Some(self)
    }

    fn i2c(&mut self) -> Option<&mut dyn piconet_engine::I2c> {
        Some(self)
    }

    // Every input has its GPIO interrupt on (`edges::enable` in
    // `configure`); the engine passes on the watched pins' edges only.
    fn edge_detection(&mut self) -> Option<&mut dyn piconet_engine::EdgeDetection> {
        None
    }
}

impl piconet_engine::Pwm for PicoBoard {
    fn pwm_channel(&self, pin: u32) -> Option<PwmChannel> {
        matches!(pico::pin_kind(pin), PinKind::Usable)
            .then(|| pico::pwm_channel(pin))
            .flatten()
    }

    fn start_pwm(&mut self, pin: u32, state: PwmState) -> Result<(), BoardError> {
        if self.pwm.is_routed(pin) {
            return self.pwm.set(pin, state);
        }
        // The pin keeps driving what it drove (an output its level) until
        // its function switches to PWM; its SIO side is then made an
        // input without pull, so it is quiet when it leaves PWM again.
        self.gpio(pin)?;
        crate::edges::disable(pin);
        self.pwm.start(pin, state)?;
        let flex = self.gpio(pin)?;
        flex.set_as_input();
        flex.set_pull(RpPull::None);
        self.outputs &= !(1 << pin);
        Ok(())
    }

    fn set_pwm(&mut self, pin: u32, state: PwmState) -> Result<(), BoardError> {
        if !self.pwm.is_routed(pin) {
            return Err(BoardError::Io("this pin is not a PWM output"));
        }
        self.pwm.set(pin, state)
    }
}

impl piconet_engine::Adc for PicoBoard {
    fn has_adc(&self, pin: u32) -> bool {
        pico::has_adc(pin)
    }

    fn start_adc(&mut self, pin: u32) -> Result<(), BoardError> {
        if matches!(self.slot(pin)?, Slot::Adc(_)) {
            return Ok(());
        }
        if !pico::has_adc(pin) {
            return Err(BoardError::Io("this GPIO has no ADC input"));
        }
        // The handle is given up: the channel takes a fresh copy.
        self.take(pin)?;
        // SAFETY: the pin's handle was just taken from its slot and
        // given up; the channel is its only driver now.
        let channel = unsafe { analog::input(pin) }.expect("checked: an ADC pin");
        self.slots[pin as usize] = Slot::Adc(channel);
        Ok(())
    }

    fn read_adc(&mut self, pin: u32) -> Result<u16, BoardError> {
        match self.slots.get_mut(pin as usize) {
            Some(Slot::Adc(channel)) => self.analog.read(channel),
            _ => Err(BoardError::Io("this pin is not set up as an ADC input")),
        }
    }
}

impl Thermometer for PicoBoard {
    fn celsius(&mut self) -> Result<f32, BoardError> {
        self.analog.read_temperature().map(pico::celsius_from_raw)
    }
}

impl piconet_engine::I2c for PicoBoard {
    fn i2c_buses(&self) -> u8 {
        pico::I2C_BUSES
    }

    fn i2c_line(&self, bus: u8, pin: u32) -> Option<I2cLine> {
        matches!(pico::pin_kind(pin), PinKind::Usable)
            .then(|| pico::i2c_line(bus, pin))
            .flatten()
    }

    fn configure_i2c(
        &mut self,
        bus: u8,
        sda: u32,
        scl: u32,
        frequency: u32,
    ) -> Result<(), BoardError> {
        self.i2c.check(bus, sda, scl, frequency)?;
        // The bus's old pins go free (those it keeps are taken again
        // below), then the new pins are taken from whatever they were.
        self.close_bus(bus);
        for pin in [sda, scl] {
            // The handle is given up: the bus's driver takes a copy.
            self.take(pin)?;
            self.slots[pin as usize] = Slot::I2c(bus);
        }
        // SAFETY: both pins' handles were taken from their slots and
        // given up; the slots now say the bus holds them.
        let opened = unsafe { self.i2c.open(bus, sda, scl, frequency) };
        if opened.is_err() {
            for pin in [sda, scl] {
                self.slots[pin as usize] = Slot::Free(unsafe { AnyPin::steal(pin as u8) });
            }
        }
        opened
    }

    fn i2c_write(&mut self, bus: u8, address: u8, data: &[u8]) -> Result<(), I2cError> {
        self.i2c.transfer(bus, address, data, &mut [])
    }

    fn i2c_read(&mut self, bus: u8, address: u8, buf: &mut [u8]) -> Result<(), I2cError> {
        self.i2c.transfer(bus, address, &[], buf)
    }

    fn i2c_transfer(
        &mut self,
        bus: u8,
        address: u8,
        data: &[u8],
        buf: &mut [u8],
    ) -> Result<(), I2cError> {
        self.i2c.transfer(bus, address, data, buf)
    }
}
