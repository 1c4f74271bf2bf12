//! Client authentication: the client list actions and every rule of the
//! check a command passes while a list is set.

use super::*;
use crate::clients::{Client, Clients, ClientsError, Fingerprint, Role};
use crate::test_board::TestBoard;
use serde_json::{json, Value};
use std::format;
use std::string::String;
use std::vec::Vec;

const LAPTOP: Fingerprint = Fingerprint([1; 32]);
const HA: Fingerprint = Fingerprint([2; 32]);
const BENCH: Fingerprint = Fingerprint([3; 32]);
const TV: Fingerprint = Fingerprint([4; 32]);
const STRANGER: Fingerprint = Fingerprint([9; 32]);

fn hex(f: Fingerprint) -> String {
    String::from_utf8(f.hex().to_vec()).unwrap()
}

fn usb() -> Peer {
    Peer::local(ConnId(100))
}

fn net(f: Fingerprint, conn: u32) -> Peer {
    Peer::authenticated(ConnId(conn), f)
}

fn send(e: &mut Engine<TestBoard>, t: Instant, peer: Peer, line: &str) -> Value {
    let mut out = Vec::new();
    e.handle_from(t, line.as_bytes(), peer, &mut out);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.matches('\n').count(), 1, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{text}: {err}"))
}

fn ok(e: &mut Engine<TestBoard>, t: Instant, peer: Peer, line: &str) -> Value {
    let v = send(e, t, peer, line);
    assert!(v.get("error").is_none(), "{line} -> {v}");
    v
}

/// The `error` of a refused command, which must be a `PermissionError`.
fn denied(e: &mut Engine<TestBoard>, t: Instant, peer: Peer, line: &str) -> String {
    let v = send(e, t, peer, line);
    assert_eq!(v["exception"], "PermissionError", "{line} -> {v}");
    v["error"].as_str().unwrap().into()
}

fn list_json() -> String {
    format!(
        r#"[{{"name": "laptop", "sha256": "{}", "role": "admin"}}, {{"name": "ha", "sha256": "{}", "role": "operator", "pins": [2, 3]}}, {{"name": "bench", "sha256": "{}", "role": "operator"}}, {{"name": "tv", "sha256": "{}", "role": "viewer"}}]"#,
        hex(LAPTOP),
        hex(HA),
        hex(BENCH),
        hex(TV)
    )
}

