//! One client connection: a thin embassy loop around the engine's
//! [`Session`], which holds every rule (idle, line and write timeouts,
//! bounded output, after-reply, release on disconnect), the same code
//! piconetd runs. This loop only moves bytes and time.

use embassy_futures::select::{select, select3, Either, Either3};
use embassy_futures::yield_now;
use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_time::{with_timeout, Duration};
use embedded_io_async::{Read, Write};
use piconet_engine::session::{self, Session};
use piconet_engine::{Board, Fingerprint, Origin, Peer};
use piconet_protocol::framing::LineDecoder;

use crate::clock::{now, Deadline};
use crate::shared::EventWaker;
use crate::Shared;

/// Why a connection ended without an I/O error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    /// The peer closed its side (read returned 0).
    Eof,
    /// The peer sent a blank line: "no more commands" (the original
    /// client ends its last command with `\n\n`).
    End,
    /// Nothing arrived for the idle timeout.
    Idle,
    /// A command line was not finished within the line timeout.
    SlowLine,
    /// The peer took none of its replies within the write timeout.
    WriteStalled,
}

impl From<session::Ended> for Closed {
    fn from(e: session::Ended) -> Self {
        match e {
            session::Ended::Done => Closed::End,
            session::Ended::PeerClosed => Closed::Eof,
            session::Ended::Idle => Closed::Idle,
            session::Ended::SlowLine => Closed::SlowLine,
            session::Ended::WriteStalled => Closed::WriteStalled,
        }
    }
}

/// Per-connection settings.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Close a connection that sends nothing for this long.
    pub idle_timeout: Duration,
    /// Close a connection whose command line is not finished this long
    /// after its first byte (a slowloris holding one of the few sockets).
    pub line_timeout: Duration,
    /// Close a connection whose peer takes none of its replies for this
    /// long (one that sends and never reads).
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            idle_timeout: Duration::from_secs(300),
            line_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
        }
    }
}

impl Limits {
    fn session(&self) -> session::Limits {
        let std = |d: Duration| core::time::Duration::from_micros(d.as_micros());
        session::Limits {
            idle_timeout: std(self.idle_timeout),
            line_timeout: std(self.line_timeout),
            write_timeout: std(self.write_timeout),
            // The reply buffer holds one reply: a line is answered once
            // the previous reply is written out.
            max_output: 0,
        }
    }
}

/// Serve one connection until it ends, then revert the pins it leased
/// with `"release_on_disconnect": true` (also after an I/O error).
///
/// `origin` is where its lines come from: [`Origin::Network`] for TCP and
/// TLS, [`Origin::Local`] only for the USB cable (the engine accepts the
/// settings-changing actions from a local origin alone).
///
/// `LINE` is the longest accepted command line (the decoder's storage is
/// `LINE + 1` so a trailing `\r` fits); `OUT` is the reply buffer and
/// should be `LINE + piconet_engine::RESPONSE_OVERHEAD`; `CHUNK` is the
/// read size. All three live in the caller's future, i.e. in the socket
/// task's static memory on the firmware.
///
/// The engine is locked for one line at a time and never across socket
/// I/O, so the lease task waits at most one line for it. Replies are
/// written as each line is answered and flushed once the chunk that
/// carried them is consumed. A reply that asks for a reset or a sleep is
/// flushed first; before a deep sleep every lease is reverted to its safe
/// level, since the engine forgets leases across it.
///
/// Event lines (`watch_pin`) go out between replies: while the loop waits
/// for input it also waits for the edge task's wake-up
/// ([`Shared::wake_events`]), then moves the engine's queued lines into the
/// reply buffer (one at a time: the buffer holds one line) and writes
/// them. A reply is never held up by more than the one event line being
/// written.
pub async fn serve<M, B, S, const LINE: usize, const OUT: usize, const CHUNK: usize>(
    shared: &Shared<M, B>,
    io: &mut S,
    origin: Origin,
    limits: Limits,
) -> Result<Closed, S::Error>
where
    M: RawMutex,
    B: Board,
    S: Read + Write,
{
    serve_as::<M, B, S, LINE, OUT, CHUNK>(shared, io, origin, None, limits).await
}

