//! Input events: `watch_pin`, `unwatch_pin`, `sim_input`, [`Engine::edge`]
//! and the per-connection event queues.

use super::*;
use crate::test_board::TestBoard;
use crate::watchers::{EVENT_QUEUE, MAX_WATCHERS, MAX_WATCHES_PER_CONNECTION};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::vec::Vec;

const A: ConnId = ConnId(1);
const B: ConnId = ConnId(2);

fn send<Bd: Board>(e: &mut Engine<Bd>, t: Instant, conn: ConnId, line: &str) -> Value {
    let mut out = Vec::new();
    e.handle_from(t, line.as_bytes(), Peer::network(conn), &mut out);
    assert!(out.ends_with(b"\n"));
    serde_json::from_slice(&out).unwrap()
}

fn ok<Bd: Board>(e: &mut Engine<Bd>, t: Instant, conn: ConnId, line: &str) -> Value {
    let v = send(e, t, conn, line);
    assert!(v.get("error").is_none(), "{line} -> {v}");
    v
}

fn refused<Bd: Board>(e: &mut Engine<Bd>, conn: ConnId, line: &str, class: &str, text: &str) {
    let v = send(e, Instant::ZERO, conn, line);
    assert_eq!(v["exception"], class, "{line} -> {v}");
    let error = v["error"].as_str().unwrap();
    assert!(error.contains(text), "{line} -> {error}");
}

/// Every event line waiting for `conn`, parsed.
fn events<Bd: Board>(e: &mut Engine<Bd>, conn: ConnId) -> Vec<Value> {
    let mut out = Vec::new();
    while e.write_event(conn, &mut out).unwrap() {}
    assert!(!e.has_events(conn));
    out.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

fn input_engine() -> Engine<TestBoard> {
    let mut e = Engine::new(TestBoard::new(), Config::default());
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "setup_pin", "pin": 5, "mode": "input", "pull": "down"}"#,
    );
    e
}

fn sim(e: &mut Engine<TestBoard>, t_us: u64, conn: ConnId, value: u8) {
    let line = format!(r#"{{"action": "sim_input", "pin": 5, "value": {value}}}"#);
    ok(e, Instant::from_micros(t_us), conn, &line);
}

#[test]
fn sim_input_edges_reach_the_watching_connection_in_seq_order() {
    let mut e = input_engine();
    let v = ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "watch_pin", "pin": 5, "id": 1}"#,
    );
    assert_eq!(
        v,
        json!({"action": "watch_pin", "pin": 5, "id": 1, "time_received": 0})
    );
    // B drives the input; only A watches.
    sim(&mut e, 1_000, B, 1);
    sim(&mut e, 2_500, B, 0);
    // The same level again is no edge.
    sim(&mut e, 3_000, B, 0);
    assert_eq!(e.take_woken(), Some(A));
    assert_eq!(e.take_woken(), None);
    assert!(!e.has_events(B));
    assert_eq!(
        events(&mut e, A),
        [
            json!({"event": "edge", "pin": 5, "value": 1, "time_us": 1000, "seq": 1}),
            json!({"event": "edge", "pin": 5, "value": 0, "time_us": 2500, "seq": 2}),
        ]
    );
    assert!(events(&mut e, B).is_empty());
}

