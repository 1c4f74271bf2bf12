//! A test's connection to a piconetd: JSON lines each way, event lines
//! told apart from replies. Shared by the end-to-end tests here and the
//! crate's own fake-chip tests (included there by path).

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct Conn {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    /// For tests that write raw bytes.
    pub writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Conn {
        let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        Conn {
            reader: BufReader::new(r),
            writer: w,
        }
    }

    /// A connection whose socket takes at most about `bytes` before the
    /// server must hold back: a reader that falls behind, made quickly.
    #[allow(dead_code)]
    pub async fn open_with_receive_buffer(addr: SocketAddr, bytes: u32) -> Conn {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        }
        .unwrap();
        socket.set_recv_buffer_size(bytes).unwrap();
        let (r, w) = socket.connect(addr).await.unwrap().into_split();
        Conn {
            reader: BufReader::new(r),
            writer: w,
        }
    }

    pub async fn line(&mut self) -> Value {
        let mut s = String::new();
        let n = tokio::time::timeout(Duration::from_secs(10), self.reader.read_line(&mut s))
            .await
            .expect("no line within 10 s")
            .unwrap();
        assert!(n > 0, "connection closed");
        serde_json::from_str(&s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    pub async fn send(&mut self, v: Value) {
        self.writer
            .write_all(format!("{v}\n").as_bytes())
            .await
            .unwrap();
    }

    /// Send `v` and return its reply, collecting the event lines that
    /// come before it into `events`.
    pub async fn cmd(&mut self, v: Value, events: &mut Vec<Value>) -> Value {
        let sent = v.to_string();
        self.send(v).await;
        loop {
            let line = self.line().await;
            if line.get("event").is_some() {
                assert!(line.get("action").is_none(), "{line}");
                events.push(line);
                continue;
            }
            assert!(line.get("error").is_none(), "{sent} -> {line}");
            return line;
        }
    }

    /// Event lines until a `ping`'s reply: every line the daemon had for
    /// this connection when the ping arrived.
    pub async fn events(&mut self) -> Vec<Value> {
        let mut events = Vec::new();
        self.cmd(json!({"action": "ping"}), &mut events).await;
        events
    }
}
