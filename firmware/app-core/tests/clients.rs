//! The client list over a power cycle, as the firmware boots: set over
//! USB (stored in the settings flash), the board reset (only the flash
//! survives), `restore_clients` at boot, `get_clients` reads it back.

use piconet_app_core::settings::restore_clients;
use piconet_config::ram::RamFlash;
use piconet_engine::settings::{FlashSettings, SettingsStore};
use piconet_engine::{Config, ConnId, Engine, Instant, Peer};
use piconet_sim::SimBoard;
use serde_json::Value;

const T: Instant = Instant::ZERO;

fn send(e: &mut Engine<SimBoard>, line: &str) -> Value {
    let mut out = Vec::new();
    e.handle_from(T, line.as_bytes(), Peer::local(ConnId(1)), &mut out);
    serde_json::from_slice(&out).unwrap()
}

fn power_cycle(e: &mut Engine<SimBoard>) -> Engine<SimBoard> {
    let flash: RamFlash<2> = e.board_mut().take_settings().unwrap().into_flash();
    let store = FlashSettings::new(flash, 0..8192).unwrap();
    Engine::new(
        SimBoard::new().with_settings_store(store),
        Config::default(),
    )
}

const LIST: &str = r#"[{"name": "laptop", "sha256": "0101010101010101010101010101010101010101010101010101010101010101", "role": "admin"}, {"name": "ha", "sha256": "0202020202020202020202020202020202020202020202020202020202020202", "role": "operator", "pins": [2, 3, 15]}]"#;

#[test]
fn a_list_set_over_usb_is_back_after_a_reset() {
    let mut e = Engine::new(SimBoard::new().with_settings(), Config::default());
    let set = send(
        &mut e,
        &format!(r#"{{"action": "set_clients", "clients": {LIST}}}"#),
    );
    assert!(set.get("error").is_none(), "{set}");
    let mut e = power_cycle(&mut e);
    assert!(e.clients().is_empty(), "the engine itself keeps nothing");
    restore_clients(&mut e).unwrap();
    let got = send(&mut e, r#"{"action": "get_clients"}"#);
    assert_eq!(got["clients"], set["clients"]);
    assert_eq!(got["clients"][1]["pins"], serde_json::json!([2, 3, 15]));
    // And the network is now refused without a listed certificate.
    let mut out = Vec::new();
    e.handle_from(
        T,
        br#"{"action": "ping"}"#,
        Peer::network(ConnId(2)),
        &mut out,
    );
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["exception"], "PermissionError", "{v}");

    // Cleared over USB: none after the next reset.
    send(&mut e, r#"{"action": "set_clients", "clients": []}"#);
    let mut e = power_cycle(&mut e);
    restore_clients(&mut e).unwrap();
    assert!(e.clients().is_empty());
}

#[test]
fn without_a_store_or_a_list_there_is_none() {
    let mut e = Engine::new(SimBoard::new(), Config::default());
    restore_clients(&mut e).unwrap();
    assert!(e.clients().is_empty());
    let mut e = Engine::new(SimBoard::new().with_settings(), Config::default());
    restore_clients(&mut e).unwrap();
    assert!(e.clients().is_empty());
}

#[test]
fn an_unreadable_list_is_an_error_the_firmware_answers_by_serving_no_network() {
    // A well-formed flash item holding a record this engine would not
    // take (version 1, one client, then nothing).
    let mut cs = piconet_config::ConfigStore::new(RamFlash::<2>::new(), 0..8192).unwrap();
    let mut buf = [0u8; piconet_config::BUFFER_SIZE];
    futures_executor::block_on(cs.set_clients(&[1, 1], &mut buf)).unwrap();
    let mut store = FlashSettings::new(cs.into_flash(), 0..8192).unwrap();
    assert!(store.load_clients().is_err());
    let mut e = Engine::new(
        SimBoard::new().with_settings_store(store),
        Config::default(),
    );
    assert!(restore_clients(&mut e).is_err());
    assert!(e.clients().is_empty());
}
