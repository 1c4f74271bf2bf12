//! The piconet client library against a real piconetd: every action, a
//! lease revert seen through read_pin, TLS verified against the server's
//! certificate, and the trust-on-first-use store refusing a changed key.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use piconet_client::{Client, Error, Level, Mode, Pull, ServerAddr, TlsVerify};
use piconet_server::{ServerConfig, TlsFiles};

mod common;
use common::{loopback, tempdir, Daemon};

async fn start(listen: SocketAddr, tls: Option<TlsFiles>) -> Daemon {
    Daemon::start(ServerConfig {
        listen,
        tls,
        ..ServerConfig::default()
    })
    .await
}

fn client(d: &Daemon) -> Client {
    Client::new(ServerAddr::new(d.addr.ip().to_string(), d.addr.port()))
}

fn identity(dir: &Path, name: &str) -> TlsFiles {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    // No subject alternative name, like the seed's openssl certificate.
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "pico");
    let cert = params.self_signed(&key).unwrap();
    let files = TlsFiles {
        cert: dir.join(format!("{name}.crt")),
        key: dir.join(format!("{name}.key")),
    };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    files
}

#[tokio::test]
async fn the_client_drives_every_action() {
    let d = start(loopback(), None).await;
    let c = client(&d);

    c.setup_pin(2, Mode::Output, Some(Level::Low), None)
        .await
        .unwrap();
    c.setup_pin(3, Mode::Input, None, Some(Pull::Up))
        .await
        .unwrap();
    assert_eq!(c.read_pin(3).await.unwrap(), Level::High);
    assert_eq!(c.read_pin(2).await.unwrap(), Level::Low);
    c.write_pin(2, Level::High, Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(c.read_pin(2).await.unwrap(), Level::High);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        c.read_pin(2).await.unwrap(),
        Level::Low,
        "the lease reverted"
    );

    let stats = c.ping(5).await.unwrap();
    assert_eq!(stats.count, 5);
    assert!(stats.round_trip.min_ns > 0);

    let info = c.info().await.unwrap();
    assert!(info["board"].as_str().unwrap().contains("Pico W"));
    assert_eq!(info["lease_reverts"]["count"], 1);
    assert_eq!(c.version().await.unwrap(), env!("CARGO_PKG_VERSION"));
    let actions = c.actions().await.unwrap();
    for a in [
        "setup_pin",
        "write_pin",
        "read_pin",
        "ping",
        "reset",
        "sleep",
        "get_info",
        "get_version",
        "list_actions",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    c.sleep(10, false).await.unwrap();
    assert_eq!(
        c.read_pin(2).await.unwrap(),
        Level::Low,
        "light sleep keeps pins"
    );
    c.reset().await.unwrap();
    match c.read_pin(2).await {
        Err(Error::Server {
            exception, error, ..
        }) => {
            assert_eq!(exception, "GPIOPinNotSetupError");
            assert!(error.contains("pin 2 not setup"), "{error}");
        }
        other => panic!("after reset: {other:?}"),
    }
    match c.write_pin(24, Level::High, Duration::from_secs(1)).await {
        Err(Error::Server {
            exception, error, ..
        }) => {
            assert_eq!(exception, "ValueError");
            assert!(error.contains("WiFi chip"), "{error}");
        }
        other => panic!("pin 24: {other:?}"),
    }
    d.stop().await;
}

#[tokio::test]
async fn tls_verified_against_the_servers_own_certificate() {
    let dir = tempdir("ca");
    let files = identity(&dir, "pico");
    let other = identity(&dir, "other");
    let d = start(loopback(), Some(files.clone())).await;

    let trusted = client(&d).with_tls(TlsVerify::CaFile(files.cert.clone()));
    assert_eq!(trusted.version().await.unwrap(), env!("CARGO_PKG_VERSION"));

    let wrong = client(&d).with_tls(TlsVerify::CaFile(other.cert.clone()));
    let e = wrong.version().await.unwrap_err();
    assert!(
        matches!(e, Error::CertificateRejected { .. } | Error::Tls { .. }),
        "{e:?}"
    );

    let plain = client(&d);
    assert!(
        plain.version().await.is_err(),
        "plaintext to a TLS port fails"
    );
    d.stop().await;
}

/// Whether a new connection of `client` resumed its TLS session, after
/// one command (TLS 1.3 session tickets come after the handshake).
async fn resumed(client: &Client) -> bool {
    let mut conn = client.connect().await.unwrap();
    conn.perform(piconet_client::Action::Ping, false)
        .await
        .unwrap();
    let resumed = conn.tls_resumed();
    conn.close().await;
    resumed
}

#[tokio::test]
async fn later_connections_of_a_client_resume_its_tls_session() {
    let dir = tempdir("resume");
    let files = identity(&dir, "pico");
    let d = start(loopback(), Some(files.clone())).await;
    let trusted = client(&d).with_tls(TlsVerify::CaFile(files.cert.clone()));
    assert!(
        !resumed(&trusted).await,
        "the first connection is a full handshake"
    );
    assert!(resumed(&trusted).await);
    assert!(resumed(&trusted.clone()).await, "clones share the sessions");
    // New trust settings, new sessions: none verified under them yet.
    let retrusted = trusted.with_tls(TlsVerify::CaFile(files.cert.clone()));
    assert!(!resumed(&retrusted).await);
    assert!(!resumed(&client(&d).with_tls(TlsVerify::Insecure)).await);
    d.stop().await;
}

#[tokio::test]
async fn a_tls12_only_client_resumes_its_sessions_too() {
    let dir = tempdir("resume12");
    let files = identity(&dir, "pico");
    let d = start(loopback(), Some(files.clone())).await;
    let board = client(&d)
        .with_tls(TlsVerify::CaFile(files.cert.clone()))
        .with_tls12_only();
    assert!(
        !resumed(&board).await,
        "the first connection is a full handshake"
    );
    assert!(resumed(&board).await);
    assert_eq!(board.version().await.unwrap(), env!("CARGO_PKG_VERSION"));
    d.stop().await;
}

#[tokio::test]
async fn first_use_pins_the_key_and_a_changed_key_is_refused() {
    let dir = tempdir("tofu");
    let known = dir.join("known_hosts");
    let first = start(loopback(), Some(identity(&dir, "first"))).await;
    let addr = first.addr;
    let tofu = || {
        Client::new(ServerAddr::new(addr.ip().to_string(), addr.port()))
            .with_tls(TlsVerify::KnownHosts(known.clone()))
    };
    tofu().version().await.unwrap();
    let pinned = std::fs::read_to_string(&known).unwrap();
    assert!(
        pinned.contains(&format!("{}:{}", addr.ip(), addr.port())),
        "{pinned}"
    );
    tofu().version().await.unwrap();
    let holder = tofu();
    holder.version().await.unwrap();
    assert!(resumed(&holder).await);
    first.stop().await;

    // Same address, new key: a different board, or someone in the middle.
    // A client holding a session of the first one does not get past the
    // check either (the new server cannot resume it).
    let second = start(addr, Some(identity(&dir, "second"))).await;
    assert!(
        matches!(holder.version().await, Err(Error::HostKeyChanged { .. })),
        "a resumable session does not skip the pin"
    );
    match tofu().version().await {
        Err(e @ Error::HostKeyChanged { .. }) => {
            let text = e.to_string();
            assert!(text.contains(&known.display().to_string()), "{text}");
        }
        other => panic!("a changed key must be refused: {other:?}"),
    }
    assert_eq!(
        std::fs::read_to_string(&known).unwrap(),
        pinned,
        "the pin is kept"
    );
    second.stop().await;
}