#[test]
fn rising_and_falling_report_their_edge_only_and_count_only_those() {
    let mut e = input_engine();
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "watch_pin", "pin": 5, "edge": "rising"}"#,
    );
    ok(
        &mut e,
        Instant::ZERO,
        B,
        r#"{"action": "watch_pin", "pin": 5, "edge": "falling"}"#,
    );
    for (i, v) in [1, 0, 1, 0].into_iter().enumerate() {
        sim(&mut e, 10 * (i as u64 + 1), A, v);
    }
    let seq_values = |evs: Vec<Value>| -> Vec<(u64, u64, u64)> {
        evs.iter()
            .map(|v| {
                (
                    v["seq"].as_u64().unwrap(),
                    v["value"].as_u64().unwrap(),
                    v["time_us"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(seq_values(events(&mut e, A)), [(1, 1, 10), (2, 1, 30)]);
    assert_eq!(seq_values(events(&mut e, B)), [(1, 0, 20), (2, 0, 40)]);
}

#[test]
fn debounce_ignores_edges_too_soon_after_the_last_that_passed() {
    let mut e = input_engine();
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "watch_pin", "pin": 5, "debounce_ms": 10}"#,
    );
    // A press that bounces for 3 ms, held, then a bouncing release.
    let ms = 1_000;
    for (t, v) in [
        (100 * ms, 1),
        (100 * ms + 500, 0),
        (101 * ms, 1),
        (103 * ms, 0),
        (103 * ms + 200, 1),
        // 10 ms after the press: passes.
        (110 * ms, 0),
        (112 * ms, 1),
        (115 * ms, 0),
        (200 * ms, 1),
    ] {
        sim(&mut e, t, B, v);
    }
    let got: Vec<(u64, u64, u64)> = events(&mut e, A)
        .iter()
        .map(|v| {
            (
                v["seq"].as_u64().unwrap(),
                v["value"].as_u64().unwrap(),
                v["time_us"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [(1, 1, 100 * ms), (2, 0, 110 * ms), (3, 1, 200 * ms)]);
}

#[test]
fn debounce_restarts_at_an_edge_not_reported() {
    let mut e = input_engine();
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "watch_pin", "pin": 5, "edge": "rising", "debounce_ms": 5}"#,
    );
    let ms = 1_000;
    // Press, release 50 ms later with a bounce back up 1 ms after it: the
    // bounce is not a second press.
    sim(&mut e, 10 * ms, B, 1);
    sim(&mut e, 60 * ms, B, 0);
    sim(&mut e, 61 * ms, B, 1);
    sim(&mut e, 62 * ms, B, 0);
    let evs = events(&mut e, A);
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_eq!(evs[0]["time_us"], 10 * ms);
}

#[test]
fn a_full_queue_drops_and_counts_then_the_overflow_line_comes_first() {
    let mut e = input_engine();
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "watch_pin", "pin": 5}"#,
    );
    let burst = EVENT_QUEUE as u64 + 5;
    for i in 0..burst {
        sim(&mut e, i + 1, B, ((i + 1) % 2) as u8);
    }
    let evs = events(&mut e, A);
    assert_eq!(evs.len(), EVENT_QUEUE + 1);
    for (i, v) in evs[..EVENT_QUEUE].iter().enumerate() {
        assert_eq!(v["event"], "edge");
        assert_eq!(v["seq"], i as u64 + 1);
    }
    assert_eq!(
        evs[EVENT_QUEUE],
        json!({"event": "overflow", "dropped": 5, "seq": burst})
    );
    // Seqs go on after the drops.
    sim(&mut e, 1_000, B, (burst % 2 + 1) as u8 % 2);
    assert_eq!(events(&mut e, A)[0]["seq"], burst + 1);
}

#[test]
fn drops_then_a_partial_drain_queue_the_overflow_before_the_next_edge() {
    let mut e = input_engine();
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "watch_pin", "pin": 5}"#,
    );
    let mut level = 0;
    let mut edge = |e: &mut Engine<TestBoard>, t: u64| {
        level ^= 1;
        sim(e, t, B, level);
    };
    for t in 0..EVENT_QUEUE as u64 + 3 {
        edge(&mut e, t + 1);
    }
    // The transport writes two lines, then two more edges arrive.
    let mut out = Vec::new();
    assert!(e.write_event(A, &mut out).unwrap());
    assert!(e.write_event(A, &mut out).unwrap());
    edge(&mut e, 100);
    edge(&mut e, 101);
    while e.write_event(A, &mut out).unwrap() {}
    let seqs: Vec<(String, u64, Option<u64>)> = out
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: Value = serde_json::from_slice(l).unwrap();
            (
                v["event"].as_str().unwrap().to_owned(),
                v["seq"].as_u64().unwrap(),
                v["dropped"].as_u64(),
            )
        })
        .collect();
    let n = EVENT_QUEUE as u64;
    let mut want: Vec<(String, u64, Option<u64>)> =
        (1..=n).map(|s| ("edge".to_owned(), s, None)).collect();
    // 3 dropped (n+1..n+3). Two lines went out, so the first new edge
    // fits together with the overflow line that comes before it.
    want.push(("overflow".to_owned(), n + 3, Some(3)));
    want.push(("edge".to_owned(), n + 4, None));
    // Then the queue is full again: edge n+5 was dropped and is counted
    // by an overflow line written once the queue emptied.
    want.push(("overflow".to_owned(), n + 5, Some(1)));
    assert_eq!(seqs, want);
}

