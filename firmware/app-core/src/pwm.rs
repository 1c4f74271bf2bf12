//! The RP2040's PWM slice arithmetic, without the HAL: the divider and
//! wrap value for a frequency and the compare value for a duty cycle.
//!
//! A slice counts system clocks divided by an 8.4 fixed-point divider from
//! 0 to its wrap value (TOP) and starts again; each of its two channels is
//! high while the counter is below its compare value (RP2040 datasheet,
//! 4.5.2). Which slice a pin drives is the engine's
//! `piconet_engine::pico::pwm_channel`.

/// PWM slices on the RP2040.
pub const SLICES: usize = 8;

/// The largest wrap value (TOP) of a slice counter.
const MAX_TOP: u32 = 0xffff;
/// The divider range in sixteenths (8.4 fixed point): 1.0 to 255 + 15/16.
const MIN_DIV16: u32 = 16;
const MAX_DIV16: u32 = 0xfff;

/// A slice's counter setup for one frequency: the clock divider and the
/// wrap value (the period is `(top + 1) * div16 / 16` system clocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// The clock divider in sixteenths (16 = 1.0, the finest resolution).
    pub div16: u16,
    /// The counter's wrap value: the duty resolution is `top + 1` steps.
    pub top: u16,
}

impl Timing {
    /// The setup for `hz` from a `clk_hz` system clock: the smallest
    /// divider whose period still fits the 16-bit counter, so the duty
    /// cycle gets the most steps. `None` when `hz` is outside what the
    /// slice can make (above `clk_hz / 2`, or below `clk_hz / 2^24`:
    /// about 7.5 Hz at 125 MHz).
    pub fn for_frequency(clk_hz: u32, hz: u32) -> Option<Timing> {
        if hz == 0 {
            return None;
        }
        // Period in sixteenths of a system clock.
        let period16 = u64::from(clk_hz) * 16 / u64::from(hz);
        let div16 = period16
            .div_ceil(u64::from(MAX_TOP) + 1)
            .max(u64::from(MIN_DIV16));
        if div16 > u64::from(MAX_DIV16) {
            return None;
        }
        // Rounded to the nearest count, so the frequency made is the
        // closest this divider allows.
        let counts = (period16 + div16 / 2) / div16;
        if !(2..=u64::from(MAX_TOP) + 1).contains(&counts) {
            return None;
        }
        Some(Timing {
            div16: div16 as u16,
            top: (counts - 1) as u16,
        })
    }

    /// The frequency this setup makes from a `clk_hz` system clock.
    pub fn frequency(&self, clk_hz: u32) -> f64 {
        f64::from(clk_hz) * 16.0 / (f64::from(self.top) + 1.0) / f64::from(self.div16)
    }

    /// The compare value for `duty` (0.0–1.0, clamped): the output is high
    /// while the counter is below it, so 0 is always low and `top + 1`
    /// always high.
    pub fn compare(&self, duty: f32) -> u16 {
        let steps = u32::from(self.top) + 1;
        let duty = if duty.is_nan() {
            0.0
        } else {
            duty.clamp(0.0, 1.0)
        };
        // Rounded to the nearest step; `top + 1` (= 65536 at most) is
        // clamped to 65535 only when top is 65535, where 65535/65536 is
        // the closest the 16-bit compare gets to "always high".
        let c = (duty * steps as f32 + 0.5) as u32;
        c.min(steps).min(0xffff) as u16
    }
}

/// What a slice's registers should hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registers {
    /// DIV, in sixteenths.
    pub div16: u16,
    /// TOP.
    pub top: u16,
    /// CC: channel A's and B's compare values.
    pub compare: [u16; 2],
    /// CSR.EN: whether the slice counts.
    pub enable: bool,
}

/// The registers of a stopped slice (the reset values, disabled).
pub const STOPPED: Registers = Registers {
    div16: MIN_DIV16 as u16,
    top: MAX_TOP as u16,
    compare: [0, 0],
    enable: false,
};

/// One slice as the pins using it ask for it: its frequency, each
/// channel's duty, and which GPIOs are routed to it (GPIO n and n + 16
/// share a channel, so two pins may use one).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Slice {
    timing: Option<Timing>,
    frequency: u32,
    duty: [f32; 2],
    pins: u32,
}

impl Slice {
    /// No pin, stopped.
    pub const IDLE: Slice = Slice {
        timing: None,
        frequency: 0,
        duty: [0.0; 2],
        pins: 0,
    };

    /// Run `output` (0 = A, 1 = B) at `duty`, the slice at `hz`, and
    /// return the registers for that. A new frequency keeps the other
    /// channel's duty (its compare is recomputed for the new wrap).
    /// `None` when the slice cannot make `hz` from `clk_hz`; then nothing
    /// changed.
    pub fn set(&mut self, clk_hz: u32, output: usize, duty: f32, hz: u32) -> Option<Registers> {
        let timing = match self.timing {
            Some(t) if self.frequency == hz => t,
            _ => Timing::for_frequency(clk_hz, hz)?,
        };
        self.timing = Some(timing);
        self.frequency = hz;
        self.duty[output & 1] = duty;
        Some(self.registers())
    }

    /// GPIO `pin` is routed to this slice now.
    pub fn join(&mut self, pin: u32) {
        self.pins |= 1 << pin;
    }

    /// Whether GPIO `pin` is routed to this slice.
    pub fn has(&self, pin: u32) -> bool {
        self.pins & (1 << pin) != 0
    }

