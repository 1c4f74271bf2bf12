//! One client connection as a state machine without I/O: bytes and the
//! time go in; replies to send, the next deadline and "close" come out.
//!
//! piconetd (tokio) and the firmware (embassy) drive this one type through
//! thin loops, so both transports get the same rules from the same code:
//!
//! - **idle timeout**: no byte taken and no event line queued for
//!   `idle_timeout` while nothing is waiting to be sent: a `TimeoutError`
//!   line, then close. A connection that watches pins is kept for as long
//!   as its events flow (the write timeout closes one whose peer stopped
//!   taking them); one watching a quiet pin must send something (a `ping`)
//!   within the idle timeout, as the client library's watch does;
//! - **line timeout** (slowloris): a command line still unfinished
//!   `line_timeout` after its first byte: a `TimeoutError` line, then close;
//! - **write timeout**: output is waiting and the peer accepted none of it
//!   for `write_timeout`: close at once (a peer that does not read would
//!   not read an error line either);
//! - **bounded output**: while more than `max_output` bytes wait to be
//!   sent the session takes no input (backpressure), so a peer that sends
//!   and never reads holds at most that much and is then closed by the
//!   write timeout;
//! - **one line per step**: [`Session::step`] answers at most one line, so
//!   a transport that locks the engine for a step holds the lock for one
//!   line, never for a whole read (the lease timer waits at most that long);
//! - **after the reply**: a `reset` or `sleep` is carried out by
//!   [`Session::carry_out`] only once its reply is sent, and every lease is
//!   released before a reset or deep sleep (the engine forgets leases
//!   across them);
//! - **disconnect**: [`Session::disconnected`] reverts the pins this
//!   connection leased with `"release_on_disconnect": true`.
//!
//! The storage is the caller's: `Vec`s on piconetd, `heapless::Vec`s in a
//! task's static memory on the firmware (see [`OutputStorage`]).
//!
//! A transport loop, in outline:
//!
//! ```text
//! loop {
//!     while session.accepts_input() && !input.is_empty() {
//!         if session.needs_engine(input) { lock the engine; session.step(now, &mut input, &mut engine) }
//!         else { session.buffer(now, &mut input) }
//!     }
//!     if session.after_due() { flush; lock the engine; session.carry_out(now, &mut engine, ..) }
//!     if let Some(ended) = session.ended() { break }
//!     race, until session.deadline():
//!         write session.output()        -> session.written(now, n)
//!         read (if accepts_input, input empty) -> input, or session.peer_closed()
//!     deadline passed                   -> session.handle_timeout(now)
//! }
//! lock the engine; session.disconnected(now, &mut engine, ..)
//! ```

use core::time::Duration;

use piconet_protocol::error::ErrorClass;
use piconet_protocol::framing::{Frame, LineDecoder, LineStorage};
use piconet_protocol::response::{write_error_line, Message, MessageWriter};
use piconet_protocol::sink::{Full, Sink};
use piconet_protocol::ProtocolError;

use crate::board::Board;
use crate::engine::{After, Engine, Revert};
use crate::time::{nanos, Instant};
use crate::Peer;

/// The limits of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Close a connection that sends nothing for this long (while none of
    /// its replies are waiting to be sent).
    pub idle_timeout: Duration,
    /// A command line must be complete this long after its first byte.
    pub line_timeout: Duration,
    /// Close a connection whose peer accepts none of the waiting output
    /// for this long.
    pub write_timeout: Duration,
    /// Output bytes that may wait unsent while the session still takes
    /// input. Over it the session takes none until the peer has read
    /// enough. 0: a line is answered only once the previous replies are
    /// all sent.
    pub max_output: usize,
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The peer sent the blank line that ends its commands.
    Done,
    /// The peer closed its side of the stream.
    PeerClosed,
    /// Nothing arrived within the idle timeout.
    Idle,
    /// A command line was not finished within the line timeout.
    SlowLine,
    /// The peer accepted none of the waiting output within the write
    /// timeout.
    WriteStalled,
}

/// The error line a connection gets before it is closed for a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionError {
    /// No command within the idle timeout.
    Idle(Duration),
    /// A command line not finished within the line timeout.
    SlowLine(Duration),
}

impl Message for ConnectionError {
    fn class(&self) -> ErrorClass {
        match self {
            ConnectionError::Idle(_) | ConnectionError::SlowLine(_) => ErrorClass::TimeoutError,
        }
    }

    fn write(&self, m: &mut MessageWriter<'_>) -> Result<(), Full> {
        match self {
            ConnectionError::Idle(after) => {
                m.text("no command for ")?;
                seconds(m, *after)?;
                m.text(" s: connection closed")
            }
            ConnectionError::SlowLine(after) => {
                m.text("command line not finished within ")?;
                seconds(m, *after)?;
                m.text(" s: connection closed")
            }
        }
    }
}

/// A duration in seconds as the shortest decimal ("300", "0.2", "0.05").
fn seconds(m: &mut MessageWriter<'_>, d: Duration) -> Result<(), Full> {
    m.uint(d.as_secs())?;
    let mut nanos = d.subsec_nanos();
    if nanos == 0 {
        return Ok(());
    }
    let mut digits = [b'0'; 10];
    digits[0] = b'.';
    for slot in digits[1..].iter_mut().rev() {
        *slot = b'0' + (nanos % 10) as u8;
        nanos /= 10;
    }
    let end = digits.iter().rposition(|&b| b != b'0').map_or(1, |i| i + 1);
    // Only ASCII digits and '.': valid JSON string contents as they are.
    m.raw(&digits[..end])
}

