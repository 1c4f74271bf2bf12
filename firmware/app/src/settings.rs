//! The configuration the firmware runs with, and the store the
//! provisioning actions write.
//!
//! Precedence, decided once at boot (app-core's `settings::choose`):
//! 1. The CONFIG flash region (`__piconet_config_start..end` in memory.x,
//!    8 KiB), read with `piconet-config` through the shared blocking flash
//!    driver (`flash.rs`; a CONFIG partition, reads are XIP copies,
//!    `BlockingAsync` gives sequential-storage its async traits). If it
//!    holds any setting, the board is provisioned and those settings are
//!    the whole configuration (a setting not stored takes its default: no
//!    WiFi, port 12345, plaintext); build-time values are ignored.
//! 2. Otherwise (region empty, i.e. erased; or unreadable) the build-time
//!    environment (`PICONET_WIFI_SSID`, …; see build.rs).
//! 3. Otherwise the defaults.
//!
//! The same store (the engine's `FlashSettings` over that partition) is
//! the board's `SettingsStore`: `set_wifi`, `set_port`, `set_tls`,
//! `clear_tls`, `clear_config` from the USB cable write it; they apply at
//! the next boot. `set_clients` writes the client list there too (it
//! applies at once; `main` reads it back at boot with app-core's
//! `settings::restore_clients`); a list alone does not count as a
//! provisioned setting above. `set_name` too: the stored name is the
//! board's name from the next boot (`get_info`'s `name`), whatever the
//! source of the rest, and alone it does not count as provisioned either;
//! unset, the board is `piconet-XXXX` from its unique id. `set_tls` first has MbedTLS parse the certificate and
//! key: an identity it cannot use would otherwise only show at the next
//! boot, as a board that serves nothing over the network.

use embassy_embedded_hal::adapter::BlockingAsync;
use mbedtls_rs::{Certificate, PrivateKey, X509};
use piconet_app_core::settings::{choose, running_name, Source};
use piconet_config::{ConfigError, Settings};
use piconet_engine::settings::{FlashSettings, SettingsStore};
use piconet_engine::Clients;
use static_cell::StaticCell;

use crate::build_config;
use crate::flash::{partition, Part, SharedFlash};

/// The settings store of the board: the CONFIG partition of the flash.
pub struct PicoSettings(FlashSettings<BlockingAsync<Part>>);

impl SettingsStore for PicoSettings {
    fn set_wifi(&mut self, ssid: &str, password: &str) -> Result<(), ConfigError> {
        self.0.set_wifi(ssid, password)
    }
    fn set_port(&mut self, port: u16) -> Result<(), ConfigError> {
        self.0.set_port(port)
    }
    fn set_radio_power(
        &mut self,
        mode: piconet_engine::settings::RadioPower,
    ) -> Result<(), ConfigError> {
        self.0.set_radio_power(mode)
    }
    fn set_tls(&mut self, cert: &[u8], key: &[u8]) -> Result<(), ConfigError> {
        check_identity(cert, key)?;
        self.0.set_tls(cert, key)
    }
    fn clear_tls(&mut self) -> Result<(), ConfigError> {
        self.0.clear_tls()
    }
    fn set_name(&mut self, name: &str) -> Result<(), ConfigError> {
        self.0.set_name(name)
    }
    fn clear_all(&mut self) -> Result<(), ConfigError> {
        self.0.clear_all()
    }
    fn load(&mut self) -> Result<Settings, ConfigError> {
        self.0.load()
    }
    fn set_clients(&mut self, clients: &Clients) -> Result<(), ConfigError> {
        self.0.set_clients(clients)
    }
    fn load_clients(&mut self) -> Result<Clients, ConfigError> {
        self.0.load_clients()
    }
}

