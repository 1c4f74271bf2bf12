//! `"release_on_disconnect"`: a lease that also ends with its connection.

use super::tests::Flaky;
use super::*;
use crate::test_board::TestBoard;
use serde_json::Value;
use std::vec::Vec;

const A: ConnId = ConnId(1);
const B: ConnId = ConnId(2);

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn send<Bd: Board>(e: &mut Engine<Bd>, conn: ConnId, t: Instant, line: &str) -> Value {
    let mut out = Vec::new();
    e.handle_from(t, line.as_bytes(), Peer::network(conn), &mut out);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert!(v.get("error").is_none(), "{line} -> {v}");
    v
}

fn output<Bd: Board>(e: &mut Engine<Bd>, pin: u32) {
    send(
        e,
        A,
        at(0),
        &format!(r#"{{"action": "setup_pin", "pin": {pin}, "mode": "output", "value": 0}}"#),
    );
}

/// `write_pin` of 1 for 10 s, with `extra` members.
fn write<Bd: Board>(e: &mut Engine<Bd>, conn: ConnId, pin: u32, value: u8, extra: &str) -> Value {
    send(
        e,
        conn,
        at(0),
        &format!(
            r#"{{"action": "write_pin", "pin": {pin}, "value": {value}, "timeout": 10{extra}}}"#
        ),
    )
}

const BOUND: &str = r#", "release_on_disconnect": true"#;

fn engine() -> Engine<TestBoard> {
    let mut e = Engine::new(TestBoard::new(), Config::default());
    for pin in [2, 3, 4] {
        output(&mut e, pin);
    }
    e
}

fn level(e: &Engine<TestBoard>, pin: u32) -> Level {
    e.board().level(pin).unwrap()
}

#[test]
fn the_writers_disconnect_reverts_its_bound_pins_now() {
    let mut e = engine();
    let r = write(&mut e, A, 2, 1, BOUND);
    // The flag is echoed like any member; the wire format is unchanged.
    assert_eq!(r["release_on_disconnect"], true);
    write(&mut e, A, 3, 1, r#", "release_on_disconnect": 1"#);
    assert_eq!((level(&e, 2), level(&e, 3)), (Level::High, Level::High));
    let mut seen = Vec::new();
    assert_eq!(e.disconnected(at(500), A, |r| seen.push(r)), 2);
    assert_eq!((level(&e, 2), level(&e, 3)), (Level::Low, Level::Low));
    assert_eq!(
        seen,
        [2, 3].map(|pin| Revert {
            pin,
            safe: Safe::Level(Level::Low),
            deadline: at(10_000),
            at: at(500),
            error: None,
        })
    );
    assert_eq!((e.leases(), e.next_deadline()), (0, None));
    // Nothing left to release.
    assert_eq!(e.disconnected(at(600), A, |_| {}), 0);
}

#[test]
fn another_connection_ending_or_an_unbound_lease_changes_nothing() {
    let mut e = engine();
    write(&mut e, A, 2, 1, BOUND);
    write(&mut e, A, 3, 1, "");
    write(&mut e, A, 4, 1, r#", "release_on_disconnect": false"#);
    assert_eq!(e.disconnected(at(1), B, |_| {}), 0);
    assert_eq!(level(&e, 2), Level::High);
    assert_eq!(e.disconnected(at(1), A, |_| {}), 1);
    assert_eq!(
        (level(&e, 2), level(&e, 3), level(&e, 4)),
        (Level::Low, Level::High, Level::High)
    );
    // The unbound leases still end at their deadline.
    assert_eq!(e.leases(), 2);
    assert_eq!(e.poll(at(10_000)), 2);
    assert_eq!((level(&e, 3), level(&e, 4)), (Level::Low, Level::Low));
}

#[test]
fn a_bound_lease_still_ends_at_its_deadline() {
    let mut e = engine();
    write(&mut e, A, 2, 1, BOUND);
    assert_eq!(e.next_deadline(), Some(at(10_000)));
    assert_eq!(e.poll(at(10_000)), 1);
    assert_eq!(level(&e, 2), Level::Low);
    assert_eq!(e.disconnected(at(10_001), A, |_| {}), 0);
}

#[test]
fn a_later_write_decides_anew() {
    // Without the flag, from the same connection or another: unbound.
    for writer in [A, B] {
        let mut e = engine();
        write(&mut e, A, 2, 1, BOUND);
        write(&mut e, writer, 2, 1, "");
        assert_eq!(e.disconnected(at(1), A, |_| {}), 0);
        assert_eq!(e.disconnected(at(1), B, |_| {}), 0);
        assert_eq!(level(&e, 2), Level::High);
    }
    // With the flag from another connection: bound to that one.
    let mut e = engine();
    write(&mut e, A, 2, 1, BOUND);
    write(&mut e, B, 2, 1, BOUND);
    assert_eq!(e.disconnected(at(1), A, |_| {}), 0);
    assert_eq!(level(&e, 2), Level::High);
    assert_eq!(e.disconnected(at(1), B, |_| {}), 1);
    assert_eq!(level(&e, 2), Level::Low);
    // An unbound lease made bound by a later write.
    let mut e = engine();
    write(&mut e, A, 2, 1, "");
    write(&mut e, A, 2, 1, BOUND);
    assert_eq!(e.disconnected(at(1), A, |_| {}), 1);
}

#[test]
fn writing_the_safe_level_or_setting_up_again_ends_the_binding() {
    let mut e = engine();
    write(&mut e, A, 2, 1, BOUND);
    write(&mut e, A, 2, 0, BOUND);
    write(&mut e, A, 3, 1, BOUND);
    output(&mut e, 3);
    assert_eq!(e.leases(), 0);
    assert_eq!(e.disconnected(at(1), A, |_| {}), 0);
}

#[test]
fn handle_is_connection_zero() {
    let mut e = engine();
    let mut out = Vec::new();
    e.handle(
        at(0),
        br#"{"action": "write_pin", "pin": 2, "value": 1, "timeout": 10, "release_on_disconnect": true}"#,
        &mut out,
    );
    assert_eq!(e.disconnected(at(1), A, |_| {}), 0);
    assert_eq!(e.disconnected(at(1), ConnId(0), |_| {}), 1);
}

#[test]
fn a_failed_release_is_retried_like_a_failed_revert() {
    let mut e = Engine::new(
        Flaky {
            inner: TestBoard::new(),
            fail_writes: false,
        },
        Config::default(),
    );
    output(&mut e, 2);
    write(&mut e, A, 2, 1, BOUND);
    e.board_mut().fail_writes = true;
    let mut errors = 0;
    assert_eq!(
        e.disconnected(at(500), A, |r| errors += usize::from(r.error.is_some())),
        0
    );
    assert_eq!(errors, 1);
    // Retried at the next poll after the retry delay, not at the deadline.
    assert_eq!(e.next_deadline(), Some(at(500) + REVERT_RETRY));
    assert_eq!(e.board().inner.level(2), Some(Level::High));
    e.board_mut().fail_writes = false;
    // The retry is the poll's: the connection is gone, so it is not bound.
    assert_eq!(e.disconnected(at(550), A, |_| {}), 0);
    assert_eq!(e.poll(at(500) + REVERT_RETRY), 1);
    assert_eq!(e.board().inner.level(2), Some(Level::Low));
    assert_eq!(e.leases(), 0);
}

#[test]
fn a_bad_flag_is_a_value_error_and_changes_nothing() {
    let mut e = engine();
    let mut out = Vec::new();
    e.handle_from(
        at(0),
        br#"{"action": "write_pin", "pin": 2, "value": 1, "timeout": 10, "release_on_disconnect": "yes"}"#,
        Peer::network(A),
        &mut out,
    );
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["exception"], "ValueError");
    assert_eq!(level(&e, 2), Level::Low);
    assert_eq!(e.leases(), 0);
}
