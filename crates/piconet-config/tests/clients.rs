//! The client list item beside the other settings, in the firmware's
//! region size (two 4 KiB pages): the largest list next to the largest
//! WiFi and a TLS identity of 1 KiB (a P-256 one is about 650 B) still fits
//! and rotates, and a list alone is not a provisioned board.

use futures::executor::block_on;
use piconet_config::ram::{RamFlash, PAGE};
use piconet_config::{
    ConfigError, ConfigStore, Settings, BUFFER_SIZE, MAX_CLIENTS_RECORD, MAX_KEY,
};

type Flash = RamFlash<2>;
const REGION: core::ops::Range<u32> = 0..(2 * PAGE as u32);

fn open(flash: Flash) -> ConfigStore<Flash> {
    ConfigStore::new(flash, REGION).unwrap()
}

fn stored(store: &mut ConfigStore<Flash>) -> Option<Vec<u8>> {
    let mut buf = [0u8; BUFFER_SIZE];
    block_on(store.clients(&mut buf))
        .unwrap()
        .map(<[u8]>::to_vec)
}

#[test]
fn the_largest_list_fits_beside_the_other_settings_and_keeps_rotating() {
    let mut store = open(Flash::new());
    let mut buf = [0u8; BUFFER_SIZE];
    let ssid = "s".repeat(piconet_config::MAX_SSID);
    let password = "p".repeat(piconet_config::MAX_PASSWORD);
    for i in 0..60u8 {
        block_on(store.set_wifi(&ssid, &password, &mut buf)).unwrap();
        block_on(store.set_tls(&[i; 1024], &[i; MAX_KEY], &mut buf)).unwrap();
        block_on(store.set_clients(&[i; MAX_CLIENTS_RECORD], &mut buf)).unwrap();
        block_on(store.set_port(1000 + u16::from(i), &mut buf)).unwrap();
    }
    let mut again = open(store.into_flash());
    assert_eq!(stored(&mut again), Some(vec![59; MAX_CLIENTS_RECORD]));
    let s = block_on(again.load(&mut buf)).unwrap();
    assert_eq!((s.port, s.tls.unwrap().cert[0]), (1059, 59));
}

#[test]
fn a_list_alone_leaves_the_board_unprovisioned_and_empty_removes_it() {
    let mut store = open(Flash::new());
    let mut buf = [0u8; BUFFER_SIZE];
    assert_eq!(stored(&mut store), None);
    block_on(store.set_clients(&[1, 2, 3], &mut buf)).unwrap();
    let mut store = open(store.into_flash());
    assert_eq!(stored(&mut store).as_deref(), Some(&[1u8, 2, 3][..]));
    assert_eq!(block_on(store.load(&mut buf)).unwrap(), Settings::default());
    block_on(store.set_clients(&[], &mut buf)).unwrap();
    let mut store = open(store.into_flash());
    assert_eq!(stored(&mut store), None);
}

#[test]
fn an_oversized_record_is_refused_and_changes_nothing() {
    let mut store = open(Flash::new());
    let mut buf = [0u8; BUFFER_SIZE];
    block_on(store.set_clients(&[7; 10], &mut buf)).unwrap();
    let e = block_on(store.set_clients(&[0; MAX_CLIENTS_RECORD + 1], &mut buf));
    assert!(matches!(e, Err(ConfigError::Invalid(_))), "{e:?}");
    assert_eq!(stored(&mut store), Some(vec![7; 10]));
}
