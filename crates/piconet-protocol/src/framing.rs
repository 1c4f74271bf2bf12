//! Splitting a byte stream into command lines.
//!
//! The original server framed by "this read() ended with a newline", which
//! merges or splits commands depending on how TCP segments fall. This
//! decoder splits on `\n` whatever the chunking and keeps the remainder.

use crate::sink::Sink;

/// What the decoder found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// One command line, without its `\n` or `\r\n`.
    Line(&'a [u8]),
    /// A line exceeded the limit. Reported once per over-long line; the
    /// decoder then drops bytes up to the next `\n`.
    TooLong,
    /// An empty line: the client has no more commands. The original
    /// client ends its last command with `\n\n`.
    End,
}

/// Storage for a partial line: a `heapless::Vec` on the firmware, a `Vec`
/// on hosts (which then grows only as far as the longest line seen).
pub trait LineStorage: Sink + AsRef<[u8]> {}
impl<T: Sink + AsRef<[u8]>> LineStorage for T {}

/// Incremental line splitter.
///
/// Lines that arrive whole inside one chunk are returned as slices of that
/// chunk without copying; only a line cut by a chunk boundary is copied
/// into the storage.
///
/// ```
/// use piconet_protocol::framing::{Frame, LineDecoder};
/// let mut dec = LineDecoder::new(heapless::Vec::<u8, 64>::new(), 64);
/// let mut lines = Vec::new();
/// for chunk in [&b"{\"a\":"[..], b"1}\n{\"b\":2}\n\n"] {
///     let mut input = chunk;
///     while let Some(frame) = dec.decode(&mut input) {
///         lines.push(match frame {
///             Frame::Line(l) => String::from_utf8(l.to_vec()).unwrap(),
///             Frame::TooLong => "too long".into(),
///             Frame::End => "end".into(),
///         });
///     }
/// }
/// assert_eq!(lines, ["{\"a\":1}", "{\"b\":2}", "end"]);
/// ```
pub struct LineDecoder<S> {
    buf: S,
    max_len: usize,
    /// Dropping the rest of an over-long line.
    skipping: bool,
    /// The storage holds a line already handed out.
    stale: bool,
}

#[cfg(feature = "alloc")]
impl LineDecoder<alloc::vec::Vec<u8>> {
    /// Give back memory a long line made the storage grow, keeping at
    /// least `min` bytes (and what an unfinished line holds).
    pub fn shrink_to(&mut self, min: usize) {
        if self.stale {
            self.buf.clear();
            self.stale = false;
        }
        self.buf.shrink_to(min);
    }
}

impl<S: LineStorage> LineDecoder<S> {
    /// A decoder refusing lines longer than `max_len` bytes (not counting
    /// the line ending). The storage should hold `max_len + 1` bytes; if it
    /// holds less, its capacity is the effective limit.
    pub fn new(storage: S, max_len: usize) -> Self {
        LineDecoder {
            buf: storage,
            max_len,
            skipping: false,
            stale: false,
        }
    }

    /// The line length limit.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Bytes of an unfinished line held back, waiting for its newline.
    pub fn pending(&self) -> usize {
        if self.stale {
            0
        } else {
            self.buf.len()
        }
    }

    /// True between the first byte of a line and its newline, also while
    /// an over-long line is being skipped: the transport's line timeout
    /// runs while this holds.
    pub fn is_mid_line(&self) -> bool {
        self.skipping || self.pending() > 0
    }

    /// Consume bytes from `input` up to and including the next complete
    /// frame and return it, or consume all of `input` and return `None`
    /// when it holds no complete frame. Call until `None` for each chunk.
    // Inlined into the transports' read loops: as a call it costs every
    // command ~35 instructions (bench/callgrind.sh).
    #[inline(always)]
    pub fn decode<'r, 'i: 'r>(&'r mut self, input: &mut &'i [u8]) -> Option<Frame<'r>> {
        if self.stale {
            self.buf.truncate(0);
            self.stale = false;
        }
        loop {
            if input.is_empty() {
                return None;
            }
            let Some(nl) = memchr::memchr(b'\n', input) else {
                let rest = core::mem::take(input);
                if self.skipping {
                    return None;
                }
                // One byte of slack: a '\r' may yet turn out to end the line.
                let fits = self.buf.len() + rest.len() <= self.max_len + 1;
                if fits && self.buf.extend(rest).is_ok() {
                    return None;
                }
                self.buf.truncate(0);
                self.skipping = true;
                return Some(Frame::TooLong);
            };
            let line = &input[..nl];
            *input = &input[nl + 1..];
            if self.skipping {
                self.skipping = false;
                continue;
            }
            if self.buf.is_empty() {
                return Some(self.frame_of(line));
            }
            let fits = self.buf.len() + line.len() <= self.max_len + 1;
            if !fits || self.buf.extend(line).is_err() {
                self.buf.truncate(0);
                return Some(Frame::TooLong);
            }
            self.stale = true;
            let max = self.max_len;
            return Some(classify(self.buf.as_ref(), max));
        }
    }

    fn frame_of<'r>(&self, line: &'r [u8]) -> Frame<'r> {
        classify(line, self.max_len)
    }
}

