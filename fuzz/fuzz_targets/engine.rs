//! Any lines, including valid commands mutated by the fuzzer, through the
//! parser and the engine on a simulated Pico W: never a panic, exactly one
//! response line per command, and the response is valid UTF-8 JSON-looking
//! text ending in one newline. The WiFi pins are never touched. Three
//! connections take turns: one over the network, one over USB (so the
//! provisioning actions and `set_clients` reach the simulated flash and the
//! client list), and one whose TLS client certificate has the fingerprint
//! 11…11 (so, once a list names it, roles, pins and lease owners are
//! checked).
#![no_main]

use libfuzzer_sys::fuzz_target;
use piconet_engine::{Config, ConnId, Engine, Fingerprint, Instant, Peer};
use piconet_sim::SimBoard;

fuzz_target!(|data: &[u8]| {
    let mut engine = Engine::new(SimBoard::new().with_settings(), Config::default());
    let mut now = Instant::ZERO;
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        let mut out = Vec::new();
        // Every seventh line one of the connections ends, releasing what it
        // bound to itself.
        let conn = ConnId(i as u32 % 3);
        let peer = match conn.0 {
            0 => Peer::network(conn),
            1 => Peer::local(conn),
            _ => Peer::authenticated(conn, Fingerprint([0x11; 32])),
        };
        engine.handle_from(now, line, peer, &mut out);
        assert!(out.ends_with(b"\n"));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        assert!(out.starts_with(b"{"));
        assert!(core::str::from_utf8(&out).is_ok());
        now = Instant::from_nanos(now.as_nanos() + 250_000_000);
        engine.poll(now);
        if i % 7 == 6 {
            engine.disconnected(now, conn, |_| {});
        }
        if let Some(d) = engine.next_deadline() {
            assert!(d > now);
        }
    }
    for stamped in engine.board().log() {
        if let piconet_sim::sim::Event::Level { pin, .. }
        | piconet_sim::sim::Event::Configured { pin, .. } = stamped.event
        {
            assert!(!matches!(pin, 23 | 24 | 25 | 29));
        }
    }
});
