//! Command dispatch: one request line in, one response line out.

use core::time::Duration;

use crate::action::write_failure;
use crate::board::{Board, Level};
use crate::clients::Clients;
use crate::error::EngineError;
use crate::lateness::Lateness;
use crate::peer::{ConnId, Peer};
use crate::pins::{Lease, Pins, Safe, Slot};
#[cfg(doc)]
use crate::settings::Origin;
use crate::time::Instant;
use crate::update::Upload;
use crate::watchers::Watchers;
use piconet_protocol::command::parse;
use piconet_protocol::response::write_error_line;
use piconet_protocol::sink::{Full, Sink};
use piconet_protocol::ProtocolError;

/// Room to reserve in a response buffer beyond the longest accepted line:
/// a response is the echoed line plus at most this much, except
/// `get_pins`, whose list takes up to 76 bytes per configured pin (2,027
/// bytes with all 26 of a Pico W's: with a 2,048-byte line limit it fits
/// beside a request of about 1,000 bytes). An answer that does not fit
/// the buffer is replaced by a short error, so no board ever sends half a
/// line.
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

/// A lease that ended: the pin was driven back to its safe state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Revert {
    /// The pin.
    pub pin: u32,
    /// The safe state it was driven to: an output's level, a PWM pin's
    /// duty and frequency.
    pub safe: Safe,
    /// When it was due.
    pub deadline: Instant,
    /// When it happened (the `now` of the poll).
    pub at: Instant,
    /// The board's error if the write failed; it is retried shortly.
    pub error: Option<crate::BoardError>,
}

/// The protocol engine over a board. See the crate docs for an example.
pub struct Engine<B> {
    pub(crate) board: B,
    pub(crate) config: Config,
    pub(crate) pins: Pins,
    pub(crate) lateness: Lateness,
    pub(crate) upload: Upload,
    /// Whether the running image was confirmed since the last boot.
    pub(crate) boot_confirmed: bool,
    /// Who sent the line being handled.
    pub(crate) peer: Peer,
    /// A setting was stored since the last boot (it applies at the next).
    pub(crate) settings_changed: bool,
    /// The connections' pin watches and their queued event lines.
    pub(crate) watchers: Watchers,
    /// The clients allowed in; empty: no client authentication.
    pub(crate) clients: Clients,
    /// The sender of the line being handled, as an index in `clients`
    /// (`None` without a list, over USB, or before the check).
    pub(crate) client: Option<u8>,
    /// The I2C buses set up with `i2c_setup`, by number.
    pub(crate) i2c_buses: [Option<I2cBus>; MAX_I2C_BUSES],
}

/// How many I2C buses the engine keeps track of (the RP2040 has 2).
pub const MAX_I2C_BUSES: usize = piconet_protocol::action::i2c::MAX_I2C_BUS as usize + 1;

