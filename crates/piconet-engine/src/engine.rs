//! Command dispatch: one request line in, one response line out.

use core::time::Duration;

use crate::board::{Board, Level, Mode, PinKind};
use crate::error::EngineError;
use crate::lateness::Lateness;
use crate::peer::{ConnId, Peer};
use crate::pins::{Lease, Pins, Slot, MAX_PINS};
use crate::settings::{Origin, SettingsStore};
use crate::time::Instant;
use crate::update::{UpdateError, Upload};
use piconet_protocol::command::{parse, Command, ACTIONS};
use piconet_protocol::provision::{Tls, Wifi, MAX_CERT, MAX_KEY};
use piconet_protocol::response::{write_error_line, Echo, KeySet, ObjectWriter};
use piconet_protocol::sink::{Full, Sink};
use piconet_protocol::update::{Begin, Chunk, MAX_CHUNK};
use piconet_protocol::ProtocolError;

/// Room to reserve in a response buffer beyond the longest accepted line:
/// a response is the echoed line plus at most this much.
pub const RESPONSE_OVERHEAD: usize = 1024;

/// How long a failed revert waits before it is tried again. A revert is
/// the fail-safe itself, so it is never given up.
const REVERT_RETRY: Duration = Duration::from_millis(100);

/// Engine settings.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Reported by `get_version`.
    pub version: &'static str,
    /// The longest `write_pin` timeout accepted.
    pub max_lease: Duration,
}

impl Default for Config {
    /// This crate's version and a 24 h maximum lease.
    fn default() -> Self {
        Config {
            version: env!("CARGO_PKG_VERSION"),
            max_lease: Duration::from_secs(24 * 3600),
        }
    }
}

/// What the transport must do once the response has been sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Keep serving.
    Nothing,
    /// Call [`Engine::after_reply`]: the board resets.
    Reset,
    /// Call [`Engine::after_reply`]: the board sleeps.
    Sleep {
        /// Duration.
        ms: u32,
        /// Deep sleep ends in a reset.
        deep: bool,
    },
}

/// A lease that ended: the pin was driven back to its safe level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revert {
    /// The pin.
    pub pin: u32,
    /// The safe level it was driven to.
    pub level: Level,
    /// When it was due.
    pub deadline: Instant,
    /// When it happened (the `now` of the poll).
    pub at: Instant,
    /// The board's error if the write failed; it is retried shortly.
    pub error: Option<crate::BoardError>,
}

/// The protocol engine over a board. See the crate docs for an example.
pub struct Engine<B> {
    board: B,
    config: Config,
    pins: Pins,
    lateness: Lateness,
    upload: Upload,
    /// Whether the running image was confirmed since the last boot.
    boot_confirmed: bool,
    /// Who sent the line being handled.
    peer: Peer,
    /// A setting was stored since the last boot (it applies at the next).
    settings_changed: bool,
}

/// A success and the field it adds to the echo.
#[derive(Clone, Copy)]
enum Reply {
    Plain,
    Value(Level),
    Version,
    Info,
    Actions,
    Update,
    Settings,
}

impl<B: Board> Engine<B> {
    /// An engine with every pin free.
    pub fn new(board: B, config: Config) -> Self {
        Engine {
            board,
            config,
            pins: Pins::new(),
            lateness: Lateness::default(),
            upload: Upload::default(),
            boot_confirmed: false,
            peer: Peer::network(ConnId(0)),
            settings_changed: false,
        }
    }

    /// The board.
    pub fn board(&self) -> &B {
        &self.board
    }