    /// GPIO `pin` leaves: its channel goes low unless the channel's other
    /// pin still uses it, and the slice stops once no pin does. Returns
    /// the registers for that.
    pub fn leave(&mut self, pin: u32) -> Registers {
        self.pins &= !(1 << pin);
        let output = (pin % 2) as usize;
        let same_channel = (1u32 << (pin % 16)) | (1u32 << (pin % 16 + 16));
        if self.pins & same_channel == 0 {
            self.duty[output] = 0.0;
        }
        if self.pins == 0 {
            *self = Slice::IDLE;
        }
        self.registers()
    }

    /// The registers for the slice as it is now.
    pub fn registers(&self) -> Registers {
        match self.timing {
            Some(t) => Registers {
                div16: t.div16,
                top: t.top,
                compare: [t.compare(self.duty[0]), t.compare(self.duty[1])],
                enable: true,
            },
            None => STOPPED,
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    const CLK: u32 = 125_000_000;

    #[test]
    fn the_protocol_range_fits_within_a_tenth_of_a_percent() {
        for hz in [
            10, 11, 50, 333, 1000, 20_000, 25_000, 100_000, 333_333, 1_000_000,
        ] {
            let t = Timing::for_frequency(CLK, hz).unwrap();
            let made = t.frequency(CLK);
            let err = (made - f64::from(hz)).abs() / f64::from(hz);
            assert!(err < 1e-3, "{hz} Hz made as {made} ({t:?})");
            assert!(
                (MIN_DIV16..=MAX_DIV16).contains(&u32::from(t.div16)),
                "{t:?}"
            );
        }
        // The finest resolution where the counter allows it.
        assert_eq!(
            Timing::for_frequency(CLK, 1000),
            Some(Timing {
                div16: 31,
                top: 64515
            })
        );
        assert_eq!(
            Timing::for_frequency(CLK, 1_000_000),
            Some(Timing {
                div16: 16,
                top: 124
            })
        );
        assert_eq!(
            Timing::for_frequency(CLK, 10),
            Some(Timing {
                div16: 3052,
                top: 65530
            })
        );
    }

    #[test]
    fn frequencies_the_slice_cannot_make_are_refused() {
        assert_eq!(Timing::for_frequency(CLK, 0), None);
        assert_eq!(Timing::for_frequency(CLK, 7), None);
        assert_eq!(Timing::for_frequency(CLK, CLK), None);
        assert!(Timing::for_frequency(CLK, CLK / 2).is_some());
    }

    #[test]
    fn duty_maps_to_compare_with_both_ends_exact() {
        let t = Timing {
            div16: 16,
            top: 124,
        };
        assert_eq!(t.compare(0.0), 0);
        assert_eq!(t.compare(1.0), 125, "top + 1: always high");
        assert_eq!(t.compare(0.5), 63);
        assert_eq!(t.compare(0.25), 31);
        assert_eq!(t.compare(f32::NAN), 0);
        assert_eq!(t.compare(2.0), 125);
        let wide = Timing {
            div16: 16,
            top: 0xffff,
        };
        assert_eq!(wide.compare(1.0), 0xffff);
    }

    #[test]
    fn a_slice_runs_while_a_pin_uses_it() {
        let mut s = Slice::IDLE;
        assert_eq!(s.registers(), STOPPED);
        let r = s.set(CLK, 0, 0.25, 1000).unwrap();
        s.join(14);
        assert_eq!(
            r,
            Registers {
                div16: 31,
                top: 64515,
                compare: [16129, 0],
                enable: true
            }
        );
        // The second channel at the same frequency keeps the first's.
        let r = s.set(CLK, 1, 0.5, 1000).unwrap();
        s.join(15);
        assert_eq!(r.compare, [16129, 32258]);
        // A frequency the slice cannot make changes nothing.
        assert_eq!(s.set(CLK, 1, 0.5, 1), None);
        assert_eq!(s.registers(), r);
        // Leaving: that channel goes low, the other keeps running.
        let r = s.leave(15);
        assert_eq!((r.compare, r.enable), ([16129, 0], true));
        assert!(s.has(14) && !s.has(15));
        // The last pin leaving stops the slice.
        assert_eq!(s.leave(14), STOPPED);
        assert_eq!(s, Slice::IDLE);
    }

    #[test]
    fn a_new_frequency_recomputes_both_compares() {
        let mut s = Slice::IDLE;
        s.set(CLK, 0, 0.5, 1000).unwrap();
        s.join(0);
        s.set(CLK, 1, 0.25, 1000).unwrap();
        s.join(1);
        // The engine moved both pins to 1 MHz (they agreed): wrap 124.
        let r = s.set(CLK, 0, 0.5, 1_000_000).unwrap();
        assert_eq!((r.div16, r.top), (16, 124));
        assert_eq!(r.compare, [63, 31]);
    }

    #[test]
    fn two_pins_of_one_channel_keep_it_until_both_left() {
        let mut s = Slice::IDLE;
        s.set(CLK, 0, 0.5, 1000).unwrap();
        s.join(0);
        s.join(16);
        // GPIO 16 leaves; GPIO 0 still shows channel A's waveform.
        let r = s.leave(16);
        assert!(r.enable && r.compare[0] > 0, "{r:?}");
        assert_eq!(s.leave(0), STOPPED);
    }
}
