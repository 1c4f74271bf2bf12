//! Freeing an I2C bus that a device holds.
//!
//! A device cut off in the middle of a byte it was sending (the controller
//! reset after a timeout, or the board reset mid-read) keeps driving the
//! bit it was at; when that bit is 0 it holds SDA low, and no controller
//! can start a transaction until it lets go. The I2C specification's
//! answer (UM10204, "bus clear") is to clock SCL until the device has
//! shifted out the rest of its byte and SDA goes high (at most 9 clocks:
//! 8 data bits and the acknowledge), then end with a STOP. Here the end is
//! a START followed by a STOP: the START resets every device's state
//! machine wherever it was, the STOP leaves the bus idle.
//!
//! The lines are driven open-drain by software ([`BusLines`]), so the
//! same code runs on the RP2040's pads and on a simulated device in the
//! host tests.

/// The two lines of a bus, each released (pulled up, `true`) or driven
/// low (`false`), and read back.
pub trait BusLines {
    /// Release SCL (`true`) or drive it low.
    fn set_scl(&mut self, high: bool);
    /// Release SDA (`true`) or drive it low.
    fn set_sda(&mut self, high: bool);
    /// The level on SCL (low while anyone drives it).
    fn scl_is_high(&mut self) -> bool;
    /// The level on SDA (low while anyone drives it).
    fn sda_is_high(&mut self) -> bool;
    /// Wait half an SCL period.
    fn half_period(&mut self);
}

/// The most SCL clocks sent: a device gives up SDA after at most the rest
/// of its byte and the acknowledge bit.
pub const MAX_CLOCKS: u8 = 9;

/// How many half periods a released SCL may stay low (a device stretching
/// the clock) before the bus counts as held by SCL.
pub const SCL_STRETCH_HALF_PERIODS: u8 = 4;

/// What [`recover`] found and did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// Both lines were high: the bus was free, nothing was sent.
    NotNeeded,
    /// SDA went high after `clocks` SCL clocks; a START and a STOP were
    /// sent, the bus is idle.
    Freed {
        /// SCL clocks it took (1 to [`MAX_CLOCKS`]).
        clocks: u8,
    },
    /// SDA was still low after [`MAX_CLOCKS`] clocks: something holds it
    /// for good (a device that is stuck, or a short to ground).
    SdaHeld,
    /// SCL stayed low while released: a device stretches the clock for
    /// good, or SCL is shorted to ground. Clocking cannot help.
    SclHeld,
}

/// Release SCL and wait for it to go high, allowing a device to stretch
/// the clock for [`SCL_STRETCH_HALF_PERIODS`].
fn release_scl(lines: &mut impl BusLines) -> bool {
    lines.set_scl(true);
    for _ in 0..SCL_STRETCH_HALF_PERIODS {
        lines.half_period();
        if lines.scl_is_high() {
            return true;
        }
    }
    false
}

