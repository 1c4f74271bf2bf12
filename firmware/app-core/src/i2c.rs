//! How long an I2C transaction may take before it counts as hung.
//!
//! The engine is locked while the board runs a transfer, so the lease
//! timer and every other client wait for it: a transfer gets a deadline
//! from its own bytes and bus clock, and is abandoned when it passes.

/// SCL periods on the wire for a transaction that writes `write` bytes
/// and then (with a repeated start) reads `read` bytes; either may be 0.
/// Each part is a start, the address byte and its acknowledge (10), 9
/// clocks per byte; one stop ends it.
pub fn bits(write: usize, read: usize) -> u64 {
    let part = |n: usize| if n == 0 { 0 } else { 10 + 9 * n as u64 };
    part(write) + part(read) + 1
}

/// Fixed allowance on top of the bits' time: the driver's own work per
/// byte and interrupt latency (USB, radio) while it polls.
pub const SLACK_US: u64 = 1_000;

/// How long a transaction may take at `hz` before it is abandoned as hung
/// (a device stretching the clock forever, SDA or SCL held low): twice its
/// bits' time, so a device may stretch the clock by as long again as the
/// bytes themselves take, plus [`SLACK_US`]. The longest, 256 bytes each
/// way at 10 kHz, is about 0.93 s.
pub fn deadline_us(hz: u32, write: usize, read: usize) -> u64 {
    let hz = u64::from(hz.max(1));
    (bits(write, read) * 2 * 1_000_000).div_ceil(hz) + SLACK_US
}

/// Whether the RP2040's I2C controller can make an SCL of `hz` from a
/// `clk_hz` peripheral clock: the high and low counts (40 % / 60 % of the
/// period) within 8..=65535 and the SDA hold time (300 ns, 120 ns in
/// Fast-mode Plus) shorter than the low count, as embassy-rp requires. Its
/// driver panics on a clock that fails this, so the board checks first.
pub fn clock_fits(clk_hz: u32, hz: u32) -> bool {
    if hz == 0 || hz > 1_000_000 {
        return false;
    }
    let period = (clk_hz + hz / 2) / hz;
    let low = period * 3 / 5;
    let high = period - low;
    if !(8..=0xffff).contains(&low) || !(8..=0xffff).contains(&high) {
        return false;
    }
    let hold = if hz < 1_000_000 {
        (u64::from(clk_hz) * 3 / 10_000_000) as u32 + 1
    } else if clk_hz > 32_000_000 {
        (u64::from(clk_hz) * 3 / 25_000_000) as u32 + 1
    } else {
        return false;
    };
    hold <= low - 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_follows_the_bytes() {
        assert_eq!(bits(1, 0), 20);
        assert_eq!(bits(0, 2), 29);
        assert_eq!(bits(1, 4), 19 + 46 + 1);
        // One byte at 100 kHz: 20 bits = 200 µs, twice that plus the slack.
        assert_eq!(deadline_us(100_000, 1, 0), 400 + SLACK_US);
        // 256 bytes at 1 MHz stay within a few ms; at 10 kHz under a second.
        assert_eq!(
            deadline_us(1_000_000, 256, 0),
            2 * (10 + 9 * 256 + 1) + SLACK_US
        );
        let worst = deadline_us(10_000, 256, 256);
        assert!((900_000..1_000_000).contains(&worst), "{worst}");
        // Monotonic in the bytes.
        assert!(deadline_us(400_000, 10, 0) < deadline_us(400_000, 11, 0));
    }

    #[test]
    fn the_protocol_clock_range_fits_the_125_mhz_peripheral_clock() {
        for hz in [10_000, 50_000, 100_000, 400_000, 999_999, 1_000_000] {
            assert!(clock_fits(125_000_000, hz), "{hz}");
        }
        assert!(!clock_fits(125_000_000, 1_000_001));
        assert!(!clock_fits(125_000_000, 0));
        // Too slow a clock for the counts' 16 bits, too fast for 8 counts.
        assert!(!clock_fits(125_000_000, 1_000));
        assert!(!clock_fits(12_000_000, 1_000_000));
    }
}
