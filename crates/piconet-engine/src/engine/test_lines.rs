//! How the engine's unit tests send one line at time zero and read the
//! answer (shared by the test files that need no clock or connection).

use super::*;
use serde_json::Value;
use std::string::String;
use std::vec::Vec;

pub(super) fn send<Bd: Board>(e: &mut Engine<Bd>, line: &str) -> Value {
    let mut out = Vec::new();
    e.handle(Instant::ZERO, line.as_bytes(), &mut out);
    assert!(out.ends_with(b"\n"));
    serde_json::from_slice(&out).unwrap()
}

pub(super) fn ok<Bd: Board>(e: &mut Engine<Bd>, line: &str) -> Value {
    let v = send(e, line);
    assert!(v.get("error").is_none(), "{line} -> {v}");
    v
}

pub(super) fn fails<Bd: Board>(e: &mut Engine<Bd>, line: &str) -> (String, String) {
    let v = send(e, line);
    let class = v["exception"]
        .as_str()
        .unwrap_or_else(|| panic!("{line} -> {v}"));
    (class.into(), v["error"].as_str().unwrap().into())
}
