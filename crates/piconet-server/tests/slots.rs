//! The slot policy end to end (issue 12.3): one address's idle or
//! half-open connections cannot keep a client from another address out.
//! Loopback has all of 127.0.0.0/8, so clients bind 127.0.0.N to be
//! different addresses.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use piconet_server::{Limits, ServerConfig, TlsFiles};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

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

/// A TCP connection from 127.0.0.`host`.
async fn connect_from(host: u8, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    let from = SocketAddr::new(IpAddr::from([127, 0, 0, host]), 0);
    socket.bind(from).unwrap();
    socket.connect(to).await.unwrap()
}

/// The next line as JSON, or None at end of stream (5 s at most).
async fn line<S: AsyncRead + Unpin>(r: &mut BufReader<S>) -> Option<Value> {
    let mut s = String::new();
    let n = tokio::time::timeout(Duration::from_secs(5), r.read_line(&mut s))
        .await
        .expect("nothing within 5 s")
        .unwrap_or(0);
    (n > 0).then(|| serde_json::from_str(&s).unwrap_or_else(|e| panic!("{s:?}: {e}")))
}

async fn ping<S: AsyncRead + AsyncWrite + Unpin>(c: &mut BufReader<S>) -> Value {
    c.get_mut()
        .write_all(b"{\"action\": \"ping\"}\n")
        .await
        .unwrap();
    line(c).await.expect("closed")
}

/// Sockets the server holds open for accepted connections: entries of
/// /proc/net/tcp on the server's port that are not the listener and have
/// an inode (connections the kernel completed but nobody accepted have
/// none; client sockets have the port as their remote end). Counted this
/// way, not by open descriptors, because other tests run in this process.
fn accepted_sockets(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local_port = f[1].rsplit(':').next().unwrap();
            u16::from_str_radix(local_port, 16) == Ok(port) && f[3] != "0A" && f[9] != "0"
        })
        .count()
}

#[tokio::test]
async fn idle_sockets_from_one_address_leave_room_for_another() {
    let limits = Limits {
        max_connections: 8,
        max_connections_per_address: 4,
        ..Limits::default()
    };
    let d = daemon(limits, None).await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(BufReader::new(connect_from(1, d.addr).await));
    }
    // Over its share, fresh ones: refused, with a reason.
    for _ in 0..50 {
        let mut c = BufReader::new(connect_from(1, d.addr).await);
        let r = line(&mut c).await.expect("a refusal line");
        assert_eq!(r["exception"], "ConnectionRefusedError");
        let why = r["error"].as_str().unwrap();
        assert!(why.contains("--max-connections-per-address"), "{why}");
    }
    let mut other = BufReader::new(connect_from(2, d.addr).await);
    assert!(ping(&mut other).await.get("error").is_none());
    d.stop().await;
}

#[tokio::test]
async fn a_full_table_of_idle_connections_makes_way_for_a_newcomer() {
    let limits = Limits {
        max_connections: 4,
        max_connections_per_address: 4,
        // Long enough that the four connections set up below are still
        // "in use" when `early` arrives, even on a loaded machine (with
        // 200 ms the first could already be evictable, and `early` was
        // served instead of refused).
        evictable_after: Duration::from_millis(1000),
        ..Limits::default()
    };
    let d = daemon(limits, None).await;
    let mut held = Vec::new();
    for host in 3..7 {
        let mut c = BufReader::new(connect_from(host, d.addr).await);
        assert!(ping(&mut c).await.get("error").is_none());
        held.push(c);
    }
    // All four in use right now: a newcomer is refused...
    let mut early = BufReader::new(connect_from(2, d.addr).await);
    let r = line(&mut early).await.unwrap();
    assert_eq!(r["exception"], "ConnectionRefusedError", "{r}");
    // ...but once they idle, the longest idle makes way.
    tokio::time::sleep(Duration::from_millis(700)).await;
    for c in &mut held[1..] {
        assert!(ping(c).await.get("error").is_none());
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut newcomer = BufReader::new(connect_from(2, d.addr).await);
    assert!(ping(&mut newcomer).await.get("error").is_none());
    let r = line(&mut held[0]).await.expect("told why");
    assert!(
        r["error"].as_str().unwrap().contains("idle the longest"),
        "{r}"
    );
    assert!(line(&mut held[0]).await.is_none(), "then closed");
    for c in &mut held[1..] {
        assert!(ping(c).await.get("error").is_none(), "still served");
    }
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

async fn tls_from(
    host: u8,
    d: &Daemon,
    connector: &tokio_rustls::TlsConnector,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let name = rustls_pki_types::ServerName::try_from("piconet.local").unwrap();
    let tcp = connect_from(host, d.addr).await;
    tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp))
        .await
        .expect("handshake neither done nor refused within 5 s")
}