/// [`serve`] for a connection whose transport authenticated `client`
/// (the SHA-256 of the certificate a TLS client proved it holds): the
/// engine looks it up in its client list for every line.
pub async fn serve_as<M, B, S, const LINE: usize, const OUT: usize, const CHUNK: usize>(
    shared: &Shared<M, B>,
    io: &mut S,
    origin: Origin,
    client: Option<Fingerprint>,
    limits: Limits,
) -> Result<Closed, S::Error>
where
    M: RawMutex,
    B: Board,
    S: Read + Write,
{
    let mut frame = Frame::<LINE, OUT, CHUNK>::new();
    serve_in(shared, io, origin, client, limits, &mut frame, || {}).await
}

/// A connection's buffers: the line decoder's storage (`LINE`), the reply
/// buffer (`OUT`) and the read chunk (`CHUNK`), as [`serve`] sizes them.
///
/// [`serve`] keeps one in its own future; the socket listeners borrow one
/// from a pool with a buffer set per connection slot ([`serve_in`]), so
/// the spare listener that answers while every slot is taken needs its
/// socket buffers only.
pub struct Frame<const LINE: usize, const OUT: usize, const CHUNK: usize> {
    line: heapless::Vec<u8, LINE>,
    out: heapless::Vec<u8, OUT>,
    chunk: [u8; CHUNK],
}

impl<const LINE: usize, const OUT: usize, const CHUNK: usize> Frame<LINE, OUT, CHUNK> {
    /// Empty buffers (`const`: a pool of them is a `static`).
    pub const fn new() -> Self {
        Frame {
            line: heapless::Vec::new(),
            out: heapless::Vec::new(),
            chunk: [0; CHUNK],
        }
    }
}

impl<const LINE: usize, const OUT: usize, const CHUNK: usize> Default for Frame<LINE, OUT, CHUNK> {
    fn default() -> Self {
        Self::new()
    }
}

/// [`serve_as`] in borrowed buffers, calling `on_read` after every read
/// that brought bytes (the slot policy counts the connection as active
/// then).
pub async fn serve_in<M, B, S, F, const LINE: usize, const OUT: usize, const CHUNK: usize>(
    shared: &Shared<M, B>,
    io: &mut S,
    origin: Origin,
    client: Option<Fingerprint>,
    limits: Limits,
    frame: &mut Frame<LINE, OUT, CHUNK>,
    on_read: F,
) -> Result<Closed, S::Error>
where
    M: RawMutex,
    B: Board,
    S: Read + Write,
    F: FnMut(),
{
    let peer = Peer {
        origin,
        conn: shared.next_conn(),
        client,
    };
    let Frame { line, out, chunk } = frame;
    // The previous connection's partial line must not start this one's.
    line.clear();
    let mut session = Session::new(
        now(),
        peer,
        limits.session(),
        LineDecoder::new(line, LINE.saturating_sub(1)),
        out,
    );
    let events = shared.event_waker(peer.conn);
    let ended = drive(
        shared,
        io,
        &mut session,
        chunk,
        limits.write_timeout,
        events.as_ref(),
        on_read,
    )
    .await;
    drop(events);
    if session.needs_release() {
        let mut engine = shared.engine.lock().await;
        let released = session.disconnected(now(), &mut engine, |_| {});
        drop(engine);
        if released > 0 {
            shared.leases_changed.signal(());
        }
    }
    ended
}

