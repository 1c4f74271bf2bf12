//! Input events end to end on piconetd's simulated board: one connection
//! watches a pin, another drives it with `sim_input`; the event lines
//! arrive between replies, in seq order, with increasing timestamps; an
//! unwatch stops them; a burst into a client that does not read is
//! accounted for by overflow lines.

use std::time::Duration;

use piconet_server::{Limits, ServerConfig};
use serde_json::json;
use tokio::io::AsyncWriteExt;

mod common;
use common::conn::Conn;
use common::{loopback, Daemon};

async fn daemon(limits: Limits) -> Daemon {
    Daemon::start(ServerConfig {
        listen: loopback(),
        limits,
        ..ServerConfig::default()
    })
    .await
}

/// Set `pin` up as an input (`pull`, if any) on `watcher` and watch it.
async fn watch(watcher: &mut Conn, pin: u32, pull: Option<&str>) {
    let mut none = Vec::new();
    let mut setup = json!({"action": "setup_pin", "pin": pin, "mode": "input"});
    if let Some(pull) = pull {
        setup["pull"] = json!(pull);
    }
    watcher.cmd(setup, &mut none).await;
    watcher
        .cmd(json!({"action": "watch_pin", "pin": pin}), &mut none)
        .await;
    assert!(none.is_empty(), "no events before the watch: {none:?}");
}