    /// The board, mutably (e.g. to drive the status LED).
    pub fn board_mut(&mut self) -> &mut B {
        &mut self.board
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Answer one command line (without its newline): writes exactly one
    /// response line, `\n` included, to `out`.
    ///
    /// Leases due at `now` are reverted first, so the command sees the pins
    /// as the fail-safe left them. `out` needs room for the line plus
    /// [`RESPONSE_OVERHEAD`]; a response that does not fit is replaced by
    /// a short error.
    ///
    /// The first line after a boot also confirms the running image to the
    /// bootloader ([`crate::UpdateSlot::confirm_boot`]): an image that
    /// serves a command works, so it must not be rolled back.
    pub fn handle<S: Sink>(&mut self, now: Instant, line: &[u8], out: &mut S) -> After {
        self.handle_from(now, line, Peer::network(ConnId(0)), out)
    }

    /// [`Engine::handle`] for a line from `peer`: only an
    /// [`Origin::Local`] line may change the stored settings, and a lease
    /// written with `"release_on_disconnect": true` belongs to
    /// `peer.conn` (see [`Engine::disconnected`]).
    #[inline(always)]
    pub fn handle_from<S: Sink>(
        &mut self,
        now: Instant,
        line: &[u8],
        peer: Peer,
        out: &mut S,
    ) -> After {
        self.peer = peer;
        if !self.boot_confirmed {
            self.confirm_boot();
        }
        self.poll(now);
        let start = out.len();
        let written = match parse(line) {
            Ok(req) => self.execute(now, req.command, &req.echo, out),
            Err(rejected) => {
                write_failure(out, rejected.echo.as_ref(), &rejected.error).map(|()| After::Nothing)
            }
        };
        match written {
            Ok(after) => after,
            Err(Full) => {
                out.truncate(start);
                let _ = write_error_line(out, &EngineError::ResponseTooLarge);
                After::Nothing
            }
        }
    }

    /// Confirm the running image now (the first command does it anyway).
    /// A flash failure leaves it unconfirmed, to be tried again with the
    /// next command.
    #[cold]
    #[inline(never)]
    pub fn confirm_boot(&mut self) {
        self.boot_confirmed = match self.board.update_slot() {
            Some(slot) => slot.confirm_boot().is_ok(),
            None => true,
        };
    }

    /// Answer a line the framing refused as too long.
    pub fn handle_too_long<S: Sink>(&mut self, max_len: usize, out: &mut S) {
        let _ = write_error_line(out, &ProtocolError::LineTooLong { max: max_len });
    }

    /// The earliest lease deadline, if any pin is leased: arm a timer for
    /// it and call [`Engine::poll`] when it passes.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pins.next_deadline()
    }

    /// Revert every lease due at `now`, earliest deadline first. Returns
    /// how many pins were reverted.
    pub fn poll(&mut self, now: Instant) -> usize {
        self.poll_with(now, |_| {})
    }

    /// [`Engine::poll`], reporting each revert (for logs and metrics).
    pub fn poll_with(&mut self, now: Instant, mut report: impl FnMut(Revert)) -> usize {
        let mut reverted = 0;
        while let Some((pin, safe, deadline)) = self.pins.earliest_due(now) {
            let error = self.revert(pin, safe, now).err();
            if error.is_none() {
                reverted += 1;
                self.lateness.record(now.saturating_since(deadline));
            }
            report(Revert {
                pin,
                level: safe,
                deadline,
                at: now,
                error,
            });
        }
        reverted
    }

    /// The connection `conn` ended: drive every pin whose running lease it
    /// wrote with `"release_on_disconnect": true` back to its safe level
    /// now, whatever the deadline. Returns how many pins were reverted. A
    /// failed write is reported and retried shortly by [`Engine::poll`],
    /// as a failed revert at a deadline is.
    pub fn disconnected(
        &mut self,
        now: Instant,
        conn: ConnId,
        mut report: impl FnMut(Revert),
    ) -> usize {
        let mut reverted = 0;
        // Each revert ends the bound lease (a failed one leaves a retry
        // lease that is not bound), so this visits every pin once.
        while let Some((pin, safe, deadline)) = self.pins.first_bound_to(conn) {
            let error = self.revert(pin, safe, now).err();
            if error.is_none() {
                reverted += 1;
            }
            report(Revert {
                pin,
                level: safe,
                deadline,
                at: now,
                error,
            });
        }
        reverted
    }

    /// How late lease reverts have been so far.
    pub fn lateness(&self) -> &Lateness {
        &self.lateness
    }

    /// Drive every leased pin to its safe level now, whatever its deadline
    /// (shutdown). Returns how many pins were reverted.
    pub fn release_all(&mut self, now: Instant, mut report: impl FnMut(Revert)) -> usize {
        let mut reverted = 0;
        while let Some((pin, safe, deadline)) = self.pins.first_lease() {
            let error = self.board.write(pin, safe).err();
            // Shutting down: there is no later retry, so the lease ends
            // either way and the error is reported.
            self.pins.set(pin, Slot::Output { safe, lease: None });
            if error.is_none() {
                reverted += 1;
            }
            report(Revert {
                pin,
                level: safe,
                deadline,
                at: now,
                error,
            });
        }
        reverted
    }

    /// Number of active leases.
    pub fn leases(&self) -> usize {
        self.pins.leases().count()
    }