fn classify(line: &[u8], max_len: usize) -> Frame<'_> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > max_len {
        Frame::TooLong
    } else if line.is_empty() {
        Frame::End
    } else {
        Frame::Line(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "alloc")]
    #[test]
    fn shrinking_keeps_the_unfinished_line() {
        let mut d = LineDecoder::new(std::vec::Vec::new(), 100_000);
        let long = std::vec![b'x'; 50_000];
        let mut input = &long[..];
        assert!(d.decode(&mut input).is_none());
        let mut input = &b"\n{\"a\""[..];
        assert!(matches!(d.decode(&mut input), Some(Frame::Line(l)) if l.len() == 50_000));
        assert!(d.decode(&mut input).is_none());
        d.shrink_to(64);
        assert!(d.buf.capacity() < 1_000);
        let mut input = &b":1}\n"[..];
        assert!(matches!(
            d.decode(&mut input),
            Some(Frame::Line(b"{\"a\":1}"))
        ));
    }
    use proptest::prelude::*;
    use std::vec::Vec;

    #[derive(Debug, PartialEq, Eq, Clone)]
    enum Owned {
        Line(Vec<u8>),
        TooLong,
        End,
    }

    fn run(chunks: &[&[u8]], max: usize) -> Vec<Owned> {
        let mut dec = LineDecoder::new(heapless::Vec::<u8, 256>::new(), max);
        let mut out = Vec::new();
        for chunk in chunks {
            let mut input = *chunk;
            while let Some(f) = dec.decode(&mut input) {
                out.push(match f {
                    Frame::Line(l) => Owned::Line(l.to_vec()),
                    Frame::TooLong => Owned::TooLong,
                    Frame::End => Owned::End,
                });
            }
            assert!(input.is_empty());
        }
        out
    }

    fn line(s: &str) -> Owned {
        Owned::Line(s.as_bytes().to_vec())
    }

    #[test]
    fn splits_and_joins() {
        assert_eq!(
            run(&[b"ab\ncd\r\n", b"e", b"f\n\n"], 16),
            [line("ab"), line("cd"), line("ef"), Owned::End]
        );
        assert_eq!(run(&[b"ab"], 16), []);
    }

    #[test]
    fn crlf_split_across_chunks() {
        assert_eq!(run(&[b"ab\r", b"\n"], 2), [line("ab")]);
        assert_eq!(run(&[b"\r", b"\n"], 2), [Owned::End]);
    }

    #[test]
    fn over_long_line_gives_one_error_and_resyncs() {
        assert_eq!(
            run(&[b"0123456789", b"abcdef", b"ghi\nok\n"], 8),
            [Owned::TooLong, line("ok")]
        );
        assert_eq!(run(&[b"0123456789\nok\n"], 8), [Owned::TooLong, line("ok")]);
        assert_eq!(
            run(&[b"0123", b"456789\nok\n"], 8),
            [Owned::TooLong, line("ok")]
        );
        // Exactly at the limit is fine, with or without '\r'.
        assert_eq!(run(&[b"01234567\r\n"], 8), [line("01234567")]);
        assert_eq!(run(&[b"0123", b"4567\r", b"\n"], 8), [line("01234567")]);
        assert_eq!(run(&[b"0123", b"45678\r", b"\n"], 8), [Owned::TooLong]);
    }

    #[test]
    fn small_storage_is_the_effective_limit() {
        let mut dec = LineDecoder::new(heapless::Vec::<u8, 4>::new(), 100);
        let mut a: &[u8] = b"abcdef";
        assert_eq!(dec.decode(&mut a), Some(Frame::TooLong));
        assert!(dec.is_mid_line(), "skipping counts as mid-line");
        let mut b: &[u8] = b"g\nxy";
        assert_eq!(dec.decode(&mut b), None);
        assert!(dec.is_mid_line());
        let mut c: &[u8] = b"z\n";
        assert_eq!(dec.decode(&mut c), Some(Frame::Line(b"xyz")));
        assert_eq!(dec.decode(&mut c), None);
        assert!(!dec.is_mid_line());
    }

    fn reference(stream: &[u8], max: usize) -> Vec<Owned> {
        // Split the whole stream at once: the meaning chunking must keep.
        let mut out = Vec::new();
        let mut parts: Vec<&[u8]> = stream.split(|&b| b == b'\n').collect();
        let tail = parts.pop().unwrap_or_default();
        for p in parts {
            let p = p.strip_suffix(b"\r").unwrap_or(p);
            out.push(if p.len() > max {
                Owned::TooLong
            } else if p.is_empty() {
                Owned::End
            } else {
                Owned::Line(p.to_vec())
            });
        }
        // An unfinished line is reported as soon as it cannot fit, even
        // with a '\r' still to strip.
        if tail.len() > max + 1 {
            out.push(Owned::TooLong);
        }
        out
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_same_frames(
            stream in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'{'), Just(b'a'), any::<u8>()], 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..20),
            max in 1usize..40,
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(stream.len())).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut prev = 0;
            for c in cuts.into_iter().chain([stream.len()]) {
                chunks.push(&stream[prev..c]);
                prev = c;
            }
            prop_assert_eq!(run(&chunks, max), reference(&stream, max));
        }
    }
}