#[tokio::test]
async fn three_thousand_half_open_tls_connections_hold_no_slot_and_few_fds() {
    let dir = tempdir("slots-tls");
    let (files, der) = tls_identity(&dir);
    let limits = Limits {
        max_connections: 4,
        max_handshakes: 16,
        max_handshakes_per_address: 8,
        ..Limits::default()
    };
    let d = daemon(limits, Some(files)).await;
    let connector = tls_client(der);
    let mut silent = Vec::new();
    for _ in 0..3000 {
        silent.push(connect_from(1, d.addr).await);
    }
    // Let the server accept them all (it closes all but 8 at once).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held_by_server = accepted_sockets(d.addr.port());
    assert!(
        (1..=8).contains(&held_by_server),
        "the server holds {held_by_server} descriptors for 3,000 silent connections"
    );
    // A client from another address: full handshake, served.
    let tls = tls_from(2, &d, &connector).await.unwrap();
    let mut c = BufReader::new(tls);
    assert!(ping(&mut c).await.get("error").is_none());
    drop(silent);
    d.stop().await;
}

#[tokio::test]
async fn over_the_limit_a_tls_client_is_refused_before_the_handshake() {
    let dir = tempdir("slots-tls-full");
    let (files, der) = tls_identity(&dir);
    let limits = Limits {
        max_connections: 2,
        max_connections_per_address: 2,
        evictable_after: Duration::from_secs(60),
        ..Limits::default()
    };
    let d = daemon(limits, Some(files)).await;
    let connector = tls_client(der);
    let mut held = Vec::new();
    for host in [3, 4] {
        let mut c = BufReader::new(tls_from(host, &d, &connector).await.unwrap());
        assert!(ping(&mut c).await.get("error").is_none());
        held.push(c);
    }
    // Closed at accept: the handshake never gets a ServerHello.
    let mut raw = connect_from(5, d.addr).await;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), raw.read_to_end(&mut buf))
        .await
        .expect("closed at once")
        .unwrap_or_default();
    assert!(buf.is_empty(), "no handshake bytes: {buf:?}");
    assert!(tls_from(5, &d, &connector).await.is_err());
    for c in &mut held {
        assert!(ping(c).await.get("error").is_none(), "still served");
    }
    d.stop().await;
}

#[tokio::test]
async fn a_silent_tls_connection_is_closed_at_the_handshake_timeout() {
    let dir = tempdir("slots-tls-timeout");
    let (files, _) = tls_identity(&dir);
    let limits = Limits {
        handshake_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let d = daemon(limits, Some(files)).await;
    let mut silent = connect_from(3, d.addr).await;
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), silent.read_to_end(&mut buf))
        .await
        .expect("closed by the handshake timeout, long before the idle timeout")
        .unwrap_or(0);
    assert_eq!(n, 0, "nothing sent to a peer that never said hello");
    d.stop().await;
}

#[tokio::test]
async fn a_full_handshake_stage_drops_its_oldest_for_a_newcomer() {
    let dir = tempdir("slots-tls-stage");
    let (files, der) = tls_identity(&dir);
    let limits = Limits {
        max_handshakes: 4,
        max_handshakes_per_address: 4,
        evictable_after: Duration::from_millis(200),
        // Only eviction can close the silent ones within the test.
        handshake_timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let d = daemon(limits, Some(files)).await;
    let connector = tls_client(der);
    // Four silent peers from four addresses fill the stage...
    let mut silent = Vec::new();
    for host in 3..7 {
        silent.push(connect_from(host, d.addr).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ...and a real client still gets its handshake: the oldest makes way.
    let mut c = BufReader::new(tls_from(2, &d, &connector).await.unwrap());
    assert!(ping(&mut c).await.get("error").is_none());
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), silent[0].read_to_end(&mut buf))
        .await
        .expect("the oldest pending handshake was dropped")
        .unwrap_or(0);
    assert_eq!(n, 0);
    d.stop().await;
}