/// Storage for the replies waiting to be sent: a `Vec<u8>` (grows as
/// needed) or a `heapless::Vec<u8, N>`. A fixed one must hold
/// `max_output` + the longest line + [`crate::RESPONSE_OVERHEAD`] bytes,
/// or a reply that does not fit is replaced by a short error.
pub trait OutputStorage: Sink + AsRef<[u8]> + AsMut<[u8]> {}
impl<T: Sink + AsRef<[u8]> + AsMut<[u8]>> OutputStorage for T {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    /// Send what is queued, then close.
    Draining(Ended),
    Closed(Ended),
}

/// The three timeouts of [`Limits`] in nanoseconds, converted once: a
/// transport asks for the deadline on every pass of its loop, and
/// `Instant + Duration` costs a 64-bit multiply (a library call on the
/// RP2040) where this costs an add.
#[derive(Clone, Copy, Debug)]
struct TimeoutsNs {
    idle: u64,
    line: u64,
    write: u64,
}

/// One connection's state. See the module docs for the rules and the
/// shape of a transport loop.
pub struct Session<L, O> {
    peer: Peer,
    limits: Limits,
    timeouts: TimeoutsNs,
    decoder: LineDecoder<L>,
    out: O,
    /// Bytes at the front of `out` the peer already accepted.
    sent: usize,
    /// When input was last taken or an event line queued (the idle
    /// timer's start).
    last_input: Instant,
    /// When the unfinished line in the decoder began, if there is one.
    line_started: Option<Instant>,
    /// Since when the peer accepted none of the waiting output (valid
    /// while output waits).
    stalled_since: Instant,
    /// A reset or sleep to carry out once its reply is sent.
    after: Option<After>,
    state: State,
    /// A line went to the engine since the last release: it may have
    /// leased a pin bound to this connection.
    engine_used: bool,
    /// [`Session::pump_events`] stopped with lines left in the engine.
    events_waiting: bool,
}

impl<L: LineStorage, O: OutputStorage> Session<L, O> {
    /// A session for `peer`, opened at `now`, splitting lines with
    /// `decoder` (its limit is the longest line) and queueing replies in
    /// `out` (emptied first).
    pub fn new(
        now: Instant,
        peer: Peer,
        limits: Limits,
        decoder: LineDecoder<L>,
        mut out: O,
    ) -> Self {
        out.truncate(0);
        Session {
            peer,
            limits,
            timeouts: TimeoutsNs {
                idle: nanos(limits.idle_timeout),
                line: nanos(limits.line_timeout),
                write: nanos(limits.write_timeout),
            },
            decoder,
            out,
            sent: 0,
            last_input: now,
            line_started: None,
            stalled_since: now,
            after: None,
            state: State::Open,
            engine_used: false,
            events_waiting: false,
        }
    }

    /// The connection this session serves.
    pub fn peer(&self) -> Peer {
        self.peer
    }

    /// The limits it enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Output bytes waiting to be sent.
    pub fn pending(&self) -> usize {
        self.out.len() - self.sent
    }

    /// True while the session takes input: open, no reset or sleep waiting
    /// for its reply to go out, and no more than `max_output` bytes
    /// waiting. A transport reads only while this holds.
    pub fn accepts_input(&self) -> bool {
        self.state == State::Open
            && self.after.is_none()
            && self.pending() <= self.limits.max_output
    }

    /// True when [`Session::step`] on `input` would answer a line, i.e. the
    /// transport must lock the engine for it. Otherwise
    /// [`Session::buffer`] takes the bytes without the engine.
    pub fn needs_engine(&self, input: &[u8]) -> bool {
        self.accepts_input() && input.contains(&b'\n')
    }

    /// Take bytes from the front of `input` up to and including at most
    /// one complete line, and answer that line with `engine`. Returns true
    /// when a line (or a blank line, or an over-long one) was handled;
    /// takes nothing while [`Session::accepts_input`] is false.
    pub fn step<B: Board>(
        &mut self,
        now: Instant,
        input: &mut &[u8],
        engine: &mut Engine<B>,
    ) -> bool {
        self.take(now, input, |line, peer, out| {
            engine.handle_from(now, line, peer, out)
        })
    }

    /// Take an unfinished line from `input` without the engine. Takes
    /// nothing and returns false when `input` holds a line ending (call
    /// [`Session::step`]) or the session takes no input; true otherwise.
    pub fn buffer(&mut self, now: Instant, input: &mut &[u8]) -> bool {
        if input.contains(&b'\n') {
            return false;
        }
        // Without a newline the decoder can only buffer or report an
        // over-long line: the closure is never called.
        self.take(now, input, |_, _, _| After::Nothing);
        true
    }

    fn take(
        &mut self,
        now: Instant,
        input: &mut &[u8],
        answer: impl FnOnce(&[u8], Peer, &mut O) -> After,
    ) -> bool {
        if !self.accepts_input() || input.is_empty() {
            return false;
        }
        self.compact();
        let was_idle = self.out.is_empty();
        let whole = *input;
        self.last_input = now;
        let max = self.decoder.max_len();
        let frame = self.decoder.decode(input);
        let handled = frame.is_some();
        let mut ended_line = matches!(frame, Some(Frame::Line(_) | Frame::End));
        match frame {
            Some(Frame::Line(line)) => {
                self.engine_used = true;
                let after = answer(line, self.peer, &mut self.out);
                if after != After::Nothing {
                    self.after = Some(after);
                }
            }
            Some(Frame::TooLong) => {
                // The error line is short; a sink too full for it loses
                // only this error.
                let _ = write_error_line(&mut self.out, &ProtocolError::LineTooLong { max });
            }
            Some(Frame::End) => self.state = State::Draining(Ended::Done),
            None => {}
        }
        if !ended_line {
            let consumed = whole.len() - input.len();
            ended_line = whole[..consumed].contains(&b'\n');
        }
        self.line_started = match self.line_started {
            _ if !self.decoder.is_mid_line() => None,
            Some(t) if !ended_line => Some(t),
            // A new line began in these bytes.
            _ => Some(now),
        };
        if was_idle && !self.out.is_empty() {
            self.stalled_since = now;
        }
        handled
    }

