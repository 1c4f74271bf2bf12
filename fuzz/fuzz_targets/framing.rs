//! The line decoder against a one-shot reference split, for any bytes cut
//! into any chunks: same frames, never a panic, storage never past its limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use piconet_protocol::framing::{Frame, LineDecoder};

const MAX: usize = 64;

fuzz_target!(|data: &[u8]| {
    let Some((&cut_seed, stream)) = data.split_first() else {
        return;
    };
    let mut dec = LineDecoder::new(heapless::Vec::<u8, { MAX + 1 }>::new(), MAX);
    let mut got: Vec<Option<Vec<u8>>> = Vec::new();
    let step = usize::from(cut_seed % 17) + 1;
    for chunk in stream.chunks(step) {
        let mut input = chunk;
        while let Some(frame) = dec.decode(&mut input) {
            got.push(match frame {
                Frame::Line(l) => {
                    assert!(l.len() <= MAX);
                    Some(l.to_vec())
                }
                Frame::TooLong => None,
                Frame::End => Some(Vec::new()),
            });
        }
        assert!(dec.pending() <= MAX + 1);
    }
    let mut want: Vec<Option<Vec<u8>>> = Vec::new();
    let mut parts: Vec<&[u8]> = stream.split(|&b| b == b'\n').collect();
    let tail = parts.pop().unwrap_or_default();
    for p in parts {
        let p = p.strip_suffix(b"\r").unwrap_or(p);
        want.push((p.len() <= MAX).then(|| p.to_vec()));
    }
    if tail.len() > MAX + 1 {
        want.push(None);
    }
    assert_eq!(got, want);
});
