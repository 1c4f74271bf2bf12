//! The RP2040's two I2C controllers as the engine's I2C buses.
//!
//! embassy-rp's async driver, run to completion from the (blocking) board
//! call with a deadline (`piconet_app_core::bounded`): its blocking calls
//! spin on the controller's status with no bound, so a device holding SCL
//! low would hang the firmware until the watchdog reset it. The deadline
//! is twice the transfer's bits at the bus clock plus 1 ms
//! (`piconet_app_core::i2c::deadline_us`); past it the transfer is
//! abandoned and the controller reset (a new driver: embassy-rp resets the
//! block when it makes one), so the next transfer starts clean.
//!
//! Before that new driver, the bus is recovered
//! (`piconet_app_core::i2c_recovery`): a device cut off mid-byte by the
//! timeout may be holding SDA low, which no reset of our controller frees.
//! The pins are taken from the controller as software open-drain lines,
//! SCL is clocked up to 9 times until SDA goes high, then a START and a
//! STOP; the same runs after a lost arbitration, which is what a held SDA
//! looks like to the controller.
//!
//! Any SDA pin of a bus works with any SCL pin of it; embassy-rp checks
//! that with its pin traits, so the pin numbers are matched to typed pins
//! here (the `open!` table).

use embassy_rp::gpio::{AnyPin, Level, OutputOpenDrain};
use embassy_rp::i2c::{self, AbortReason, Async, Config, I2c, Instance};
use embassy_rp::peripherals::{I2C0, I2C1};
use embassy_rp::Peri;
use embassy_time::{Duration, Instant};
use piconet_app_core::bounded::run_until;
use piconet_app_core::i2c_recovery::{recover, BusLines, Recovery};
use piconet_engine::{pico, BoardError, I2cError, I2cLine, PinKind};

use crate::Irqs;

/// TX_ABRT_SOURCE.ABRT_TXDATA_NOACK: the device took its address but
/// refused a data byte (embassy-rp reports it as `Other`).
const ABRT_TXDATA_NOACK: u32 = 1 << 3;

/// One set-up bus.
pub struct Bus<T: Instance + 'static> {
    driver: I2c<'static, T, Async>,
    /// Its SDA pin.
    pub sda: u32,
    /// Its SCL pin.
    pub scl: u32,
    frequency: u32,
}

/// Both controllers; `None` until `i2c_setup`.
pub struct Buses {
    /// I2C0.
    pub bus0: Option<Bus<I2C0>>,
    /// I2C1.
    pub bus1: Option<Bus<I2C1>>,
    // The controllers' handles: held so nothing else can take them; each
    // driver is made from a stolen copy, since a driver is remade after a
    // timeout and for every new pin pair.
    _owned: (Peri<'static, I2C0>, Peri<'static, I2C1>),
}

/// Make a driver for `$inst` on the typed pins matching `$sda`/`$scl`;
/// `None` when the pair is not in the table (not that bus's pins).
macro_rules! open {
    ($inst:ident, $sda:expr, $scl:expr, $cfg:expr;
     sda [$($sp:literal => $S:ident),*]; scl $scls:tt) => {
        match $sda {
            $($sp => open!(@scl $inst, $S, $scl, $cfg, $scls),)*
            _ => None,
        }
    };
    (@scl $inst:ident, $S:ident, $scl:expr, $cfg:expr, [$($cp:literal => $C:ident),*]) => {
        match $scl {
            $($cp => Some(I2c::new_async(
                // SAFETY: see `open0`.
                unsafe { embassy_rp::peripherals::$inst::steal() },
                unsafe { embassy_rp::peripherals::$C::steal() },
                unsafe { embassy_rp::peripherals::$S::steal() },
                Irqs,
                $cfg,
            )),)*
            _ => None,
        }
    };
}

/// An I2C0 driver on `sda`/`scl` (the Pico W's free I2C0 pins).
///
/// # Safety
/// The caller owns I2C0 and both pins, and no other driver of them is in
/// use (the previous driver of the bus, if any, is dropped or is never
/// used again).
unsafe fn open0(sda: u32, scl: u32, cfg: Config) -> Option<I2c<'static, I2C0, Async>> {
    open!(I2C0, sda, scl, cfg;
        sda [0 => PIN_0, 4 => PIN_4, 8 => PIN_8, 12 => PIN_12, 16 => PIN_16, 20 => PIN_20, 28 => PIN_28];
        scl [1 => PIN_1, 5 => PIN_5, 9 => PIN_9, 13 => PIN_13, 17 => PIN_17, 21 => PIN_21])
}

/// An I2C1 driver on `sda`/`scl`.
///
/// # Safety
/// As for [`open0`], for I2C1.
unsafe fn open1(sda: u32, scl: u32, cfg: Config) -> Option<I2c<'static, I2C1, Async>> {
    open!(I2C1, sda, scl, cfg;
        sda [2 => PIN_2, 6 => PIN_6, 10 => PIN_10, 14 => PIN_14, 18 => PIN_18, 22 => PIN_22, 26 => PIN_26];
        scl [3 => PIN_3, 7 => PIN_7, 11 => PIN_11, 15 => PIN_15, 19 => PIN_19, 27 => PIN_27])
}