    /// Carry out what a reply asked for, after it was sent.
    pub fn after_reply(&mut self, after: After) {
        match after {
            After::Nothing => {}
            After::Reset => {
                self.board.reset();
                // Only host boards return from a reset; their pins are as
                // at power-on, so the registry starts over too.
                self.rebooted();
            }
            After::Sleep { ms, deep } => {
                self.board.sleep(ms, deep);
                if deep {
                    self.rebooted();
                }
            }
        }
    }

    /// What a host board's reset leaves: pins as at power-on, no upload,
    /// a freshly booted image to confirm.
    fn rebooted(&mut self) {
        self.pins.clear();
        self.upload = Upload::default();
        self.boot_confirmed = false;
        self.settings_changed = false;
    }

    fn revert(&mut self, pin: u32, safe: Level, now: Instant) -> Result<(), crate::BoardError> {
        match self.board.write(pin, safe) {
            Ok(()) => {
                self.pins.set(pin, Slot::Output { safe, lease: None });
                Ok(())
            }
            Err(e) => {
                // The retry keeps the lease's owner but is bound to its
                // deadline only: the fail-safe is retried by `poll`.
                let conn = match self.pins.get(pin) {
                    Slot::Output { lease: Some(l), .. } => l.conn,
                    _ => self.peer.conn,
                };
                self.pins.set(
                    pin,
                    Slot::Output {
                        safe,
                        lease: Some(Lease::until(now + REVERT_RETRY, conn)),
                    },
                );
                Err(e)
            }
        }
    }

    // Inlined into `handle` (as the compiler did before the update actions
    // grew `run`): a call and a frame per command cost the hot path ~20
    // instructions, measured with bench/callgrind.sh.
    #[inline(always)]
    fn execute(
        &mut self,
        now: Instant,
        command: Command,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let (reply, after) = match self.run(now, command) {
            Ok((Reply::Update, _)) => return self.execute_update(now, command, echo, out),
            Ok((Reply::Settings, _)) => return self.execute_settings(now, command, echo, out),
            Ok(r) => r,
            Err(e) => return write_failure(out, Some(echo), &e).map(|()| After::Nothing),
        };
        let skip = KeySet::TIME_RECEIVED.union(match reply {
            Reply::Plain => KeySet::EMPTY,
            Reply::Value(_) => KeySet::VALUE,
            Reply::Version => KeySet::VERSION,
            Reply::Info => KeySet::INFO,
            Reply::Actions => KeySet::ACTIONS,
            Reply::Update => KeySet::UPDATE,
            Reply::Settings => KeySet::CONFIG,
        });
        let mut w = ObjectWriter::open(out)?;
        w.echo(echo, skip)?;
        w.uint("time_received", self.board.timestamp_ns(now))?;
        match reply {
            Reply::Plain => {}
            Reply::Value(level) => w.uint("value", level.as_u8().into())?,
            Reply::Version => self.write_version(&mut w)?,
            // Answered by `execute_update` and `execute_settings`.
            Reply::Update | Reply::Settings => {}
            Reply::Actions => w.str_list("actions", ACTIONS.iter().copied())?,
            Reply::Info => w.object("info", |info| self.write_info(now, info))?,
        }
        w.close()?;
        out.extend(b"\n")?;
        Ok(after)
    }

    /// The running image's version where the board can update itself,
    /// else the configured one (out of line: not the pin commands' path).
    #[inline(never)]
    fn write_version(&mut self, w: &mut ObjectWriter<'_>) -> Result<(), Full> {
        match self.board.update_slot() {
            Some(slot) => w.str("version", slot.running_version()),
            None => w.str("version", self.config.version),
        }
    }

    /// Carry out an update action and write its whole answer: the echo
    /// plus the `update` status object, or the failure. Kept apart from
    /// `execute` so the pin commands' path does not grow (measured).
    #[inline(never)]
    fn execute_update(
        &mut self,
        now: Instant,
        command: Command,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let after = match self.run_update(command, echo) {
            Ok(after) => after,
            Err(e) => return write_failure(out, Some(echo), &e).map(|()| After::Nothing),
        };
        let time_received = self.board.timestamp_ns(now);
        let upload = &self.upload;
        let mut w = ObjectWriter::open(out)?;
        w.echo(echo, KeySet::TIME_RECEIVED.union(KeySet::UPDATE))?;
        w.uint("time_received", time_received)?;
        // `run_update` succeeds only for boards with a slot.
        if let Some(slot) = self.board.update_slot() {
            w.object("update", |o| upload.write_status(slot, o))?;
        }
        w.close()?;
        out.extend(b"\n")?;
        Ok(after)
    }