#[test]
fn a_line_that_does_not_fit_stays_queued() {
    let mut e = input_engine();
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "watch_pin", "pin": 5}"#,
    );
    sim(&mut e, 7, B, 1);
    let mut small: heapless::Vec<u8, 16> = heapless::Vec::new();
    assert_eq!(e.write_event(A, &mut small), Err(Full));
    assert!(small.is_empty());
    assert!(e.has_events(A));
    assert_eq!(events(&mut e, A)[0]["seq"], 1);
}

#[test]
fn watches_end_with_the_connection_and_its_place_is_freed() {
    let mut e = input_engine();
    let conns: Vec<ConnId> = (10..10 + MAX_WATCHERS as u32).map(ConnId).collect();
    for &c in &conns {
        ok(
            &mut e,
            Instant::ZERO,
            c,
            r#"{"action": "watch_pin", "pin": 5}"#,
        );
    }
    refused(
        &mut e,
        A,
        r#"{"action": "watch_pin", "pin": 5}"#,
        "OSError",
        "4 other connections already watch pins",
    );
    sim(&mut e, 1, B, 1);
    assert!(e.has_events(conns[0]));
    e.disconnected(Instant::ZERO, conns[0], |_| {});
    assert!(!e.has_events(conns[0]));
    sim(&mut e, 2, B, 0);
    assert!(events(&mut e, conns[0]).is_empty());
    assert_eq!(events(&mut e, conns[1]).len(), 2);
    // The freed place takes a new connection, whose seqs start at 1.
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "watch_pin", "pin": 5}"#,
    );
    sim(&mut e, 3, B, 1);
    assert_eq!(events(&mut e, A)[0]["seq"], 1);
}

#[test]
fn unwatch_stops_events_and_keeps_the_seq_count() {
    let mut e = input_engine();
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "watch_pin", "pin": 5}"#,
    );
    sim(&mut e, 1, B, 1);
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "unwatch_pin", "pin": 5}"#,
    );
    sim(&mut e, 2, B, 0);
    // The edge before the unwatch is still delivered, none after.
    assert_eq!(events(&mut e, A).len(), 1);
    refused(
        &mut e,
        A,
        r#"{"action": "unwatch_pin", "pin": 5}"#,
        "ValueError",
        "pin 5 is not watched by this connection",
    );
    refused(
        &mut e,
        B,
        r#"{"action": "unwatch_pin", "pin": 5}"#,
        "ValueError",
        "pin 5 is not watched by this connection",
    );
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "watch_pin", "pin": 5}"#,
    );
    sim(&mut e, 3, B, 1);
    assert_eq!(events(&mut e, A)[0]["seq"], 2);
}

#[test]
fn watching_again_changes_the_edge_and_debounce() {
    let mut e = input_engine();
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "watch_pin", "pin": 5, "edge": "rising"}"#,
    );
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "watch_pin", "pin": 5, "edge": "falling"}"#,
    );
    sim(&mut e, 1, B, 1);
    sim(&mut e, 2, B, 0);
    let evs = events(&mut e, A);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0]["value"], 0);
}

#[test]
fn only_inputs_can_be_watched() {
    let mut e = input_engine();
    refused(
        &mut e,
        A,
        r#"{"action": "watch_pin", "pin": 6}"#,
        "GPIOPinNotSetupError",
        "pin 6 not setup",
    );
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "setup_pin", "pin": 6, "mode": "output", "value": 0}"#,
    );
    refused(
        &mut e,
        A,
        r#"{"action": "watch_pin", "pin": 6}"#,
        "ValueError",
        "pin 6 is an output: set it up with mode \"input\" to watch it",
    );
    refused(
        &mut e,
        A,
        r#"{"action": "watch_pin", "pin": 23}"#,
        "ValueError",
        "pin 23 cannot be used",
    );
    refused(
        &mut e,
        A,
        r#"{"action": "watch_pin", "pin": 99}"#,
        "ValueError",
        "pin 99 does not exist",
    );
}

