//! Certificates made exactly as the seed's openssl steps make them, plus the
//! usual completion `openssl x509 -req -signkey` (X.509 v1 with OpenSSL 3.0),
//! and a v3 variant; PEM and DER. piconetd serves each (as `--tls-cert
//! --tls-key`), and the `piconet` binary reaches it with `--insecure`,
//! first-use pinning (`--tls --known-hosts`) and `--ca` that very
//! certificate. A `--ca` that is another certificate is refused in words.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use piconet_server::{Server, ServerConfig, TlsFiles};

/// The seed's steps, in `dir`: `ec_key.pem`, `ec_key.der`, `ec_csr.pem`,
/// then the certificate `ec_cert.pem` / `ec_cert.der` (`v1`), or with an
/// extension file (`v3`).
fn seed_identity(dir: &Path, v3: bool) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command (the seed's steps need it; scripts/test.sh installs it)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "ecparam",
        "-genkey",
        "-name",
        "prime256v1",
        "-out",
        "ec_key.pem",
    ]);
    openssl(&[
        "ec",
        "-in",
        "ec_key.pem",
        "-outform",
        "DER",
        "-out",
        "ec_key.der",
    ]);
    openssl(&[
        "req",
        "-new",
        "-key",
        "ec_key.pem",
        "-out",
        "ec_csr.pem",
        "-subj",
        "/CN=pico",
    ]);
    let mut sign = vec![
        "x509",
        "-req",
        "-in",
        "ec_csr.pem",
        "-signkey",
        "ec_key.pem",
        "-out",
        "ec_cert.pem",
    ];
    if v3 {
        std::fs::write(dir.join("v3.ext"), "basicConstraints=CA:FALSE\n").unwrap();
        sign.extend(["-extfile", "v3.ext"]);
    }
    openssl(&sign);
    openssl(&[
        "x509",
        "-in",
        "ec_cert.pem",
        "-outform",
        "DER",
        "-out",
        "ec_cert.der",
    ]);
    let text = Command::new("openssl")
        .args(["x509", "-in", "ec_cert.pem", "-noout", "-text"])
        .current_dir(dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    let version = if v3 { "Version: 3" } else { "Version: 1" };
    assert!(text.contains(version), "expected {version}:\n{text}");
}

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "piconet-seedcert-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// piconetd with this identity on a loopback port, in a thread of its own.
fn serve(files: TlsFiles) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let server = Server::bind(ServerConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                tls: Some(files),
                ..ServerConfig::default()
            })
            .await
            .unwrap();
            tx.send(server.local_addr()).unwrap();
            // Runs until the test process ends.
            server.run(std::future::pending::<()>()).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

fn piconet(args: &[&str], known_hosts: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_piconet"))
        .args(args)
        .arg("--known-hosts")
        .arg(known_hosts)
        .env_remove("PICONET_KNOWN_HOSTS")
        .output()
        .unwrap()
}

fn assert_version(out: &Output, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        env!("CARGO_PKG_VERSION"),
        "{what}"
    );
}

fn each_mode_reaches(v3: bool, der: bool) {
    let tag = format!(
        "{}-{}",
        if v3 { "v3" } else { "v1" },
        if der { "der" } else { "pem" }
    );
    let dir = tempdir(&tag);
    seed_identity(&dir, v3);
    let ext = if der { "der" } else { "pem" };
    let cert = dir.join(format!("ec_cert.{ext}"));
    let key = dir.join(format!("ec_key.{ext}"));
    let addr = serve(TlsFiles {
        cert: cert.clone(),
        key,
    })
    .to_string();
    let known = dir.join("known_hosts");

    assert_version(
        &piconet(&["version", &addr, "--insecure"], &known),
        &format!("{tag} --insecure"),
    );

    let first = piconet(&["version", &addr, "--tls"], &known);
    assert_version(&first, &format!("{tag} first use"));
    assert!(
        String::from_utf8_lossy(&first.stderr).contains("first TLS connection"),
        "{tag}: the pin is announced"
    );
    let pinned = std::fs::read_to_string(&known).unwrap();
    assert!(pinned.contains(&addr), "{tag}: {pinned}");
    let again = piconet(&["version", &addr, "--tls"], &known);
    assert_version(&again, &format!("{tag} pinned"));
    assert!(
        !String::from_utf8_lossy(&again.stderr).contains("first TLS connection"),
        "{tag}: pinned once"
    );

    // The CA file is the server's certificate itself, in either encoding.
    for ca in ["ec_cert.pem", "ec_cert.der"] {
        let ca = dir.join(ca);
        assert_version(
            &piconet(&["version", &addr, "--ca", ca.to_str().unwrap()], &known),
            &format!("{tag} --ca {}", ca.display()),
        );
    }

    // Another certificate made the same way is not that one, nor its signer.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    seed_identity(&other, v3);
    let other_cert = other.join("ec_cert.pem");
    let out = piconet(
        &["version", &addr, "--ca", other_cert.to_str().unwrap()],
        &known,
    );
    assert_eq!(out.status.code(), Some(4), "{tag}: a TLS refusal exits 4");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not that one and not signed by it"),
        "{tag}: {stderr}"
    );
    assert!(!stderr.contains("UnknownIssuer"), "{tag}: {stderr}");
    assert!(!stderr.contains("CaUsedAsEndEntity"), "{tag}: {stderr}");

    // Plaintext to the TLS port: a TLS problem (exit 4) that says what to do.
    let out = piconet(&["version", &addr], &known);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{tag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("connect with TLS"),
        "{tag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn seed_v1_certificate_in_pem() {
    each_mode_reaches(false, false);
}

#[test]
fn seed_v1_certificate_in_der() {
    each_mode_reaches(false, true);
}

#[test]
fn seed_v3_certificate_in_pem() {
    each_mode_reaches(true, false);
}

#[test]
fn seed_v3_certificate_in_der() {
    each_mode_reaches(true, true);
}

#[test]
fn a_key_of_another_certificate_is_named_as_such() {
    let dir = tempdir("mismatch");
    seed_identity(&dir, false);
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    seed_identity(&other, false);
    let files = TlsFiles {
        cert: dir.join("ec_cert.der"),
        key: other.join("ec_key.der"),
    };
    let e = piconet_server::tls::server_config(&files)
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not belong to the certificate"), "{e}");
    assert!(e.contains("ec_cert.der") && e.contains("ec_key.der"), "{e}");
    // The matching key is accepted.
    let files = TlsFiles {
        cert: dir.join("ec_cert.der"),
        key: dir.join("ec_key.der"),
    };
    piconet_server::tls::server_config(&files).unwrap();
}