    /// Carry out a provisioning action and write its whole answer: the
    /// echo (secrets redacted) plus the stored settings, or the failure.
    /// Kept apart from `execute` like `execute_update`.
    #[inline(never)]
    fn execute_settings(
        &mut self,
        now: Instant,
        command: Command,
        echo: &Echo<'_>,
        out: &mut dyn Sink,
    ) -> Result<After, Full> {
        let stored = match self.run_settings(command, echo) {
            Ok(stored) => stored,
            Err(e) => return write_failure(out, Some(echo), &e).map(|()| After::Nothing),
        };
        let summary = stored.summary();
        let mut w = ObjectWriter::open(out)?;
        w.echo(echo, KeySet::TIME_RECEIVED.union(KeySet::CONFIG))?;
        w.uint("time_received", self.board.timestamp_ns(now))?;
        let restart_needed = self.settings_changed;
        w.object("config", |c| {
            match summary.ssid() {
                Some(ssid) => c.str("ssid", ssid)?,
                None => c.null("ssid")?,
            }
            c.bool("password_set", summary.password_set())?;
            c.uint("port", summary.port().into())?;
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
            c.bool("restart_needed", restart_needed)
        })?;
        w.close()?;
        out.extend(b"\n")?;
        Ok(After::Nothing)
    }

    /// The provisioning actions; the settings stored afterwards.
    fn run_settings(
        &mut self,
        command: Command,
        echo: &Echo<'_>,
    ) -> Result<piconet_config::Settings, EngineError> {
        let writes = !matches!(command, Command::GetConfig);
        if writes && self.peer.origin != Origin::Local {
            return Err(EngineError::SettingsLocalOnly);
        }
        let store: &mut dyn SettingsStore = self.board.settings().ok_or(EngineError::NoSettings)?;
        // `parse` checked the fields already: these reads succeed.
        let bad = |e: ProtocolError<'_>| match e {
            ProtocolError::BadValue { field, expected } => {
                EngineError::SettingsValue { field, expected }
            }
            _ => EngineError::SettingsValue {
                field: "action",
                expected: "a provisioning action",
            },
        };
        match command {
            Command::SetWifi => {
                let wifi = Wifi::from_echo(echo).map_err(bad)?;
                store.set_wifi(&wifi.ssid, &wifi.password)?;
            }
            Command::SetPort { port } => store.set_port(port)?,
            Command::SetTls => {
                let tls = Tls::from_echo(echo).map_err(bad)?;
                let (mut cert, mut key) = ([0u8; MAX_CERT], [0u8; MAX_KEY]);
                let (cert, key) = tls.decode(&mut cert, &mut key).map_err(bad)?;
                store.set_tls(cert, key)?;
            }
            Command::ClearTls => store.clear_tls()?,
            Command::ClearConfig => store.clear_all()?,
            _ => {}
        }
        if writes {
            self.settings_changed = true;
        }
        Ok(store.load()?)
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

    #[inline(always)]
    fn run(&mut self, now: Instant, command: Command) -> Result<(Reply, After), EngineError> {
        let plain = Ok((Reply::Plain, After::Nothing));
        match command {
            Command::SetupPin {
                pin,
                mode,
                value,
                pull,
            } => {
                self.check_pin(pin)?;
                let pull = pull.unwrap_or_default();
                let slot = match mode {
                    Mode::Input => {
                        if value.is_some() {
                            return Err(EngineError::ValueOnInput(pin));
                        }
                        self.board.configure(pin, mode, pull, None)?;
                        Slot::Input
                    }
                    Mode::Output => {
                        self.board.configure(pin, mode, pull, value)?;
                        let safe = match value {
                            Some(v) => v,
                            None => self.board.read(pin)?,
                        };
                        Slot::Output { safe, lease: None }
                    }
                };
                self.pins.set(pin, slot);
                plain
            }
            Command::WritePin {
                pin,
                value,
                timeout,
                release_on_disconnect,
            } => {
                self.check_pin(pin)?;
                let Slot::Output { safe, .. } = self.setup_slot(pin)? else {
                    return Err(EngineError::NotOutput(pin));
                };
                let lease = self.lease_duration(timeout)?;
                self.board.write(pin, value)?;
                // A write at the safe level ends any lease; any other
                // starts a new one, owned by this connection, that decides
                // release on disconnect anew.
                let lease = (value != safe).then(|| Lease {
                    deadline: now + lease,
                    conn: self.peer.conn,
                    release_on_disconnect,
                });
                self.pins.set(pin, Slot::Output { safe, lease });
                plain
            }
            Command::ReadPin { pin } => {
                self.check_pin(pin)?;
                self.setup_slot(pin)?;
                Ok((Reply::Value(self.board.read(pin)?), After::Nothing))
            }
            Command::Ping => plain,
            Command::Reset => Ok((Reply::Plain, After::Reset)),
            Command::Sleep { time_ms, deep } => {
                Ok((Reply::Plain, After::Sleep { ms: time_ms, deep }))
            }
            Command::GetInfo => Ok((Reply::Info, After::Nothing)),
            Command::GetVersion => Ok((Reply::Version, After::Nothing)),
            Command::ListActions => Ok((Reply::Actions, After::Nothing)),
            Command::Update => Err(EngineError::UpdateUnsupported),
            // Carried out by `execute_update`, away from the pin path.
            Command::UpdateBegin
            | Command::UpdateChunk
            | Command::UpdateStatus
            | Command::UpdateFinish => Ok((Reply::Update, After::Nothing)),
            // Carried out by `execute_settings`.
            Command::SetWifi
            | Command::SetPort { .. }
            | Command::SetTls
            | Command::ClearTls
            | Command::ClearConfig
            | Command::GetConfig => Ok((Reply::Settings, After::Nothing)),
        }
    }