    /// Move the unsent output to the front of the storage, so a fixed
    /// buffer has its room back and a growing one stops growing.
    fn compact(&mut self) {
        if self.sent == 0 {
            return;
        }
        let len = self.out.len();
        self.out.as_mut().copy_within(self.sent..len, 0);
        self.out.truncate(len - self.sent);
        self.sent = 0;
    }

    /// The bytes to send next.
    pub fn output(&self) -> &[u8] {
        &self.out.as_ref()[self.sent..]
    }

    /// The peer accepted the first `n` bytes of [`Session::output`] at
    /// `now` (any progress restarts the write timeout).
    pub fn written(&mut self, now: Instant, n: usize) {
        let n = n.min(self.pending());
        if n == 0 {
            return;
        }
        self.sent += n;
        self.stalled_since = now;
        if self.sent == self.out.len() {
            self.out.truncate(0);
            self.sent = 0;
        }
    }

    /// The peer closed its side: send what is queued, then end.
    pub fn peer_closed(&mut self) {
        if self.state == State::Open {
            self.state = State::Draining(Ended::PeerClosed);
        }
    }

    /// When waiting output must have made progress.
    fn write_deadline(&self) -> Instant {
        self.stalled_since.saturating_add_nanos(self.timeouts.write)
    }

    /// When [`Session::handle_timeout`] must be called next, if ever.
    pub fn deadline(&self) -> Option<Instant> {
        if let State::Closed(_) = self.state {
            return None;
        }
        let mut next: Option<Instant> = None;
        let mut earliest = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        if self.pending() > 0 {
            earliest(self.write_deadline());
        }
        // While input is refused, the peer is not to blame for an
        // unfinished line or for silence.
        if self.accepts_input() {
            if let Some(t) = self.line_started {
                earliest(t.saturating_add_nanos(self.timeouts.line));
            }
            if self.pending() == 0 {
                earliest(self.last_input.saturating_add_nanos(self.timeouts.idle));
            }
        }
        next
    }

    /// Apply whichever timeout has passed at `now`: the write timeout
    /// closes at once (dropping the output), the line and idle timeouts
    /// queue a `TimeoutError` line and close once it is sent. Nothing
    /// happens before [`Session::deadline`].
    pub fn handle_timeout(&mut self, now: Instant) {
        if let State::Closed(_) = self.state {
            return;
        }
        if self.pending() > 0 && now >= self.write_deadline() {
            self.out.truncate(0);
            self.sent = 0;
            self.after = None;
            self.state = State::Closed(Ended::WriteStalled);
            return;
        }
        if !self.accepts_input() {
            return;
        }
        let (ended, error) = match self.line_started {
            Some(t) if now >= t.saturating_add_nanos(self.timeouts.line) => (
                Ended::SlowLine,
                ConnectionError::SlowLine(self.limits.line_timeout),
            ),
            _ if self.pending() == 0
                && now >= self.last_input.saturating_add_nanos(self.timeouts.idle) =>
            {
                (Ended::Idle, ConnectionError::Idle(self.limits.idle_timeout))
            }
            _ => return,
        };
        self.compact();
        if self.out.is_empty() {
            self.stalled_since = now;
        }
        // Short; a fixed sink too full for it closes without it.
        let _ = write_error_line(&mut self.out, &error);
        self.line_started = None;
        self.state = State::Draining(ended);
    }

    /// True when a reset or sleep waits and its reply is sent: flush the
    /// transport, then call [`Session::carry_out`].
    pub fn after_due(&self) -> bool {
        self.after.is_some() && self.pending() == 0 && !matches!(self.state, State::Closed(_))
    }

    /// Carry out the waiting reset or sleep (see [`Session::after_due`]):
    /// before a reset or a deep sleep every lease is driven to its safe
    /// level, since the engine forgets leases across them (and a host
    /// board's reset releases its lines where they are). Returns what was
    /// carried out. On a Pico W a reset or deep sleep does not return.
    pub fn carry_out<B: Board>(
        &mut self,
        now: Instant,
        engine: &mut Engine<B>,
        report: impl FnMut(Revert),
    ) -> Option<After> {
        if !self.after_due() {
            return None;
        }
        let after = self.after.take()?;
        if matches!(after, After::Reset | After::Sleep { deep: true, .. }) {
            engine.release_all(now, report);
        }
        engine.after_reply(after);
        Some(after)
    }

    /// Why the session ended, once it has: the transport then closes the
    /// stream (after a flush) and calls [`Session::disconnected`].
    pub fn ended(&self) -> Option<Ended> {
        match self.state {
            State::Closed(e) => Some(e),
            State::Draining(e) if self.pending() == 0 && self.after.is_none() => Some(e),
            _ => None,
        }
    }

