//! The two event lines (`edge`, `overflow`) as bytes, exactly as
//! `ObjectWriter` would write them (`{"event": "edge", "pin": 6, ...}\n`),
//! built in a small buffer and given to the sink in one write.
//!
//! Why not `ObjectWriter`: an event line is on the board's hottest path
//! (edge to the line on the wire, issue 15), and the general writer checks
//! every key for escapes, copies each member through its own 80-byte
//! buffer and calls the sink five to seven times through a `dyn`. The keys
//! here are constants, and numbers that fit 32 bits are formatted with
//! 32-bit arithmetic: a 64-bit division is a long library call on the
//! RP2040 (Cortex-M0+), and a `time_us` needs 64 bits only after 71 minutes
//! of uptime.

use piconet_protocol::sink::{Full, Sink};

use crate::board::Level;

/// The longest line: an edge with a 3-digit pin and 20-digit `time_us` and `seq` is 104 B.
const MAX_LINE: usize = 112;

struct Line {
    buf: [u8; MAX_LINE],
    len: usize,
}

impl Line {
    fn new(start: &[u8]) -> Self {
        let mut line = Line {
            buf: [0; MAX_LINE],
            len: 0,
        };
        line.text(start);
        line
    }

    fn text(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn uint(&mut self, v: u64) {
        let mut digits = itoa::Buffer::new();
        let s = match u32::try_from(v) {
            Ok(v) => digits.format(v),
            Err(_) => digits.format(v),
        };
        self.text(s.as_bytes());
    }

    fn finish(mut self, out: &mut dyn Sink) -> Result<(), Full> {
        self.text(b"}\n");
        out.extend(&self.buf[..self.len])
    }
}

/// `{"event": "edge", "pin": P, "value": V, "time_us": T, "seq": S}\n`.
pub(crate) fn write_edge(
    out: &mut dyn Sink,
    pin: u8,
    level: Level,
    time_us: u64,
    seq: u64,
) -> Result<(), Full> {
    let mut line = Line::new(b"{\"event\": \"edge\", \"pin\": ");
    line.uint(pin.into());
    line.text(match level {
        Level::Low => b", \"value\": 0, \"time_us\": ",
        Level::High => b", \"value\": 1, \"time_us\": ",
    });
    line.uint(time_us);
    line.text(b", \"seq\": ");
    line.uint(seq);
    line.finish(out)
}

/// `{"event": "overflow", "dropped": D, "seq": S}\n`.
pub(crate) fn write_overflow(out: &mut dyn Sink, dropped: u64, seq: u64) -> Result<(), Full> {
    let mut line = Line::new(b"{\"event\": \"overflow\", \"dropped\": ");
    line.uint(dropped);
    line.text(b", \"seq\": ");
    line.uint(seq);
    line.finish(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use piconet_protocol::response::ObjectWriter;
    use std::vec::Vec;

    /// The lines as the general writer writes them.
    fn general_edge(pin: u8, level: Level, time_us: u64, seq: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = ObjectWriter::open(&mut out).unwrap();
        w.str("event", "edge").unwrap();
        w.uint("pin", pin.into()).unwrap();
        w.uint("value", level.as_u8().into()).unwrap();
        w.uint("time_us", time_us).unwrap();
        w.uint("seq", seq).unwrap();
        w.close().unwrap();
        out.extend_from_slice(b"\n");
        out
    }

    fn general_overflow(dropped: u64, seq: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = ObjectWriter::open(&mut out).unwrap();
        w.str("event", "overflow").unwrap();
        w.uint("dropped", dropped).unwrap();
        w.uint("seq", seq).unwrap();
        w.close().unwrap();
        out.extend_from_slice(b"\n");
        out
    }

    const NUMBERS: [u64; 8] = [
        0,
        1,
        9_999,
        81_234_567,
        u32::MAX as u64,
        u32::MAX as u64 + 1,
        1 << 52,
        u64::MAX,
    ];

    #[test]
    fn the_same_bytes_as_the_general_writer() {
        for &(pin, level) in &[
            (0, Level::Low),
            (6, Level::High),
            (29, Level::Low),
            (255, Level::High),
        ] {
            for &t in &NUMBERS {
                for &seq in &NUMBERS {
                    let mut out = Vec::new();
                    write_edge(&mut out, pin, level, t, seq).unwrap();
                    assert_eq!(out, general_edge(pin, level, t, seq));
                    let mut out = Vec::new();
                    write_overflow(&mut out, t, seq).unwrap();
                    assert_eq!(out, general_overflow(t, seq));
                }
            }
        }
    }

    #[test]
    fn a_line_that_does_not_fit_writes_nothing() {
        let mut out: heapless::Vec<u8, 64> = heapless::Vec::new();
        out.extend_from_slice(b"xx").unwrap();
        assert_eq!(
            write_edge(&mut out, 6, Level::High, u64::MAX, u64::MAX),
            Err(Full)
        );
        assert_eq!(out.as_slice(), b"xx");
    }
}