    /// The image update actions.
    fn run_update(&mut self, command: Command, echo: &Echo<'_>) -> Result<After, EngineError> {
        let slot = self.board.update_slot().ok_or(UpdateError::NoSlot)?;
        let upload = &mut self.upload;
        let after = match command {
            // `parse` checked the fields already: these reads succeed.
            Command::UpdateBegin => {
                let b = Begin::from_echo(echo).map_err(|_| UpdateError::NotStarted)?;
                upload.begin(slot, b.size, b.sha256, b.signature, b.version)?;
                After::Nothing
            }
            Command::UpdateChunk => {
                let c = Chunk::from_echo(echo).map_err(|_| UpdateError::NotStarted)?;
                let mut buf = [0u8; MAX_CHUNK];
                let bytes = c.data.decode(&mut buf).map_err(UpdateError::Data)?;
                upload.chunk(slot, c.offset, bytes)?;
                After::Nothing
            }
            Command::UpdateStatus => After::Nothing,
            // Marked: the reset after the answer lets the bootloader swap.
            Command::UpdateFinish => {
                upload.finish(slot)?;
                After::Reset
            }
            _ => After::Nothing,
        };
        Ok(after)
    }

    fn check_pin(&self, pin: u32) -> Result<(), EngineError> {
        if pin as usize >= MAX_PINS {
            return Err(EngineError::PinAbsent(pin));
        }
        match self.board.pin_kind(pin) {
            PinKind::Usable => Ok(()),
            PinKind::Reserved(why) => Err(EngineError::PinReserved(pin, why)),
            PinKind::Absent => Err(EngineError::PinAbsent(pin)),
        }
    }

    fn setup_slot(&self, pin: u32) -> Result<Slot, EngineError> {
        match self.pins.get(pin) {
            Slot::Free => Err(EngineError::NotSetUp(pin)),
            slot => Ok(slot),
        }
    }

    fn lease_duration(&self, timeout: f64) -> Result<Duration, EngineError> {
        let max = self.config.max_lease;
        let bad = EngineError::BadTimeout {
            max_secs: max.as_secs(),
        };
        if !(timeout.is_finite() && timeout > 0.0 && timeout <= max.as_secs_f64()) {
            return Err(bad);
        }
        // Whole seconds (the usual case) convert exactly without the
        // general float conversion.
        let secs = timeout as u64;
        if secs as f64 == timeout {
            return Ok(Duration::from_secs(secs));
        }
        // A timeout too small for a nanosecond still gets one: > 0 means
        // the pin is driven at least until the next poll.
        Ok(Duration::from_secs_f64(timeout).max(Duration::from_nanos(1)))
    }
}

fn write_failure(
    out: &mut dyn Sink,
    echo: Option<&Echo<'_>>,
    error: &dyn piconet_protocol::response::Message,
) -> Result<(), Full> {
    let Some(echo) = echo else {
        return write_error_line(out, error);
    };
    let mut w = ObjectWriter::open(out)?;
    w.echo(echo, KeySet::ERROR)?;
    w.error(error)?;
    w.close()?;
    out.extend(b"\n")
}

#[cfg(test)]
mod disconnect_tests;
#[cfg(test)]
mod settings_tests;
#[cfg(test)]
mod tests;
