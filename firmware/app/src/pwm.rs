//! The RP2040's 8 PWM slices as PWM outputs for the engine.
//!
//! Each slice is one embassy-rp `Pwm` made with `new_free` at boot and
//! never dropped: its counter, divider, wrap and both compare values are
//! set through `Pwm::set_config`. A pin is connected to its slice by
//! switching the pin's function to PWM (IO_BANK0 GPIOn_CTRL.FUNCSEL = 4)
//! while its `Flex` keeps owning it. embassy-rp can only attach pins when
//! a `Pwm` is created, and creating one stops the slice and clears its
//! counter, which would cut short the period of the slice's other channel
//! each time a pin joins or leaves; routing the pin alone leaves a
//! running channel untouched. Compare and wrap values are double-buffered
//! by the hardware (taken at the next wrap), so a duty change never
//! produces a runt pulse; a frequency change rewrites the divider at once.

use embassy_rp::pac;
use embassy_rp::pwm::{Config, Pwm};
use piconet_app_core::pwm::{Registers, Slice, SLICES};
use piconet_engine::{pico, BoardError, PwmState};

/// IO_BANK0 function numbers (RP2040 datasheet 2.19.2).
const FUNC_PWM: u8 = 4;
const FUNC_SIO: u8 = 5;

/// The PWM slices and which pins they drive.
pub struct Slices {
    hw: [Pwm<'static>; SLICES],
    slices: [Slice; SLICES],
    /// Bit n set: GPIO n's function is PWM.
    routed: u32,
}

impl Slices {
    /// The slices, made with `Pwm::new_free` (disabled) for slice 0..7 in
    /// order.
    pub fn new(hw: [Pwm<'static>; SLICES]) -> Self {
        Slices {
            hw,
            slices: [Slice::IDLE; SLICES],
            routed: 0,
        }
    }

    /// Whether GPIO `pin` is a PWM output now.
    pub fn is_routed(&self, pin: u32) -> bool {
        pin < 32 && self.routed & (1 << pin) != 0
    }

    /// Run `pin`'s channel at `state`, then switch `pin`'s function to
    /// PWM (the caller owns the pin), so its first period already has the
    /// asked duty.
    pub fn start(&mut self, pin: u32, state: PwmState) -> Result<(), BoardError> {
        self.set(pin, state)?;
        let (slice, _) = channel(pin)?;
        self.slices[slice].join(pin);
        self.routed |= 1 << pin;
        pac::IO_BANK0
            .gpio(pin as usize)
            .ctrl()
            .modify(|w| w.set_funcsel(FUNC_PWM));
        Ok(())
    }

    /// Change the duty and frequency of `pin`'s channel. The engine keeps
    /// the pins of one slice at one frequency, so a new frequency here
    /// moves only pins that already agreed to it.
    pub fn set(&mut self, pin: u32, state: PwmState) -> Result<(), BoardError> {
        let (slice, output) = channel(pin)?;
        let clk = embassy_rp::clocks::clk_sys_freq();
        let regs = self.slices[slice]
            .set(clk, output, state.duty, state.frequency)
            .ok_or(BoardError::Io(
                "this PWM frequency is outside what the RP2040's slice can make",
            ))?;
        self.write(slice, regs);
        Ok(())
    }

    /// `pin` stops being PWM: its function goes back to SIO (the caller
    /// has set its `Flex` up first, so it changes straight to that), its
    /// channel goes low, and a slice no pin uses any more stops.
    pub fn stop(&mut self, pin: u32) {
        if !self.is_routed(pin) {
            return;
        }
        pac::IO_BANK0
            .gpio(pin as usize)
            .ctrl()
            .modify(|w| w.set_funcsel(FUNC_SIO));
        self.routed &= !(1 << pin);
        if let Ok((slice, _)) = channel(pin) {
            let regs = self.slices[slice].leave(pin);
            self.write(slice, regs);
        }
    }

    fn write(&mut self, slice: usize, r: Registers) {
        let mut c = Config::default();
        c.divider = fixed::FixedU16::from_bits(r.div16);
        c.top = r.top;
        c.compare_a = r.compare[0];
        c.compare_b = r.compare[1];
        c.enable = r.enable;
        self.hw[slice].set_config(&c);
    }
}

/// `pin`'s slice and output (0 = A, 1 = B).
fn channel(pin: u32) -> Result<(usize, usize), BoardError> {
    let c = pico::pwm_channel(pin).ok_or(BoardError::Io("this GPIO has no PWM channel"))?;
    Ok((c.slice.into(), c.output.into()))
}