/// Whether MbedTLS (this firmware's profile: EC keys) parses the
/// certificate and the key, as `tls_setup` will at boot. The parsed copies
/// (≈ 2.6 KB of heap) are freed at once. The pair is not matched against
/// each other here (that check needs the RNG); a mismatch fails handshakes.
fn check_identity(cert: &[u8], key: &[u8]) -> Result<(), ConfigError> {
    Certificate::new(X509::DER(cert)).map_err(|_| {
        ConfigError::Invalid("cert is not a DER X.509 certificate this board can parse")
    })?;
    PrivateKey::new(X509::DER(key), None).map_err(|_| {
        ConfigError::Invalid(
            "key is not a DER EC private key (SEC1 or PKCS#8) this board can parse",
        )
    })?;
    Ok(())
}

/// The settings in effect.
pub struct BootConfig {
    /// Where they came from.
    pub source: Source,
    /// WiFi network and passphrase (empty: open); `None`: never join.
    pub wifi: Option<(&'static str, &'static str)>,
    /// TCP port.
    pub port: u16,
    /// TLS certificate and key; `None`: plaintext.
    pub tls: Option<(X509<'static>, X509<'static>)>,
    /// The board's name: the stored one, else `piconet-XXXX` from its id.
    pub name: &'static str,
    /// The radio's power mode while awake.
    pub radio_power: piconet_engine::settings::RadioPower,
}

extern "C" {
    static __piconet_config_start: u32;
    static __piconet_config_end: u32;
}

/// The settings store over the CONFIG region (memory.x) of the shared
/// flash; `None` if the region cannot hold the store (bounds not on erase
/// pages, or under two pages: memory.x asserts the size).
pub fn store(flash: &'static SharedFlash) -> Option<PicoSettings> {
    let part = partition(
        flash,
        core::ptr::addr_of!(__piconet_config_start),
        core::ptr::addr_of!(__piconet_config_end),
    );
    let size = part.size();
    FlashSettings::new(BlockingAsync::new(part), 0..size)
        .ok()
        .map(PicoSettings)
}

/// Read the CONFIG region and decide what to run with (see the module doc).
/// The settings are kept for the run (the WiFi task uses the SSID and
/// passphrase, MbedTLS the certificate and key).
pub fn load(store: Option<&mut PicoSettings>, unique_id: &[u8]) -> BootConfig {
    static SETTINGS: StaticCell<Settings> = StaticCell::new();
    static NAME: StaticCell<heapless::String<{ piconet_config::MAX_NAME }>> = StaticCell::new();
    let loaded = match store {
        Some(store) => store.load(),
        None => Err(ConfigError::Region("unusable CONFIG bounds")),
    };
    let stored = loaded.as_ref().ok().and_then(|s| s.name.as_deref());
    let name: &'static str = NAME.init(running_name(stored, unique_id)).as_str();
    // Like the name, the radio's mode applies with the built-in network too.
    let radio_power = loaded.as_ref().map(|s| s.radio_power).unwrap_or_default();
    match choose(loaded) {
        (source, Some(s)) => {
            let s: &'static Settings = SETTINGS.init(s);
            BootConfig {
                source,
                wifi: s
                    .wifi
                    .as_ref()
                    .map(|w| (w.ssid.as_str(), w.password.as_str())),
                port: s.port,
                radio_power,
                tls: s
                    .tls
                    .as_ref()
                    .map(|t| (X509::DER(&t.cert), X509::DER(&t.key))),
                name,
            }
        }
        (source, None) => BootConfig {
            source,
            wifi: build_config::WIFI_SSID.map(|ssid| (ssid, build_config::WIFI_PASSWORD)),
            port: build_config::PORT,
            tls: build_tls(),
            name,
            radio_power,
        },
    }
}

fn build_tls() -> Option<(X509<'static>, X509<'static>)> {
    let x509 = |f: build_config::Pem| {
        if f.pem {
            // build.rs appends the NUL MbedTLS wants.
            core::ffi::CStr::from_bytes_with_nul(f.bytes)
                .ok()
                .map(X509::PEM)
        } else {
            Some(X509::DER(f.bytes))
        }
    };
    Some((
        x509(build_config::TLS_CERT?)?,
        x509(build_config::TLS_KEY?)?,
    ))
}
