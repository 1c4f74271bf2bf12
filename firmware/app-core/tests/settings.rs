//! Which settings the board boots with: CONFIG flash region first, the
//! build-time fallback when it is empty or unreadable (over piconet-config's
//! RAM flash with NOR semantics, 4 KiB pages as on the RP2040).

use embedded_storage_async::nor_flash::NorFlash;
use futures_executor::block_on;
use piconet_app_core::settings::{read, running_name, Source};
use piconet_config::ram::{RamFlash, PAGE};
use piconet_config::{ConfigStore, BUFFER_SIZE};

/// The firmware's layout in miniature: a page of something else, then the
/// 8 KiB CONFIG region (two pages).
type Flash = RamFlash<3>;
const REGION: core::ops::Range<u32> = PAGE as u32..3 * PAGE as u32;

fn boot(flash: Flash) -> (Source, Option<piconet_config::Settings>) {
    let mut buf = [0u8; BUFFER_SIZE];
    block_on(read(flash, REGION, &mut buf))
}

#[test]
fn an_erased_region_falls_back_to_the_build() {
    assert_eq!(boot(Flash::new()), (Source::Build, None));
}

#[test]
fn provisioned_settings_win_and_unset_ones_take_defaults() {
    let mut store = ConfigStore::new(Flash::new(), REGION).unwrap();
    let mut buf = [0u8; BUFFER_SIZE];
    block_on(store.set_wifi("garden", "hunter22", &mut buf)).unwrap();
    let (source, s) = boot(store.into_flash());
    assert_eq!(source, Source::Flash);
    let s = s.unwrap();
    assert_eq!(s.wifi.as_ref().unwrap().ssid, "garden");
    assert_eq!(s.wifi.as_ref().unwrap().password, "hunter22");
    assert_eq!(s.port, piconet_config::DEFAULT_PORT);
    assert!(
        s.tls.is_none(),
        "not provisioned: plaintext, not the build's identity"
    );
}

#[test]
fn a_provisioned_port_and_identity_are_read() {
    let mut store = ConfigStore::new(Flash::new(), REGION).unwrap();
    let mut buf = [0u8; BUFFER_SIZE];
    block_on(store.set_port(4242, &mut buf)).unwrap();
    block_on(store.set_tls(&[0x30; 500], &[0x31; 121], &mut buf)).unwrap();
    let (source, s) = boot(store.into_flash());
    assert_eq!(source, Source::Flash);
    let s = s.unwrap();
    assert_eq!(s.port, 4242);
    assert_eq!(s.tls.as_ref().unwrap().cert.len(), 500);
    assert!(s.wifi.is_none());
}

#[test]
fn a_name_alone_keeps_the_build_settings_and_is_the_running_name() {
    let mut store = ConfigStore::new(Flash::new(), REGION).unwrap();
    let mut buf = [0u8; BUFFER_SIZE];
    block_on(store.set_name("garden-valve", &mut buf)).unwrap();
    let mut flash = store.into_flash();
    // What the board reads at boot: the name is stored...
    let mut again = ConfigStore::new(flash.clone(), REGION).unwrap();
    let stored = block_on(again.load(&mut buf)).unwrap().name;
    assert_eq!(stored.as_deref(), Some("garden-valve"));
    // ...and does not make the board provisioned: the build's WiFi stays.
    assert_eq!(boot(flash.clone()), (Source::Build, None));
    let id = [0xe6, 0x61, 0x38, 0x1f, 0x2e, 0x11, 0x1f, 0x2e];
    assert_eq!(
        running_name(stored.as_deref(), &id).as_str(),
        "garden-valve"
    );
    assert_eq!(running_name(None, &id).as_str(), "piconet-1f2e");

    // With WiFi stored as well, both are read.
    let mut store = ConfigStore::new(flash, REGION).unwrap();
    block_on(store.set_wifi("garden", "hunter22", &mut buf)).unwrap();
    flash = store.into_flash();
    let (source, s) = boot(flash);
    assert_eq!(source, Source::Flash);
    assert_eq!(s.unwrap().name.as_deref(), Some("garden-valve"));
}

#[test]
fn a_garbled_region_is_unreadable_and_falls_back() {
    let mut flash = Flash::new();
    let noise: Vec<u8> = (0..2 * PAGE).map(|i| (i * 7 + 3) as u8).collect();
    block_on(flash.write(REGION.start, &noise)).unwrap();
    let (source, s) = boot(flash);
    assert!(s.is_none());
    assert_ne!(source, Source::Flash);
}

#[test]
fn a_region_of_one_page_is_refused() {
    let mut buf = [0u8; BUFFER_SIZE];
    let (source, s) = block_on(read(Flash::new(), 0..PAGE as u32, &mut buf));
    assert_eq!((source, s), (Source::FlashUnreadable, None));
}

#[test]
fn source_round_trips_through_u8() {
    for s in [Source::Flash, Source::Build, Source::FlashUnreadable] {
        assert_eq!(Source::from_u8(s as u8), s);
    }
    assert_eq!(Source::from_u8(200), Source::FlashUnreadable);
}
