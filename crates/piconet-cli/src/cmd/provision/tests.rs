use std::path::PathBuf;

use base64::Engine as _;
use piconet_client::UsbSerialPort;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::*;

const PASSWORD: &str = "correct horse battery";

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("piconet-provision-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn message(failure: Failure) -> (u8, String) {
    match failure {
        Failure::Provision(code, m) => (code, m),
        other => panic!("not a provisioning failure: {other:?}"),
    }
}

#[test]
fn the_password_file_loses_one_trailing_newline_and_nothing_else() {
    let dir = tempdir("password");
    let file = dir.join("pw");
    for (content, expected) in [
        (format!("{PASSWORD}\n"), PASSWORD.to_owned()),
        (format!("{PASSWORD}\r\n"), PASSWORD.to_owned()),
        (PASSWORD.to_owned(), PASSWORD.to_owned()),
        (format!(" {PASSWORD} \n"), format!(" {PASSWORD} ")),
    ] {
        std::fs::write(&file, content).unwrap();
        assert_eq!(read_password(&file).unwrap(), expected);
    }
}

#[test]
fn a_bad_password_file_is_refused_without_quoting_it() {
    let dir = tempdir("bad-password");
    let file = dir.join("pw");
    let secret = "s3cr3t-WORD";
    for (content, why) in [
        (String::new(), "empty"),
        ("\n".to_owned(), "empty"),
        ("short\n".to_owned(), "8 to 64"),
        (format!("{secret}{}\n", "x".repeat(60)), "8 to 64"),
        (format!("{secret}\n{secret}\n"), "more than one line"),
    ] {
        std::fs::write(&file, &content).unwrap();
        let (code, m) = message(read_password(&file).unwrap_err());
        assert_eq!(code, exit::LOCAL_FILE);
        assert!(m.contains(why), "{m}");
        assert!(!m.contains(secret) && !m.contains("short\n"), "{m}");
    }
    let (code, m) = message(read_password(&dir.join("missing")).unwrap_err());
    assert_eq!(code, exit::LOCAL_FILE);
    assert!(m.contains("missing"), "{m}");
}