/// A set-up I2C bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct I2cBus {
    pub(crate) sda: u32,
    pub(crate) scl: u32,
    pub(crate) frequency: u32,
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
            watchers: Watchers::new(),
            clients: Clients::default(),
            client: None,
            i2c_buses: [None; MAX_I2C_BUSES],
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
        // Matched by reference: moving the request out of the result
        // copies it, measurably (bench/callgrind.sh).
        let written = match &parse(line) {
            Ok(req) => self.execute(now, &req.command, &req.echo, out),
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
                safe,
                deadline,
                at: now,
                error,
            });
        }
        reverted
    }

    /// The connection `conn` ended: its pin watches end, its queued event
    /// lines are dropped, and every pin whose running lease it
    /// wrote with `"release_on_disconnect": true` goes back to its safe level
    /// now, whatever the deadline. Returns how many pins were reverted. A
    /// failed write is reported and retried shortly by [`Engine::poll`],
    /// as a failed revert at a deadline is.
    pub fn disconnected(
        &mut self,
        now: Instant,
        conn: ConnId,
        mut report: impl FnMut(Revert),
    ) -> usize {
        let before = self.watchers.watched_mask();
        self.watchers.remove(conn);
        self.stop_unwatched_edges(before);
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
                safe,
                deadline,
                at: now,
                error,
            });
        }
        reverted
    }

    /// `pin` changed to `level` at `time_us` (the board's monotonic
    /// microseconds when the edge happened: taken at the interrupt or the
    /// kernel event, not now). Every board's edge source calls this; it
    /// queues an event line for each connection whose watch of the pin
    /// the edge passes (debounce, then edge kind), and never blocks.
    /// Edges on pins not set up as inputs are ignored.
    pub fn edge(&mut self, pin: u32, level: Level, time_us: u64) {
        if !self.watchers.is_watched(pin) {
            return;
        }
        if let Slot::Input { .. } = self.pins.get(pin) {
            self.watchers.edge(pin, level, time_us);
        }
    }

    /// True when event lines wait to be written for `conn`.
    pub fn has_events(&self, conn: ConnId) -> bool {
        self.watchers.has_events(conn)
    }

    /// Write the next event line waiting for `conn` (`\n` included) to
    /// `out`: `Ok(true)` when one was written, `Ok(false)` when none
    /// waits, `Err(Full)` when it does not fit (nothing was written and it
    /// stays queued). A transport writes them between responses.
    pub fn write_event(&mut self, conn: ConnId, out: &mut dyn Sink) -> Result<bool, Full> {
        self.watchers.write_next(conn, out)
    }

    /// A connection that had event lines queued since it was last
    /// returned, for the transport to wake; `None` when there is none.
    /// Call it until `None` after anything that may detect edges.
    pub fn take_woken(&mut self) -> Option<ConnId> {
        self.watchers.take_woken()
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
            let error = self.drive_safe(pin, safe).err();
            // Shutting down: there is no later retry, so the lease ends
            // either way and the error is reported.
            self.pins.set(pin, unleased(safe));
            if error.is_none() {
                reverted += 1;
            }
            report(Revert {
                pin,
                safe,
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
        self.watchers.clear();
        self.i2c_buses = [None; MAX_I2C_BUSES];
        self.upload = Upload::default();
        self.boot_confirmed = false;
        self.settings_changed = false;
    }

    fn revert(&mut self, pin: u32, safe: Safe, now: Instant) -> Result<(), crate::BoardError> {
        match self.drive_safe(pin, safe) {
            Ok(()) => {
                self.pins.set(pin, unleased(safe));
                Ok(())
            }
            Err(e) => {
                // The retry keeps the lease's owner but is bound to its
                // deadline only: the fail-safe is retried by `poll`.
                let slot = self.pins.get(pin);
                let conn = match slot {
                    Slot::Output { lease: Some(l), .. } | Slot::Pwm { lease: Some(l), .. } => {
                        l.conn
                    }
                    _ => self.peer.conn,
                };
                let lease = Some(Lease::until(now + REVERT_RETRY, conn));
                let retry = match (safe, slot) {
                    (Safe::Pwm(safe), Slot::Pwm { state, .. }) => Slot::Pwm { safe, state, lease },
                    (Safe::Pwm(safe), _) => Slot::Pwm {
                        safe,
                        state: safe,
                        lease,
                    },
                    (Safe::Level(safe), _) => Slot::Output { safe, lease },
                };
                self.pins.set(pin, retry);
                Err(e)
            }
        }
    }

    /// Drive `pin` to its safe state on the board.
    fn drive_safe(&mut self, pin: u32, safe: Safe) -> Result<(), crate::BoardError> {
        match safe {
            Safe::Level(level) => self.board.write(pin, level),
            Safe::Pwm(state) => match self.board.pwm() {
                Some(pwm) => pwm.set_pwm(pin, state),
                // Only a board with PWM has PWM pins.
                None => Err(crate::BoardError::Unsupported("this board has no PWM")),
            },
        }
    }
}

/// The slot of a pin back at its safe state, without a lease.
fn unleased(safe: Safe) -> Slot {
    match safe {
        Safe::Level(safe) => Slot::Output { safe, lease: None },
        Safe::Pwm(safe) => Slot::Pwm {
            safe,
            state: safe,
            lease: None,
        },
    }
}

#[cfg(test)]
mod analog_tests;
#[cfg(test)]
mod clients_tests;
#[cfg(test)]
mod disconnect_tests;
#[cfg(test)]
mod events_tests;
#[cfg(test)]
mod get_pins_tests;
#[cfg(test)]
mod i2c_tests;
#[cfg(test)]
mod pwm_tests;
#[cfg(test)]
mod settings_tests;
#[cfg(test)]
mod test_lines;
#[cfg(test)]
mod tests;