/// Free the bus if a device holds SDA low: up to [`MAX_CLOCKS`] clocks on
/// SCL, then START and STOP. Leaves both lines released. Bounded: at most
/// about 2 × ([`MAX_CLOCKS`] + 2) × [`SCL_STRETCH_HALF_PERIODS`] half
/// periods.
pub fn recover(lines: &mut impl BusLines) -> Recovery {
    lines.set_sda(true);
    if !release_scl(lines) {
        return Recovery::SclHeld;
    }
    if lines.sda_is_high() {
        return Recovery::NotNeeded;
    }
    let mut clocks = 0;
    while clocks < MAX_CLOCKS {
        // The device shifts its next bit out on the falling edge.
        lines.set_scl(false);
        lines.half_period();
        clocks += 1;
        if !release_scl(lines) {
            return Recovery::SclHeld;
        }
        if lines.sda_is_high() {
            break;
        }
    }
    if !lines.sda_is_high() {
        return Recovery::SdaHeld;
    }
    // SCL is high and SDA free: SDA falling is a START, which resets the
    // devices; SDA rising with SCL high after one more clock is the STOP.
    lines.set_sda(false);
    lines.half_period();
    lines.set_scl(false);
    lines.half_period();
    if !release_scl(lines) {
        return Recovery::SclHeld;
    }
    lines.set_sda(true);
    lines.half_period();
    Recovery::Freed { clocks }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// What the simulated device saw on the wire.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Wire {
        Start,
        Stop,
    }

    /// A bus with one device that was sending `bits` (MSB first, `false`
    /// = 0, which holds SDA low) when its controller stopped clocking. It
    /// moves to its next bit on each SCL falling edge and lets SDA go once
    /// the bits are out (the controller does not acknowledge). A START
    /// resets it to idle (SDA released). `scl_stuck`: SCL shorted low.
    struct Bus {
        bits: Vec<bool>,
        at: usize,
        idle: bool,
        scl: bool,
        sda: bool,
        scl_stuck: bool,
        wire: Vec<Wire>,
        half_periods: u32,
    }

    impl Bus {
        fn sending(bits: &[bool]) -> Self {
            Bus {
                bits: bits.to_vec(),
                at: 0,
                idle: bits.is_empty(),
                scl: true,
                sda: true,
                scl_stuck: false,
                wire: Vec::new(),
                half_periods: 0,
            }
        }

        /// The device's SDA: low while it is sending a 0.
        fn device_sda(&self) -> bool {
            self.idle || self.bits.get(self.at).copied().unwrap_or(true)
        }

        fn scl_level(&self) -> bool {
            self.scl && !self.scl_stuck
        }

        fn sda_level(&self) -> bool {
            self.sda && self.device_sda()
        }
    }

    impl BusLines for Bus {
        fn set_scl(&mut self, high: bool) {
            let was = self.scl_level();
            self.scl = high;
            if was && !self.scl_level() && !self.idle {
                self.at += 1;
                if self.at >= self.bits.len() {
                    self.idle = true;
                }
            }
        }
        fn set_sda(&mut self, high: bool) {
            let was = self.sda_level();
            self.sda = high;
            let now = self.sda_level();
            if self.scl_level() && was && !now {
                self.wire.push(Wire::Start);
                self.idle = true;
            }
            if self.scl_level() && !was && now {
                self.wire.push(Wire::Stop);
            }
        }
        fn scl_is_high(&mut self) -> bool {
            self.scl_level()
        }
        fn sda_is_high(&mut self) -> bool {
            self.sda_level()
        }
        fn half_period(&mut self) {
            self.half_periods += 1;
        }
    }

    fn ends_idle(bus: &Bus) {
        assert!(bus.scl_level() && bus.sda_level(), "both lines released");
        assert_eq!(bus.wire, [Wire::Start, Wire::Stop]);
    }

    #[test]
    fn a_free_bus_is_left_alone() {
        let mut bus = Bus::sending(&[]);
        assert_eq!(recover(&mut bus), Recovery::NotNeeded);
        assert!(bus.wire.is_empty());
        // A device sending a 1 does not hold the bus either.
        let mut bus = Bus::sending(&[true, false]);
        assert_eq!(recover(&mut bus), Recovery::NotNeeded);
        assert!(bus.wire.is_empty());
    }

    #[test]
    fn a_device_cut_off_mid_byte_is_clocked_out_then_start_and_stop() {
        // Three 0 bits left, then its acknowledge slot.
        let mut bus = Bus::sending(&[false, false, false]);
        assert_eq!(recover(&mut bus), Recovery::Freed { clocks: 3 });
        ends_idle(&bus);
        // A 1 bit ends it early: the START resets the device wherever it
        // was in its byte.
        let mut bus = Bus::sending(&[false, true, false, false]);
        assert_eq!(recover(&mut bus), Recovery::Freed { clocks: 1 });
        ends_idle(&bus);
        assert!(bus.idle);
    }

    #[test]
    fn nine_clocks_free_the_worst_case_and_no_more_are_sent() {
        // Eight 0 data bits and an acknowledge-slot 0: the longest a
        // device can hold SDA.
        let mut bus = Bus::sending(&[false; 9]);
        assert_eq!(recover(&mut bus), Recovery::Freed { clocks: 9 });
        ends_idle(&bus);
        // Held longer than any device may: given up after 9 clocks, the
        // lines released.
        let mut bus = Bus::sending(&[false; 20]);
        assert_eq!(recover(&mut bus), Recovery::SdaHeld);
        assert_eq!(bus.at, 9);
        assert!(bus.wire.is_empty());
        assert!(bus.scl_level() && bus.sda);
    }

    #[test]
    fn scl_held_low_is_reported_and_the_time_is_bounded() {
        let mut bus = Bus::sending(&[false; 4]);
        bus.scl_stuck = true;
        assert_eq!(recover(&mut bus), Recovery::SclHeld);
        assert_eq!(bus.half_periods, u32::from(SCL_STRETCH_HALF_PERIODS));
        // The worst case: 9 clocks, SCL stretched to the limit each time.
        let mut bus = Bus::sending(&[false; 20]);
        recover(&mut bus);
        let bound = 2 * (u32::from(MAX_CLOCKS) + 2) * u32::from(SCL_STRETCH_HALF_PERIODS);
        assert!(bus.half_periods <= bound, "{}", bus.half_periods);
    }
}
