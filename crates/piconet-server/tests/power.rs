//! `reset` and deep `sleep` on the simulated board behave like the Pico W
//! (issue 12.5): every connection is closed, and during a deep sleep no
//! connection is served, so clients can test their reconnect logic.

use std::net::SocketAddr;
use std::time::Duration;

use piconet_server::ServerConfig;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

mod common;
use common::{loopback, Daemon};

struct Conn(BufReader<TcpStream>);

impl Conn {
    async fn open(addr: SocketAddr) -> Conn {
        Conn(BufReader::new(TcpStream::connect(addr).await.unwrap()))
    }

    /// The next line, or None once the server closed the connection.
    async fn line(&mut self) -> Option<Value> {
        let mut s = String::new();
        let n = tokio::time::timeout(Duration::from_secs(5), self.0.read_line(&mut s))
            .await
            .expect("neither an answer nor closed within 5 s")
            .unwrap_or(0);
        (n > 0).then(|| serde_json::from_str(&s).unwrap())
    }

    async fn send(&mut self, v: Value) {
        self.0
            .get_mut()
            .write_all(format!("{v}\n").as_bytes())
            .await
            .unwrap();
    }

    async fn cmd(&mut self, v: Value) -> Value {
        self.send(v).await;
        let r = self.line().await.expect("closed");
        assert!(r.get("error").is_none(), "{r}");
        r
    }
}

async fn sim() -> Daemon {
    Daemon::start(ServerConfig {
        listen: loopback(),
        ..ServerConfig::default()
    })
    .await
}

#[tokio::test]
async fn reset_answers_then_closes_every_connection() {
    let d = sim().await;
    let mut a = Conn::open(d.addr).await;
    let mut b = Conn::open(d.addr).await;
    b.cmd(json!({"action": "setup_pin", "pin": 4, "mode": "output", "value": 1}))
        .await;
    a.cmd(json!({"action": "reset"})).await;
    assert!(a.line().await.is_none(), "the resetting client is closed");
    assert!(b.line().await.is_none(), "so is every other");
    // The board came back as at power-on.
    let mut c = Conn::open(d.addr).await;
    let r = c.0.get_mut();
    r.write_all(b"{\"action\": \"read_pin\", \"pin\": 4}\n")
        .await
        .unwrap();
    let answer = c.line().await.unwrap();
    assert!(answer.get("error").is_some(), "pin 4 forgotten: {answer}");
    d.stop().await;
}

#[tokio::test]
async fn a_deep_sleep_is_an_outage() {
    let d = sim().await;
    let mut a = Conn::open(d.addr).await;
    let mut b = Conn::open(d.addr).await;
    b.cmd(json!({"action": "ping"})).await;
    let slept = std::time::Instant::now();
    a.cmd(json!({"action": "sleep", "time_ms": 800, "deep": 1}))
        .await;
    assert!(a.line().await.is_none());
    assert!(b.line().await.is_none());
    // While it sleeps a new connection is closed unanswered.
    let mut during = TcpStream::connect(d.addr).await.unwrap();
    let _ = during.write_all(b"{\"action\": \"ping\"}\n").await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), during.read_to_end(&mut buf))
        .await
        .expect("closed at once");
    assert!(
        buf.is_empty() || slept.elapsed() >= Duration::from_millis(800),
        "answered during the sleep: {buf:?}"
    );
    // After it, served again.
    tokio::time::sleep(Duration::from_millis(900).saturating_sub(slept.elapsed())).await;
    let mut after = Conn::open(d.addr).await;
    after.cmd(json!({"action": "ping"})).await;
    d.stop().await;
}

#[tokio::test]
async fn a_light_sleep_keeps_connections() {
    let d = sim().await;
    let mut a = Conn::open(d.addr).await;
    a.cmd(json!({"action": "sleep", "time_ms": 100, "deep": 0}))
        .await;
    a.cmd(json!({"action": "ping"})).await;
    d.stop().await;
}
