//! The provisioning actions: `set_wifi`, `set_port`, `set_radio_power`, `set_tls`,
//! `clear_tls`, `clear_config`, `set_name` (USB only) and `get_config`. Each answers
//! with the stored settings, secrets left out.

use crate::board::Board;
use crate::engine::{After, Engine};
use crate::error::EngineError;
use crate::settings::{Origin, SettingsStore};
use crate::time::Instant;
use piconet_protocol::command::Command;
use piconet_protocol::provision::{Name, RadioPower, Tls, Wifi, MAX_CERT, MAX_KEY};
use piconet_protocol::response::Echo;
use piconet_protocol::sink::{Full, Sink};

impl<B: Board> Engine<B> {
    #[inline(never)]
    pub(super) fn set_wifi(
        &mut self,
        now: Instant,
        wifi: &Wifi<'_>,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let result = self.store(|s| Ok(s.set_wifi(&wifi.ssid(), &wifi.password())?));
        self.settings_answer(now, command, echo, out, result)
    }

    #[inline(never)]
    pub(super) fn set_port(
        &mut self,
        now: Instant,
        port: u16,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let result = self.store(|s| Ok(s.set_port(port)?));
        self.settings_answer(now, command, echo, out, result)
    }

    #[inline(never)]
    pub(super) fn set_radio_power(
        &mut self,
        now: Instant,
        mode: RadioPower,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let result = self.store(|s| Ok(s.set_radio_power(mode)?));
        self.settings_answer(now, command, echo, out, result)
    }

    #[inline(never)]
    pub(super) fn set_tls(
        &mut self,
        now: Instant,
        tls: &Tls<'_>,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let result = self.store(|s| {
            let (mut cert, mut key) = ([0u8; MAX_CERT], [0u8; MAX_KEY]);
            let (cert, key) = tls.decode(&mut cert, &mut key)?;
            Ok(s.set_tls(cert, key)?)
        });
        self.settings_answer(now, command, echo, out, result)
    }

    #[inline(never)]
    pub(super) fn clear_tls(
        &mut self,
        now: Instant,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let result = self.store(|s| Ok(s.clear_tls()?));
        self.settings_answer(now, command, echo, out, result)
    }

    #[inline(never)]
    pub(super) fn clear_config(
        &mut self,
        now: Instant,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let result = self.store(|s| Ok(s.clear_all()?));
        self.settings_answer(now, command, echo, out, result)
    }

    #[inline(never)]
    pub(super) fn set_name(
        &mut self,
        now: Instant,
        name: &Name<'_>,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let result = self.store(|s| Ok(s.set_name(&name.decoded())?));
        self.settings_answer(now, command, echo, out, result)
    }

    /// Reading the settings is allowed from anywhere.
    #[inline(never)]
    pub(super) fn get_config(
        &mut self,
        now: Instant,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let result = self.settings_store().and_then(|s| Ok(s.load()?));
        self.settings_answer(now, command, echo, out, result)
    }

    fn settings_store(&mut self) -> Result<&mut dyn SettingsStore, EngineError> {
        self.board.settings().ok_or(EngineError::NoSettings)
    }

    /// Change the stored settings with `change` (a USB line only), then
    /// read them back.
    fn store(
        &mut self,
        change: impl FnOnce(&mut dyn SettingsStore) -> Result<(), EngineError>,
    ) -> Result<piconet_config::Settings, EngineError> {
        if self.peer.origin != Origin::Local {
            return Err(EngineError::SettingsLocalOnly);
        }
        let store = self.board.settings().ok_or(EngineError::NoSettings)?;
        change(store)?;
        // Changed, even if reading it back fails.
        self.settings_changed = true;
        Ok(store.load()?)
    }

    /// The echo plus the stored settings, or the failure.
    fn settings_answer(
        &mut self,
        now: Instant,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
        result: Result<piconet_config::Settings, EngineError>,
    ) -> Result<After, Full> {
        self.answer(now, command, echo, out, result, |e, stored, w| {
            let summary = stored.summary();
            let restart_needed = e.settings_changed;
            w.object("config", |c| {
                match summary.ssid() {
                    Some(ssid) => c.str("ssid", ssid)?,
                    None => c.null("ssid")?,
                }
                c.bool("password_set", summary.password_set())?;
                c.uint("port", summary.port().into())?;
                c.str("radio_power", summary.radio_power().as_str())?;
                match summary.tls_fingerprint() {
                    Some(fp) => {
                        let mut hex = [0u8; 64];
                        c.str(
                            "tls_fingerprint",
                            piconet_protocol::update::write_hex(&fp, &mut hex),
                        )?
                    }
                    None => c.null("tls_fingerprint")?,
                }
                // `null`: the board goes by its default name.
                match summary.name() {
                    Some(name) => c.str("name", name)?,
                    None => c.null("name")?,
                }
                c.bool("restart_needed", restart_needed)
            })?;
            Ok(After::Nothing)
        })
    }
}
