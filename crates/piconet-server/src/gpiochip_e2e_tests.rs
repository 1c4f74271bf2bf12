//! piconetd's GPIO chip board end to end, with a fake kernel: a client
//! watches a line over TCP, the test delivers edge events as the kernel
//! reports them, and the event lines arrive in order with the kernel's
//! timestamps, debounced by the engine, overflow and kernel drops
//! accounted for; the edge request ends with the last unwatch and with the
//! watcher's disconnect.
//!
//! No kernel takes part: `gpiochip::fake_lines` stands in for the line
//! requests and their event stream (`CdevLines` and its reader are the
//! real side; see the README).

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};

use crate::clock::Clock;
use crate::edges::KernelEdge;
use crate::gpiochip::fake_lines::{kernel_edge, FakeLines, Kernel};
use crate::gpiochip::GpioChipBoard;
use crate::server::{Server, ServerConfig};

#[path = "../tests/common/conn.rs"]
mod conn;
use conn::Conn;

/// A daemon on a fake chip; stops when the sender is dropped.
struct Daemon {
    addr: SocketAddr,
    kernel: Kernel,
    /// CLOCK_MONOTONIC at the engine clock's origin.
    origin_ns: u64,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn daemon() -> Daemon {
    let clock = Clock::start();
    let (edges, receiver) = crate::edges::channel(clock);
    let kernel = Kernel::default();
    let origin_ns = edges.origin_ns();
    let lines = FakeLines::with_edges(edges.clone(), kernel.clone());
    let board = GpioChipBoard::with_lines(
        lines,
        "/dev/gpiochip-fake".into(),
        None,
        clock.epoch_ns(),
        edges,
    );
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServerConfig::default()
    };
    let server = Server::bind_board(config, clock, Box::new(board), Some(receiver))
        .await
        .unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    Daemon {
        addr,
        kernel,
        origin_ns,
        _stop: stop,
    }
}

impl Daemon {
    /// The kernel reports an edge on `offset` at `us` on the engine clock.
    fn edge(&self, offset: u32, rising: bool, us: u64, line_seqno: u32) -> bool {
        let edge = KernelEdge {
            offset,
            rising,
            timestamp_ns: self.origin_ns + us * 1000,
            line_seqno,
        };
        kernel_edge(&self.kernel, edge)
    }

    fn detecting(&self, offset: u32) -> bool {
        self.kernel.lock().unwrap().contains_key(&offset)
    }

    /// Wait (at most 5 s) until `offset`'s edge detection is `on`.
    async fn until_detecting(&self, offset: u32, on: bool) {
        for _ in 0..500 {
            if self.detecting(offset) == on {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("line {offset}: edge detection not {on} within 5 s");
    }
}

fn edge(value: u8, time_us: u64, seq: u64) -> Value {
    json!({"event": "edge", "pin": 5, "value": value, "time_us": time_us, "seq": seq})
}

// One thread: the edges a test delivers in one go reach the engine in one
// batch, before the connection can write any, so the overflow is exact.
#[tokio::test(flavor = "current_thread")]
async fn kernel_edges_reach_the_watching_client_debounced_and_accounted_for() {
    let d = daemon().await;
    let mut c = Conn::open(d.addr).await;
    let mut none = Vec::new();
    c.cmd(
        json!({"action": "setup_pin", "pin": 5, "mode": "input", "pull": "up"}),
        &mut none,
    )
    .await;
    assert!(!d.detecting(5), "an input alone gets no edge request");
    c.cmd(
        json!({"action": "watch_pin", "pin": 5, "debounce_ms": 10}),
        &mut none,
    )
    .await;
    assert!(d.detecting(5), "watch_pin requests edge detection");

    // In order, with the kernel's timestamps; the bounce 2 µs after the
    // first edge is within the 10 ms debounce.
    assert!(d.edge(5, false, 1_000, 1));
    assert!(d.edge(5, true, 1_002, 2));
    assert!(d.edge(5, true, 30_000, 3));
    assert_eq!(c.events().await, [edge(0, 1_000, 1), edge(1, 30_000, 2)]);

    // A re-setup with another pull keeps the edge request.
    c.cmd(
        json!({"action": "setup_pin", "pin": 5, "mode": "input", "pull": "down"}),
        &mut none,
    )
    .await;
    assert!(d.detecting(5));

    // 40 edges at once without debounce: the connection's queue takes 16,
    // the rest are counted in one overflow line.
    c.cmd(json!({"action": "watch_pin", "pin": 5}), &mut none)
        .await;
    for i in 0..40u32 {
        assert!(d.edge(5, i % 2 == 0, 100_000 + u64::from(i), 4 + i));
    }
    let burst = c.events().await;
    let mut expected: Vec<Value> = (0..16u64)
        .map(|i| edge(u8::from(i % 2 == 0), 100_000 + i, 3 + i))
        .collect();
    expected.push(json!({"event": "overflow", "dropped": 24, "seq": 42}));
    assert_eq!(burst, expected);

    // The kernel dropped seqnos 44..=46: lost before any seq, in
    // edges_lost; the next edge still arrives.
    assert!(d.edge(5, true, 200_000, 47));
    assert_eq!(c.events().await, [edge(1, 200_000, 43)]);
    let info = c.cmd(json!({"action": "get_info"}), &mut none).await;
    assert_eq!(info["info"]["edges_lost"], 3, "{info}");

    // The last unwatch ends the edge request; the line stays an input.
    c.cmd(json!({"action": "unwatch_pin", "pin": 5}), &mut none)
        .await;
    assert!(!d.detecting(5));
    let pins = c.cmd(json!({"action": "get_pins"}), &mut none).await;
    assert_eq!(pins["pins"][0]["mode"], "input", "{pins}");
    assert_eq!(pins["pins"][0]["watched"], false, "{pins}");
}

#[tokio::test]
async fn the_watchers_disconnect_ends_the_edge_request() {
    let d = daemon().await;
    let mut a = Conn::open(d.addr).await;
    let mut b = Conn::open(d.addr).await;
    let mut none = Vec::new();
    a.cmd(
        json!({"action": "setup_pin", "pin": 5, "mode": "input"}),
        &mut none,
    )
    .await;
    a.cmd(json!({"action": "watch_pin", "pin": 5}), &mut none)
        .await;
    b.cmd(
        json!({"action": "watch_pin", "pin": 5, "edge": "rising"}),
        &mut none,
    )
    .await;
    assert!(d.edge(5, true, 10, 1));
    assert_eq!(b.events().await, [edge(1, 10, 1)]);
    // One of two watchers gone: the request stays for the other.
    drop(a);
    assert!(d.edge(5, false, 20, 2));
    assert!(d.edge(5, true, 30, 3));
    assert_eq!(b.events().await, [edge(1, 30, 2)]);
    assert!(d.detecting(5));
    drop(b);
    d.until_detecting(5, false).await;
    // A new connection watches again: a new request.
    let mut c = Conn::open(d.addr).await;
    c.cmd(json!({"action": "watch_pin", "pin": 5}), &mut none)
        .await;
    assert!(d.detecting(5));
}