    /// The connection is gone (however it ended, I/O errors included):
    /// revert the pins it leased with `"release_on_disconnect": true`.
    /// Returns how many were reverted; a second call does nothing.
    pub fn disconnected<B: Board>(
        &mut self,
        now: Instant,
        engine: &mut Engine<B>,
        report: impl FnMut(Revert),
    ) -> usize {
        if !core::mem::replace(&mut self.engine_used, false) {
            return 0;
        }
        engine.disconnected(now, self.peer.conn, report)
    }

    /// Move the event lines waiting in `engine` for this connection into
    /// the output, after the replies already there (so never inside one),
    /// while no more than `max_output` bytes wait: the rest stay in the
    /// engine's bounded queue, which counts what it must drop. Returns how
    /// many lines were moved. A transport calls it when the engine woke
    /// this connection ([`Engine::take_woken`]).
    pub fn pump_events<B: Board>(&mut self, now: Instant, engine: &mut Engine<B>) -> usize {
        if self.state != State::Open {
            return 0;
        }
        self.compact();
        let was_idle = self.out.is_empty();
        let mut moved = 0;
        self.events_waiting = loop {
            if self.pending() > self.limits.max_output {
                break engine.has_events(self.peer.conn);
            }
            match engine.write_event(self.peer.conn, &mut self.out) {
                Ok(true) => moved += 1,
                Ok(false) => break false,
                // A fixed buffer without room for one more line.
                Err(_) => break true,
            }
        };
        if moved > 0 {
            if was_idle {
                self.stalled_since = now;
            }
            // Events flowing keep a watching connection open: the idle
            // timeout is for a peer that is done, and this one is still
            // being served (a peer that stopped reading them meets the
            // write timeout instead).
            self.last_input = now;
        }
        moved
    }

    /// Event lines of this connection went out without this session: a
    /// transport may let another thread take them from the engine and
    /// write them straight to an idle socket (piconetd's plaintext TCP).
    /// `sent_at` is when lines last went out that way (events flowing
    /// keep the connection from its idle timeout, as with
    /// [`Session::pump_events`]); `rest` holds whole lines taken but not
    /// written, which go out next. `Err(Full)` when a fixed output has no
    /// room for `rest` (a growing one always has).
    pub fn events_sent_elsewhere(
        &mut self,
        now: Instant,
        sent_at: Option<Instant>,
        rest: &[u8],
    ) -> Result<(), Full> {
        if let Some(t) = sent_at {
            self.last_input = self.last_input.max(t);
        }
        if rest.is_empty() || self.state != State::Open {
            return Ok(());
        }
        self.compact();
        let was_idle = self.out.is_empty();
        self.out.extend(rest)?;
        if was_idle {
            self.stalled_since = now;
        }
        self.last_input = self.last_input.max(now);
        Ok(())
    }

    /// True when [`Session::pump_events`] left lines in the engine for
    /// want of room and there is room again: call it once more (the
    /// engine wakes a connection only for new edges).
    pub fn events_due(&self) -> bool {
        self.events_waiting && self.state == State::Open && self.pending() <= self.limits.max_output
    }

    /// False when [`Session::disconnected`] has nothing to do (no line
    /// ever reached the engine): a transport can then skip locking it, so
    /// connections that come and go without a command cost the lease
    /// timer nothing.
    pub fn needs_release(&self) -> bool {
        self.engine_used
    }
}

#[cfg(feature = "alloc")]
impl Session<alloc::vec::Vec<u8>, alloc::vec::Vec<u8>> {
    /// Give back memory a burst made the buffers grow, keeping at least
    /// `min` bytes of each (and whatever they still hold).
    pub fn shrink_to(&mut self, min: usize) {
        self.compact();
        self.out.shrink_to(min);
        self.decoder.shrink_to(min);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_board::TestBoard;
    use crate::{Config, ConnId, Level};
    use serde_json::Value;
    use std::string::String;
    use std::vec::Vec;

    const ME: Peer = Peer::network(ConnId(1));

    fn ms(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn limits() -> Limits {
        Limits {
            idle_timeout: Duration::from_secs(10),
            line_timeout: Duration::from_secs(3),
            write_timeout: Duration::from_secs(5),
            max_output: 1024,
        }
    }

    type Host = Session<Vec<u8>, Vec<u8>>;

    fn session(limits: Limits) -> Host {
        Session::new(
            ms(0),
            ME,
            limits,
            LineDecoder::new(Vec::new(), 256),
            Vec::new(),
        )
    }

    fn engine() -> Engine<TestBoard> {
        Engine::new(TestBoard::new(), Config::default())
    }

    /// Take as much of `input` as the session accepts, one step at a time
    /// as a transport does; returns the bytes left over.
    fn feed<'a, L: LineStorage, O: OutputStorage>(
        s: &mut Session<L, O>,
        e: &mut Engine<TestBoard>,
        now: Instant,
        mut input: &'a [u8],
    ) -> &'a [u8] {
        while s.accepts_input() && !input.is_empty() {
            if s.needs_engine(input) {
                assert!(s.step(now, &mut input, e));
            } else {
                assert!(s.buffer(now, &mut input));
            }
        }
        input
    }

