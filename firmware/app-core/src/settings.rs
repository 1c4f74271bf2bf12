//! Which settings the board runs with: the provisioned ones from the CONFIG
//! flash region if there are any, else the build-time fallback.
//!
//! Precedence (decided once at boot): if the region holds any setting, the
//! board is provisioned and the stored settings are the whole
//! configuration (one not stored takes its default: no WiFi, port 12345,
//! plaintext); build-time values are then ignored. If the region is empty
//! (erased) or cannot be read, the build-time values apply. The board's
//! name is no part of that choice: naming a board built with its WiFi
//! network must not make it forget the network.

use core::ops::Range;

use embedded_storage_async::nor_flash::MultiwriteNorFlash;
use heapless::String;
use piconet_config::{ConfigError, ConfigStore, Settings, MAX_NAME};
use piconet_engine::{Board, Engine};

/// Where the settings in effect came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Source {
    /// Provisioned settings from the CONFIG flash region.
    Flash = 0,
    /// The region is empty: build-time values (or defaults).
    Build = 1,
    /// The region could not be read (bad bounds, flash error, corrupted
    /// beyond repair): build-time values.
    FlashUnreadable = 2,
}

impl Source {
    /// The inverse of `as u8`; unknown values read as unreadable.
    pub fn from_u8(v: u8) -> Source {
        match v {
            0 => Source::Flash,
            1 => Source::Build,
            _ => Source::FlashUnreadable,
        }
    }

    /// As get_info reports it (`config`).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Flash => "flash",
            Source::Build => "build",
            Source::FlashUnreadable => "build (config flash unreadable)",
        }
    }
}

/// Read the provisioned settings from `region` of `flash` (offsets from
/// the start of the flash device). `buf` is the store's scratch space
/// (`piconet_config::BUFFER_SIZE`). Returns the settings only when the
/// source is [`Source::Flash`].
pub async fn read<F: MultiwriteNorFlash>(
    flash: F,
    region: Range<u32>,
    buf: &mut [u8],
) -> (Source, Option<Settings>) {
    let loaded = match ConfigStore::new(flash, region) {
        Ok(mut store) => store.load(buf).await,
        Err(e) => Err(e),
    };
    choose(loaded)
}

/// Decide from what reading the CONFIG region gave (the module doc's
/// precedence): any stored setting makes it [`Source::Flash`] with those
/// settings, an empty region [`Source::Build`], an error
/// [`Source::FlashUnreadable`].
pub fn choose<E>(loaded: Result<Settings, E>) -> (Source, Option<Settings>) {
    match loaded {
        Ok(s) if provisions(&s) => (Source::Flash, Some(s)),
        Ok(_) => (Source::Build, None),
        Err(_) => (Source::FlashUnreadable, None),
    }
}

/// Give `engine` the client list stored in its board's settings (once, at
/// boot, before any connection), so a list set with `set_clients`
/// survives a reset. A board without a store, or with no list stored,
/// keeps none (no client authentication).
///
/// A stored list that cannot be read is an error and the engine keeps no
/// list: the caller must then serve no network connection at all, since
/// going on without one would let everyone in (USB still works, and a
/// `set_clients` over it stores a readable list again).
pub fn restore_clients<B: Board>(engine: &mut Engine<B>) -> Result<(), ConfigError> {
    let Some(store) = engine.board_mut().settings() else {
        return Ok(());
    };
    let clients = store.load_clients()?;
    engine.set_clients(clients);
    Ok(())
}

/// Whether stored settings make the board provisioned: any of them but
/// the name and the radio power mode (both apply with the built-in
/// network too). Destructured so a new setting has to be decided on here.
fn provisions(s: &Settings) -> bool {
    let Settings {
        wifi,
        port,
        tls,
        name: _,
        radio_power: _,
    } = s;
    wifi.is_some() || *port != piconet_config::DEFAULT_PORT || tls.is_some()
}

/// The name the board goes by (and announces): the stored one, else
/// `piconet-XXXX` from its unique id (`piconet_config::default_name`).
pub fn running_name(stored: Option<&str>, unique_id: &[u8]) -> String<MAX_NAME> {
    match stored.and_then(|n| String::try_from(n).ok()) {
        Some(name) => name,
        None => piconet_config::default_name(unique_id),
    }
}
