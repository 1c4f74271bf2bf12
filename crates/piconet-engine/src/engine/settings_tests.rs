//! The provisioning actions through the engine, over simulated flash.

use super::*;
use crate::settings::{Origin, SettingsStore};
use crate::test_board::TestBoard;
use piconet_config::ram::RamFlash;
use serde_json::Value;
use std::string::String;
use std::vec::Vec;

const T: Instant = Instant::ZERO;

fn engine() -> Engine<TestBoard> {
    Engine::new(TestBoard::new().with_settings(), Config::default())
}

fn send(e: &mut Engine<TestBoard>, origin: Origin, line: &str) -> (String, Value) {
    let mut out = Vec::new();
    assert_eq!(
        e.handle_from(
            T,
            line.as_bytes(),
            Peer {
                origin,
                conn: ConnId(0),
                client: None,
            },
            &mut out
        ),
        After::Nothing
    );
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.matches('\n').count(), 1, "{text}");
    let v = serde_json::from_str(&text).unwrap_or_else(|err| panic!("{text}: {err}"));
    (text, v)
}

fn local(e: &mut Engine<TestBoard>, line: &str) -> Value {
    let (text, v) = send(e, Origin::Local, line);
    assert!(v.get("error").is_none(), "{line} -> {text}");
    v
}

