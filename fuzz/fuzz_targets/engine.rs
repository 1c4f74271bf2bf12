//! Any lines, including valid commands mutated by the fuzzer, through the
//! parser and the engine on a simulated Pico W: never a panic, exactly one
//! response line per command, and the response is valid UTF-8 JSON-looking
//! text ending in one newline. The WiFi pins are never touched.
#![no_main]

use libfuzzer_sys::fuzz_target;
use piconet_engine::{Config, Engine, Instant, SimBoard};

fuzz_target!(|data: &[u8]| {
    let mut engine = Engine::new(SimBoard::new(), Config::default());
    let mut now = Instant::ZERO;
    for line in data.split(|&b| b == b'\n') {
        let mut out = Vec::new();
        engine.handle(now, line, &mut out);
        assert!(out.ends_with(b"\n"));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        assert!(out.starts_with(b"{"));
        assert!(core::str::from_utf8(&out).is_ok());
        now = Instant::from_nanos(now.as_nanos() + 250_000_000);
        engine.poll(now);
        if let Some(d) = engine.next_deadline() {
            assert!(d > now);
        }
    }
    for stamped in engine.board().log() {
        if let piconet_engine::sim::Event::Level { pin, .. }
        | piconet_engine::sim::Event::Configured { pin, .. } = stamped.event
        {
            assert!(!matches!(pin, 23 | 24 | 25 | 29));
        }
    }
});