#[tokio::test]
async fn edges_driven_by_one_connection_reach_the_one_watching() {
    let d = daemon(Limits::default()).await;
    let mut watcher = Conn::open(d.addr).await;
    let mut driver = Conn::open(d.addr).await;
    let mut none = Vec::new();
    watch(&mut watcher, 5, Some("down")).await;
    let pins = watcher.cmd(json!({"action": "get_pins"}), &mut none).await;
    assert_eq!(pins["pins"][0]["watched"], true);
    for i in 0..10 {
        driver
            .cmd(
                json!({"action": "sim_input", "pin": 5, "value": (i + 1) % 2}),
                &mut none,
            )
            .await;
    }
    assert!(none.is_empty(), "the driver watches nothing: {none:?}");
    // The events come without the watcher asking.
    let mut events = Vec::new();
    for _ in 0..10 {
        events.push(watcher.line().await);
    }
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["event"], "edge", "{e}");
        assert_eq!(e["pin"], 5);
        assert_eq!(e["seq"], i as u64 + 1, "{e}");
        assert_eq!(e["value"], (i as u64 + 1) % 2, "{e}");
    }
    let times: Vec<u64> = events
        .iter()
        .map(|e| e["time_us"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    // Unwatch: no more events, the replies alone.
    let mut after = Vec::new();
    watcher
        .cmd(json!({"action": "unwatch_pin", "pin": 5}), &mut after)
        .await;
    driver
        .cmd(
            json!({"action": "sim_input", "pin": 5, "value": 1}),
            &mut none,
        )
        .await;
    let r = watcher.cmd(json!({"action": "ping"}), &mut after).await;
    assert_eq!(r["action"], "ping");
    assert!(after.is_empty(), "{after:?}");
    d.stop().await;
}

#[tokio::test]
async fn a_burst_into_a_client_that_does_not_read_is_counted() {
    // No output bound beyond the sockets', and a watcher socket that
    // takes 4 KiB, which reads nothing until the driver is done: the
    // engine's queue must overflow (a watcher that reads keeps up: see
    // the next test).
    let d = daemon(Limits {
        max_output: 0,
        // The watcher reads nothing for seconds on a slow machine: it is
        // behind, not gone.
        write_timeout: Duration::from_secs(120),
        ..Limits::default()
    })
    .await;
    let mut watcher = Conn::open_with_receive_buffer(d.addr, 4096).await;
    let mut driver = Conn::open(d.addr).await;
    watch(&mut watcher, 6, None).await;
    // 100,000 edges as fast as the driver can send them, pipelined: about
    // 7 MB of event lines, more than the kernel lets the server's socket
    // hold (net.ipv4.tcp_wmem's largest send buffer is 4 MiB) on top of
    // the watcher's 4 KiB.
    const EDGES: u64 = 100_000;
    let mut burst = String::new();
    for i in 0..EDGES {
        burst.push_str(&format!(
            "{}\n",
            json!({"action": "sim_input", "pin": 6, "value": (i + 1) % 2})
        ));
    }
    driver.writer.write_all(burst.as_bytes()).await.unwrap();
    for _ in 0..EDGES {
        let r = driver.line().await;
        assert!(r.get("error").is_none(), "{r}");
    }
    // Every edge is either delivered or counted.
    let (mut delivered, mut dropped, mut covered) = (0u64, 0u64, 0u64);
    while covered < EDGES {
        let e = watcher.line().await;
        let seq = e["seq"].as_u64().unwrap();
        match e["event"].as_str().unwrap() {
            "edge" => {
                assert_eq!(seq, covered + 1, "{e}");
                delivered += 1;
            }
            "overflow" => {
                let k = e["dropped"].as_u64().unwrap();
                assert_eq!(seq, covered + k, "{e}");
                dropped += k;
            }
            other => panic!("unknown event {other}"),
        }
        covered = seq;
    }
    assert_eq!(delivered + dropped, EDGES);
    assert!(
        dropped > 0,
        "the overflow path was not reached: {delivered} delivered"
    );
    eprintln!("burst of {EDGES}: {delivered} delivered, {dropped} dropped");
    d.stop().await;
}

#[tokio::test]
async fn a_pipelined_burst_reaches_a_watcher_that_reads_without_loss() {
    // Each edge's line is one of 500, about 35 KB: within the output bound
    // and the socket buffers, so none needs dropping. Until the driver let
    // the watcher write after each edge, one read of the driver's lines
    // put up to 32 edges in the watcher's 16-line engine queue, and the
    // rest were dropped.
    let d = daemon(Limits::default()).await;
    let mut watcher = Conn::open(d.addr).await;
    let mut driver = Conn::open(d.addr).await;
    watch(&mut watcher, 7, Some("down")).await;
    const EDGES: u64 = 500;
    let mut burst = String::new();
    for i in 0..EDGES {
        burst.push_str(&format!(
            "{}\n",
            json!({"action": "sim_input", "pin": 7, "value": (i + 1) % 2})
        ));
    }
    driver.writer.write_all(burst.as_bytes()).await.unwrap();
    for _ in 0..EDGES {
        let r = driver.line().await;
        assert!(r.get("error").is_none(), "{r}");
    }
    for seq in 1..=EDGES {
        let e = watcher.line().await;
        assert_eq!(e["event"], "edge", "{e}");
        assert_eq!(e["seq"], seq, "{e}");
        assert_eq!(e["value"], seq % 2, "{e}");
    }
    d.stop().await;
}

#[tokio::test]
async fn a_connection_that_ends_stops_watching() {
    let d = daemon(Limits::default()).await;
    let mut none = Vec::new();
    let mut driver = Conn::open(d.addr).await;
    {
        let mut watcher = Conn::open(d.addr).await;
        watcher
            .cmd(
                json!({"action": "setup_pin", "pin": 7, "mode": "input"}),
                &mut none,
            )
            .await;
        watcher
            .cmd(json!({"action": "watch_pin", "pin": 7}), &mut none)
            .await;
    }
    // The engine learns of the close shortly after.
    let mut watched = true;
    for _ in 0..100 {
        let pins = driver.cmd(json!({"action": "get_pins"}), &mut none).await;
        watched = pins["pins"][0]["watched"].as_bool().unwrap();
        if !watched {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!watched, "the closed connection's watch ended");
    d.stop().await;
}

#[tokio::test]
async fn the_client_routes_events_and_answers_apart_on_one_connection() {
    use piconet_client::{Action, Client, Edge, Event, Level, Mode, ServerAddr};
    let d = daemon(Limits::default()).await;
    let client = Client::new(ServerAddr::new(d.addr.ip().to_string(), d.addr.port()));
    let mut watcher = client.connect().await.unwrap();
    let setup = Action::SetupPin {
        pin: 8,
        mode: Mode::Input,
        value: None,
        pull: None,
    };
    for action in [
        setup,
        Action::WatchPin {
            pin: 8,
            edge: Edge::Both,
            debounce_ms: 0,
        },
    ] {
        let r = watcher.perform(action, false).await.unwrap();
        assert!(r.server_error().is_none(), "{r:?}");
    }
    let mut driver = client.connect().await.unwrap();
    for i in 0..6u32 {
        let value = if i % 2 == 0 { Level::High } else { Level::Low };
        let r = driver
            .perform(Action::SimInput { pin: 8, value }, false)
            .await
            .unwrap();
        assert!(r.server_error().is_none(), "{r:?}");
        if i == 2 {
            // Answers while events arrive: each answer is the ping's.
            let r = watcher.perform(Action::Ping, false).await.unwrap();
            assert_eq!(r.raw()["action"], "ping", "{r:?}");
        }
    }
    let mut seqs = Vec::new();
    while seqs.len() < 6 {
        match watcher.next_event().await.unwrap() {
            Event::Edge { pin, seq, .. } => {
                assert_eq!(pin, 8);
                seqs.push(seq);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    let r = watcher.perform(Action::Ping, true).await.unwrap();
    assert_eq!(r.raw()["action"], "ping");
    d.stop().await;
}

/// Event lines that a parked plaintext watcher gets straight from the
/// driver's thread still count as traffic: the watcher is not closed idle
/// while they flow, and is once they stop.
#[tokio::test]
async fn a_watcher_fed_by_events_alone_outlives_its_idle_timeout() {
    let d = daemon(Limits {
        idle_timeout: Duration::from_millis(400),
        ..Limits::default()
    })
    .await;
    let mut watcher = Conn::open(d.addr).await;
    let mut driver = Conn::open(d.addr).await;
    let mut none = Vec::new();
    watch(&mut watcher, 5, Some("down")).await;
    // 1.2 s of edges, one every 150 ms: three idle timeouts' worth.
    for i in 0..8u64 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        driver
            .cmd(
                json!({"action": "sim_input", "pin": 5, "value": (i + 1) % 2}),
                &mut none,
            )
            .await;
        let e = watcher.line().await;
        assert_eq!(e["event"], "edge", "{e}");
        assert_eq!(e["seq"], i + 1, "{e}");
    }
    let r = watcher.cmd(json!({"action": "ping"}), &mut none).await;
    assert_eq!(r["action"], "ping", "still open: {r}");
    assert!(none.is_empty(), "{none:?}");
    // Quiet pin, silent peer: closed an idle timeout later.
    let closing = watcher.line().await;
    assert_eq!(closing["exception"], "TimeoutError", "{closing}");
    d.stop().await;
}