#[test]
fn provisions_and_reads_back_without_secrets() {
    let mut e = engine();
    let fresh = local(&mut e, r#"{"action": "get_config", "id": 7}"#);
    assert_eq!(
        fresh["config"],
        serde_json::json!({"ssid": null, "password_set": false, "port": 12345,
                           "radio_power": "none", "tls_fingerprint": null, "name": null,
                           "restart_needed": false})
    );
    assert_eq!(fresh["id"], 7);

    let (text, v) = send(
        &mut e,
        Origin::Local,
        r#"{"action": "set_wifi", "ssid": "garden", "password": "hunter2222"}"#,
    );
    assert!(!text.contains("hunter2222"), "{text}");
    assert_eq!(v["password"], "<redacted>");
    assert_eq!(v["config"]["ssid"], "garden");
    assert_eq!(v["config"]["password_set"], true);
    assert_eq!(v["config"]["restart_needed"], true);

    local(&mut e, r#"{"action": "set_port", "port": 4242}"#);
    let cert = [0x30u8, 0x82, 1, 2, 3];
    let (text, v) = send(
        &mut e,
        Origin::Local,
        r#"{"action": "set_tls", "cert": "MIIBAgM=", "key": "c2VjcmV0LWtleQ=="}"#,
    );
    assert!(!text.contains("c2VjcmV0LWtleQ=="), "{text}");
    assert_eq!(v["key"], "<redacted>");
    assert_eq!(v["cert"], "MIIBAgM=");
    use sha2::Digest;
    let fp: String = sha2::Sha256::digest(cert)
        .iter()
        .map(|b| std::format!("{b:02x}"))
        .collect();
    assert_eq!(v["config"]["tls_fingerprint"], fp.as_str());
    assert_eq!(v["config"]["port"], 4242);

    // What is stored is what the firmware boots with.
    let stored = e.board_mut().settings().unwrap().load().unwrap();
    assert_eq!(
        stored.wifi.as_ref().unwrap().password.as_str(),
        "hunter2222"
    );
    assert_eq!(stored.tls.as_ref().unwrap().key.as_slice(), b"secret-key");
    assert_eq!(stored.tls.as_ref().unwrap().cert.as_slice(), &cert);

    // Also readable from the network, still without secrets.
    let (text, v) = send(&mut e, Origin::Network, r#"{"action": "get_config"}"#);
    assert!(!text.contains("hunter2222"));
    assert_eq!(v["config"]["ssid"], "garden");

    let v = local(&mut e, r#"{"action": "clear_tls"}"#);
    assert_eq!(v["config"]["tls_fingerprint"], Value::Null);
    assert_eq!(
        v["config"]["radio_power"], "none",
        "the default: latency first"
    );
    let v = local(&mut e, r#"{"action": "clear_config"}"#);
    assert_eq!(v["config"]["ssid"], Value::Null);
    assert_eq!(v["config"]["port"], 12345);
    assert_eq!(v["config"]["restart_needed"], true);
}

#[test]
fn the_radio_power_mode_is_stored_for_the_next_boot() {
    let mut e = engine();
    let v = local(&mut e, r#"{"action": "get_config"}"#);
    assert_eq!(v["config"]["radio_power"], "none");
    for mode in [
        "performance",
        "power_save",
        "aggressive",
        "none",
        "power_save",
    ] {
        let line = std::format!(r#"{{"action": "set_radio_power", "mode": "{mode}"}}"#);
        let v = local(&mut e, &line);
        assert_eq!(v["config"]["radio_power"], mode, "{v}");
        assert_eq!(v["config"]["restart_needed"], true);
    }
    let stored = e.board_mut().settings().unwrap().load().unwrap();
    assert_eq!(stored.radio_power, crate::settings::RadioPower::PowerSave);
    // A bad mode changes nothing.
    let (text, v) = send(
        &mut e,
        Origin::Local,
        r#"{"action": "set_radio_power", "mode": "max"}"#,
    );
    assert_eq!(v["exception"], "ValueError", "{text}");
    assert!(text.contains("power_save"), "names the modes: {text}");
    let stored = e.board_mut().settings().unwrap().load().unwrap();
    assert_eq!(stored.radio_power, crate::settings::RadioPower::PowerSave);
    // Forgetting every setting goes back to no power saving.
    let v = local(&mut e, r#"{"action": "clear_config"}"#);
    assert_eq!(v["config"]["radio_power"], "none");
}

#[test]
fn network_lines_cannot_change_settings() {
    let mut e = engine();
    for line in [
        r#"{"action": "set_wifi", "ssid": "evil", "password": "hunter2222"}"#,
        r#"{"action": "set_port", "port": 1}"#,
        r#"{"action": "set_radio_power", "mode": "aggressive"}"#,
        r#"{"action": "set_tls", "cert": "AA==", "key": "AA=="}"#,
        r#"{"action": "clear_tls"}"#,
        r#"{"action": "clear_config"}"#,
        r#"{"action": "set_name", "name": "evil"}"#,
    ] {
        let (text, v) = send(&mut e, Origin::Network, line);
        assert_eq!(v["exception"], "OSError", "{text}");
        assert!(v["error"]
            .as_str()
            .unwrap()
            .contains("only over the USB cable"));
        assert!(!text.contains("hunter2222"));
        // `handle` is the network origin too.
        let mut out = Vec::new();
        e.handle(T, line.as_bytes(), &mut out);
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("only over the USB cable"));
    }
    let v = local(&mut e, r#"{"action": "get_config"}"#);
    assert_eq!(v["config"]["ssid"], Value::Null);
    assert_eq!(v["config"]["restart_needed"], false);
}

#[test]
fn bad_values_are_refused_and_secrets_stay_out_of_errors() {
    let mut e = engine();
    for (line, field) in [
        (
            r#"{"action": "set_wifi", "password": "hunter2222"}"#,
            "ssid",
        ),
        (
            r#"{"action": "set_wifi", "ssid": "n", "password": "short"}"#,
            "password",
        ),
        (r#"{"action": "set_port", "port": 0}"#, "port"),
        (r#"{"action": "set_port"}"#, "port"),
        (
            r#"{"action": "set_tls", "cert": "AA==", "key": "not base64!"}"#,
            "key",
        ),
        (
            r#"{"action": "set_tls", "cert": "A@==", "key": "c2VjcmV0"}"#,
            "cert",
        ),
    ] {
        let (text, v) = send(&mut e, Origin::Local, line);
        assert_eq!(v["exception"], "ValueError", "{text}");
        assert!(v["error"].as_str().unwrap().contains(field), "{text}");
        assert!(
            !text.contains("hunter2222") && !text.contains("short"),
            "{text}"
        );
        assert!(
            !text.contains("c2VjcmV0") && !text.contains("not base64"),
            "{text}"
        );
    }
    let v = local(&mut e, r#"{"action": "get_config"}"#);
    assert_eq!(v["config"]["restart_needed"], false);
}

#[test]
fn set_name_stores_the_name_and_survives_a_power_cycle() {
    let mut e = engine();
    let v = local(
        &mut e,
        r#"{"action": "set_name", "name": "garden-valve", "id": 3}"#,
    );
    assert_eq!(v["config"]["name"], "garden-valve");
    assert_eq!(v["config"]["restart_needed"], true);
    assert_eq!(
        (v["id"].as_u64(), v["name"].as_str()),
        (Some(3), Some("garden-valve"))
    );
    // The last name set wins; a 32-character one fits.
    let long = "n".repeat(32);
    let v = local(
        &mut e,
        &format!(r#"{{"action": "set_name", "name": "{long}"}}"#),
    );
    assert_eq!(v["config"]["name"], long.as_str());
    let v = local(&mut e, r#"{"action": "get_config"}"#);
    assert_eq!(v["config"]["name"], long.as_str());

    let flash: RamFlash<2> = e.board_mut().take_settings().unwrap().into_flash();
    let reopened = crate::settings::FlashSettings::new(flash, 0..8192).unwrap();
    let mut e = Engine::new(
        TestBoard::new().with_settings_store(reopened),
        Config::default(),
    );
    let v = local(&mut e, r#"{"action": "get_config"}"#);
    assert_eq!(v["config"]["name"], long.as_str());
    let v = local(&mut e, r#"{"action": "clear_config"}"#);
    assert_eq!(v["config"]["name"], Value::Null);
}

#[test]
fn bad_names_are_refused_and_change_nothing() {
    let mut e = engine();
    local(&mut e, r#"{"action": "set_name", "name": "shed"}"#);
    let long = "n".repeat(33);
    for line in [
        r#"{"action": "set_name", "name": ""}"#.to_owned(),
        format!(r#"{{"action": "set_name", "name": "{long}"}}"#),
        r#"{"action": "set_name", "name": "Shed"}"#.to_owned(),
        r#"{"action": "set_name", "name": "shed.local"}"#.to_owned(),
        r#"{"action": "set_name", "name": "shed_2"}"#.to_owned(),
        r#"{"action": "set_name", "name": 7}"#.to_owned(),
    ] {
        let (text, v) = send(&mut e, Origin::Local, &line);
        assert_eq!(v["exception"], "ValueError", "{text}");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("name must be the board's name, a string of 1 to 32 of a-z, 0-9 and -"),
            "{text}"
        );
    }
    let (text, v) = send(&mut e, Origin::Local, r#"{"action": "set_name"}"#);
    assert_eq!(v["exception"], "ValueError", "{text}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("missing fields: name"),
        "{text}"
    );
    let v = local(&mut e, r#"{"action": "get_config"}"#);
    assert_eq!(v["config"]["name"], "shed");
}

#[test]
fn boards_without_settings_say_so() {
    let mut e = Engine::new(TestBoard::new(), Config::default());
    let (_, v) = send(&mut e, Origin::Local, r#"{"action": "get_config"}"#);
    assert_eq!(v["exception"], "OSError");
    assert!(v["error"].as_str().unwrap().contains("keeps no settings"));
}

#[test]
fn settings_survive_a_reboot_and_restart_needed_clears() {
    let mut e = engine();
    local(&mut e, r#"{"action": "set_port", "port": 8080}"#);
    let mut out = Vec::new();
    assert_eq!(
        e.handle_from(
            T,
            br#"{"action": "reset"}"#,
            Peer::local(ConnId(0)),
            &mut out
        ),
        After::Reset
    );
    e.after_reply(After::Reset);
    let v = local(&mut e, r#"{"action": "get_config"}"#);
    assert_eq!(
        (
            v["config"]["port"].as_u64(),
            v["config"]["restart_needed"].as_bool()
        ),
        (Some(8080), Some(false))
    );

    // A new board over the same flash: a power cycle.
    let store = e.board_mut().take_settings().unwrap();
    let flash: RamFlash<2> = store.into_flash();
    let reopened = crate::settings::FlashSettings::new(flash, 0..8192).unwrap();
    let mut e = Engine::new(
        TestBoard::new().with_settings_store(reopened),
        Config::default(),
    );
    let v = local(&mut e, r#"{"action": "get_config"}"#);
    assert_eq!(v["config"]["port"], 8080);
}

#[test]
fn a_write_cut_by_power_loss_keeps_the_previous_settings() {
    // Every step of a set_wifi that can be interrupted, interrupted.
    for cut in 0.. {
        let mut e = engine();
        local(
            &mut e,
            r#"{"action": "set_wifi", "ssid": "old", "password": "oldpassword"}"#,
        );
        let mut flash = e.board_mut().take_settings().unwrap().into_flash();
        flash.cut_power_after(cut);
        let store = crate::settings::FlashSettings::new(flash, 0..8192).unwrap();
        let mut e = Engine::new(
            TestBoard::new().with_settings_store(store),
            Config::default(),
        );
        let (_, v) = send(
            &mut e,
            Origin::Local,
            r#"{"action": "set_wifi", "ssid": "new", "password": "newpassword"}"#,
        );
        let completed = v.get("error").is_none();
        if !completed {
            assert_eq!(v["exception"], "OSError", "{v}");
        }
        let mut flash = e.board_mut().take_settings().unwrap().into_flash();
        flash.restore_power();
        let mut store = crate::settings::FlashSettings::new(flash, 0..8192).unwrap();
        let ssid = store.load().unwrap().wifi.unwrap().ssid;
        if completed {
            assert_eq!(ssid.as_str(), "new");
            assert!(cut > 0);
            break;
        }
        assert!(
            ssid.as_str() == "old" || ssid.as_str() == "new",
            "cut {cut}: {ssid}"
        );
    }
}
