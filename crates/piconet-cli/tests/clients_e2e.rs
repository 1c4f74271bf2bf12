//! `piconet identity`, `--identity`/`--cert --key`, `piconet clients` (an
//! admin over the network) against an in-process piconetd with a clients
//! file, and `piconet provision --allow/--revoke` over a pseudo-terminal
//! board.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::{text, PtyBoard};

fn piconet(args: &[&str], known_hosts: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_piconet"))
        .args(args)
        .env("PICONET_KNOWN_HOSTS", known_hosts)
        .output()
        .unwrap()
}

fn tempdir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("piconet-clients-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `piconet identity new NAME --json`: its fingerprint.
fn new_identity(name: &str, kh: &Path) -> String {
    let out = piconet(&["identity", "new", name, "--json"], kh);
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    v["sha256"].as_str().unwrap().to_owned()
}

/// piconetd (TLS, the clients file) on a loopback port, in a thread of its
/// own until the test process ends.
fn piconetd(dir: &Path, clients: &Path) -> (String, PathBuf) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_file, key_file) = (dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let config = piconet_server::ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: Some(piconet_server::TlsFiles {
            cert: cert_file.clone(),
            key: key_file,
        }),
        clients: Some(clients.to_owned()),
        ..piconet_server::ServerConfig::default()
    };
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let server = piconet_server::Server::bind(config).await.unwrap();
            tx.send(server.local_addr()).unwrap();
            server.run(std::future::pending::<()>()).await.unwrap();
        });
    });
    (rx.recv().unwrap().to_string(), cert_file)
}

#[test]
fn identities_are_made_once_with_a_private_key_and_listed() {
    let dir = tempdir("identity");
    let kh = dir.join("known_hosts");
    let sha = new_identity("laptop", &kh);
    assert_eq!(sha.len(), 64);
    let key = dir.join("identities/laptop.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let list = ok(&piconet(&["identity", "list"], &kh));
    assert!(list.contains("laptop") && list.contains(&sha), "{list}");
    let again = piconet(&["identity", "new", "laptop"], &kh);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again.stderr));
    assert!(text(&again.stderr).contains("exists already"));
    let bad = piconet(&["identity", "new", "my laptop"], &kh);
    assert_eq!(bad.status.code(), Some(2));
    let missing = piconet(&["version", "127.0.0.1:1", "--identity", "nobody"], &kh);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing.stderr));
    assert!(text(&missing.stderr).contains("piconet identity new nobody"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_admin_changes_the_list_and_each_identity_gets_its_role() {
    let dir = tempdir("network");
    let kh = dir.join("known_hosts");
    let laptop = new_identity("laptop", &kh);
    new_identity("ha", &kh);
    let clients = dir.join("clients.toml");
    std::fs::write(
        &clients,
        format!("[[clients]]\nname = \"laptop\"\nsha256 = \"{laptop}\"\nrole = \"admin\"\n"),
    )
    .unwrap();
    let (addr, ca) = piconetd(&dir, &clients);
    let ca = ca.to_str().unwrap();
    let as_ = |id: &str, args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--identity", id, "--ca", ca]);
        piconet(&all, &kh)
    };
    ok(&as_("laptop", &["version", &addr]));
    // Without a certificate, or with one the board does not know: refused.
    let anonymous = piconet(&["version", &addr, "--ca", ca], &kh);
    assert_ne!(anonymous.status.code(), Some(0));
    assert_ne!(as_("ha", &["version", &addr]).status.code(), Some(0));
    // The admin lets ha in as an operator of pin 2.
    let list = ok(&as_(
        "laptop",
        &[
            "clients", &addr, "allow", "ha", "--role", "operator", "--pins", "2",
        ],
    ));
    assert!(
        list.contains("ha") && list.contains("operator") && list.contains("pins 2"),
        "{list}"
    );
    let json = ok(&as_("laptop", &["clients", &addr, "list", "--json"]));
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    // ha drives pin 2, is refused pin 3 and the admin's actions.
    let send = |id: &str, pin: u32| {
        as_(
            id,
            &[
                "send",
                &addr,
                "-c",
                "action=setup_pin",
                &format!("pin={pin}"),
                "mode=output",
                "value=0",
            ],
        )
    };
    ok(&send("ha", 2));
    let refused = send("ha", 3);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stdout).contains("PermissionError"),
        "{}",
        text(&refused.stdout)
    );
    let refused = as_("ha", &["clients", &addr, "revoke", "laptop"]);
    assert_ne!(refused.status.code(), Some(0));
    assert!(
        text(&refused.stderr).contains("set_clients needs the admin role")
            || text(&refused.stderr).contains("PermissionError"),
        "{}",
        text(&refused.stderr)
    );
    // --cert/--key present the same identity.
    let (cert, key) = (dir.join("identities/ha.crt"), dir.join("identities/ha.key"));
    let direct = piconet(
        &[
            "version",
            &addr,
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--ca",
            ca,
        ],
        &kh,
    );
    ok(&direct);
    // Revoked: ha's next connection is refused.
    ok(&as_("laptop", &["clients", &addr, "revoke", "ha"]));
    assert_ne!(as_("ha", &["version", &addr]).status.code(), Some(0));
    let unknown = as_("laptop", &["clients", &addr, "revoke", "ha"]);
    assert_eq!(unknown.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn provision_allows_and_revokes_over_usb() {
    let dir = tempdir("provision");
    let kh = dir.join("known_hosts");
    new_identity("laptop", &kh);
    new_identity("tv", &kh);
    let board = PtyBoard::start();
    // The first list needs an admin.
    let out = piconet(
        &[
            "provision",
            "--port",
            board.port(),
            "--allow",
            "tv",
            "--role",
            "viewer",
        ],
        &kh,
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("at least one admin"),
        "{}",
        text(&out.stderr)
    );
    let out = ok(&piconet(
        &[
            "provision",
            "--port",
            board.port(),
            "--allow",
            "laptop",
            "--role",
            "admin",
            "--json",
        ],
        &kh,
    ));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["clients"][0]["name"], "laptop");
    assert_eq!(v["clients"][0]["role"], "admin");
    let out = ok(&piconet(
        &[
            "provision",
            "--port",
            board.port(),
            "--allow",
            "tv",
            "--role",
            "viewer",
        ],
        &kh,
    ));
    assert!(out.contains("client list:") && out.contains("tv"), "{out}");
    assert_eq!(board.engine.lock().unwrap().clients().as_slice().len(), 2);
    ok(&piconet(
        &["provision", "--port", board.port(), "--revoke", "tv"],
        &kh,
    ));
    let names: Vec<String> = board
        .engine
        .lock()
        .unwrap()
        .clients()
        .as_slice()
        .iter()
        .map(|c| c.name.as_str().to_owned())
        .collect();
    assert_eq!(names, ["laptop"]);
    let _ = std::fs::remove_dir_all(&dir);
}
