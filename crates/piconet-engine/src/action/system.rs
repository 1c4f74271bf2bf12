//! The board actions answered out of line: `get_info`, `get_version`,
//! `list_actions` (`ping`, `reset` and `sleep` need no more than the
//! echo and are answered inline by the dispatch).

use crate::board::Board;
use crate::engine::{After, Engine};
use crate::time::Instant;
use piconet_protocol::command::{Command, ACTIONS};
use piconet_protocol::response::{Echo, ObjectWriter};
use piconet_protocol::sink::{Full, Sink};

impl<B: Board> Engine<B> {
    #[inline(never)]
    pub(super) fn get_info(
        &mut self,
        now: Instant,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        self.answer(now, command, echo, out, Ok(()), |e, (), w| {
            w.object("info", |info| e.write_info(now, info))?;
            Ok(After::Nothing)
        })
    }

    /// The running image's version where the board can update itself,
    /// else the configured one.
    #[inline(never)]
    pub(super) fn get_version(
        &mut self,
        now: Instant,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        self.answer(now, command, echo, out, Ok(()), |e, (), w| {
            let version = e.config.version;
            match e.board.update_slot() {
                Some(slot) => w.str("version", slot.running_version())?,
                None => w.str("version", version)?,
            }
            Ok(After::Nothing)
        })
    }

    #[inline(never)]
    pub(super) fn list_actions(
        &mut self,
        now: Instant,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let (pwm, adc) = (self.board.pwm().is_some(), self.board.adc().is_some());
        let (thermometer, i2c) = (
            self.board.thermometer().is_some(),
            self.board.i2c().is_some(),
        );
        let (sim, update, settings) = (
            self.board.simulated_inputs().is_some(),
            self.board.update_slot().is_some(),
            self.board.settings().is_some(),
        );
        // The actions of hardware or storage the board lacks answer
        // OSError, so they are left out: a client can trust the list.
        // `update` (the original's file copy) stays: every board answers
        // it, with how to update instead.
        let offered = move |name: &&str| match *name {
            "write_pwm" => pwm,
            "read_adc" => adc,
            "read_temperature" => thermometer,
            n if n.starts_with("i2c_") => i2c,
            "sim_input" => sim,
            n if n.starts_with("update_") => update,
            "set_wifi" | "set_port" | "set_tls" | "clear_tls" | "clear_config" | "get_config"
            | "set_name" | "set_radio_power" => settings,
            _ => true,
        };
        self.answer(now, command, echo, out, Ok(()), |_, (), w| {
            w.str_list("actions", ACTIONS.iter().copied().filter(offered))?;
            Ok(After::Nothing)
        })
    }

    fn write_info(&mut self, now: Instant, info: &mut ObjectWriter<'_>) -> Result<(), Full> {
        info.str("board", self.board.name())?;
        info.str("server", "piconet")?;
        info.str("version", self.config.version)?;
        info.uint("pins_configured", self.pins.configured() as u64)?;
        info.uint("leases_active", self.pins.leases().count() as u64)?;
        info.uint("max_lease_s", self.config.max_lease.as_secs())?;
        let late = &self.lateness;
        info.object("lease_reverts", |o| {
            o.uint("count", late.count())?;
            o.uint("late_p50_us", late.percentile_us(50.0))?;
            o.uint("late_p99_us", late.percentile_us(99.0))?;
            o.uint("late_max_us", late.max_us())
        })?;
        if let Some(slot) = self.board.update_slot() {
            info.str("running_version", slot.running_version())?;
            info.str("last_update", slot.last_update().name())?;
        }
        self.board.write_info(now, info)
    }
}