/// A board with pins 2, 3 and 4 set up as outputs, then the list set
/// over USB.
fn board() -> Engine<TestBoard> {
    let mut e = Engine::new(
        TestBoard::new().with_update_slot("1.2.0"),
        Config::default(),
    );
    for pin in [2, 3, 4] {
        ok(
            &mut e,
            Instant::ZERO,
            usb(),
            &format!(r#"{{"action": "setup_pin", "pin": {pin}, "mode": "output", "value": 0}}"#),
        );
    }
    ok(
        &mut e,
        Instant::ZERO,
        usb(),
        &format!(r#"{{"action": "set_clients", "clients": {}}}"#, list_json()),
    );
    e
}

const T: Instant = Instant::ZERO;

fn write(pin: u32, value: u8, timeout: f64) -> String {
    format!(r#"{{"action": "write_pin", "pin": {pin}, "value": {value}, "timeout": {timeout}}}"#)
}

#[test]
fn without_a_list_everyone_may_do_everything_but_set_one_from_the_network() {
    let mut e = Engine::new(TestBoard::new(), Config::default());
    ok(
        &mut e,
        T,
        Peer::network(ConnId(1)),
        r#"{"action": "reset"}"#,
    );
    let anon = Peer::network(ConnId(1));
    let line = format!(r#"{{"action": "set_clients", "clients": {}}}"#, list_json());
    let msg = denied(&mut e, T, anon, &line);
    assert!(msg.contains("only over the USB cable"), "{msg}");
    // Even a certificate changes nothing while no list is set.
    let msg = denied(&mut e, T, net(LAPTOP, 2), &line);
    assert!(msg.contains("only over the USB cable"), "{msg}");
    assert!(e.clients().is_empty());
    let v = ok(&mut e, T, anon, r#"{"action": "get_clients", "id": 4}"#);
    assert_eq!(v["clients"], json!([]));
    assert_eq!(v["id"], 4);
}

#[test]
fn set_clients_over_usb_stores_the_list_and_get_clients_lists_it() {
    let mut e = board();
    let v = ok(&mut e, T, net(TV, 1), r#"{"action": "get_clients"}"#);
    assert_eq!(
        v["clients"],
        json!([
            {"name": "laptop", "sha256": hex(LAPTOP), "role": "admin"},
            {"name": "ha", "sha256": hex(HA), "role": "operator", "pins": [2, 3]},
            {"name": "bench", "sha256": hex(BENCH), "role": "operator"},
            {"name": "tv", "sha256": hex(TV), "role": "viewer"},
        ])
    );
    assert_eq!(e.clients().as_slice().len(), 4);
}

#[test]
fn a_list_keeps_an_admin_and_an_empty_one_turns_authentication_off() {
    let mut e = board();
    let no_admin = format!(
        r#"{{"action": "set_clients", "clients": [{{"name": "tv", "sha256": "{}", "role": "viewer"}}]}}"#,
        hex(TV)
    );
    let v = send(&mut e, T, usb(), &no_admin);
    assert_eq!(v["exception"], "ValueError");
    assert!(
        v["error"].as_str().unwrap().contains("at least one admin"),
        "{v}"
    );
    let v = send(&mut e, T, net(LAPTOP, 1), &no_admin);
    assert_eq!(v["exception"], "ValueError");
    assert_eq!(e.clients().as_slice().len(), 4, "nothing changed");
    // An admin over the network may clear it: back to no authentication.
    ok(
        &mut e,
        T,
        net(LAPTOP, 1),
        r#"{"action": "set_clients", "clients": []}"#,
    );
    assert!(e.clients().is_empty());
    ok(&mut e, T, Peer::network(ConnId(2)), &write(4, 1, 1.0));
}

#[test]
fn the_api_checks_lists_as_the_action_does() {
    let c = |name: &str, sha: u8, role| Client::new(name, [sha; 32], role, None).unwrap();
    assert_eq!(
        Clients::new([c("a", 1, Role::Viewer)]).unwrap_err(),
        ClientsError::NoAdmin
    );
    assert!(matches!(
        Clients::new([c("a", 1, Role::Admin), c("a", 2, Role::Viewer)]),
        Err(ClientsError::DuplicateName(_))
    ));
    assert!(matches!(
        Clients::new([c("a", 1, Role::Admin), c("b", 1, Role::Viewer)]),
        Err(ClientsError::DuplicateCertificate(_))
    ));
    assert_eq!(
        Clients::new((0..9).map(|i| c(&format!("c{i}"), i, Role::Admin))).unwrap_err(),
        ClientsError::TooMany
    );
    assert_eq!(
        Client::new("bad name", [0; 32], Role::Admin, None).unwrap_err(),
        ClientsError::BadName
    );
    assert!(matches!(
        Client::new("a", [0; 32], Role::Viewer, Some(&[2])),
        Err(ClientsError::BadPins(_))
    ));
    assert!(matches!(
        Client::new("a", [0; 32], Role::Operator, Some(&[64])),
        Err(ClientsError::BadPins(_))
    ));
    assert!(Clients::new([]).unwrap().is_empty());
}

#[test]
fn a_network_line_needs_a_listed_certificate() {
    let mut e = board();
    let msg = denied(&mut e, T, Peer::network(ConnId(1)), r#"{"action": "ping"}"#);
    assert!(msg.contains("client certificate"), "{msg}");
    let msg = denied(&mut e, T, net(STRANGER, 1), r#"{"action": "ping"}"#);
    assert!(
        msg.contains("no longer in the board's client list"),
        "{msg}"
    );
    // The USB cable may do anything.
    ok(&mut e, T, usb(), &write(2, 1, 1.0));
    ok(&mut e, T, usb(), r#"{"action": "reset"}"#);
}

#[test]
fn a_viewer_reads_and_is_refused_the_rest() {
    let mut e = board();
    for line in [
        r#"{"action": "ping"}"#,
        r#"{"action": "get_info"}"#,
        r#"{"action": "get_version"}"#,
        r#"{"action": "get_pins"}"#,
        r#"{"action": "get_clients"}"#,
        r#"{"action": "list_actions"}"#,
        r#"{"action": "read_pin", "pin": 2}"#,
    ] {
        ok(&mut e, T, net(TV, 1), line);
    }
    let msg = denied(&mut e, T, net(TV, 1), &write(2, 1, 1.0));
    assert_eq!(msg, "tv is a viewer: write_pin needs the operator role");
    let msg = denied(
        &mut e,
        T,
        net(TV, 1),
        r#"{"action": "setup_pin", "pin": 4, "mode": "input"}"#,
    );
    assert_eq!(msg, "tv is a viewer: setup_pin needs the operator role");
    let msg = denied(&mut e, T, net(TV, 1), r#"{"action": "reset"}"#);
    assert_eq!(msg, "tv is a viewer: reset needs the admin role");
    assert_eq!(e.board().level(2), Some(Level::Low), "nothing changed");
    assert_eq!(e.board().resets(), 0);
}

#[test]
fn an_operator_drives_its_pins_only_and_no_admin_action() {
    let mut e = board();
    ok(&mut e, T, net(HA, 1), &write(2, 1, 5.0));
    ok(
        &mut e,
        T,
        net(HA, 1),
        r#"{"action": "setup_pin", "pin": 3, "mode": "output", "value": 1}"#,
    );
    let msg = denied(&mut e, T, net(HA, 1), &write(4, 1, 5.0));
    assert_eq!(
        msg,
        "ha may not use pin 4 (write_pin): ask an admin to add it to its pins"
    );
    // A pin out of any list's range is refused as not its own.
    let msg = denied(&mut e, T, net(HA, 1), &write(200, 1, 5.0));
    assert!(msg.contains("pin 200"), "{msg}");
    for (line, action) in [
        (r#"{"action": "reset"}"#, "reset"),
        (r#"{"action": "sleep", "time_ms": 10}"#, "sleep"),
        (r#"{"action": "update_status"}"#, "update_status"),
        (r#"{"action": "set_clients", "clients": []}"#, "set_clients"),
        (
            r#"{"action": "sim_input", "pin": 5, "value": 1}"#,
            "sim_input",
        ),
    ] {
        let msg = denied(&mut e, T, net(HA, 1), line);
        assert_eq!(
            msg,
            format!("ha is an operator: {action} needs the admin role")
        );
    }
    // An operator without pins may use any.
    ok(&mut e, T, net(BENCH, 2), &write(4, 1, 5.0));
    assert_eq!(e.board().level(4), Some(Level::High));
    assert_eq!(e.clients().as_slice().len(), 4);
}

#[test]
fn an_admin_does_everything() {
    let mut e = board();
    ok(&mut e, T, net(LAPTOP, 1), &write(4, 1, 5.0));
    ok(&mut e, T, net(LAPTOP, 1), r#"{"action": "update_status"}"#);
    ok(&mut e, T, net(LAPTOP, 1), r#"{"action": "reset"}"#);
}

#[test]
fn another_clients_lease_is_refused_until_it_ends_and_an_admin_overrides() {
    let mut e = board();
    let t0 = Instant::from_millis(1_000);
    ok(&mut e, t0, net(HA, 1), &write(2, 1, 5.0));
    let t = Instant::from_millis(1_800);
    let v = ok(&mut e, t, net(TV, 3), r#"{"action": "get_pins"}"#);
    assert_eq!(
        v["pins"][0],
        json!({"pin": 2, "mode": "output", "level": 1, "safe": 0, "lease_ms": 4200, "held_by": "ha"})
    );
    let msg = denied(&mut e, t, net(BENCH, 2), &write(2, 0, 1.0));
    assert_eq!(msg, "pin 2 is held by ha for 4.2 s more");
    let msg = denied(
        &mut e,
        t,
        net(BENCH, 2),
        r#"{"action": "setup_pin", "pin": 2, "mode": "input"}"#,
    );
    assert_eq!(msg, "pin 2 is held by ha for 4.2 s more");
    assert_eq!(e.board().level(2), Some(Level::High), "the lease runs on");
    // The same client on another connection is its owner.
    ok(&mut e, t, net(HA, 9), &write(2, 1, 5.0));
    // Once the lease ended, another operator may write it.
    let after = Instant::from_millis(1_800 + 5_001);
    ok(&mut e, after, net(BENCH, 2), &write(2, 1, 5.0));
    let v = ok(&mut e, after, net(TV, 3), r#"{"action": "get_pins"}"#);
    assert_eq!(v["pins"][0]["held_by"], "bench");
    // An admin overrides a running lease; it then holds it.
    ok(&mut e, after, net(LAPTOP, 4), &write(2, 1, 5.0));
    let msg = denied(&mut e, after, net(BENCH, 2), &write(2, 0, 1.0));
    assert_eq!(msg, "pin 2 is held by laptop for 5.0 s more");
    // The USB cable overrides too.
    ok(&mut e, after, usb(), &write(2, 0, 1.0));
    let v = ok(&mut e, after, net(TV, 3), r#"{"action": "get_pins"}"#);
    assert!(v["pins"][0].get("held_by").is_none(), "{v}");
}

#[test]
fn revocation_and_list_changes_take_effect_on_the_next_line() {
    let mut e = board();
    ok(&mut e, T, net(HA, 1), &write(2, 1, 5.0));
    // The admin drops bench and moves ha to another place in the list:
    // ha's lease stays ha's.
    let line = format!(
        r#"{{"action": "set_clients", "clients": [{{"name": "tv", "sha256": "{}", "role": "viewer"}}, {{"name": "laptop", "sha256": "{}", "role": "admin"}}, {{"name": "ha", "sha256": "{}", "role": "operator", "pins": [2]}}]}}"#,
        hex(TV),
        hex(LAPTOP),
        hex(HA)
    );
    let v = ok(&mut e, T, net(LAPTOP, 2), &line);
    assert_eq!(v["clients"].as_array().unwrap().len(), 3);
    let msg = denied(&mut e, T, net(BENCH, 3), r#"{"action": "ping"}"#);
    assert!(
        msg.contains("no longer in the board's client list"),
        "{msg}"
    );
    let v = ok(&mut e, T, net(TV, 4), r#"{"action": "get_pins"}"#);
    assert_eq!(v["pins"][0]["held_by"], "ha");
    // ha lost pin 3.
    let msg = denied(&mut e, T, net(HA, 1), &write(3, 1, 5.0));
    assert!(msg.contains("may not use pin 3"), "{msg}");
    // Revoking ha leaves its lease nobody's: another operator may take it.
    let line = format!(
        r#"{{"action": "set_clients", "clients": [{{"name": "laptop", "sha256": "{}", "role": "admin"}}, {{"name": "bench", "sha256": "{}", "role": "operator"}}]}}"#,
        hex(LAPTOP),
        hex(BENCH)
    );
    ok(&mut e, T, usb(), &line);
    let v = ok(&mut e, T, net(BENCH, 3), r#"{"action": "get_pins"}"#);
    assert!(v["pins"][0].get("held_by").is_none(), "{v}");
    ok(&mut e, T, net(BENCH, 3), &write(2, 0, 1.0));
}

#[test]
fn an_operator_limited_to_some_pins_is_refused_actions_that_name_none() {
    use piconet_protocol::action::clients::{PinUse, Requires};
    let mut e = board();
    let unnamed = Requires::Operator(PinUse::of(&[]));
    e.peer = net(HA, 1);
    assert!(matches!(
        e.authorize(T, unnamed, "i2c_write"),
        Err(crate::clients::Denied::AllPins { .. })
    ));
    e.peer = net(BENCH, 2);
    assert_eq!(e.authorize(T, unnamed, "i2c_write"), Ok(()));
    e.peer = net(TV, 3);
    assert!(matches!(
        e.authorize(T, unnamed, "i2c_write"),
        Err(crate::clients::Denied::Role { .. })
    ));
}

#[test]
fn an_older_image_is_refused_unless_downgrade_is_allowed() {
    let mut e = board();
    let begin = |version: &str, extra: &str| {
        format!(
            r#"{{"action": "update_begin", "size": 4096, "sha256": "{}", "signature": "{}", "version": "{version}"{extra}}}"#,
            "ab".repeat(32),
            "0".repeat(128)
        )
    };
    let v = send(&mut e, T, net(LAPTOP, 1), &begin("1.1.9", ""));
    assert_eq!(v["exception"], "ValueError");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("older than the running one"),
        "{v}"
    );
    assert_eq!(e.board().slot().unwrap().prepared, 0);
    // A label that is not a semantic version cannot be ordered: taken.
    ok(&mut e, T, net(LAPTOP, 1), &begin("nightly", ""));
    ok(
        &mut e,
        T,
        net(LAPTOP, 1),
        &begin("1.1.9", r#", "allow_downgrade": true"#),
    );
    ok(&mut e, T, net(LAPTOP, 1), &begin("1.2.0", ""));
    ok(&mut e, T, net(LAPTOP, 1), &begin("1.3.0-rc.1", ""));
    assert_eq!(e.board().slot().unwrap().prepared, 4);
    // Only an admin may start an update at all, downgrade or not.
    let msg = denied(
        &mut e,
        T,
        net(BENCH, 2),
        &begin("1.1.9", r#", "allow_downgrade": true"#),
    );
    assert_eq!(
        msg,
        "bench is an operator: update_begin needs the admin role"
    );
    // Without a list the downgrade rule holds too.
    let mut open = Engine::new(
        TestBoard::new().with_update_slot("1.2.0"),
        Config::default(),
    );
    let v = send(&mut open, T, Peer::network(ConnId(1)), &begin("1.0.0", ""));
    assert_eq!(v["exception"], "ValueError");
}

#[test]
fn pwm_leases_are_owned_and_i2c_needs_every_pin() {
    let mut e = board();
    let t0 = Instant::from_millis(1_000);
    ok(
        &mut e,
        t0,
        usb(),
        r#"{"action": "setup_pin", "pin": 3, "mode": "pwm", "frequency": 1000}"#,
    );
    let pwm = r#"{"action": "write_pwm", "pin": 3, "duty": 0.5, "timeout": 5}"#;
    ok(&mut e, t0, net(HA, 1), pwm);
    let t = Instant::from_millis(1_800);
    let v = ok(&mut e, t, net(TV, 3), r#"{"action": "get_pins"}"#);
    let entry = v["pins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pin"] == 3)
        .unwrap()
        .clone();
    assert_eq!(
        entry,
        json!({"pin": 3, "mode": "pwm", "frequency": 1000, "duty": 0.5, "safe_duty": 0.0, "lease_ms": 4200, "held_by": "ha"})
    );
    let msg = denied(&mut e, t, net(BENCH, 2), pwm);
    assert_eq!(msg, "pin 3 is held by ha for 4.2 s more");
    // A viewer reads but does not write.
    denied(&mut e, t, net(TV, 3), pwm);
    ok(&mut e, t, net(TV, 3), r#"{"action": "read_temperature"}"#);
    // ha may use pins 2 and 3 only: not the bus pins, nor a bus at all.
    let setup = r#"{"action": "i2c_setup", "bus": 0, "sda": 4, "scl": 5}"#;
    denied(&mut e, t, net(HA, 1), setup);
    ok(&mut e, t, net(BENCH, 2), setup);
    let read = r#"{"action": "i2c_read", "bus": 0, "address": 80, "count": 1}"#;
    denied(&mut e, t, net(HA, 1), read);
    ok(&mut e, t, net(BENCH, 2), read);
}

/// A board over `flash` (a power cycle keeps the flash, nothing else).
fn boot_over(flash: piconet_config::ram::RamFlash<2>) -> Engine<TestBoard> {
    let store = crate::settings::FlashSettings::new(flash, 0..8192).unwrap();
    Engine::new(
        TestBoard::new().with_settings_store(store),
        Config::default(),
    )
}

fn flash_of(e: &mut Engine<TestBoard>) -> piconet_config::ram::RamFlash<2> {
    e.board_mut().take_settings().unwrap().into_flash()
}

#[test]
fn a_board_with_settings_keeps_the_list_over_a_power_cycle() {
    let mut e = Engine::new(TestBoard::new().with_settings(), Config::default());
    let line = format!(r#"{{"action": "set_clients", "clients": {}}}"#, list_json());
    let set = ok(&mut e, T, usb(), &line);
    let mut e = boot_over(flash_of(&mut e));
    // What the firmware does at boot: the stored list into the engine.
    let stored = e.board_mut().settings().unwrap().load_clients().unwrap();
    assert_eq!(stored.as_slice().len(), 4);
    // A list alone is not a provisioned board: its build-time WiFi stays.
    let settings = e.board_mut().settings().unwrap().load().unwrap();
    assert_eq!(settings, piconet_config::Settings::default());
    e.set_clients(stored);
    let got = ok(&mut e, T, net(TV, 1), r#"{"action": "get_clients"}"#);
    assert_eq!(got["clients"], set["clients"]);

    // Changed by an admin over the network: stored too.
    let line = format!(
        r#"{{"action": "set_clients", "clients": [{{"name": "laptop", "sha256": "{}", "role": "admin"}}]}}"#,
        hex(LAPTOP)
    );
    ok(&mut e, T, net(LAPTOP, 2), &line);
    let mut e = boot_over(flash_of(&mut e));
    let stored = e.board_mut().settings().unwrap().load_clients().unwrap();
    assert_eq!(stored.as_slice().len(), 1);
    assert_eq!(stored.as_slice()[0].sha256, LAPTOP);

    // Cleared: nothing stored, no authentication after the next boot.
    e.set_clients(stored);
    ok(
        &mut e,
        T,
        usb(),
        r#"{"action": "set_clients", "clients": []}"#,
    );
    let mut e = boot_over(flash_of(&mut e));
    let stored = e.board_mut().settings().unwrap().load_clients().unwrap();
    assert!(stored.is_empty());
}

#[test]
fn a_list_the_flash_cannot_store_is_not_applied() {
    let mut e = Engine::new(TestBoard::new().with_settings(), Config::default());
    let mut flash = flash_of(&mut e);
    flash.cut_power_after(0);
    let mut e = boot_over(flash);
    let line = format!(r#"{{"action": "set_clients", "clients": {}}}"#, list_json());
    let v = send(&mut e, T, usb(), &line);
    assert_eq!(v["exception"], "OSError", "{v}");
    assert!(e.clients().is_empty(), "nothing changed");
    // Network lines are still served as on a board without a list.
    ok(&mut e, T, Peer::network(ConnId(3)), r#"{"action": "ping"}"#);
}

#[test]
fn clear_config_forgets_the_stored_list() {
    let mut e = Engine::new(TestBoard::new().with_settings(), Config::default());
    let line = format!(r#"{{"action": "set_clients", "clients": {}}}"#, list_json());
    ok(&mut e, T, usb(), &line);
    ok(&mut e, T, usb(), r#"{"action": "clear_config"}"#);
    let mut e = boot_over(flash_of(&mut e));
    let stored = e.board_mut().settings().unwrap().load_clients().unwrap();
    assert!(stored.is_empty());
}
