//! Reading and writing the settings in flash.

use core::ops::Range;

use embedded_storage_async::nor_flash::MultiwriteNorFlash;
use sequential_storage::cache::{Cache, Uncached};
use sequential_storage::map::{MapConfig, MapStorage};

use crate::error::ConfigError;
use crate::record::{self, Key, RecordError};
use crate::settings::Settings;

/// Scratch space every call needs: the largest item (a TLS identity) plus
/// its key, rounded up to flash words.
pub const BUFFER_SIZE: usize = 2 * 1024 + 256 + 32;

type Map<F> = MapStorage<u8, F, Cache<Uncached, Uncached, Uncached, u8>>;

impl<E> From<sequential_storage::Error<E>> for ConfigError {
    fn from(e: sequential_storage::Error<E>) -> Self {
        match e {
            sequential_storage::Error::Storage { .. } => ConfigError::Flash,
            sequential_storage::Error::FullStorage => ConfigError::Full,
            sequential_storage::Error::Corrupted { .. } => ConfigError::Corrupted,
            _ => ConfigError::Corrupted,
        }
    }
}

impl From<RecordError> for ConfigError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::TooLong(why) => ConfigError::Invalid(why),
            RecordError::Malformed => ConfigError::Corrupted,
        }
    }
}

/// The settings store over a flash region.
pub struct ConfigStore<F: MultiwriteNorFlash> {
    map: Map<F>,
}

impl<F: MultiwriteNorFlash> ConfigStore<F> {
    /// A store in `range` of `flash` (page-aligned, at least two pages).
    pub fn new(flash: F, range: Range<u32>) -> Result<Self, ConfigError> {
        let config = MapConfig::try_new(range).map_err(|e| {
            ConfigError::Region(match e {
                sequential_storage::map::MapConfigError::RangeTooSmall => {
                    "needs at least two erase pages"
                }
                sequential_storage::map::MapConfigError::StartRangeNotAtPageBoundary
                | sequential_storage::map::MapConfigError::EndRangeNotAtPageBoundary => {
                    "must start and end on erase page boundaries"
                }
                _ => "flash geometry not supported",
            })
        })?;
        Ok(ConfigStore {
            map: MapStorage::new(flash, config, Cache::new_uncached()),
        })
    }

    /// Read every setting; missing ones take their defaults.
    pub async fn load(&mut self, buf: &mut [u8]) -> Result<Settings, ConfigError> {
        let mut s = Settings::default();
        if let Some(b) = self.fetch(Key::Wifi, buf).await? {
            s.wifi = Some(record::decode_wifi(b)?);
        }
        if let Some(b) = self.fetch(Key::Port, buf).await? {
            s.port = record::decode_port(b)?;
        }
        if let Some(b) = self.fetch(Key::Tls, buf).await? {
            s.tls = Some(record::decode_tls(b)?);
        }
        if let Some(b) = self.fetch(Key::Name, buf).await? {
            s.name = Some(record::decode_name(b)?);
        }
        if let Some(b) = self.fetch(Key::RadioPower, buf).await? {
            s.radio_power = record::decode_radio_power(b)?;
        }
        Ok(s)
    }

    async fn fetch<'b>(
        &mut self,
        key: Key,
        buf: &'b mut [u8],
    ) -> Result<Option<&'b [u8]>, ConfigError> {
        Ok(self.map.fetch_item::<&[u8]>(buf, &(key as u8)).await?)
    }

    async fn store(&mut self, key: Key, value: &[u8], buf: &mut [u8]) -> Result<(), ConfigError> {
        Ok(self.map.store_item(buf, &(key as u8), &value).await?)
    }

    /// Store the WiFi network (SSID and password change together).
    pub async fn set_wifi(
        &mut self,
        ssid: &str,
        password: &str,
        buf: &mut [u8],
    ) -> Result<(), ConfigError> {
        let mut rec = [0u8; 2 + crate::MAX_SSID + crate::MAX_PASSWORD];
        let n = record::encode_wifi(ssid, password, &mut rec)?;
        self.store(Key::Wifi, &rec[..n], buf).await
    }

    /// Store the TCP port.
    pub async fn set_port(&mut self, port: u16, buf: &mut [u8]) -> Result<(), ConfigError> {
        let mut rec = [0u8; 3];
        let n = record::encode_port(port, &mut rec)?;
        self.store(Key::Port, &rec[..n], buf).await
    }

    /// Store the WiFi chip's power mode.
    pub async fn set_radio_power(
        &mut self,
        mode: crate::RadioPower,
        buf: &mut [u8],
    ) -> Result<(), ConfigError> {
        let rec = record::encode_radio_power(mode);
        self.store(Key::RadioPower, &rec, buf).await
    }

    /// Store the TLS identity (certificate and key change together).
    pub async fn set_tls(
        &mut self,
        cert: &[u8],
        key: &[u8],
        buf: &mut [u8],
    ) -> Result<(), ConfigError> {
        let mut rec = [0u8; 3 + crate::MAX_CERT + crate::MAX_KEY];
        let n = record::encode_tls(cert, key, &mut rec)?;
        self.store(Key::Tls, &rec[..n], buf).await
    }

    /// Store the client list record (the engine encodes it; at most
    /// [`crate::MAX_CLIENTS_RECORD`] bytes). An empty record removes it:
    /// no client authentication from the next boot.
    pub async fn set_clients(&mut self, record: &[u8], buf: &mut [u8]) -> Result<(), ConfigError> {
        if record.len() > crate::MAX_CLIENTS_RECORD {
            return Err(ConfigError::Invalid("the client list record is too long"));
        }
        if record.is_empty() {
            return Ok(self.map.remove_item(buf, &(Key::Clients as u8)).await?);
        }
        self.store(Key::Clients, record, buf).await
    }

    /// The stored client list record, if any (kept apart from
    /// [`ConfigStore::load`]: a list alone does not make a board
    /// provisioned, so it keeps its build-time WiFi).
    pub async fn clients<'b>(
        &mut self,
        buf: &'b mut [u8],
    ) -> Result<Option<&'b [u8]>, ConfigError> {
        self.fetch(Key::Clients, buf).await
    }

    /// Store the board's name (checked by [`crate::check_name`]).
    pub async fn set_name(&mut self, name: &str, buf: &mut [u8]) -> Result<(), ConfigError> {
        let mut rec = [0u8; 1 + crate::MAX_NAME];
        let n = record::encode_name(name, &mut rec)?;
        self.store(Key::Name, &rec[..n], buf).await
    }

    /// Forget the TLS identity: the server goes back to plaintext.
    pub async fn clear_tls(&mut self, buf: &mut [u8]) -> Result<(), ConfigError> {
        Ok(self.map.remove_item(buf, &(Key::Tls as u8)).await?)
    }

    /// Erase the whole region (every setting back to its default, the
    /// client list too).
    pub async fn erase(&mut self) -> Result<(), ConfigError> {
        Ok(self.map.erase_all().await?)
    }

    /// Give the flash back (e.g. to reopen the store after a simulated reboot).
    pub fn into_flash(self) -> F {
        self.map.destroy().0
    }
}
