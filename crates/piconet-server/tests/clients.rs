//! Client authentication end to end: piconetd with `--clients`, the
//! client library presenting certificates (mutual TLS). Each role allowed
//! and refused, another client's lease, an admin's override, plaintext and
//! strangers refused at the handshake, revocation from the next
//! connection, downgrades.

use std::path::{Path, PathBuf};
use std::time::Duration;

use piconet_client::{Client, Error, Fingerprint, Identity, Level, Mode, ServerAddr, TlsVerify};
use piconet_server::{ServerConfig, ServerError, TlsFiles};

mod common;
use common::{loopback, tempdir, Daemon};

/// A self-signed EC P-256 certificate and key in `dir`.
fn make_cert(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    let (c, k) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

fn identity(dir: &Path, name: &str) -> Identity {
    let (cert, key) = make_cert(dir, name);
    Identity::new(cert, key)
}

fn sha(id: &Identity) -> Fingerprint {
    id.fingerprint().unwrap()
}

struct Board {
    daemon: Daemon,
    dir: PathBuf,
    server_cert: PathBuf,
    clients_file: PathBuf,
    laptop: Identity,
    ha: Identity,
    bench: Identity,
    tv: Identity,
}

fn entry(name: &str, id: &Identity, role: &str, pins: &str) -> String {
    format!(
        "[[clients]]\nname = \"{name}\"\nsha256 = \"{}\"\nrole = \"{role}\"\n{pins}\n",
        sha(id)
    )
}

impl Board {
    async fn start(tag: &str, update_key: Option<[u8; 32]>) -> Board {
        let dir = tempdir(tag);
        let (cert, key) = make_cert(&dir, "server");
        let (laptop, ha, bench, tv) = (
            identity(&dir, "laptop"),
            identity(&dir, "ha"),
            identity(&dir, "bench"),
            identity(&dir, "tv"),
        );
        let clients_file = dir.join("clients.toml");
        std::fs::write(
            &clients_file,
            entry("laptop", &laptop, "admin", "")
                + &entry("ha", &ha, "operator", "pins = [2, 3]")
                + &entry("bench", &bench, "operator", "")
                + &entry("tv", &tv, "viewer", ""),
        )
        .unwrap();
        let daemon = Daemon::start(ServerConfig {
            listen: loopback(),
            tls: Some(TlsFiles {
                cert: cert.clone(),
                key,
            }),
            clients: Some(clients_file.clone()),
            update_key,
            ..ServerConfig::default()
        })
        .await;
        Board {
            daemon,
            dir,
            server_cert: cert,
            clients_file,
            laptop,
            ha,
            bench,
            tv,
        }
    }

    fn plain(&self) -> Client {
        let a = self.daemon.addr;
        Client::new(ServerAddr::new(a.ip().to_string(), a.port()))
            .with_timeout(Duration::from_secs(5))
    }

    fn anonymous(&self) -> Client {
        self.plain()
            .with_tls(TlsVerify::CaFile(self.server_cert.clone()))
    }

    fn as_(&self, id: &Identity) -> Client {
        self.anonymous().with_identity(id.clone())
    }
}

/// The exception class of a refused command.
fn refused<T: std::fmt::Debug>(r: Result<T, Error>) -> (String, String) {
    match r {
        Err(Error::Server {
            error, exception, ..
        }) => (exception, error),
        other => panic!("expected a server error, got {other:?}"),
    }
}

fn permission<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    let (exception, error) = refused(r);
    assert_eq!(exception, "PermissionError", "{error}");
    error
}

/// Refused before any answer: the handshake (or the first read after
/// it, in TLS 1.3) fails, no command is carried out.
fn handshake_refused<T: std::fmt::Debug>(r: Result<T, Error>) {
    match r {
        Err(Error::Server { error, .. }) => panic!("got an answer: {error}"),
        Err(_) => {}
        Ok(v) => panic!("was let in: {v:?}"),
    }
}

