//! `piconet provision` and `piconet send --serial` as a user runs them,
//! against the real engine: a simulated Pico W with a settings store on RAM
//! flash, served on the master side of a pseudo-terminal whose slave side
//! stands in for the board's USB serial port (`/dev/ttyACM0`). Lines from it
//! have the engine's local origin, as the firmware's USB port gives them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use sha2::{Digest, Sha256};

const PASSWORD: &str = "pa55-word-never-shown";

mod common;
use common::PtyBoard;

fn piconet(args: &[&str], known_hosts: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_piconet"))
        .args(args)
        .env("PICONET_KNOWN_HOSTS", known_hosts)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("piconet-prov-e2e-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `piconet send --serial PORT -c action=get_config`: the board's config.
fn get_config(board: &PtyBoard, known_hosts: &Path) -> Value {
    let out = piconet(
        &["send", "--serial", board.port(), "-c", "action=get_config"],
        known_hosts,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    answer["config"].clone()
}

#[test]
fn provision_stores_wifi_port_and_a_generated_identity_and_never_shows_the_password() {
    let board = PtyBoard::start();
    let dir = tempdir("full");
    let known_hosts = dir.join("known_hosts");
    let password_file = dir.join("wifi.txt");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let private = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(&password_file, private).unwrap();
    }
    let certs = dir.join("certs");

    let out = piconet(
        &[
            "provision",
            "--port",
            board.port(),
            "--ssid",
            "garden",
            "--password-file",
            password_file.to_str().unwrap(),
            "--port-number",
            "4242",
            "--generate-cert",
            "--san",
            "pico.lan",
            "--cert-out",
            certs.to_str().unwrap(),
            "--pin",
            "pico.lan",
        ],
        &known_hosts,
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));
    assert!(!stderr.contains("can be read by other users"), "{stderr}");
    // The board got it (and only as the set_wifi password).
    assert_eq!(board.received().matches(PASSWORD).count(), 1);

    // The fingerprint printed is the SHA-256 of the certificate the board stored...
    let cert = board.stored_cert().expect("the board stores a certificate");
    let fingerprint = hex(&Sha256::digest(&cert));
    assert!(
        stdout.contains(&format!("certificate sha256 {fingerprint}")),
        "{stdout}"
    );
    // ...of the certificate written for --ca, and pinned for pico.lan on the new port.
    let pem = std::fs::read_to_string(certs.join("pico.lan.pem")).unwrap();
    let der = pem_body(&pem);
    assert_eq!(der, cert);
    assert_eq!(
        std::fs::read_to_string(&known_hosts).unwrap(),
        format!("pico.lan:4242 {fingerprint}\n")
    );
    assert!(stdout.contains("next reset"), "{stdout}");

    // get_config over `send --serial` reflects it all, without the password.
    let config = get_config(&board, &known_hosts);
    assert_eq!(config["ssid"], "garden");
    assert_eq!(config["password_set"], true);
    assert_eq!(config["port"], 4242);
    assert_eq!(config["tls_fingerprint"], fingerprint.as_str());
    assert_eq!(config["restart_needed"], true);

    // Again with --reset: nothing to store, the board restarts.
    let resets = board.resets();
    let out = piconet(
        &["provision", "--port", board.port(), "--reset", "--json"],
        &known_hosts,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["tls_fingerprint"], fingerprint.as_str());
    assert_eq!(report["reset"], true);
    assert_eq!(board.resets(), resets + 1);
    assert_eq!(get_config(&board, &known_hosts)["restart_needed"], false);
}

#[test]
fn an_open_network_then_clear_tls_and_a_too_long_ssid_caught_here() {
    let board = PtyBoard::start();
    let dir = tempdir("open");
    let known_hosts = dir.join("known_hosts");

    let out = piconet(
        &[
            "provision",
            "--port",
            board.port(),
            "--ssid",
            "cafe",
            "--open",
            "--clear-tls",
            "--json",
        ],
        &known_hosts,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["config"]["ssid"], "cafe");
    assert_eq!(report["config"]["password_set"], false);
    assert_eq!(report["tls_fingerprint"], Value::Null);
    assert_eq!(report["stored"], serde_json::json!(["WiFi", "no TLS"]));

    // An SSID the board refuses (33 bytes is caught here; a NUL is the board's to refuse).
    let out = piconet(
        &[
            "provision",
            "--port",
            board.port(),
            "--ssid",
            &"x".repeat(33),
            "--open",
        ],
        &known_hosts,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("1 to 32"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn provision_names_the_board_and_a_bad_name_is_caught_here_or_by_the_board() {
    let board = PtyBoard::start();
    let dir = tempdir("name");
    let known_hosts = dir.join("known_hosts");

    let out = piconet(
        &[
            "provision",
            "--port",
            board.port(),
            "--name",
            "garden-valve",
        ],
        &known_hosts,
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("stored: name"), "{stdout}");
    assert!(
        stdout.contains("name:  garden-valve (garden-valve.local)"),
        "{stdout}"
    );
    let config = get_config(&board, &known_hosts);
    assert_eq!(config["name"], "garden-valve");
    assert_eq!(config["restart_needed"], true);

    // Caught here, before the board is touched. Commands are counted, not
    // bytes: the blank line a CLI sends as it closes the port may be
    // taken by the board after the CLI has exited.
    let commands = || {
        board
            .received()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count()
    };
    let sent = commands();
    for bad in ["Garden", "", "a.local", &"n".repeat(33)] {
        let out = piconet(
            &["provision", "--port", board.port(), "--name", bad],
            &known_hosts,
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("1 to 32 of a-z, 0-9 and -"), "{stderr}");
    }
    assert_eq!(commands(), sent);

    // Sent anyway (`send --serial`): the board refuses it and keeps the name.
    let out = piconet(
        &[
            "send",
            "--serial",
            board.port(),
            "-c",
            "action=set_name",
            "name=Shed",
        ],
        &known_hosts,
    );
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert_eq!(answer["exception"], "ValueError", "{}", text(&out.stdout));
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or_default()
            .contains("1 to 32 of a-z, 0-9 and -"),
        "{answer}"
    );
    assert_eq!(get_config(&board, &known_hosts)["name"], "garden-valve");
}

#[test]
fn the_boards_refusal_is_shown_redacted_and_exits_1() {
    let board = PtyBoard::start();
    let dir = tempdir("refused");
    let known_hosts = dir.join("known_hosts");
    let password_file = dir.join("wifi.txt");
    std::fs::write(&password_file, PASSWORD).unwrap();
    // Store the WiFi, then try a certificate the board cannot parse.
    let bogus = dir.join("bogus.der");
    std::fs::write(&bogus, b"not a certificate").unwrap();
    let out = piconet(
        &[
            "provision",
            "--port",
            board.port(),
            "--ssid",
            "garden",
            "--password-file",
            password_file.to_str().unwrap(),
            "--cert",
            bogus.to_str().unwrap(),
            "--key",
            bogus.to_str().unwrap(),
        ],
        &known_hosts,
    );
    // Caught here before the board is touched: the key is no key.
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert!(board.received().is_empty(), "{}", board.received());

    // The board refuses the password (65 bytes is caught here too, so send
    // it raw): the answer echoes it redacted.
    let out = piconet(
        &[
            "send",
            "--serial",
            board.port(),
            "-c",
            "action=set_wifi",
            "ssid=garden",
            &format!("password={PASSWORD}"),
            "-c",
            "action=set_wifi",
            "ssid=",
            &format!("password={PASSWORD}"),
        ],
        &known_hosts,
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        !stdout.contains(PASSWORD) && !stderr.contains(PASSWORD),
        "{stdout}"
    );
    assert_eq!(stdout.matches("<redacted>").count(), 2, "{stdout}");
    assert!(stdout.contains("ValueError"), "{stdout}");
}

#[test]
fn firmware_without_provisioning_never_gets_the_password() {
    let board = PtyBoard::unredacting(false);
    let dir = tempdir("old");
    let password_file = dir.join("wifi.txt");
    std::fs::write(&password_file, PASSWORD).unwrap();
    let out = piconet(
        &[
            "provision",
            "--port",
            board.port(),
            "--ssid",
            "garden",
            "--password-file",
            password_file.to_str().unwrap(),
        ],
        &dir.join("known_hosts"),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("does not know set_wifi"), "{stderr}");
    assert!(stderr.contains("update it first"), "{stderr}");
    assert!(!board.received().contains(PASSWORD), "{}", board.received());
}

#[test]
fn a_refusal_echoing_the_secrets_is_shown_redacted() {
    let board = PtyBoard::unredacting(true);
    let dir = tempdir("unredacting");
    let password_file = dir.join("wifi.txt");
    std::fs::write(&password_file, PASSWORD).unwrap();
    for json in [false, true] {
        let mut args = vec![
            "provision",
            "--port",
            board.port(),
            "--ssid",
            "garden",
            "--password-file",
            password_file.to_str().unwrap(),
            "--generate-cert",
            "--cert-out",
            dir.to_str().unwrap(),
        ];
        if json {
            args.push("--json");
        }
        let out = piconet(&args, &dir.join("known_hosts"));
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("refused set_wifi: ValueError"), "{stderr}");
        assert!(stderr.contains(r#""password":"<redacted>""#), "{stderr}");
        assert!(
            !stdout.contains(PASSWORD) && !stderr.contains(PASSWORD),
            "{stderr}"
        );
        // The certificate file written for the refused identity is gone again.
        assert!(!dir.join("piconet.local.pem").exists());
    }
    assert!(board.received().contains(PASSWORD));
}

#[test]
fn an_identity_from_files_is_stored_as_it_is() {
    let board = PtyBoard::start();
    let dir = tempdir("files");
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["pico.lan".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_file, key_file) = (dir.join("ec_cert.pem"), dir.join("ec_key.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let out = piconet(
        &[
            "provision",
            "--port",
            board.port(),
            "--cert",
            cert_file.to_str().unwrap(),
            "--key",
            key_file.to_str().unwrap(),
        ],
        &dir.join("known_hosts"),
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(board.stored_cert().unwrap(), cert.der().to_vec());
    let fingerprint = hex(&Sha256::digest(cert.der()));
    assert!(stdout.contains(&fingerprint), "{stdout}");
    assert!(!stdout.contains("certificate written"), "{stdout}");
    // The private key is not shown either.
    let key_b64 = pem_body(&key.serialize_pem());
    use base64::Engine as _;
    let key_text = base64::engine::general_purpose::STANDARD.encode(&key_b64);
    assert!(!stdout.contains(&key_text[..24]) && !stderr.contains(&key_text[..24]));
}

#[test]
fn send_ping_and_version_work_over_the_serial_port() {
    let board = PtyBoard::start();
    let known_hosts = tempdir("send").join("known_hosts");
    let out = piconet(
        &[
            "send",
            "--serial",
            board.port(),
            "-c",
            "action=setup_pin",
            "pin=2",
            "mode=output",
            "value=0",
            "-c",
            "action=read_pin",
            "pin=2",
        ],
        &known_hosts,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["value"], 0);

    let out = piconet(&["ping", "--serial", board.port(), "-n", "3"], &known_hosts);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("3 pings to /dev/"),
        "{}",
        text(&out.stdout)
    );

    let out = piconet(&["version", "--serial", board.port()], &known_hosts);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), env!("CARGO_PKG_VERSION"));

    // No TLS on the cable.
    let out = piconet(
        &["version", "--serial", board.port(), "--tls"],
        &known_hosts,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn a_missing_port_exits_3_and_says_what_to_check() {
    let known_hosts = tempdir("missing").join("known_hosts");
    let out = piconet(
        &["provision", "--port", "/dev/piconet-none", "--reset"],
        &known_hosts,
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("/dev/piconet-none") && stderr.contains("plugged in"),
        "{stderr}"
    );
}

/// The DER inside a one-certificate PEM.
fn pem_body(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}
