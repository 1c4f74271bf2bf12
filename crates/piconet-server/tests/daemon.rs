//! piconetd end to end over real sockets on loopback: the seed's sequence,
//! leases, limits and hostile input. Each test starts its own daemon on an
//! ephemeral port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use piconet_server::{Limits, ServerConfig, ShutdownReport, TlsFiles};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

mod common;
use common::{loopback, tempdir, Daemon};

async fn daemon(limits: Limits, tls: Option<TlsFiles>) -> Daemon {
    Daemon::start(ServerConfig {
        listen: loopback(),
        limits,
        tls,
        ..ServerConfig::default()
    })
    .await
}

async fn plain() -> Daemon {
    daemon(Limits::default(), None).await
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

    async fn write(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// The next response line, or None at end of stream.
    async fn line(&mut self) -> Option<Value> {
        let mut s = String::new();
        let n = tokio::time::timeout(Duration::from_secs(5), self.reader.read_line(&mut s))
            .await
            .expect("no response within 5 s")
            .unwrap();
        (n > 0).then(|| serde_json::from_str(&s).unwrap_or_else(|e| panic!("{s:?}: {e}")))
    }

    async fn cmd(&mut self, v: Value) -> Value {
        self.write(format!("{v}\n").as_bytes()).await;
        self.line().await.expect("connection closed")
    }
}

fn ok(r: &Value) -> &Value {
    assert!(r.get("error").is_none(), "{r}");
    r
}

#[tokio::test]
async fn the_seed_example_over_one_connection() {
    let d = plain().await;
    let mut c = Conn::open(d.addr).await;
    let cmds = [
        json!({"action": "setup_pin", "pin": 2, "mode": "output", "value": 0, "time_sent": 1}),
        json!({"action": "read_pin", "pin": 2, "time_sent": 2}),
        json!({"action": "write_pin", "pin": 2, "value": 1, "timeout": 0.3, "time_sent": 3}),
        json!({"action": "read_pin", "pin": 2, "time_sent": 4}),
    ];
    let mut wire = String::new();
    for (i, cmd) in cmds.iter().enumerate() {
        wire.push_str(&cmd.to_string());
        wire.push_str(if i == cmds.len() - 1 { "\n\n" } else { "\n" });
    }
    c.write(wire.as_bytes()).await;
    let mut responses = Vec::new();
    while let Some(r) = c.line().await {
        responses.push(r);
    }
    assert_eq!(responses.len(), 4, "the server answers all, then closes");
    for (r, cmd) in responses.iter().zip(&cmds) {
        ok(r);
        for (k, v) in cmd.as_object().unwrap() {
            assert_eq!(&r[k], v, "echo of {k}");
        }
        let t = r["time_received"].as_u64().unwrap();
        assert!(
            t > 1_600_000_000_000_000_000,
            "time_received is UNIX ns: {t}"
        );
    }
    assert_eq!(responses[1]["value"], 0);
    assert_eq!(responses[3]["value"], 1);

    // The lease reverts by itself, observed from a new connection.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut c = Conn::open(d.addr).await;
    assert_eq!(
        ok(&c.cmd(json!({"action": "read_pin", "pin": 2})).await)["value"],
        0
    );
    d.stop().await;
}

#[tokio::test]
async fn pipelined_commands_are_all_answered_in_order() {
    let d = plain().await;
    let mut c = Conn::open(d.addr).await;
    let burst: String = (0..16)
        .map(|i| format!("{{\"action\": \"ping\", \"n\": {i}}}\n"))
        .collect();
    c.write(burst.as_bytes()).await;
    for i in 0..16 {
        assert_eq!(ok(&c.line().await.unwrap())["n"], i);
    }
    d.stop().await;
}

#[tokio::test]
async fn bursts_longer_than_one_lock_batch_are_all_answered_in_order() {
    // Several batches of lines per engine lock (and a yield between
    // them), with a line split across two writes at the end.
    let d = plain().await;
    let mut c = Conn::open(d.addr).await;
    let burst: String = (0..300)
        .map(|i| format!("{{\"action\": \"ping\", \"n\": {i}}}\n"))
        .collect();
    let (head, tail) = burst.split_at(burst.len() - 7);
    c.write(head.as_bytes()).await;
    c.write(tail.as_bytes()).await;
    for i in 0..300 {
        assert_eq!(ok(&c.line().await.unwrap())["n"], i);
    }
    d.stop().await;
}

#[tokio::test]
async fn leased_pins_revert_on_shutdown() {
    let d = plain().await;
    let mut c = Conn::open(d.addr).await;
    ok(&c
        .cmd(json!({"action": "setup_pin", "pin": 5, "mode": "output", "value": 0}))
        .await);
    ok(&c
        .cmd(json!({"action": "write_pin", "pin": 5, "value": 1, "timeout": 3600}))
        .await);
    ok(&c
        .cmd(json!({"action": "setup_pin", "pin": 6, "mode": "output", "value": 1}))
        .await);
    ok(&c
        .cmd(json!({"action": "write_pin", "pin": 6, "value": 0, "timeout": 3600}))
        .await);
    assert_eq!(d.stop().await, ShutdownReport { reverted: 2 });
}

#[tokio::test]
async fn two_clients_share_one_board() {
    let d = plain().await;
    let mut a = Conn::open(d.addr).await;
    let mut b = Conn::open(d.addr).await;
    ok(&a
        .cmd(json!({"action": "setup_pin", "pin": 7, "mode": "output", "value": 1}))
        .await);
    assert_eq!(
        ok(&b.cmd(json!({"action": "read_pin", "pin": 7})).await)["value"],
        1
    );
    d.stop().await;
}

/// Each hostile client gets a clear error or is closed, while a well-
/// behaved client on another connection keeps getting correct answers.
#[tokio::test]
async fn hostile_input_leaves_other_clients_served() {
    let limits = Limits {
        max_line: 1024,
        ..Limits::default()
    };
    let d = daemon(limits, None).await;
    let mut good = Conn::open(d.addr).await;
    ok(&good
        .cmd(json!({"action": "setup_pin", "pin": 3, "mode": "output", "value": 0}))
        .await);
    // A lease running through all the abuse below must still revert.
    ok(&good
        .cmd(json!({"action": "setup_pin", "pin": 8, "mode": "output", "value": 0}))
        .await);
    ok(&good
        .cmd(json!({"action": "write_pin", "pin": 8, "value": 1, "timeout": 0.3}))
        .await);
    let lease_started = std::time::Instant::now();

    // Malformed JSON, wrong types, an unknown action: errors, and the
    // connection stays usable.
    let mut bad = Conn::open(d.addr).await;
    for (line, exception) in [
        ("{\"action\": \"read_pin\", \"pin\": }", "ValueError"),
        ("{\"action\": \"read_pin\", \"pin\": [1]}", "ValueError"),
        ("{\"action\": \"fly\"}", "ValueError"),
        ("{\"pin\": 3}", "KeyError"),
        (
            "{\"action\": \"write_pin\", \"pin\": 3, \"value\": 1, \"timeout\": -1}",
            "ValueError",
        ),
    ] {
        bad.write(format!("{line}\n").as_bytes()).await;
        assert_eq!(bad.line().await.unwrap()["exception"], exception, "{line}");
    }
    // An over-long line: one error, then the connection works again.
    let long = vec![b'x'; 5000];
    bad.write(&long).await;
    bad.write(b"\n").await;
    let r = bad.line().await.unwrap();
    assert!(
        r["error"].as_str().unwrap().contains("longer than 1024"),
        "{r}"
    );
    ok(&bad.cmd(json!({"action": "ping"})).await);
    // Binary garbage.
    bad.write(&[0xff, 0x00, 0xfe, b'\n']).await;
    assert_eq!(bad.line().await.unwrap()["exception"], "ValueError");

    // A client that vanishes mid-line.
    let mut vanish = TcpStream::connect(d.addr).await.unwrap();
    vanish
        .write_all(b"{\"action\": \"write_pin\", \"pin\": 3, ")
        .await
        .unwrap();
    drop(vanish);

    // A blank line first: the server closes at once.
    let mut blank = Conn::open(d.addr).await;
    blank.write(b"\n").await;
    assert!(blank.line().await.is_none());

    ok(&good.cmd(json!({"action": "read_pin", "pin": 3})).await);
    if let Some(left) = Duration::from_millis(600).checked_sub(lease_started.elapsed()) {
        tokio::time::sleep(left).await;
    }
    assert_eq!(
        ok(&good.cmd(json!({"action": "read_pin", "pin": 8})).await)["value"],
        0,
        "the lease reverted despite the hostile clients"
    );
    let info = ok(&good.cmd(json!({"action": "get_info"})).await)["info"].clone();
    assert_eq!(info["lease_reverts"]["count"], 1);
    assert_eq!(
        ok(&good.cmd(json!({"action": "read_pin", "pin": 3})).await)["value"],
        0
    );
    d.stop().await;
}

#[tokio::test]
async fn one_connection_over_the_limit_is_told_and_closed() {
    let limits = Limits {
        max_connections: 2,
        ..Limits::default()
    };
    let d = daemon(limits, None).await;
    let mut a = Conn::open(d.addr).await;
    let mut b = Conn::open(d.addr).await;
    ok(&a.cmd(json!({"action": "ping"})).await);
    ok(&b.cmd(json!({"action": "ping"})).await);
    let mut c = Conn::open(d.addr).await;
    let r = c.line().await.unwrap();
    assert_eq!(r["exception"], "ConnectionRefusedError");
    assert!(r["error"].as_str().unwrap().contains("2 connections"));
    assert!(c.line().await.is_none());
    ok(&a.cmd(json!({"action": "ping"})).await);
    drop(a);
    // A freed slot is usable again.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut e = Conn::open(d.addr).await;
    ok(&e.cmd(json!({"action": "ping"})).await);
    d.stop().await;
}

#[tokio::test]
async fn an_idle_connection_is_closed_with_a_reason() {
    let limits = Limits {
        idle_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let d = daemon(limits, None).await;
    let mut c = Conn::open(d.addr).await;
    ok(&c.cmd(json!({"action": "ping"})).await);
    let r = c.line().await.unwrap();
    assert_eq!(r["exception"], "TimeoutError");
    assert!(c.line().await.is_none());
    d.stop().await;
}

#[tokio::test]
async fn a_slowloris_is_closed_and_others_are_served() {
    let limits = Limits {
        line_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let d = daemon(limits, None).await;
    let mut slow = Conn::open(d.addr).await;
    let mut good = Conn::open(d.addr).await;
    let trickle = async {
        for b in b"{\"action\": \"ping\"}" {
            if slow.writer.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let served = async {
        for _ in 0..5 {
            ok(&good.cmd(json!({"action": "ping"})).await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::join!(trickle, served);
    let r = slow.line().await.unwrap();
    assert_eq!(r["exception"], "TimeoutError");
    assert!(
        r["error"].as_str().unwrap().contains("not finished within"),
        "{r}"
    );
    assert!(slow.line().await.is_none());
    d.stop().await;
}

#[tokio::test]
async fn a_mebibyte_without_newline_gets_one_error_and_the_connection_recovers() {
    let d = plain().await;
    let mut c = Conn::open(d.addr).await;
    let mut other = Conn::open(d.addr).await;
    let blob = vec![b'a'; 1024 * 1024];
    c.write(&blob).await;
    let r = c.line().await.unwrap();
    assert!(
        r["error"].as_str().unwrap().contains("longer than 65536"),
        "{r}"
    );
    ok(&other.cmd(json!({"action": "ping"})).await);
    c.write(b"\n").await;
    ok(&c.cmd(json!({"action": "ping"})).await);
    d.stop().await;
}

#[tokio::test]
async fn a_thousand_simultaneous_connections_are_all_served() {
    let limits = Limits {
        max_connections: 1024,
        max_connections_per_address: 1024,
        ..Limits::default()
    };
    let d = daemon(limits, None).await;
    let mut conns = Vec::new();
    for _ in 0..1000 {
        conns.push(Conn::open(d.addr).await);
    }
    // All connected at once; each sends, then all read.
    for (i, c) in conns.iter_mut().enumerate() {
        c.write(format!("{{\"action\": \"ping\", \"i\": {i}}}\n").as_bytes())
            .await;
    }
    for (i, c) in conns.iter_mut().enumerate() {
        assert_eq!(ok(&c.line().await.unwrap())["i"], i);
    }
    d.stop().await;
}

#[tokio::test]
async fn a_tls_client_hello_on_the_plaintext_port_harms_no_one() {
    let d = plain().await;
    let mut good = Conn::open(d.addr).await;
    let dir = tempdir("tls");
    let (_, der) = tls_identity(&dir);
    let tcp = TcpStream::connect(d.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("piconet.local").unwrap();
    let handshake =
        tokio::time::timeout(Duration::from_secs(5), tls_client(der).connect(name, tcp)).await;
    assert!(
        !matches!(handshake, Ok(Ok(_))),
        "a TLS handshake cannot succeed against plaintext"
    );
    ok(&good.cmd(json!({"action": "ping"})).await);
    d.stop().await;
}

fn tls_identity(dir: &std::path::Path) -> (TlsFiles, Vec<u8>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["piconet.local".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    (files, cert.der().to_vec())
}

fn tls_client(cert_der: Vec<u8>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert_der.into()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn tls_serves_and_plaintext_on_the_tls_port_harms_no_one() {
    let dir = tempdir("tls");
    let (files, der) = tls_identity(&dir);
    let d = daemon(Limits::default(), Some(files)).await;

    // Plaintext on the TLS port: the handshake fails, that client is closed.
    let mut plain = TcpStream::connect(d.addr).await.unwrap();
    plain.write_all(b"{\"action\": \"ping\"}\n").await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut buf))
        .await
        .unwrap();
    assert!(!buf.starts_with(b"{"), "no protocol answer over plaintext");

    let tcp = TcpStream::connect(d.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("piconet.local").unwrap();
    let mut tls = tls_client(der).connect(name, tcp).await.unwrap();
    tls.write_all(b"{\"action\": \"get_version\"}\n{\"action\": \"ping\"}\n\n")
        .await
        .unwrap();
    let mut text = String::new();
    tls.read_to_string(&mut text).await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["version"], env!("CARGO_PKG_VERSION"));
    ok(&lines[1]);
    d.stop().await;
}

#[tokio::test]
async fn der_identity_as_the_seed_makes_it_loads() {
    // The seed's files: certificate and SEC1 key in DER.
    let dir = tempdir("tls");
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["pico".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let pkcs8 = key.serialize_der();
    let files = TlsFiles {
        cert: dir.join("ec_cert.der"),
        key: dir.join("ec_key.der"),
    };
    std::fs::write(&files.cert, cert.der()).unwrap();
    std::fs::write(&files.key, &pkcs8).unwrap();
    piconet_server::tls::server_config(&files).unwrap();
    // And a key file with no key in it is refused with advice.
    std::fs::write(&files.key, b"not a key").unwrap();
    let e = piconet_server::tls::server_config(&files)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no usable private key"), "{e}");
}

#[tokio::test]
async fn get_info_reports_the_board_name_given_or_made_from_its_id() {
    let named = Daemon::start(ServerConfig {
        listen: loopback(),
        name: Some("garden".to_owned()),
        ..ServerConfig::default()
    })
    .await;
    let info = ok(&Conn::open(named.addr)
        .await
        .cmd(json!({"action": "get_info"}))
        .await)["info"]
        .clone();
    assert_eq!(info["name"], "garden", "{info}");
    named.stop().await;

    // Unnamed: piconet- and the last four hex digits of the board id the
    // mDNS TXT `id` carries (it hashes the port, so it is made after bind).
    let unnamed = plain().await;
    let id = piconet_server::announce::board_id("sim", unnamed.addr.port());
    let info = ok(&Conn::open(unnamed.addr)
        .await
        .cmd(json!({"action": "get_info"}))
        .await)["info"]
        .clone();
    assert_eq!(info["name"], format!("piconet-{}", &id[12..]), "{info}");
    unnamed.stop().await;
}