#[test]
fn secrets_do_not_show_in_debug_output() {
    let plan = Plan {
        wifi: Some(("garden".into(), Secret(PASSWORD.into()))),
        port: None,
        name: None,
        radio_power: None,
        tls: Some(generate(&names(&[]), "x.pem".into()).unwrap()),
        clear_tls: false,
        pin: None,
        reset: false,
    };
    let key = base64::engine::general_purpose::STANDARD.encode(&plan.tls.as_ref().unwrap().key.0);
    let debug = format!("{plan:?}");
    assert!(!debug.contains(PASSWORD), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
    assert!(!debug.contains(&key[..20]), "{debug}");
}

#[test]
fn certificate_names_put_the_users_first_and_keep_piconet_local() {
    assert_eq!(names(&[]), ["piconet.local"]);
    assert_eq!(
        names(&[
            "Pico.LAN.".into(),
            "192.168.1.50".into(),
            "piconet.local".into()
        ]),
        ["pico.lan", "192.168.1.50", "piconet.local"]
    );
}

#[test]
fn a_generated_identity_is_p256_its_fingerprint_the_sha256_of_the_der_and_it_reloads() {
    let dir = tempdir("generate");
    let names = names(&["pico.lan".into(), "192.168.1.50".into()]);
    let identity = generate(&names, dir.join("pico.lan.pem")).unwrap();
    let expected: [u8; 32] = Sha256::digest(&identity.cert).into();
    assert_eq!(identity.fingerprint.as_bytes(), &expected);
    let (file, pem) = identity.write_to.as_ref().unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    // The PEM written for --ca and the PKCS#8 key load back as one identity.
    write_new(file, pem).unwrap();
    let key_file = dir.join("key.der");
    std::fs::write(&key_file, &identity.key.0).unwrap();
    let loaded = load(file, &key_file).unwrap();
    assert_eq!(loaded.fingerprint, identity.fingerprint);
    assert_eq!(loaded.cert, identity.cert);
    // Never over an existing file.
    assert_eq!(
        message(write_new(file, pem).unwrap_err()).0,
        exit::LOCAL_FILE
    );
    // A P-256 identity fits the board's line with room to spare.
    let line = set_tls(&identity).to_string().len();
    assert!(line < BOARD_MAX_LINE / 2, "{line}");
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused() {
    let dir = tempdir("mismatch");
    let a = generate(&names(&[]), dir.join("a.pem")).unwrap();
    let b = generate(&names(&[]), dir.join("b.pem")).unwrap();
    let (cert, pem) = a.write_to.as_ref().unwrap();
    write_new(cert, pem).unwrap();
    let key = dir.join("b.key");
    std::fs::write(&key, &b.key.0).unwrap();
    let (code, m) = message(load(cert, &key).unwrap_err());
    assert_eq!(code, exit::LOCAL_FILE);
    assert!(m.contains("does not belong"), "{m}");
    // Garbage is "no key", quoting nothing of it.
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n").unwrap();
    let (_, m) = message(load(cert, &key).unwrap_err());
    assert!(
        m.contains("no private key") && !m.contains("c2VjcmV0"),
        "{m}"
    );
}

#[test]
fn a_pin_takes_the_boards_port_unless_one_is_given() {
    assert_eq!(pin_target("pico.lan").unwrap(), ("pico.lan".into(), None));
    assert_eq!(
        pin_target("pico.lan:4242").unwrap(),
        ("pico.lan".into(), Some(4242))
    );
    assert_eq!(pin_target("[::1]").unwrap(), ("::1".into(), None));
    assert_eq!(
        pin_target("[::1]:12345").unwrap(),
        ("::1".into(), Some(12345))
    );
    assert_eq!(
        pin_target("192.168.1.50:12345").unwrap(),
        ("192.168.1.50".into(), Some(12345))
    );
    assert_eq!(message(pin_target("pico:x").unwrap_err()).0, exit::USAGE);
}

fn usb(path: &str, vid: u16, pid: u16, product: &str) -> UsbSerialPort {
    UsbSerialPort {
        path: path.into(),
        vid,
        pid,
        serial_number: Some("E6614C311B7A2F2D".into()),
        manufacturer: None,
        product: Some(product.into()),
    }
}

#[test]
fn the_board_is_found_by_its_usb_ids_and_an_ambiguity_lists_the_candidates() {
    let board = usb("/dev/ttyACM1", 0x1209, 0x0001, "piconet Pico W");
    let other = usb("/dev/ttyACM0", 0x2e8a, 0x0005, "Board in FS mode");
    assert_eq!(
        choose_board(vec![other.clone(), board.clone()]).unwrap(),
        board
    );

    let none = choose_board(vec![other.clone()]).unwrap_err();
    assert!(none.contains("no piconet board"), "{none}");
    assert!(none.contains("1209:0001"), "{none}");
    assert!(none.contains("/dev/ttyACM0 (2e8a:0005"), "{none}");
    assert!(none.contains("--port"), "{none}");
    assert!(choose_board(Vec::new())
        .unwrap_err()
        .contains("No USB serial port"));

    let second = usb("/dev/ttyACM2", 0x1209, 0x0001, "piconet Pico W");
    let several = choose_board(vec![board, other, second]).unwrap_err();
    assert!(several.starts_with("2 piconet boards"), "{several}");
    assert!(
        several.contains("/dev/ttyACM1") && several.contains("/dev/ttyACM2"),
        "{several}"
    );
    assert!(!several.contains("ttyACM0"), "{several}");
}

#[test]
fn passwords_and_keys_are_redacted_at_any_depth() {
    let answer = json!({
        "action": "set_wifi", "ssid": "garden", "password": PASSWORD,
        "nested": {"key": "AAAA", "list": [{"password": "x"}]},
        "error": "unknown action", "exception": "ValueError",
    });
    let shown = redacted(answer.as_object().unwrap()).to_string();
    assert!(
        !shown.contains(PASSWORD) && !shown.contains("AAAA"),
        "{shown}"
    );
    assert_eq!(shown.matches("<redacted>").count(), 3, "{shown}");
    assert!(shown.contains("garden"), "{shown}");
}

fn config(value: Value) -> Config {
    Config::from_answer(json!({ "config": value }).as_object().unwrap()).unwrap()
}

#[test]
fn the_configuration_read_back_must_match_what_was_stored() {
    let identity = generate(&names(&[]), "x.pem".into()).unwrap();
    let fp = identity.fingerprint.to_string();
    let plan = Plan {
        wifi: Some(("garden".into(), Secret(PASSWORD.into()))),
        port: Some(4242),
        name: Some("garden-valve".into()),
        radio_power: Some(piconet_client::protocol::provision::RadioPower::PowerSave),
        tls: Some(identity),
        clear_tls: false,
        pin: None,
        reset: false,
    };
    let good = json!({"ssid": "garden", "password_set": true, "port": 4242,
        "radio_power": "power_save", "tls_fingerprint": fp, "name": "garden-valve",
        "restart_needed": true});
    check(&plan, &config(good.clone())).unwrap();
    for (field, value, named) in [
        ("ssid", json!("other"), "WiFi"),
        ("password_set", json!(false), "WiFi"),
        ("port", json!(12345), "port"),
        ("radio_power", json!("none"), "radio power"),
        ("radio_power", Value::Null, "radio power"),
        ("tls_fingerprint", json!("00".repeat(32)), "fingerprint"),
        ("tls_fingerprint", Value::Null, "fingerprint"),
        ("name", json!("shed"), "the name"),
        ("name", Value::Null, "the name"),
    ] {
        let mut bad = good.clone();
        bad[field] = value;
        let (code, m) = message(check(&plan, &config(bad)).unwrap_err());
        assert_eq!(code, exit::BAD_ANSWER);
        assert!(m.contains(named), "{m}");
    }
    assert!(Config::from_answer(json!({"config": {"ssid": null}}).as_object().unwrap()).is_none());
}

#[test]
fn an_open_network_sends_no_password_and_the_order_is_wifi_port_tls() {
    let plan = Plan {
        wifi: Some(("cafe".into(), Secret(String::new()))),
        port: Some(80),
        name: None,
        radio_power: Some(piconet_client::protocol::provision::RadioPower::Aggressive),
        tls: None,
        clear_tls: true,
        pin: None,
        reset: false,
    };
    let sent = commands(&plan);
    let actions: Vec<&str> = sent.iter().map(|(_, c)| c.name()).collect();
    assert_eq!(
        actions,
        ["set_wifi", "set_port", "set_radio_power", "clear_tls"]
    );
    assert_eq!(
        Value::Object(sent[2].1.to_command()),
        json!({"action": "set_radio_power", "mode": "aggressive"})
    );
    assert_eq!(
        Value::Object(sent[0].1.to_command()),
        json!({"action": "set_wifi", "ssid": "cafe"})
    );
}

#[cfg(unix)]
#[test]
fn a_password_file_others_can_read_is_noticed() {
    use std::os::unix::fs::PermissionsExt;
    let file = std::env::temp_dir().join(format!("piconet-mode-{}", std::process::id()));
    std::fs::write(&file, "password1").unwrap();
    let set =
        |mode| std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
    set(0o644);
    assert_eq!(loose_mode(&file), Some(0o644));
    set(0o640);
    assert_eq!(loose_mode(&file), Some(0o640));
    set(0o600);
    assert_eq!(loose_mode(&file), None);
    assert_eq!(loose_mode(&file.with_extension("absent")), None);
    let _ = std::fs::remove_file(&file);
}