#[test]
fn a_watched_input_set_up_as_output_is_watched_no_more() {
    let mut e = input_engine();
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "watch_pin", "pin": 5}"#,
    );
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "setup_pin", "pin": 5, "mode": "output", "value": 0}"#,
    );
    e.edge(5, Level::High, 10);
    assert!(!e.has_events(A));
    refused(
        &mut e,
        A,
        r#"{"action": "unwatch_pin", "pin": 5}"#,
        "ValueError",
        "not watched",
    );
}

#[test]
fn one_connection_watches_a_bounded_number_of_pins() {
    let mut e = Engine::new(TestBoard::new(), Config::default());
    for pin in 0..=MAX_WATCHES_PER_CONNECTION as u32 {
        let setup = format!(r#"{{"action": "setup_pin", "pin": {pin}, "mode": "input"}}"#);
        ok(&mut e, Instant::ZERO, A, &setup);
    }
    for pin in 0..MAX_WATCHES_PER_CONNECTION as u32 {
        let watch = format!(r#"{{"action": "watch_pin", "pin": {pin}}}"#);
        ok(&mut e, Instant::ZERO, A, &watch);
    }
    let watch = format!(
        r#"{{"action": "watch_pin", "pin": {}}}"#,
        MAX_WATCHES_PER_CONNECTION
    );
    refused(
        &mut e,
        A,
        &watch,
        "OSError",
        "this connection already watches 8 pins",
    );
    // Watching a pin it has already is a change, not one more.
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "watch_pin", "pin": 0}"#,
    );
}

#[test]
fn edges_from_the_board_go_through_engine_edge() {
    let mut e = input_engine();
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "watch_pin", "pin": 5}"#,
    );
    // A board's edge source (an interrupt, a kernel event) reports the
    // edge with its own timestamp.
    e.edge(5, Level::High, 81_234_567);
    // Edges on pins nobody watches, or that are not inputs, are ignored.
    e.edge(6, Level::High, 81_234_568);
    e.edge(99, Level::High, 81_234_569);
    assert_eq!(
        events(&mut e, A),
        [json!({"event": "edge", "pin": 5, "value": 1, "time_us": 81234567, "seq": 1})]
    );
}

#[test]
fn get_pins_shows_whether_an_input_is_watched() {
    let mut e = input_engine();
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "setup_pin", "pin": 6, "mode": "input", "pull": "up"}"#,
    );
    ok(
        &mut e,
        Instant::ZERO,
        B,
        r#"{"action": "watch_pin", "pin": 6}"#,
    );
    let v = ok(&mut e, Instant::ZERO, A, r#"{"action": "get_pins"}"#);
    assert_eq!(
        v["pins"],
        json!([
            {"pin": 5, "mode": "input", "pull": "down", "level": 0, "watched": false},
            {"pin": 6, "mode": "input", "pull": "up", "level": 1, "watched": true},
        ])
    );
    e.disconnected(Instant::ZERO, B, |_| {});
    let v = ok(&mut e, Instant::ZERO, A, r#"{"action": "get_pins"}"#);
    assert_eq!(v["pins"][1]["watched"], false);
}

#[test]
fn sim_input_sets_the_level_an_input_reads() {
    let mut e = input_engine();
    sim(&mut e, 1, A, 1);
    let v = ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "read_pin", "pin": 5}"#,
    );
    assert_eq!(v["value"], 1);
    // On a pin not set up yet it is the wiring, seen once it is an input.
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "sim_input", "pin": 7, "value": 1}"#,
    );
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "setup_pin", "pin": 7, "mode": "input", "pull": "down"}"#,
    );
    let v = ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "read_pin", "pin": 7}"#,
    );
    assert_eq!(v["value"], 1);
    refused(
        &mut e,
        A,
        r#"{"action": "sim_input", "pin": 26, "volts": 1.65}"#,
        "ValueError",
        "pin 26: volts needs a pin in adc mode",
    );
    refused(
        &mut e,
        A,
        r#"{"action": "sim_input", "pin": 23, "value": 1}"#,
        "ValueError",
        "pin 23 cannot be used",
    );
}

#[test]
fn sim_input_is_refused_on_a_real_board() {
    let mut e = Engine::new(TestBoard::real(), Config::default());
    for line in [
        r#"{"action": "sim_input", "pin": 5, "value": 1}"#,
        r#"{"action": "sim_input", "pin": 26, "volts": 1.0}"#,
    ] {
        refused(
            &mut e,
            A,
            line,
            "OSError",
            "sim_input works on the simulated board only",
        );
    }
}