#[tokio::test]
async fn each_role_is_allowed_its_actions_and_refused_the_rest() {
    let b = Board::start("clients-roles", None).await;
    let (laptop, ha, bench, tv) = (
        b.as_(&b.laptop),
        b.as_(&b.ha),
        b.as_(&b.bench),
        b.as_(&b.tv),
    );
    // viewer
    tv.version().await.unwrap();
    tv.get_pins().await.unwrap();
    assert_eq!(tv.get_clients().await.unwrap().len(), 4);
    let msg = permission(tv.setup_pin(2, Mode::Output, Some(Level::Low), None).await);
    assert_eq!(msg, "tv is a viewer: setup_pin needs the operator role");
    // operator on pins 2 and 3
    ha.setup_pin(2, Mode::Output, Some(Level::Low), None)
        .await
        .unwrap();
    ha.write_pin(2, Level::High, Duration::from_secs(5))
        .await
        .unwrap();
    let msg = permission(ha.setup_pin(4, Mode::Output, Some(Level::Low), None).await);
    assert!(msg.contains("ha may not use pin 4"), "{msg}");
    let msg = permission(ha.sleep(10, false).await);
    assert_eq!(msg, "ha is an operator: sleep needs the admin role");
    let msg = permission(ha.set_clients(&[]).await);
    assert_eq!(msg, "ha is an operator: set_clients needs the admin role");
    // an operator without pins
    bench
        .setup_pin(4, Mode::Output, Some(Level::Low), None)
        .await
        .unwrap();
    assert_eq!(tv.read_pin(2).await.unwrap(), Level::High);
    // admin
    laptop.sleep(10, false).await.unwrap();
    let list = laptop.get_clients().await.unwrap();
    assert_eq!(laptop.set_clients(&list).await.unwrap(), list);
    let pins = tv.get_pins().await.unwrap();
    assert!(pins.iter().any(|p| p.pin == 2));
    b.daemon.stop().await;
    let _ = std::fs::remove_dir_all(&b.dir);
}