fn config(frequency: u32) -> Config {
    let mut c = Config::default();
    c.frequency = frequency;
    // The pads' own pull-ups (50–80 kΩ) stay on, as embassy-rp's default:
    // enough for a short bus at 100 kHz without resistors; faster or
    // longer buses need external ones (which then dominate).
    c.sda_pullup = true;
    c.scl_pullup = true;
    c
}

/// The bus clocks embassy-rp accepts at the 125 MHz peripheral clock:
/// its driver panics (a watchdog reset here) on a clock it cannot make,
/// so the range is checked before a driver is made.
fn clock_ok(frequency: u32) -> bool {
    (piconet_protocol::action::i2c::MIN_I2C_FREQUENCY
        ..=piconet_protocol::action::i2c::MAX_I2C_FREQUENCY)
        .contains(&frequency)
        && piconet_app_core::i2c::clock_fits(embassy_rp::clocks::clk_peri_freq(), frequency)
}

impl Buses {
    /// No bus set up.
    pub fn new(i2c0: Peri<'static, I2C0>, i2c1: Peri<'static, I2C1>) -> Self {
        Buses {
            bus0: None,
            bus1: None,
            _owned: (i2c0, i2c1),
        }
    }

    /// The pins of `bus`, if it is set up.
    pub fn pins(&self, bus: u8) -> Option<(u32, u32)> {
        match bus {
            0 => self.bus0.as_ref().map(|b| (b.sda, b.scl)),
            1 => self.bus1.as_ref().map(|b| (b.sda, b.scl)),
            _ => None,
        }
    }

    /// Whether `frequency` and the pins can make `bus`, before anything is
    /// changed.
    pub fn check(&self, bus: u8, sda: u32, scl: u32, frequency: u32) -> Result<(), BoardError> {
        if !clock_ok(frequency) {
            return Err(BoardError::Io(
                "the RP2040's I2C cannot make this clock (10 kHz to 1 MHz)",
            ));
        }
        let line = |pin| {
            matches!(pico::pin_kind(pin), PinKind::Usable)
                .then(|| pico::i2c_line(bus, pin))
                .flatten()
        };
        if line(sda) != Some(I2cLine::Sda) || line(scl) != Some(I2cLine::Scl) {
            return Err(BoardError::Io(
                "these pins are not that I2C bus's SDA and SCL",
            ));
        }
        Ok(())
    }

    /// Set up `bus` on `sda`/`scl` at `frequency`, replacing its driver.
    ///
    /// # Safety
    /// The caller owns both pins and holds no other handle to them (it has
    /// freed them for the bus).
    pub unsafe fn open(
        &mut self,
        bus: u8,
        sda: u32,
        scl: u32,
        frequency: u32,
    ) -> Result<(), BoardError> {
        let bad = BoardError::Io("these pins are not that I2C bus's SDA and SCL");
        // SAFETY: the caller owns the pins; the bus's previous driver is
        // replaced (and with it never used again).
        unsafe {
            match bus {
                0 => {
                    let driver = open0(sda, scl, config(frequency)).ok_or(bad)?;
                    self.bus0 = Some(Bus {
                        driver,
                        sda,
                        scl,
                        frequency,
                    });
                }
                1 => {
                    let driver = open1(sda, scl, config(frequency)).ok_or(bad)?;
                    self.bus1 = Some(Bus {
                        driver,
                        sda,
                        scl,
                        frequency,
                    });
                }
                _ => return Err(BoardError::Io("no such I2C bus")),
            }
        }
        Ok(())
    }

    /// Forget `bus`'s driver (its pins are the caller's again). Returns
    /// its pins.
    pub fn close(&mut self, bus: u8) -> Option<(u32, u32)> {
        let pins = self.pins(bus);
        match bus {
            0 => self.bus0 = None,
            1 => self.bus1 = None,
            _ => {}
        }
        pins
    }