#[test]
fn a_reset_ends_every_watch() {
    let mut e = input_engine();
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "watch_pin", "pin": 5}"#,
    );
    sim(&mut e, 1, B, 1);
    e.after_reply(After::Reset);
    assert!(!e.has_events(A));
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "setup_pin", "pin": 5, "mode": "input", "pull": "down"}"#,
    );
    e.edge(5, Level::High, 5);
    assert!(!e.has_events(A));
}

proptest! {
    /// Whatever the edges and however the transport drains, the lines
    /// account for every edge: edge seqs and overflow ranges are disjoint,
    /// in order, and cover 1..=edges.
    #[test]
    fn delivered_and_dropped_account_for_every_edge(
        ops in proptest::collection::vec(0u8..4, 0..400),
    ) {
        let mut e = input_engine();
        ok(&mut e, Instant::ZERO, A, r#"{"action": "watch_pin", "pin": 5}"#);
        let mut level = Level::Low;
        let mut edges = 0u64;
        let mut covered = 0u64;
        let check = |v: &Value, covered: &mut u64| {
            let seq = v["seq"].as_u64().unwrap();
            match v["event"].as_str().unwrap() {
                "edge" => {
                    assert_eq!(seq, *covered + 1);
                    *covered = seq;
                }
                _ => {
                    let dropped = v["dropped"].as_u64().unwrap();
                    assert!(dropped > 0);
                    assert_eq!(seq, *covered + dropped);
                    *covered = seq;
                }
            }
        };
        for (t, op) in ops.into_iter().enumerate() {
            if op == 0 {
                let mut out = Vec::new();
                if e.write_event(A, &mut out).unwrap() {
                    check(&serde_json::from_slice(&out[..out.len() - 1]).unwrap(), &mut covered);
                }
            } else {
                level = if level == Level::Low { Level::High } else { Level::Low };
                e.edge(5, level, t as u64);
                edges += 1;
            }
        }
        for v in events(&mut e, A) {
            check(&v, &mut covered);
        }
        prop_assert_eq!(covered, edges);
    }
}

#[test]
fn a_boxed_simulated_board_keeps_its_inputs() {
    let board: std::boxed::Box<dyn Board + Send> = std::boxed::Box::new(TestBoard::new());
    let mut e = Engine::new(board, Config::default());
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "sim_input", "pin": 5, "value": 1}"#,
    );
}

#[test]
fn the_last_unwatch_gives_the_place_back_once_its_lines_are_written() {
    let mut e = input_engine();
    let conns: Vec<ConnId> = (10..10 + MAX_WATCHERS as u32).map(ConnId).collect();
    for &c in &conns {
        ok(
            &mut e,
            Instant::ZERO,
            c,
            r#"{"action": "watch_pin", "pin": 5}"#,
        );
    }
    sim(&mut e, 1, B, 1);
    ok(
        &mut e,
        Instant::ZERO,
        conns[0],
        r#"{"action": "unwatch_pin", "pin": 5}"#,
    );
    // Its edge still waits to be written: the place is not free yet.
    refused(
        &mut e,
        A,
        r#"{"action": "watch_pin", "pin": 5}"#,
        "OSError",
        "4 other connections already watch pins",
    );
    assert_eq!(events(&mut e, conns[0])[0]["seq"], 1);
    // Written: a new connection takes the place (and starts at seq 1),
    // while conns[0] is still connected.
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "watch_pin", "pin": 5}"#,
    );
    sim(&mut e, 2, B, 0);
    assert_eq!(events(&mut e, A)[0]["seq"], 1);
    assert!(events(&mut e, conns[0]).is_empty());
    // The one that gave it back now finds every place taken.
    refused(
        &mut e,
        conns[0],
        r#"{"action": "watch_pin", "pin": 5}"#,
        "OSError",
        "4 other connections already watch pins",
    );
    assert_eq!(events(&mut e, conns[1]).len(), 2);
}

