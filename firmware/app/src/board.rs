//! The RP2040 / Pico W implementation of the engine's `Board`.

use core::fmt::Write as _;
use core::sync::atomic::Ordering;

use embassy_rp::gpio::{AnyPin, Flex, Pull as RpPull};
use embassy_rp::Peri;
use piconet_engine::{
    pico, Board, BoardError, Instant, Level, Mode, PinKind, Pull, SettingsStore, UpdateSlot,
};
use piconet_protocol::response::ObjectWriter;
use piconet_protocol::Full;

use crate::radio::{self, LED};
use crate::settings::PicoSettings;
use crate::update::{PicoSlot, NO_KEY};
use crate::{power, HEAP, HEAP_SIZE};

const NAME: &str = "Raspberry Pi Pico W (RP2040)";

/// GPIO 0–29: the pins as peripherals until a client configures them, then
/// as `Flex` drivers. The CYW43's pins (23, 24, 25, 29) are never here.
pub struct PicoBoard {
    unused: [Option<Peri<'static, AnyPin>>; 30],
    pins: [Option<Flex<'static>>; 30],
    /// Bit n set: GPIO n is an output.
    outputs: u32,
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
}

impl PicoBoard {
    /// A board over the usable pins; `pins[n]` must be GPIO n (or `None`).
    pub fn new(
        unused: [Option<Peri<'static, AnyPin>>; 30],
        unique_id: [u8; 8],
        update: PicoSlot,
        settings: Option<PicoSettings>,
        running: Running,
    ) -> Self {
        PicoBoard {
            unused,
            pins: [const { None }; 30],
            outputs: 0,
            unique_id,
            update,
            settings,
            running,
        }
    }

    fn flex(&mut self, pin: u32) -> Result<&mut Flex<'static>, BoardError> {
        let i = pin as usize;
        if i >= 30 {
            return Err(BoardError::Io("no such GPIO"));
        }
        if self.pins[i].is_none() {
            let p = self.unused[i]
                .take()
                .ok_or(BoardError::Unsupported("this GPIO is not available"))?;
            self.pins[i] = Some(Flex::new(p));
        }
        Ok(self.pins[i].as_mut().unwrap())
    }

    fn configured(&mut self, pin: u32) -> Result<&mut Flex<'static>, BoardError> {
        self.pins
            .get_mut(pin as usize)
            .and_then(Option::as_mut)
            .ok_or(BoardError::Io("pin not configured"))
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
        let flex = self.flex(pin)?;
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
        Ok(())
    }

    fn write(&mut self, pin: u32, l: Level) -> Result<(), BoardError> {
        self.configured(pin)?.set_level(rp_level(l));
        Ok(())
    }

    fn read(&mut self, pin: u32) -> Result<Level, BoardError> {
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
        let used = HEAP.used() as u64;
        let free = HEAP.free() as u64;
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
    // Temporary (issue 16, firmware side under way): until the RP2040's
    // PWM slices, ADC and I2C are wired up here, the engine refuses these
    // actions with an OSError naming what the board lacks, and
    // `list_actions` leaves them out.
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
}