async fn drive<M, B, S, L, O>(
    shared: &Shared<M, B>,
    io: &mut S,
    session: &mut Session<L, O>,
    chunk: &mut [u8],
    write_timeout: Duration,
    events: Option<&EventWaker<'_, M, B>>,
    mut on_read: impl FnMut(),
) -> Result<Closed, S::Error>
where
    M: RawMutex,
    B: Board,
    S: Read + Write,
    L: piconet_protocol::framing::LineStorage,
    O: session::OutputStorage,
{
    // Read bytes not yet taken by the session: chunk[start..end].
    let (mut start, mut end) = (0, 0);
    let mut unflushed = false;
    loop {
        let mut input = &chunk[start..end];
        while session.accepts_input() && !input.is_empty() {
            if session.needs_engine(input) {
                let mut engine = shared.engine.lock().await;
                session.step(now(), &mut input, &mut engine);
                // A command can detect edges too (`sim_input` on a
                // simulated board): wake whoever got lines from it.
                while let Some(conn) = engine.take_woken() {
                    shared.wake_events(conn);
                }
                drop(engine);
                shared.leases_changed.signal(());
                // One executor runs every task: let a due lease revert (and
                // the other sockets) between lines of a pipelined burst.
                yield_now().await;
            } else {
                session.buffer(now(), &mut input);
            }
        }
        start = end - input.len();
        if session.events_due() {
            // The line before this one was just written, and a USB or TCP
            // write that completes at once does not yield: without this a
            // connection would write its whole queue of event lines (16,
            // ≈ 1.8 ms on the RP2040) in one go while the edge task, whose
            // queue from the interrupt holds 1.6 ms of a 10 kHz wave, and
            // the lease task wait. (Not before the first line of a
            // wake-up: the task was waiting, the others had their turn.)
            yield_now().await;
            pump(shared, session).await;
        }
        if session.after_due() {
            if !flush(io, write_timeout).await? {
                return Ok(Closed::WriteStalled);
            }
            unflushed = false;
            let mut engine = shared.engine.lock().await;
            session.carry_out(now(), &mut engine, |_| {});
            drop(engine);
            shared.leases_changed.signal(());
        }
        if let Some(ended) = session.ended() {
            if ended != session::Ended::WriteStalled && !flush(io, write_timeout).await? {
                return Ok(Closed::WriteStalled);
            }
            return Ok(ended.into());
        }
        // Only a closed session has no deadline, and it is not driven.
        // Each wait races its I/O against a `Deadline` (second, so an I/O
        // that is ready at once costs no timer), inline: an `async fn`
        // wrapper would keep a second copy of the I/O future in every
        // socket task's memory.
        let deadline = session.deadline();
        if !session.output().is_empty() {
            match select(io.write(session.output()), Deadline::new(deadline)).await {
                Either::Second(()) => session.handle_timeout(now()),
                Either::First(n) => {
                    session.written(now(), n?);
                    unflushed = true;
                }
            }
            continue;
        }
        if unflushed {
            if !flush(io, write_timeout).await? {
                return Ok(Closed::WriteStalled);
            }
            unflushed = false;
        }
        if !session.accepts_input() || start < end {
            // Nothing to write, no input wanted: only a deadline changes
            // that.
            if deadline.is_none() {
                return Ok(Closed::Eof);
            }
            match select(Deadline::new(deadline), woken(events)).await {
                Either::First(()) => session.handle_timeout(now()),
                Either::Second(()) => pump(shared, session).await,
            }
            continue;
        }
        // A read dropped here for an event line is retried by the next
        // pass: embassy-net's and the USB port's reads keep nothing in the
        // future, and mbedtls-rs's read waits in `wait_readable`, which
        // keeps the byte it got in the session, and MbedTLS its partial
        // record, so a new read goes on where the dropped one was. The
        // read comes first: input waiting is taken before more event lines,
        // so a command is never held up by more than one of them.
        let read = match select3(io.read(chunk), woken(events), Deadline::new(deadline)).await {
            Either3::First(read) => Some(read),
            Either3::Second(()) => {
                pump(shared, session).await;
                continue;
            }
            Either3::Third(()) => None,
        };
        match read {
            None => session.handle_timeout(now()),
            Some(n) => match n? {
                0 => session.peer_closed(),
                n => {
                    (start, end) = (0, n);
                    shared.activity.signal(());
                    on_read();
                }
            },
        }
    }
}

/// The edge task woke this connection (never, without a wake-up).
async fn woken<M: RawMutex, B>(events: Option<&EventWaker<'_, M, B>>) {
    match events {
        Some(e) => e.wait().await,
        None => core::future::pending().await,
    }
}

/// Move the event lines the engine queued for this connection into its
/// output.
async fn pump<M, B, L, O>(shared: &Shared<M, B>, session: &mut Session<L, O>)
where
    M: RawMutex,
    B: Board,
    L: piconet_protocol::framing::LineStorage,
    O: session::OutputStorage,
{
    let mut engine = shared.engine.lock().await;
    session.pump_events(now(), &mut engine);
}

/// Flush within the write timeout (a TCP flush waits for the peer to take
/// the data). `Ok(false)`: the peer took nothing in time.
async fn flush<S: Write>(io: &mut S, write_timeout: Duration) -> Result<bool, S::Error> {
    match with_timeout(write_timeout, io.flush()).await {
        Err(_) => Ok(false),
        Ok(r) => r.map(|()| true),
    }
}