fn detecting_engine() -> Engine<TestBoard> {
    let mut e = Engine::new(TestBoard::new().with_edge_detection(), Config::default());
    for pin in [5, 6] {
        let line = format!(r#"{{"action": "setup_pin", "pin": {pin}, "mode": "input"}}"#);
        ok(&mut e, Instant::ZERO, A, &line);
    }
    e
}

fn detecting(e: &Engine<TestBoard>) -> u64 {
    e.board().detecting().unwrap()
}

#[test]
fn per_pin_edge_detection_runs_while_some_connection_watches() {
    let mut e = detecting_engine();
    assert_eq!(detecting(&e), 0, "setting up an input starts no detection");
    let watch = r#"{"action": "watch_pin", "pin": 5}"#;
    ok(&mut e, Instant::ZERO, A, watch);
    assert_eq!(detecting(&e), 1 << 5);
    ok(&mut e, Instant::ZERO, B, watch);
    ok(
        &mut e,
        Instant::ZERO,
        B,
        r#"{"action": "watch_pin", "pin": 6}"#,
    );
    assert_eq!(detecting(&e), 1 << 5 | 1 << 6);
    // Not the last watch of pin 5: detection goes on.
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "unwatch_pin", "pin": 5}"#,
    );
    assert_eq!(detecting(&e), 1 << 5 | 1 << 6);
    // The last watcher's disconnect ends both.
    e.disconnected(Instant::ZERO, B, |_| {});
    assert_eq!(detecting(&e), 0);
    // The last unwatch ends it too.
    ok(&mut e, Instant::ZERO, A, watch);
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "unwatch_pin", "pin": 5}"#,
    );
    assert_eq!(detecting(&e), 0);
    // So does setting the pin up as an output.
    ok(&mut e, Instant::ZERO, A, watch);
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "setup_pin", "pin": 5, "mode": "output", "value": 0}"#,
    );
    assert_eq!(detecting(&e), 0);
    // A failed unwatch changes nothing.
    refused(
        &mut e,
        A,
        r#"{"action": "unwatch_pin", "pin": 6}"#,
        "ValueError",
        "not watched",
    );
    assert_eq!(detecting(&e), 0);
}

#[test]
fn a_watch_whose_detection_cannot_start_is_refused_and_not_kept() {
    let mut e = detecting_engine();
    e.board_mut().fail_edges = true;
    refused(
        &mut e,
        A,
        r#"{"action": "watch_pin", "pin": 5}"#,
        "OSError",
        "edge detection failed",
    );
    assert_eq!(detecting(&e), 0);
    let pins = ok(&mut e, Instant::ZERO, A, r#"{"action": "get_pins"}"#);
    assert_eq!(pins["pins"][0]["watched"], false, "{pins}");
    e.edge(5, Level::High, 1);
    assert!(!e.has_events(A));
}

#[test]
fn a_watch_over_the_limits_leaves_no_detection_running() {
    let mut e = Engine::new(TestBoard::new().with_edge_detection(), Config::default());
    for pin in 0..=MAX_WATCHES_PER_CONNECTION as u32 {
        let line = format!(r#"{{"action": "setup_pin", "pin": {pin}, "mode": "input"}}"#);
        ok(&mut e, Instant::ZERO, A, &line);
    }
    for pin in 0..MAX_WATCHES_PER_CONNECTION as u32 {
        let line = format!(r#"{{"action": "watch_pin", "pin": {pin}}}"#);
        ok(&mut e, Instant::ZERO, A, &line);
    }
    let all = (1u64 << MAX_WATCHES_PER_CONNECTION) - 1;
    assert_eq!(detecting(&e), all);
    let ninth = MAX_WATCHES_PER_CONNECTION;
    refused(
        &mut e,
        A,
        &format!(r#"{{"action": "watch_pin", "pin": {ninth}}}"#),
        "OSError",
        "pins",
    );
    assert_eq!(
        detecting(&e),
        all,
        "the refused pin's detection was stopped"
    );
}

#[test]
fn a_reset_ends_per_pin_detection_with_the_watches() {
    let mut e = detecting_engine();
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "watch_pin", "pin": 5}"#,
    );
    e.after_reply(After::Reset);
    assert_eq!(detecting(&e), 0);
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "setup_pin", "pin": 5, "mode": "input"}"#,
    );
    ok(
        &mut e,
        Instant::ZERO,
        A,
        r#"{"action": "watch_pin", "pin": 5}"#,
    );
    assert_eq!(detecting(&e), 1 << 5);
}