    /// Everything waiting, as the peer reads it.
    fn drain<L: LineStorage, O: OutputStorage>(s: &mut Session<L, O>, now: Instant) -> Vec<Value> {
        let text = String::from_utf8(s.output().to_vec()).unwrap();
        let n = s.output().len();
        s.written(now, n);
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Set pin 5 up as an input and watch it, at 0 ms (its answers stay
    /// in the output).
    fn watch_pin_5(s: &mut Host, e: &mut Engine<TestBoard>) {
        let lines = b"{\"action\": \"setup_pin\", \"pin\": 5, \"mode\": \"input\"}\n{\"action\": \"watch_pin\", \"pin\": 5}\n";
        assert_eq!(feed(s, e, ms(0), lines), b"");
    }

    fn ping() -> &'static [u8] {
        b"{\"action\": \"ping\"}\n"
    }

    #[test]
    fn a_step_answers_at_most_one_line() {
        let (mut s, mut e) = (session(limits()), engine());
        let three = [ping(), ping(), ping()].concat();
        let mut input = &three[..];
        assert!(s.needs_engine(input));
        assert!(s.step(ms(0), &mut input, &mut e));
        assert_eq!(input.len(), 2 * ping().len(), "one line taken");
        assert_eq!(drain(&mut s, ms(0)).len(), 1);
        assert_eq!(feed(&mut s, &mut e, ms(0), input), b"");
        assert_eq!(drain(&mut s, ms(0)).len(), 2);
    }

    #[test]
    fn an_unfinished_line_needs_no_engine() {
        let (mut s, mut e) = (session(limits()), engine());
        let mut input = &b"{\"action\":"[..];
        assert!(!s.needs_engine(input));
        assert!(s.buffer(ms(0), &mut input));
        assert!(input.is_empty());
        let mut rest = &b" \"ping\"}\n"[..];
        assert!(
            !s.buffer(ms(0), &mut rest),
            "a line ending needs the engine"
        );
        assert_eq!(rest.len(), 9);
        assert!(s.step(ms(0), &mut rest, &mut e));
        assert_eq!(drain(&mut s, ms(0))[0]["action"], "ping");
    }

    #[test]
    fn idle_timeout_sends_a_timeout_error_then_ends() {
        let (mut s, mut e) = (session(limits()), engine());
        assert_eq!(s.deadline(), Some(ms(10_000)));
        feed(&mut s, &mut e, ms(4_000), ping());
        drain(&mut s, ms(4_000));
        assert_eq!(
            s.deadline(),
            Some(ms(14_000)),
            "input restarts the idle timer"
        );
        s.handle_timeout(ms(13_999));
        assert!(s.output().is_empty() && s.ended().is_none());
        s.handle_timeout(ms(14_000));
        assert_eq!(s.ended(), None, "not before the error line is sent");
        assert!(!s.accepts_input());
        let lines = drain(&mut s, ms(14_000));
        assert_eq!(lines[0]["exception"], "TimeoutError");
        assert_eq!(lines[0]["error"], "no command for 10 s: connection closed");
        assert_eq!(s.ended(), Some(Ended::Idle));
        assert_eq!(s.deadline(), None);
    }

    #[test]
    fn line_timeout_runs_from_the_first_byte_of_a_line() {
        let (mut s, mut e) = (session(limits()), engine());
        feed(&mut s, &mut e, ms(1_000), b"{\"act");
        assert_eq!(s.deadline(), Some(ms(4_000)));
        feed(&mut s, &mut e, ms(2_000), b"ion\"");
        assert_eq!(
            s.deadline(),
            Some(ms(4_000)),
            "trickling does not restart it"
        );
        // The line ends and a new one begins in the same bytes.
        feed(&mut s, &mut e, ms(3_000), b": \"ping\"}\n{\"a");
        assert_eq!(drain(&mut s, ms(3_000)).len(), 1);
        assert_eq!(s.deadline(), Some(ms(6_000)));
        s.handle_timeout(ms(6_000));
        let lines = drain(&mut s, ms(6_000));
        assert_eq!(lines[0]["exception"], "TimeoutError");
        assert_eq!(
            lines[0]["error"],
            "command line not finished within 3 s: connection closed"
        );
        assert_eq!(s.ended(), Some(Ended::SlowLine));
    }

    #[test]
    fn a_finished_line_stops_the_line_timer() {
        let (mut s, mut e) = (session(limits()), engine());
        feed(&mut s, &mut e, ms(1_000), b"{\"action\": ");
        feed(&mut s, &mut e, ms(2_000), b"\"ping\"}\n");
        drain(&mut s, ms(2_000));
        assert_eq!(
            s.deadline(),
            Some(ms(12_000)),
            "only the idle timer is left"
        );
    }

    #[test]
    fn write_timeout_closes_a_peer_that_accepts_nothing() {
        let (mut s, mut e) = (session(limits()), engine());
        feed(&mut s, &mut e, ms(1_000), &[ping(), ping()].concat());
        assert_eq!(s.deadline(), Some(ms(6_000)));
        s.written(ms(3_000), 5);
        assert_eq!(s.deadline(), Some(ms(8_000)), "progress restarts it");
        s.written(ms(4_000), 0);
        assert_eq!(s.deadline(), Some(ms(8_000)), "no progress, no restart");
        s.handle_timeout(ms(7_999));
        assert_eq!(s.ended(), None);
        s.handle_timeout(ms(8_000));
        assert_eq!(s.ended(), Some(Ended::WriteStalled));
        assert!(s.output().is_empty(), "nothing more is sent");
        assert!(!s.accepts_input());
        assert_eq!(s.deadline(), None);
    }

    #[test]
    fn over_max_output_no_input_is_taken_until_the_peer_reads() {
        let limits = Limits {
            max_output: 100,
            ..limits()
        };
        let (mut s, mut e) = (session(limits), engine());
        let many = ping().repeat(50);
        let left = feed(&mut s, &mut e, ms(0), &many);
        let answered = (many.len() - left.len()) / ping().len();
        assert!(s.pending() > 100);
        assert!(answered < 50, "backpressure stopped the input");
        assert!(!s.accepts_input());
        let mut rest = left;
        assert!(
            !s.step(ms(0), &mut rest, &mut e),
            "no step while over the bound"
        );
        assert_eq!(rest.len(), left.len());
        // Replies hold up to max_output + one reply.
        let reply = s.pending() / answered;
        assert!(s.pending() <= 100 + reply);
        // The peer reads some: input flows again, and nothing was lost.
        drain(&mut s, ms(10));
        let left = feed(&mut s, &mut e, ms(10), left);
        let mut total =
            answered + (many.len() - answered * ping().len() - left.len()) / ping().len();
        while !s.output().is_empty() {
            drain(&mut s, ms(20));
            let before = total;
            let rest = feed(&mut s, &mut e, ms(20), &many[total * ping().len()..]);
            total = 50 - rest.len() / ping().len();
            assert!(total >= before);
        }
        assert_eq!(total, 50);
    }

    #[test]
    fn a_pipelining_peer_that_never_reads_is_closed() {
        let limits = Limits {
            max_output: 100,
            ..limits()
        };
        let (mut s, mut e) = (session(limits), engine());
        let many = ping().repeat(1000);
        feed(&mut s, &mut e, ms(0), &many);
        // The only deadline left is the write timeout: neither silence nor
        // an unfinished line counts while the session refuses input.
        assert_eq!(s.deadline(), Some(ms(5_000)));
        s.handle_timeout(ms(5_000));
        assert_eq!(s.ended(), Some(Ended::WriteStalled));
        assert_eq!(s.disconnected(ms(5_000), &mut e, |_| {}), 0);
    }

    #[test]
    fn fixed_storage_with_max_output_zero_answers_one_line_at_a_time() {
        let limits = Limits {
            max_output: 0,
            ..limits()
        };
        let mut e = engine();
        let mut s = Session::new(
            ms(0),
            ME,
            limits,
            LineDecoder::new(heapless::Vec::<u8, 257>::new(), 256),
            heapless::Vec::<u8, { 256 + crate::RESPONSE_OVERHEAD }>::new(),
        );
        let three = ping().repeat(3);
        let left = feed(&mut s, &mut e, ms(0), &three);
        assert_eq!(left.len(), 2 * ping().len());
        s.written(ms(0), 3);
        assert!(!s.accepts_input(), "a part of the reply still waits");
        let n = s.output().len();
        s.written(ms(0), n);
        let left = feed(&mut s, &mut e, ms(0), left);
        assert_eq!(left.len(), ping().len());
    }

    #[test]
    fn an_over_long_line_gets_one_error_without_the_engine() {
        let mut s: Host = Session::new(
            ms(0),
            ME,
            limits(),
            LineDecoder::new(Vec::new(), 24),
            Vec::new(),
        );
        let mut e = engine();
        let mut input = &[b'x'; 40][..];
        assert!(s.buffer(ms(0), &mut input));
        let lines = drain(&mut s, ms(0));
        assert_eq!(lines[0]["exception"], "ValueError");
        assert!(lines[0]["error"]
            .as_str()
            .unwrap()
            .contains("longer than 24"));
        assert_eq!(s.deadline(), Some(ms(3_000)), "skipping counts as a line");
        feed(&mut s, &mut e, ms(1), b"xx\n{\"action\": \"ping\"}\n");
        assert_eq!(drain(&mut s, ms(1))[0]["action"], "ping");
    }

    #[test]
    fn a_blank_line_ends_the_session_after_the_replies() {
        let (mut s, mut e) = (session(limits()), engine());
        let left = feed(
            &mut s,
            &mut e,
            ms(0),
            b"{\"action\": \"ping\"}\n\n{\"action\": \"ping\"}\n",
        );
        assert_eq!(left, ping(), "nothing taken after the end");
        assert_eq!(s.ended(), None);
        assert_eq!(drain(&mut s, ms(0)).len(), 1);
        assert_eq!(s.ended(), Some(Ended::Done));
    }

    #[test]
    fn a_closed_peer_still_gets_what_is_queued() {
        let (mut s, mut e) = (session(limits()), engine());
        feed(&mut s, &mut e, ms(0), ping());
        s.peer_closed();
        assert!(!s.accepts_input());
        assert_eq!(s.ended(), None);
        drain(&mut s, ms(0));
        assert_eq!(s.ended(), Some(Ended::PeerClosed));
    }

    #[test]
    fn a_reset_waits_for_its_reply_and_input_waits_for_the_reset() {
        let (mut s, mut e) = (session(limits()), engine());
        let both = [&b"{\"action\": \"reset\"}\n"[..], ping()].concat();
        let left = feed(&mut s, &mut e, ms(0), &both);
        assert_eq!(left, ping(), "the next line waits");
        assert!(!s.after_due(), "the reply is not sent yet");
        assert_eq!(s.carry_out(ms(0), &mut e, |_| {}), None);
        assert_eq!(e.board().resets(), 0);
        assert_eq!(drain(&mut s, ms(0))[0]["action"], "reset");
        assert!(s.after_due());
        assert_eq!(s.carry_out(ms(0), &mut e, |_| {}), Some(After::Reset));
        assert_eq!(e.board().resets(), 1);
        assert!(!s.after_due());
        assert_eq!(feed(&mut s, &mut e, ms(0), left), b"");
        assert_eq!(drain(&mut s, ms(0))[0]["action"], "ping");
    }

    fn lease(s: &mut Host, e: &mut Engine<TestBoard>, pin: u32, on_disconnect: bool) {
        let setup = std::format!(
            "{{\"action\": \"setup_pin\", \"pin\": {pin}, \"mode\": \"output\", \"value\": 0}}\n"
        );
        let write = std::format!(
            "{{\"action\": \"write_pin\", \"pin\": {pin}, \"value\": 1, \"timeout\": 60, \"release_on_disconnect\": {on_disconnect}}}\n"
        );
        feed(s, e, ms(0), setup.as_bytes());
        feed(s, e, ms(0), write.as_bytes());
        for line in drain(s, ms(0)) {
            assert!(line.get("error").is_none(), "{line}");
        }
        assert_eq!(e.board().level(pin), Some(Level::High));
    }

    #[test]
    fn a_deep_sleep_releases_every_lease_first() {
        let (mut s, mut e) = (session(limits()), engine());
        lease(&mut s, &mut e, 2, false);
        lease(&mut s, &mut e, 3, true);
        feed(
            &mut s,
            &mut e,
            ms(0),
            b"{\"action\": \"sleep\", \"time_ms\": 10, \"deep\": true}\n",
        );
        drain(&mut s, ms(0));
        e.board_mut().clear_log();
        let mut reverted = Vec::new();
        let after = s.carry_out(ms(1), &mut e, |r| reverted.push(r.pin));
        assert_eq!(after, Some(After::Sleep { ms: 10, deep: true }));
        reverted.sort_unstable();
        assert_eq!(reverted, [2, 3]);
        assert_eq!(e.leases(), 0);
        // The safe levels were driven before the board slept.
        let events: Vec<_> = e.board().log().map(|s| s.event).collect();
        let slept = events
            .iter()
            .position(|ev| matches!(ev, crate::test_board::Event::Sleep { .. }))
            .unwrap();
        let lows = events[..slept]
            .iter()
            .filter(|ev| {
                matches!(
                    ev,
                    crate::test_board::Event::Level {
                        level: Level::Low,
                        ..
                    }
                )
            })
            .count();
        assert_eq!(lows, 2, "{events:?}");
    }

    #[test]
    fn a_reset_releases_every_lease_first() {
        let (mut s, mut e) = (session(limits()), engine());
        lease(&mut s, &mut e, 2, false);
        feed(&mut s, &mut e, ms(0), b"{\"action\": \"reset\"}\n");
        drain(&mut s, ms(0));
        e.board_mut().clear_log();
        let mut reverted = Vec::new();
        assert_eq!(
            s.carry_out(ms(1), &mut e, |r| reverted.push(r.pin)),
            Some(After::Reset)
        );
        assert_eq!(reverted, [2]);
        let events: Vec<_> = e.board().log().map(|s| s.event).collect();
        assert_eq!(
            events[0],
            crate::test_board::Event::Level {
                pin: 2,
                level: Level::Low
            },
            "safe level before the reset: {events:?}"
        );
    }

    #[test]
    fn a_light_sleep_keeps_the_leases() {
        let (mut s, mut e) = (session(limits()), engine());
        lease(&mut s, &mut e, 2, false);
        feed(
            &mut s,
            &mut e,
            ms(0),
            b"{\"action\": \"sleep\", \"time_ms\": 10}\n",
        );
        drain(&mut s, ms(0));
        let after = s.carry_out(ms(1), &mut e, |_| panic!("no revert"));
        assert_eq!(
            after,
            Some(After::Sleep {
                ms: 10,
                deep: false
            })
        );
        assert_eq!(e.leases(), 1);
    }

    #[test]
    fn disconnecting_reverts_only_its_release_on_disconnect_leases() {
        let mut e = engine();
        let mut s = session(limits());
        let mut other: Host = Session::new(
            ms(0),
            Peer::network(ConnId(2)),
            limits(),
            LineDecoder::new(Vec::new(), 256),
            Vec::new(),
        );
        assert!(!s.needs_release(), "no line reached the engine yet");
        lease(&mut s, &mut e, 2, true);
        lease(&mut s, &mut e, 3, false);
        lease(&mut other, &mut e, 4, true);
        assert!(s.needs_release());
        let mut reverted = Vec::new();
        assert_eq!(s.disconnected(ms(1), &mut e, |r| reverted.push(r.pin)), 1);
        assert_eq!(reverted, [2]);
        assert_eq!(e.board().level(2), Some(Level::Low));
        assert_eq!(
            e.board().level(3),
            Some(Level::High),
            "it runs to its timeout"
        );
        assert_eq!(
            e.board().level(4),
            Some(Level::High),
            "another connection's"
        );
        assert!(!s.needs_release());
        assert_eq!(s.disconnected(ms(1), &mut e, |_| {}), 0, "once");
        assert_eq!(other.disconnected(ms(1), &mut e, |_| {}), 1);
        assert_eq!(e.board().level(4), Some(Level::Low));
    }

    #[test]
    fn event_lines_go_between_replies_and_stop_at_max_output() {
        let limits = Limits {
            max_output: 250,
            ..limits()
        };
        let (mut s, mut e) = (session(limits), engine());
        let other = Peer::network(ConnId(77));
        let mut driver: Host = Session::new(
            ms(0),
            other,
            limits,
            LineDecoder::new(Vec::new(), 256),
            Vec::new(),
        );
        watch_pin_5(&mut s, &mut e);
        // Another connection drives the pin: 6 edges.
        for i in 0..6u64 {
            let line = std::format!(
                "{{\"action\": \"sim_input\", \"pin\": 5, \"value\": {}}}\n",
                (i + 1) % 2
            );
            assert_eq!(feed(&mut driver, &mut e, ms(1 + i), line.as_bytes()), b"");
            drain(&mut driver, ms(1 + i));
        }
        assert_eq!(e.take_woken(), Some(ME.conn));
        // The replies waiting come first; events are added while at most
        // max_output bytes wait, the rest stay queued in the engine.
        let moved = s.pump_events(ms(10), &mut e);
        assert!(moved > 0 && moved < 6, "{moved}");
        assert!(e.has_events(ME.conn));
        assert!(!s.events_due(), "no room yet");
        let lines = drain(&mut s, ms(10));
        assert_eq!(lines[0]["action"], "setup_pin");
        assert_eq!(lines[1]["action"], "watch_pin");
        let mut seqs: Vec<u64> = lines[2..]
            .iter()
            .map(|l| l["seq"].as_u64().unwrap())
            .collect();
        assert!(lines[2..]
            .iter()
            .all(|l| l["event"] == "edge" && l.get("action").is_none()));
        assert!(s.events_due(), "room again, lines left");
        while s.pump_events(ms(11), &mut e) > 0 {
            let more = drain(&mut s, ms(11));
            seqs.extend(more.iter().map(|l| l["seq"].as_u64().unwrap()));
        }
        assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
        assert!(!e.has_events(ME.conn));
        assert!(!s.events_due());
        // A reply after them comes after them.
        feed(
            &mut driver,
            &mut e,
            ms(12),
            b"{\"action\": \"sim_input\", \"pin\": 5, \"value\": 1}\n",
        );
        s.pump_events(ms(12), &mut e);
        feed(&mut s, &mut e, ms(12), ping());
        let lines = drain(&mut s, ms(12));
        assert_eq!(lines[0]["seq"], 7);
        assert_eq!(lines[1]["action"], "ping");
    }

    #[test]
    fn event_lines_restart_the_idle_timer_of_a_watching_connection() {
        let (mut s, mut e) = (session(limits()), engine());
        let mut driver: Host = Session::new(
            ms(0),
            Peer::network(ConnId(77)),
            limits(),
            LineDecoder::new(Vec::new(), 256),
            Vec::new(),
        );
        watch_pin_5(&mut s, &mut e);
        drain(&mut s, ms(0));
        assert_eq!(s.deadline(), Some(ms(10_000)));
        let sim = b"{\"action\": \"sim_input\", \"pin\": 5, \"value\": 1}\n";
        feed(&mut driver, &mut e, ms(9_000), sim);
        assert_eq!(s.pump_events(ms(9_000), &mut e), 1);
        // While the line waits, the write timeout runs.
        assert_eq!(s.deadline(), Some(ms(14_000)));
        assert_eq!(drain(&mut s, ms(9_500))[0]["event"], "edge");
        assert_eq!(s.deadline(), Some(ms(19_000)), "idle from the event on");
        s.handle_timeout(ms(10_000));
        assert_eq!(s.ended(), None);
        assert!(s.output().is_empty(), "not closed at the old deadline");
        // A quiet pin and a silent peer: closed an idle timeout later.
        s.handle_timeout(ms(19_000));
        assert_eq!(drain(&mut s, ms(19_000))[0]["exception"], "TimeoutError");
        assert_eq!(s.ended(), Some(Ended::Idle));
    }

    #[test]
    fn event_lines_sent_elsewhere_count_as_flowing_and_their_rest_goes_next() {
        let (mut s, mut e) = (session(limits()), engine());
        watch_pin_5(&mut s, &mut e);
        drain(&mut s, ms(0));
        // Written straight to the socket at 9 s: idle from then on.
        s.events_sent_elsewhere(ms(9_500), Some(ms(9_000)), b"")
            .unwrap();
        assert_eq!(s.deadline(), Some(ms(19_000)));
        s.handle_timeout(ms(10_000));
        assert_eq!(s.ended(), None, "not idle while events flow");
        // Lines the socket did not take go out before the next reply, and
        // their write timeout runs from now.
        let rest = b"{\"event\": \"edge\", \"pin\": 5, \"value\": 0, \"time_us\": 1, \"seq\": 2}\n";
        s.events_sent_elsewhere(ms(11_000), None, rest).unwrap();
        assert_eq!(s.deadline(), Some(ms(16_000)));
        feed(&mut s, &mut e, ms(11_000), ping());
        let lines = drain(&mut s, ms(11_000));
        assert_eq!(lines[0]["seq"], 2);
        assert_eq!(lines[1]["action"], "ping");
        // A fixed output without room says so and keeps what it had.
        let mut small: Session<heapless::Vec<u8, 256>, heapless::Vec<u8, 8>> = Session::new(
            ms(0),
            ME,
            limits(),
            LineDecoder::new(heapless::Vec::new(), 256),
            heapless::Vec::new(),
        );
        assert_eq!(small.events_sent_elsewhere(ms(1), None, rest), Err(Full));
        assert!(small.output().is_empty());
    }

    #[test]
    fn seconds_are_written_as_short_decimals() {
        let text = |d: Duration| {
            let mut out = Vec::new();
            write_error_line(&mut out, &ConnectionError::Idle(d)).unwrap();
            let v: Value = serde_json::from_slice(&out).unwrap();
            v["error"].as_str().unwrap().to_owned()
        };
        assert_eq!(
            text(Duration::from_secs(300)),
            "no command for 300 s: connection closed"
        );
        assert_eq!(
            text(Duration::from_millis(200)),
            "no command for 0.2 s: connection closed"
        );
        assert_eq!(
            text(Duration::from_millis(50)),
            "no command for 0.05 s: connection closed"
        );
        assert_eq!(
            text(Duration::from_nanos(1_000_000_001)),
            "no command for 1.000000001 s: connection closed"
        );
    }
}
