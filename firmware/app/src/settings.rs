//! The configuration the firmware runs with.
//!
//! Precedence, decided once at boot (app-core's `settings::read`):
//! 1. The CONFIG flash region (`__piconet_config_start..end` in memory.x,
//!    8 KiB), read with `piconet-config` through embassy-rp's flash driver
//!    (blocking mode, reads are XIP copies; `BlockingAsync` gives
//!    sequential-storage its async traits). If it holds any setting, the board is provisioned and those
//!    settings are the whole configuration (a setting not stored takes its
//!    default: no WiFi, port 12345, plaintext); build-time values are
//!    ignored.
//! 2. Otherwise (region empty, i.e. erased; or unreadable) the build-time
//!    environment (`PICONET_WIFI_SSID`, …; see build.rs).
//! 3. Otherwise the defaults.

use embassy_embedded_hal::adapter::BlockingAsync;
use mbedtls_rs::X509;
use piconet_app_core::settings::{read, Source};
use piconet_config::{Settings, BUFFER_SIZE};
use static_cell::StaticCell;

use crate::build_config;
use crate::update::PicoFlash;

/// The Pico W's flash (W25Q16JV).
pub const FLASH_SIZE: usize = 2 * 1024 * 1024;

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
}

extern "C" {
    static __piconet_config_start: u32;
    static __piconet_config_end: u32;
}

/// The CONFIG region as offsets from the start of flash (from memory.x).
fn region() -> core::ops::Range<u32> {
    // Only the symbols' addresses (linker-defined offsets) are taken,
    // never their contents.
    core::ptr::addr_of!(__piconet_config_start) as u32
        ..core::ptr::addr_of!(__piconet_config_end) as u32
}

/// Read the CONFIG region and decide what to run with (see the module doc).
pub async fn load(flash: &mut PicoFlash) -> BootConfig {
    static SETTINGS: StaticCell<Settings> = StaticCell::new();
    let mut buf = [0u8; BUFFER_SIZE];
    match read(BlockingAsync::new(flash), region(), &mut buf).await {
        (source, Some(s)) => {
            let s: &'static Settings = SETTINGS.init(s);
            BootConfig {
                source,
                wifi: s
                    .wifi
                    .as_ref()
                    .map(|w| (w.ssid.as_str(), w.password.as_str())),
                port: s.port,
                tls: s
                    .tls
                    .as_ref()
                    .map(|t| (X509::DER(&t.cert), X509::DER(&t.key))),
            }
        }
        (source, None) => BootConfig {
            source,
            wifi: build_config::WIFI_SSID.map(|ssid| (ssid, build_config::WIFI_PASSWORD)),
            port: build_config::PORT,
            tls: build_tls(),
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
