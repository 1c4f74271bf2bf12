//! Any lines through the engine on a simulated Pico W that can update
//! itself (embassy-boot over RAM flash, a fixed public key): never a panic,
//! one response line per command, and never an unsigned image in ACTIVE.
//! The fuzzer cannot sign, so whatever it uploads, finishes or resets, the
//! board must still run the factory image afterwards.
#![no_main]

use libfuzzer_sys::fuzz_target;
use piconet_sim::sim::SimBoard;
use piconet_sim::sim_flash::{sim_image, Boot, SimFlash};
use piconet_engine::{Config, Engine, Instant};

/// Some ed25519 public key (its secret is unknown to anyone).
const KEY: [u8; 32] = [
    0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
    0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
];

fuzz_target!(|data: &[u8]| {
    let factory = sim_image("1.0.0", false, 100);
    let board = SimBoard::new().with_flash(SimFlash::new(4, &factory, KEY));
    let mut engine = Engine::new(board, Config::default());
    let mut now = Instant::ZERO;
    for line in data.split(|&b| b == b'\n') {
        let mut out = Vec::new();
        let after = engine.handle(now, line, &mut out);
        assert!(out.ends_with(b"\n"));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        assert!(core::str::from_utf8(&out).is_ok());
        engine.after_reply(after);
        now = Instant::from_nanos(now.as_nanos() + 1_000_000);
    }
    let flash = engine.board_mut().flash_mut().unwrap();
    flash.reboot();
    assert_eq!(&flash.active()[..factory.len()], &factory[..]);
    assert!(matches!(flash.boot(), Boot::Running { version, .. } if version == "1.0.0"));
});
