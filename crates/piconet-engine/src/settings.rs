//! The board's stored settings (WiFi network, port, TLS identity, client
//! list, name), as the provisioning actions reach them.
//!
//! The engine stays synchronous: [`SettingsStore`] is a blocking interface.
//! [`FlashSettings`] provides it over `piconet-config`'s store by running
//! each of its futures to completion; over a blocking flash driver (the
//! firmware's, through `BlockingAsync`) or RAM they complete at once.

pub use piconet_config::{ConfigError, RadioPower, Settings};

use crate::clients::Clients;

/// Where a command came from. Changing the settings needs physical access:
/// only [`Origin::Local`] lines may do it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Origin {
    /// TCP or TLS, from anyone on the network.
    #[default]
    Network,
    /// The USB cable (or another wire only someone at the board can use).
    Local,
}

/// Blocking access to the stored settings. Changes apply at the board's
/// next boot; reads return what is stored, not what is running. The
/// client list is the exception: `set_clients` applies it at once and
/// stores it here for the boots after.
pub trait SettingsStore {
    /// Store the WiFi network (the SSID and password replace the old pair).
    fn set_wifi(&mut self, ssid: &str, password: &str) -> Result<(), ConfigError>;
    /// Store the TCP port.
    fn set_port(&mut self, port: u16) -> Result<(), ConfigError>;
    /// Store the WiFi chip's power mode.
    fn set_radio_power(&mut self, mode: RadioPower) -> Result<(), ConfigError>;
    /// Store the TLS identity (DER certificate and private key).
    fn set_tls(&mut self, cert: &[u8], key: &[u8]) -> Result<(), ConfigError>;
    /// Forget the TLS identity.
    fn clear_tls(&mut self) -> Result<(), ConfigError>;
    /// Store the board's name (checked: 1 to 32 of `a-z`, `0-9`, `-`).
    fn set_name(&mut self, name: &str) -> Result<(), ConfigError>;
    /// Forget every setting.
    fn clear_all(&mut self) -> Result<(), ConfigError>;
    /// Read what is stored (defaults for what is not).
    fn load(&mut self) -> Result<Settings, ConfigError>;
    /// Store the client list (an empty one removes it).
    fn set_clients(&mut self, clients: &Clients) -> Result<(), ConfigError>;
    /// The stored client list (empty if none): [`ConfigError::Corrupted`]
    /// if what is stored is not a list this engine would take.
    fn load_clients(&mut self) -> Result<Clients, ConfigError>;
}

#[cfg(feature = "settings")]
pub use flash::FlashSettings;

#[cfg(feature = "settings")]
mod flash {
    use core::ops::Range;

    use embassy_futures::block_on;
    use embedded_storage_async::nor_flash::MultiwriteNorFlash;
    use piconet_config::{
        ConfigError, ConfigStore, RadioPower, Settings, BUFFER_SIZE, MAX_CLIENTS_RECORD,
    };

    use super::SettingsStore;
    use crate::client_record;
    use crate::clients::Clients;

    /// [`SettingsStore`] over a flash region, through `piconet-config`
    /// (power-fail safe: an interrupted write leaves the previous value).
    ///
    /// ```
    /// use piconet_config::ram::RamFlash;
    /// use piconet_engine::settings::{FlashSettings, SettingsStore};
    /// let mut s = FlashSettings::new(RamFlash::<2>::new(), 0..8192).unwrap();
    /// s.set_port(4242).unwrap();
    /// assert_eq!(s.load().unwrap().port, 4242);
    /// ```
    pub struct FlashSettings<F: MultiwriteNorFlash> {
        store: ConfigStore<F>,
        buf: [u8; BUFFER_SIZE],
    }

    impl<F: MultiwriteNorFlash> FlashSettings<F> {
        /// The settings in `range` of `flash` (offsets from the start of
        /// the device, erase-page aligned, at least two pages).
        pub fn new(flash: F, range: Range<u32>) -> Result<Self, ConfigError> {
            Ok(FlashSettings {
                store: ConfigStore::new(flash, range)?,
                buf: [0; BUFFER_SIZE],
            })
        }

        /// Give the flash back (e.g. to reopen it after a simulated reboot).
        pub fn into_flash(self) -> F {
            self.store.into_flash()
        }
    }

    impl<F: MultiwriteNorFlash> SettingsStore for FlashSettings<F> {
        fn set_wifi(&mut self, ssid: &str, password: &str) -> Result<(), ConfigError> {
            block_on(self.store.set_wifi(ssid, password, &mut self.buf))
        }
        fn set_port(&mut self, port: u16) -> Result<(), ConfigError> {
            block_on(self.store.set_port(port, &mut self.buf))
        }
        fn set_radio_power(&mut self, mode: RadioPower) -> Result<(), ConfigError> {
            block_on(self.store.set_radio_power(mode, &mut self.buf))
        }
        fn set_tls(&mut self, cert: &[u8], key: &[u8]) -> Result<(), ConfigError> {
            block_on(self.store.set_tls(cert, key, &mut self.buf))
        }
        fn clear_tls(&mut self) -> Result<(), ConfigError> {
            block_on(self.store.clear_tls(&mut self.buf))
        }
        fn set_name(&mut self, name: &str) -> Result<(), ConfigError> {
            block_on(self.store.set_name(name, &mut self.buf))
        }
        fn clear_all(&mut self) -> Result<(), ConfigError> {
            block_on(self.store.erase())
        }
        fn load(&mut self) -> Result<Settings, ConfigError> {
            block_on(self.store.load(&mut self.buf))
        }
        fn set_clients(&mut self, clients: &Clients) -> Result<(), ConfigError> {
            let mut record = [0u8; MAX_CLIENTS_RECORD];
            let n = client_record::encode(clients, &mut record);
            block_on(self.store.set_clients(&record[..n], &mut self.buf))
        }
        fn load_clients(&mut self) -> Result<Clients, ConfigError> {
            match block_on(self.store.clients(&mut self.buf))? {
                None => Ok(Clients::default()),
                Some(record) => client_record::decode(record).map_err(|_| ConfigError::Corrupted),
            }
        }
    }
}
