//! piconetd's connection rules end to end: clients that never read are
//! closed by the write timeout and free their slots; a pin written with
//! `"release_on_disconnect": true` reverts when its connection ends.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use piconet_server::{Limits, ServerConfig};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

mod common;
use common::{loopback, Daemon};

async fn daemon(limits: Limits) -> Daemon {
    Daemon::start(ServerConfig {
        listen: loopback(),
        limits,
        ..ServerConfig::default()
    })
    .await
}

struct Conn {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Conn {
        let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        Conn {
            reader: BufReader::new(r),
            writer: w,
        }
    }

    /// The next line, or None at end of stream.
    async fn line(&mut self) -> Option<Value> {
        let mut s = String::new();
        let n = tokio::time::timeout(Duration::from_secs(10), self.reader.read_line(&mut s))
            .await
            .expect("no response within 10 s")
            .ok()?;
        (n > 0).then(|| serde_json::from_str(&s).unwrap_or_else(|e| panic!("{s:?}: {e}")))
    }

    async fn cmd(&mut self, v: Value) -> Value {
        self.writer
            .write_all(format!("{v}\n").as_bytes())
            .await
            .unwrap();
        self.line().await.expect("connection closed")
    }
}

fn ok(r: Value) -> Value {
    assert!(r.get("error").is_none(), "{r}");
    r
}

/// A client that sends pings (each echoing a 1 KB field) as fast as the
/// daemon takes them and never reads a reply. Returns how long until the
/// daemon closed the connection (a write fails), or None if it was still
/// open after `give_up`.
async fn never_reads(addr: SocketAddr, give_up: Duration) -> Option<Duration> {
    let socket = TcpSocket::new_v4().unwrap();
    // A small receive window: the daemon's replies back up quickly.
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let line = format!("{}\n", json!({"action": "ping", "pad": "x".repeat(1000)}));
    let burst = line.repeat(64);
    let start = Instant::now();
    let written = tokio::time::timeout(give_up, async {
        loop {
            if stream.write_all(burst.as_bytes()).await.is_err() {
                return;
            }
        }
    })
    .await;
    written.ok().map(|()| start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_pipeline_and_never_read_are_closed_and_others_served() {
    let limits = Limits {
        write_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    assert_eq!(limits.max_connections, 64);
    let d = daemon(limits).await;
    let hostile: Vec<_> = (0..limits.max_connections + 4)
        .map(|_| tokio::spawn(never_reads(d.addr, Duration::from_secs(60))))
        .collect();
    // While they are connected every slot is taken; the write timeout
    // frees them. A client from the same host is then served again.
    for h in hostile {
        let closed_after = h.await.unwrap();
        assert!(
            closed_after.is_some(),
            "a client that never reads was not closed within 60 s"
        );
    }
    let mut good = Conn::open(d.addr).await;
    let r = ok(good.cmd(json!({"action": "ping"})).await);
    assert_eq!(r["action"], "ping");
    d.stop().await;
}

#[tokio::test]
async fn a_release_on_disconnect_pin_reverts_when_its_connection_ends() {
    let d = daemon(Limits::default()).await;
    let mut holder = Conn::open(d.addr).await;
    let mut other = Conn::open(d.addr).await;
    for pin in [2, 3] {
        ok(holder
            .cmd(json!({"action": "setup_pin", "pin": pin, "mode": "output", "value": 0}))
            .await);
    }
    ok(holder
        .cmd(json!({"action": "write_pin", "pin": 2, "value": 1, "timeout": 60, "release_on_disconnect": true}))
        .await);
    ok(holder
        .cmd(json!({"action": "write_pin", "pin": 3, "value": 1, "timeout": 0.8}))
        .await);
    let read = |pin: u32| json!({"action": "read_pin", "pin": pin});
    assert_eq!(ok(other.cmd(read(2)).await)["value"], 1);
    let dropped = Instant::now();
    drop(holder);
    // The daemon sees the close asynchronously: wait for it, boundedly.
    loop {
        if ok(other.cmd(read(2)).await)["value"] == 0 {
            break;
        }
        assert!(
            dropped.elapsed() < Duration::from_secs(5),
            "pin 2 still high 5 s after its connection closed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        ok(other.cmd(read(3)).await)["value"],
        1,
        "without the flag the lease runs to its timeout"
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(ok(other.cmd(read(3)).await)["value"], 0);
    d.stop().await;
}

#[tokio::test]
async fn an_idle_timeout_also_releases_the_pins_of_that_connection() {
    let limits = Limits {
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let d = daemon(limits).await;
    let mut holder = Conn::open(d.addr).await;
    ok(holder
        .cmd(json!({"action": "setup_pin", "pin": 4, "mode": "output", "value": 0}))
        .await);
    ok(holder
        .cmd(json!({"action": "write_pin", "pin": 4, "value": 1, "timeout": 60, "release_on_disconnect": true}))
        .await);
    let r = holder.line().await.unwrap();
    assert_eq!(r["exception"], "TimeoutError");
    assert!(holder.line().await.is_none());
    let mut other = Conn::open(d.addr).await;
    assert_eq!(
        ok(other.cmd(json!({"action": "read_pin", "pin": 4})).await)["value"],
        0
    );
    d.stop().await;
}
