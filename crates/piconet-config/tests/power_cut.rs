//! The store over a RAM flash: settings survive reboots, and a power cut
//! at any write or erase leaves either the old or the new settings, never
//! a mix and never an unusable store.

use futures::executor::block_on;
use piconet_config::ram::{RamFlash, PAGE};
use piconet_config::{ConfigError, ConfigStore, Settings, BUFFER_SIZE};

type Flash = RamFlash<4>;
const REGION: core::ops::Range<u32> = 0..(4 * PAGE as u32);

fn open(flash: Flash) -> ConfigStore<Flash> {
    ConfigStore::new(flash, REGION).unwrap()
}

fn load(store: &mut ConfigStore<Flash>) -> Settings {
    let mut buf = [0u8; BUFFER_SIZE];
    block_on(store.load(&mut buf)).unwrap()
}

fn ssid(s: &Settings) -> Option<String> {
    s.wifi
        .as_ref()
        .map(|w| format!("{}/{}", w.ssid, w.password))
}

#[test]
fn settings_survive_a_reboot_and_defaults_fill_the_rest() {
    let mut store = open(Flash::new());
    assert_eq!(load(&mut store), Settings::default());
    let mut buf = [0u8; BUFFER_SIZE];
    block_on(store.set_wifi("home", "secret-pass", &mut buf)).unwrap();
    block_on(store.set_tls(&[0x30; 480], &[0x31; 121], &mut buf)).unwrap();
    let mut again = open(store.into_flash());
    let s = load(&mut again);
    assert_eq!(ssid(&s).as_deref(), Some("home/secret-pass"));
    assert_eq!(s.port, piconet_config::DEFAULT_PORT);
    assert_eq!(s.tls.as_ref().unwrap().cert.len(), 480);
    let shown = s.summary().to_string();
    assert!(!shown.contains("secret-pass"), "{shown}");
    assert!(!format!("{s:?}").contains("secret-pass"));
    block_on(again.clear_tls(&mut buf)).unwrap();
    assert!(load(&mut again).tls.is_none());
}

#[test]
fn the_name_survives_a_reboot_and_a_bad_one_changes_nothing() {
    let mut store = open(Flash::new());
    assert_eq!(load(&mut store).name, None);
    let mut buf = [0u8; BUFFER_SIZE];
    block_on(store.set_name("garden-valve", &mut buf)).unwrap();
    for bad in ["", "Garden", "a.b", &"n".repeat(33)] {
        let e = block_on(store.set_name(bad, &mut buf));
        assert!(matches!(e, Err(ConfigError::Invalid(_))), "{bad}: {e:?}");
    }
    let mut again = open(store.into_flash());
    let s = load(&mut again);
    assert_eq!(s.name.as_deref(), Some("garden-valve"));
    assert!(s.summary().to_string().contains("name=garden-valve"));
    block_on(again.set_name("shed", &mut buf)).unwrap();
    assert_eq!(load(&mut again).name.as_deref(), Some("shed"));
    block_on(again.erase()).unwrap();
    assert_eq!(load(&mut again).name, None);
}

#[test]
fn invalid_values_are_refused_and_change_nothing() {
    let mut store = open(Flash::new());
    let mut buf = [0u8; BUFFER_SIZE];
    block_on(store.set_wifi("a", "b", &mut buf)).unwrap();
    for e in [
        block_on(store.set_wifi("", "x", &mut buf)),
        block_on(store.set_wifi(&"s".repeat(33), "x", &mut buf)),
        block_on(store.set_port(0, &mut buf)),
        block_on(store.set_tls(&[], &[1], &mut buf)),
    ] {
        assert!(matches!(e, Err(ConfigError::Invalid(_))), "{e:?}");
    }
    assert_eq!(ssid(&load(&mut store)).as_deref(), Some("a/b"));
    assert!(matches!(
        ConfigStore::new(Flash::new(), 0..PAGE as u32),
        Err(ConfigError::Region(_))
    ));
}

#[test]
fn many_updates_rotate_pages_without_filling_up() {
    let mut store = open(Flash::new());
    let mut buf = [0u8; BUFFER_SIZE];
    for i in 0..500u16 {
        block_on(store.set_port(1000 + i, &mut buf)).unwrap();
        if i % 50 == 0 {
            block_on(store.set_tls(&[i as u8; 1500], &[7; 200], &mut buf)).unwrap();
        }
    }
    let s = load(&mut store);
    assert_eq!(s.port, 1499);
    assert_eq!(s.tls.unwrap().cert[0], 450u16 as u8);
}

/// For every write and erase a change makes, cut the power there, reboot,
/// and check what the next boot reads: the old settings or the new ones.
#[test]
fn a_power_cut_at_every_step_keeps_the_previous_settings() {
    // Some history first, so the change has pages to compact.
    let mut base = open(Flash::new());
    let mut buf = [0u8; BUFFER_SIZE];
    for i in 0..30u16 {
        block_on(base.set_port(2000 + i, &mut buf)).unwrap();
    }
    block_on(base.set_wifi("old-net", "old-pass", &mut buf)).unwrap();
    let base = base.into_flash();

    // How many operations the change takes when nothing goes wrong.
    let probe = base.clone();
    let before = probe.operations();
    let mut store = open(probe);
    block_on(store.set_wifi("new-net", "new-pass", &mut buf)).unwrap();
    let steps = store.into_flash().operations() - before;
    assert!(steps >= 1);

    for cut in 0..steps {
        let mut flash = base.clone();
        flash.cut_power_after(cut);
        let mut store = open(flash);
        let r = block_on(store.set_wifi("new-net", "new-pass", &mut buf));
        assert!(
            r.is_err(),
            "cut at {cut} of {steps} must interrupt the change"
        );
        // Reboot.
        let mut flash = store.into_flash();
        flash.restore_power();
        let mut store = open(flash);
        let s = load(&mut store);
        let seen = ssid(&s);
        assert!(
            seen.as_deref() == Some("old-net/old-pass")
                || seen.as_deref() == Some("new-net/new-pass"),
            "cut at {cut}: {seen:?}"
        );
        assert_eq!(s.port, 2029, "cut at {cut}: other settings kept");
        // And the store still works after the cut.
        block_on(store.set_wifi("after", "cut", &mut buf)).unwrap();
        assert_eq!(ssid(&load(&mut store)).as_deref(), Some("after/cut"));
    }
}
