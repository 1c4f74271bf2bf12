//! The client list actions: `set_clients` (the USB cable, or an admin once
//! a list exists) and `get_clients`. Both answer with the list.
//!
//! A board with a settings store (the firmware's CONFIG flash) keeps the
//! list there, so it survives a reset; the list is stored before it is
//! applied, so a store that fails changes nothing.

use crate::board::Board;
use crate::clients::{Client, Clients, Denied};
use crate::engine::{After, Engine};
use crate::error::EngineError;
use crate::settings::Origin;
use crate::time::Instant;
use piconet_protocol::action::clients::ClientList;
use piconet_protocol::command::Command;
use piconet_protocol::response::{Echo, ObjectWriter};
use piconet_protocol::sink::{Full, Sink};

use super::write_failure;

impl<B: Board> Engine<B> {
    /// Admins are let through by the check in `execute`; a board without
    /// a list takes one from the USB cable only, so no one on the network
    /// can lock its owner out.
    #[inline(never)]
    pub(super) fn set_clients_action(
        &mut self,
        now: Instant,
        list: &ClientList<'_>,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        if self.clients.is_empty() && self.peer.origin != Origin::Local {
            return write_failure(out, Some(echo), &Denied::ListFromNetwork)
                .map(|()| After::Nothing);
        }
        let clients = list
            .iter()
            .map(Client::try_from)
            .collect::<Result<heapless::Vec<Client, { crate::clients::MAX_CLIENTS }>, _>>()
            .and_then(Clients::new);
        let clients = match clients {
            Ok(clients) => clients,
            Err(e) => return write_failure(out, Some(echo), &e).map(|()| After::Nothing),
        };
        if let Some(store) = self.board.settings() {
            if let Err(e) = store.set_clients(&clients) {
                return write_failure(out, Some(echo), &EngineError::from(e))
                    .map(|()| After::Nothing);
            }
        }
        self.set_clients(clients);
        self.answer(now, command, echo, out, Ok(()), |e, (), w| {
            write_clients(&e.clients, w)?;
            Ok(After::Nothing)
        })
    }

    #[inline(never)]
    pub(super) fn get_clients(
        &mut self,
        now: Instant,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        self.answer(now, command, echo, out, Ok(()), |e, (), w| {
            write_clients(&e.clients, w)?;
            Ok(After::Nothing)
        })
    }
}

/// `"clients": [{"name", "sha256", "role"[, "pins"]}, ...]`.
fn write_clients(clients: &Clients, w: &mut ObjectWriter<'_>) -> Result<(), Full> {
    w.object_list("clients", |list| {
        for c in clients.as_slice() {
            list.object(|o| {
                o.str("name", c.name.as_str())?;
                let hex = c.sha256.hex();
                o.str("sha256", core::str::from_utf8(&hex).unwrap_or_default())?;
                o.str("role", c.role.as_str())?;
                match c.pin_list() {
                    Some(pins) => o.uint_list("pins", pins.map(u64::from)),
                    None => Ok(()),
                }
            })?;
        }
        Ok(())
    })
}
