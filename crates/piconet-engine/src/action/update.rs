//! The image update actions: `update_begin`, `update_chunk`,
//! `update_status`, `update_finish` (the original's `update` is refused
//! inline by the dispatch). Each answers with the upload's status.

use crate::board::Board;
use crate::engine::{After, Engine};
use crate::error::EngineError;
use crate::time::Instant;
use crate::update::{UpdateError, UpdateSlot, Upload};
use piconet_protocol::command::Command;
use piconet_protocol::response::Echo;
use piconet_protocol::sink::{Full, Sink};
use piconet_protocol::update::{Begin, Chunk, MAX_CHUNK};

impl<B: Board> Engine<B> {
    #[inline(never)]
    pub(super) fn update_begin(
        &mut self,
        now: Instant,
        b: &Begin<'_>,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let result = self.with_slot(|slot, upload| {
            // Versions that are not both semantic versions (a label such
            // as "x", a development build) cannot be ordered: the upload
            // goes ahead as before versions were compared.
            let older = b
                .version
                .and_then(|offered| crate::update::is_older(offered, slot.running_version()));
            if older == Some(true) && !b.allow_downgrade {
                return Err(UpdateError::Downgrade);
            }
            upload.begin(slot, b.size, b.sha256, b.signature, b.version)?;
            Ok(After::Nothing)
        });
        self.update_answer(now, command, echo, out, result)
    }

    #[inline(never)]
    pub(super) fn update_chunk(
        &mut self,
        now: Instant,
        c: &Chunk<'_>,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let result = self.with_slot(|slot, upload| {
            let mut buf = [0u8; MAX_CHUNK];
            let bytes = c.data.decode(&mut buf).map_err(UpdateError::Data)?;
            upload.chunk(slot, c.offset, bytes)?;
            Ok(After::Nothing)
        });
        self.update_answer(now, command, echo, out, result)
    }

    #[inline(never)]
    pub(super) fn update_status(
        &mut self,
        now: Instant,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let result = self.with_slot(|_, _| Ok(After::Nothing));
        self.update_answer(now, command, echo, out, result)
    }

    /// Marked: the reset after the answer lets the bootloader swap.
    #[inline(never)]
    pub(super) fn update_finish(
        &mut self,
        now: Instant,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let result = self.with_slot(|slot, upload| {
            upload.finish(slot)?;
            Ok(After::Reset)
        });
        self.update_answer(now, command, echo, out, result)
    }

    /// Run `f` on the board's update slot; a board without one refuses.
    fn with_slot(
        &mut self,
        f: impl FnOnce(&mut dyn UpdateSlot, &mut Upload) -> Result<After, UpdateError>,
    ) -> Result<After, EngineError> {
        let slot = self.board.update_slot().ok_or(UpdateError::NoSlot)?;
        Ok(f(slot, &mut self.upload)?)
    }

    /// The echo plus the `update` status object, or the failure.
    fn update_answer(
        &mut self,
        now: Instant,
        command: &Command<'_>,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
        result: Result<After, EngineError>,
    ) -> Result<After, Full> {
        self.answer(now, command, echo, out, result, |e, after, w| {
            // A success means the board has a slot.
            if let Some(slot) = e.board.update_slot() {
                let upload = &e.upload;
                w.object("update", |o| upload.write_status(slot, o))?;
            }
            Ok(after)
        })
    }
}