    /// Write `write` (may be empty) and then, after a repeated start, read
    /// into `read` (may be empty) from `address` on `bus`.
    pub fn transfer(
        &mut self,
        bus: u8,
        address: u8,
        write: &[u8],
        read: &mut [u8],
    ) -> Result<(), I2cError> {
        let not_set_up = I2cError::Bus(BoardError::Io("this I2C bus is not set up"));
        let outcome = match bus {
            0 => self
                .bus0
                .as_mut()
                .ok_or(not_set_up)?
                .transfer(address, write, read),
            1 => self
                .bus1
                .as_mut()
                .ok_or(not_set_up)?
                .transfer(address, write, read),
            _ => return Err(not_set_up),
        };
        let lost = Err(I2cError::Bus(BoardError::Io(ARBITRATION_LOST)));
        let timed_out = match outcome {
            Outcome::Done(r) if r != lost => return r,
            Outcome::Done(_) => false,
            Outcome::TimedOut => true,
        };
        let Some((sda, scl)) = self.pins(bus) else {
            return lost;
        };
        // SDA low with our controller stopped: a device holds it.
        let held = !sda_is_high(sda);
        if !timed_out && !held {
            return lost;
        }
        let frequency = match bus {
            0 => self.bus0.as_ref().map(|b| b.frequency),
            _ => self.bus1.as_ref().map(|b| b.frequency),
        }
        .unwrap_or(piconet_protocol::action::i2c::DEFAULT_I2C_FREQUENCY);
        // The driver goes (dropping it leaves the pins to whoever takes
        // them next), so a held bus can be clocked by hand; a fresh driver
        // then resets the controller, which drops whatever it was in the
        // middle of.
        self.close(bus);
        let recovery = if held {
            // SAFETY: the bus's own pins, whose driver was just dropped;
            // the lines are dropped before the new driver is made.
            unsafe { recover_pins(sda, scl, frequency) }
        } else {
            Recovery::NotNeeded
        };
        // SAFETY: as above; the bus's old driver is gone.
        let _ = unsafe { self.open(bus, sda, scl, frequency) };
        Err(I2cError::Bus(BoardError::Io(match recovery {
            Recovery::Freed { .. } => {
                "a device was holding SDA low: the bus was clocked free (bus recovery) and \
                 the controller reset; try again"
            }
            Recovery::SdaHeld => {
                "SDA stays low after 9 SCL clocks: a device is stuck (power-cycle it) or SDA \
                 is shorted to ground"
            }
            Recovery::SclHeld => {
                "SCL stays low: a device holds the clock, or SCL is shorted to ground"
            }
            Recovery::NotNeeded => {
                "the I2C transfer timed out (a device holding SCL low, or stretching the \
                 clock): the controller was reset"
            }
        })))
    }
}

const ARBITRATION_LOST: &str = "I2C arbitration lost: another controller, or noise on SDA/SCL";

/// The level on `pin` read from the pad (SIO GPIO_IN sees it whatever the
/// pin's function), without taking the pin.
fn sda_is_high(pin: u32) -> bool {
    embassy_rp::pac::SIO.gpio_in(0).read() & (1 << pin) != 0
}

/// SDA and SCL as software open-drain lines with the pads' pull-ups.
struct Lines {
    sda: OutputOpenDrain<'static>,
    scl: OutputOpenDrain<'static>,
    half_period: Duration,
}

impl BusLines for Lines {
    fn set_scl(&mut self, high: bool) {
        self.scl.set_level(Level::from(high));
    }
    fn set_sda(&mut self, high: bool) {
        self.sda.set_level(Level::from(high));
    }
    fn scl_is_high(&mut self) -> bool {
        self.scl.is_high()
    }
    fn sda_is_high(&mut self) -> bool {
        self.sda.is_high()
    }
    fn half_period(&mut self) {
        embassy_time::block_for(self.half_period);
    }
}

/// Free a bus a device holds (see the module doc), at about `frequency`.
/// Blocks for at most about 90 half periods (4.5 ms at 10 kHz).
///
/// # Safety
/// The caller owns both pins and no driver of them is in use.
unsafe fn recover_pins(sda: u32, scl: u32, frequency: u32) -> Recovery {
    let line = |pin: u32| {
        // SAFETY: the caller owns the pin.
        let mut l = OutputOpenDrain::new(unsafe { AnyPin::steal(pin as u8) }, Level::High);
        l.set_pullup(true);
        l
    };
    let mut lines = Lines {
        sda: line(sda),
        scl: line(scl),
        half_period: Duration::from_micros(u64::from((500_000 / frequency.max(1)).max(1))),
    };
    recover(&mut lines)
}

enum Outcome {
    Done(Result<(), I2cError>),
    TimedOut,
}

impl<T: Instance> Bus<T> {
    fn transfer(&mut self, address: u8, write: &[u8], read: &mut [u8]) -> Outcome {
        let budget = piconet_app_core::i2c::deadline_us(self.frequency, write.len(), read.len());
        let deadline = Instant::now() + Duration::from_micros(budget);
        let d = &mut self.driver;
        let addr = u16::from(address);
        let done = match (write.is_empty(), read.is_empty()) {
            (false, true) => run_until(deadline, d.write_async(addr, write.iter().copied())),
            (true, false) => run_until(deadline, d.read_async(addr, read)),
            (false, false) => run_until(
                deadline,
                d.write_read_async(addr, write.iter().copied(), read),
            ),
            (true, true) => Some(Ok(())),
        };
        match done {
            Some(r) => Outcome::Done(r.map_err(error)),
            None => Outcome::TimedOut,
        }
    }
}

fn error(e: i2c::Error) -> I2cError {
    match e {
        i2c::Error::Abort(AbortReason::NoAcknowledge) => I2cError::NoAck,
        i2c::Error::Abort(AbortReason::Other(bits)) if bits & ABRT_TXDATA_NOACK != 0 => {
            I2cError::NoAck
        }
        i2c::Error::Abort(AbortReason::ArbitrationLoss) => {
            I2cError::Bus(BoardError::Io(ARBITRATION_LOST))
        }
        i2c::Error::Abort(_) => {
            I2cError::Bus(BoardError::Io("the I2C controller aborted the transfer"))
        }
        _ => I2cError::Bus(BoardError::Io("the I2C driver refused the transfer")),
    }
}