#[tokio::test]
async fn another_clients_lease_is_refused_until_it_ends_and_an_admin_overrides_it() {
    let b = Board::start("clients-lease", None).await;
    let (laptop, ha, bench, tv) = (
        b.as_(&b.laptop),
        b.as_(&b.ha),
        b.as_(&b.bench),
        b.as_(&b.tv),
    );
    ha.setup_pin(2, Mode::Output, Some(Level::Low), None)
        .await
        .unwrap();
    ha.write_pin(2, Level::High, Duration::from_millis(600))
        .await
        .unwrap();
    let raw = tv
        .command(serde_json::from_str(r#"{"action": "get_pins"}"#).unwrap())
        .await
        .unwrap();
    assert_eq!(raw.get("pins").unwrap()[0]["held_by"], "ha");
    let msg = permission(bench.write_pin(2, Level::Low, Duration::from_secs(5)).await);
    assert!(msg.starts_with("pin 2 is held by ha for "), "{msg}");
    let msg = permission(bench.setup_pin(2, Mode::Input, None, None).await);
    assert!(msg.starts_with("pin 2 is held by ha for "), "{msg}");
    // Once it ended (600 ms), bench may write the pin.
    tokio::time::sleep(Duration::from_millis(700)).await;
    bench
        .write_pin(2, Level::High, Duration::from_secs(30))
        .await
        .unwrap();
    let msg = permission(ha.write_pin(2, Level::Low, Duration::from_secs(5)).await);
    assert!(msg.starts_with("pin 2 is held by bench for "), "{msg}");
    // An admin overrides it.
    laptop
        .write_pin(2, Level::Low, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(tv.read_pin(2).await.unwrap(), Level::Low);
    b.daemon.stop().await;
    let _ = std::fs::remove_dir_all(&b.dir);
}

#[tokio::test]
async fn plaintext_no_certificate_and_a_stranger_are_refused_at_the_handshake() {
    let b = Board::start("clients-refused", None).await;
    handshake_refused(b.plain().version().await);
    handshake_refused(b.anonymous().version().await);
    let stranger = identity(&b.dir, "stranger");
    handshake_refused(b.as_(&stranger).version().await);
    // Those attempts cost the listed clients nothing.
    b.as_(&b.tv).version().await.unwrap();
    b.daemon.stop().await;
    let _ = std::fs::remove_dir_all(&b.dir);
}

#[tokio::test]
async fn a_revoked_client_is_refused_from_its_next_connection() {
    let b = Board::start("clients-revoke", None).await;
    let mut conn = b.as_(&b.ha).connect().await.unwrap();
    conn.perform(piconet_client::Action::Ping, false)
        .await
        .unwrap();
    // The file without ha, reloaded as SIGHUP does.
    std::fs::write(
        &b.clients_file,
        entry("laptop", &b.laptop, "admin", "") + &entry("tv", &b.tv, "viewer", ""),
    )
    .unwrap();
    let reloader = b.daemon.reloader.as_ref().unwrap();
    assert_eq!(reloader.reload().unwrap(), 2);
    handshake_refused(b.as_(&b.ha).version().await);
    // Its open connection is refused every command from now on.
    let r = conn
        .perform(piconet_client::Action::Ping, false)
        .await
        .unwrap()
        .into_result();
    assert!(permission(r).contains("no longer in the board's client list"));
    b.as_(&b.tv).version().await.unwrap();
    // A broken file leaves the running list.
    std::fs::write(&b.clients_file, "[[clients]]\nname = 3\n").unwrap();
    assert!(reloader.reload().is_err());
    b.as_(&b.laptop).version().await.unwrap();
    b.daemon.stop().await;
    let _ = std::fs::remove_dir_all(&b.dir);
}

#[tokio::test]
async fn a_resumed_session_keeps_the_clients_role_and_revocation_still_applies() {
    let b = Board::start("clients-resume", None).await;
    let ha = b.as_(&b.ha);
    let resumed = |client: &Client| {
        let client = client.clone();
        async move {
            let mut conn = client.connect().await.unwrap();
            let r = conn
                .perform(piconet_client::Action::Ping, false)
                .await
                .unwrap()
                .into_result();
            let resumed = conn.tls_resumed();
            conn.close().await;
            (resumed, r)
        }
    };
    let (first, r) = resumed(&ha).await;
    assert!(!first);
    r.unwrap();
    let (again, r) = resumed(&ha).await;
    assert!(again, "the second connection resumes");
    r.unwrap();
    // Still ha, with ha's pins, on resumed connections.
    ha.setup_pin(2, Mode::Output, Some(Level::Low), None)
        .await
        .unwrap();
    let msg = permission(ha.setup_pin(4, Mode::Output, Some(Level::Low), None).await);
    assert!(msg.contains("ha may not use pin 4"), "{msg}");
    let msg = permission(ha.sleep(10, false).await);
    assert_eq!(msg, "ha is an operator: sleep needs the admin role");
    // Revoked: a resumed session gets nothing either.
    std::fs::write(
        &b.clients_file,
        entry("laptop", &b.laptop, "admin", "") + &entry("tv", &b.tv, "viewer", ""),
    )
    .unwrap();
    b.daemon.reloader.as_ref().unwrap().reload().unwrap();
    match ha.read_pin(2).await {
        Err(Error::Server { exception, .. }) => assert_eq!(exception, "PermissionError"),
        Err(_) => {}
        Ok(level) => panic!("a revoked client's resumed session read pin 2: {level:?}"),
    }
    b.daemon.stop().await;
    let _ = std::fs::remove_dir_all(&b.dir);
}

#[tokio::test]
async fn a_downgrade_is_refused_unless_the_admin_allows_it() {
    let b = Board::start("clients-downgrade", Some([7; 32])).await;
    let laptop = b.as_(&b.laptop);
    let running = laptop.update_status().await.unwrap();
    let older = "0.0.1";
    let (sha, sig) = ([1u8; 32], [2u8; 64]);
    let (exception, error) = refused(
        laptop
            .update_begin(4096, &sha, &sig, Some(older), false)
            .await,
    );
    assert_eq!(exception, "ValueError");
    assert!(
        error.contains("older than the running one"),
        "{error} ({running:?})"
    );
    laptop
        .update_begin(4096, &sha, &sig, Some(older), true)
        .await
        .unwrap();
    let msg = permission(
        b.as_(&b.bench)
            .update_begin(4096, &sha, &sig, Some(older), true)
            .await,
    );
    assert_eq!(
        msg,
        "bench is an operator: update_begin needs the admin role"
    );
    b.daemon.stop().await;
    let _ = std::fs::remove_dir_all(&b.dir);
}

#[tokio::test]
async fn a_clients_file_needs_tls_and_must_be_valid() {
    let dir = tempdir("clients-config");
    let file = dir.join("clients.toml");
    std::fs::write(
        &file,
        format!(
            "[[clients]]\nname = \"a\"\nsha256 = \"{}\"\nrole = \"admin\"\n",
            "ab".repeat(32)
        ),
    )
    .unwrap();
    let config = |clients: PathBuf, tls| ServerConfig {
        listen: loopback(),
        tls,
        clients: Some(clients),
        ..ServerConfig::default()
    };
    let err = piconet_server::Server::bind(config(file.clone(), None))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ServerError::ClientsNeedTls), "{err}");
    assert!(err.to_string().contains("--tls-cert"));
    let (cert, key) = make_cert(&dir, "server");
    std::fs::write(
        &file,
        "[[clients]]\nname = \"a\"\nsha256 = \"12\"\nrole = \"admin\"\n",
    )
    .unwrap();
    let err = piconet_server::Server::bind(config(file.clone(), Some(TlsFiles { cert, key })))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ServerError::Clients(_)), "{err}");
    assert!(err.to_string().contains("64 hex digits"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
