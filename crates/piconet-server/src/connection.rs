//! One client connection: a thin tokio loop around the engine's
//! [`Session`], which holds every rule (timeouts, bounded output,
//! after-reply, release on disconnect). This loop only moves bytes and
//! time: it reads when the session takes input, writes what it has, and
//! wakes at its deadline.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use piconet_engine::session::{self, Session};
use piconet_engine::{ConnId, Peer, Revert};
use piconet_protocol::framing::LineDecoder;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::{info, warn};

use crate::event_lane::{DirectSocket, EventLane};
use crate::server::Shared;

/// Most bytes read from the socket at a time. What a read brings is
/// answered before the next write, so pipelined commands leave together.
const READ_CHUNK: usize = 8 * 1024;

/// The read buffer of a connection that sends little at a time (one
/// command, then waits): an idle connection keeps only this much. A read
/// that fills it grows it to [`READ_CHUNK`] for the next one.
const READ_SMALL: usize = 512;

/// Most lines a connection answers from its input before it yields to
/// the other tasks of its tokio worker. Without a yield, 32 connections
/// flooding pipelined commands kept an ordinary client's commands waiting
/// behind whole reads of theirs (BENCHMARKS.md, lease lateness: 11x
/// slower); a burst of up to this many lines still goes out in one write.
const LINES_PER_TURN: usize = 32;

/// Longest a connection answers lines before it yields, whatever the
/// lines cost.
const TURN_BUDGET: std::time::Duration = std::time::Duration::from_micros(50);

/// Why a connection ended, for the log.
#[derive(Debug)]
pub(crate) enum Ended {
    /// The client sent the blank line that ends its commands.
    Done,
    /// The client closed its side.
    Closed,
    /// Nothing arrived within the idle timeout.
    Idle,
    /// A command line was not finished within the line timeout.
    SlowLine,
    /// The client read none of its replies within the write timeout.
    WriteStalled,
    /// The socket failed.
    Io(std::io::Error),
}

impl From<session::Ended> for Ended {
    fn from(e: session::Ended) -> Self {
        match e {
            session::Ended::Done => Ended::Done,
            session::Ended::PeerClosed => Ended::Closed,
            session::Ended::Idle => Ended::Idle,
            session::Ended::SlowLine => Ended::SlowLine,
            session::Ended::WriteStalled => Ended::WriteStalled,
        }
    }
}

/// Connection ids for release_on_disconnect leases: never reused while a
/// connection may hold one (2^32 connections wrap around).
static NEXT_CONN: AtomicU32 = AtomicU32::new(0);

/// Serve one connection to its end, then revert the pins it leased with
/// `"release_on_disconnect": true`: also when this future is dropped
/// unfinished (an evicted connection, shutdown).
pub(crate) async fn serve<S>(
    stream: &mut S,
    client: Option<piconet_engine::Fingerprint>,
    shared: &Arc<Shared>,
) -> Ended
where
    S: AsyncRead + AsyncWrite + DirectSocket + Unpin,
{
    let conn = ConnId(NEXT_CONN.fetch_add(1, Ordering::Relaxed));
    let limits = shared.limits;
    let lane = shared.event_lane(conn);
    let mut guard = Release {
        shared,
        session: Session::new(
            shared.clock.now(),
            match client {
                Some(fp) => Peer::authenticated(conn, fp),
                None => Peer::network(conn),
            },
            limits.session(),
            LineDecoder::new(Vec::new(), limits.max_line),
            Vec::new(),
        ),
    };
    let ended = run(stream, shared, &mut guard.session, &lane).await;
    // Before the close reaches the client: one that sees its connection
    // end may rely on its pins being back.
    guard.release();
    if matches!(
        ended,
        Ended::Done | Ended::Closed | Ended::Idle | Ended::SlowLine
    ) {
        // Bounded: FIN, or a TLS close_notify.
        let _ = tokio::time::timeout(shared.limits.write_timeout, stream.shutdown()).await;
    }
    ended
}

/// Releases the session's release_on_disconnect leases however the
/// connection ends, dropped futures included.
struct Release<'a> {
    shared: &'a Shared,
    session: HostSession,
}

impl Release<'_> {
    fn release(&mut self) {
        if !self.session.needs_release() {
            return;
        }
        let conn = self.session.peer().conn;
        let mut reverted: Vec<Revert> = Vec::new();
        let now = self.shared.clock.now();
        self.shared
            .with_engine(|engine| self.session.disconnected(now, engine, |r| reverted.push(r)));
        for r in reverted {
            log_disconnect_revert(conn, &r);
        }
    }
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.release();
        self.shared.forget_event_lane(self.session.peer().conn);
    }
}

/// A connection's session on piconetd: buffers that grow as needed.
pub(crate) type HostSession = Session<Vec<u8>, Vec<u8>>;

async fn run<S>(
    stream: &mut S,
    shared: &Shared,
    session: &mut HostSession,
    lane: &EventLane,
) -> Ended
where
    S: AsyncRead + AsyncWrite + DirectSocket + Unpin,
{
    let write_timeout = shared.limits.write_timeout;
    let mut buf = vec![0u8; READ_SMALL];
    // Read bytes not yet taken by the session: buf[start..end].
    let (mut start, mut end) = (0, 0);
    // Bytes were written since the last flush.
    let mut unflushed = false;
    // A line of this turn queued event lines for a watching connection.
    let mut woke_watcher = false;
    loop {
        let mut input = &buf[start..end];
        let (mut turn_started, mut turn_lines) = (shared.clock.now(), 0);
        while session.accepts_input() && !input.is_empty() {
            if session.needs_engine(input) {
                let mut now = shared.clock.now();
                if turn_lines == LINES_PER_TURN
                    || now.saturating_since(turn_started) >= TURN_BUDGET
                    || std::mem::take(&mut woke_watcher)
                {
                    // Let the worker's other connections have a turn:
                    // otherwise one flood's read keeps it to the end. After
                    // a line that queued event lines for a watcher, at
                    // once: the watcher (woken into this worker's LIFO
                    // slot) runs only when this task stops, and its engine
                    // queue holds 16 lines, so a read of 17 `sim_input`
                    // lines on a watched pin dropped edges at any rate
                    // (BENCHMARKS.md, issue 15).
                    tokio::task::yield_now().await;
                    now = shared.clock.now();
                    (turn_started, turn_lines) = (now, 0);
                }
                // One line per lock: the lease thread never waits behind
                // a whole read.
                let (_, woke) =
                    shared.with_engine_waking(|engine| session.step(now, &mut input, engine));
                woke_watcher |= woke;
                turn_lines += 1;
            } else {
                session.buffer(shared.clock.now(), &mut input);
            }
        }
        start = end - input.len();
        if session.events_due() {
            shared.with_engine(|engine| session.pump_events(shared.clock.now(), engine));
        }
        if session.after_due() {
            if let Err(e) = flush(stream, write_timeout).await {
                return e;
            }
            unflushed = false;
            shared.after_reply(session);
        }
        if let Some(ended) = session.ended() {
            if ended != session::Ended::WriteStalled {
                // The last replies; the caller then closes.
                if let Err(e) = flush(stream, write_timeout).await {
                    return e;
                }
            }
            return ended.into();
        }
        if std::mem::take(&mut woke_watcher) {
            // The woken watcher waits in this worker's LIFO slot until
            // this task stops: without a yield it would write its event
            // line only after this reply's write. Yielding lets it write
            // first, then this task goes on.
            tokio::task::yield_now().await;
        }
        let deadline = session.deadline().map(|d| shared.clock.to_tokio(d));
        if !session.output().is_empty() {
            match until(deadline, stream.write(session.output())).await {
                None => session.handle_timeout(shared.clock.now()),
                Some(Ok(0)) => return Ended::Io(std::io::ErrorKind::WriteZero.into()),
                Some(Ok(n)) => {
                    session.written(shared.clock.now(), n);
                    unflushed = true;
                }
                Some(Err(e)) => return Ended::Io(e),
            }
            continue;
        }
        if unflushed {
            if let Err(e) = flush(stream, write_timeout).await {
                return e;
            }
            unflushed = false;
        }
        if !session.accepts_input() || start < end {
            // Nothing to write and no input wanted: only a deadline can
            // change that.
            let Some(d) = deadline else {
                return Ended::Closed;
            };
            tokio::select! {
                () = tokio::time::sleep_until(d) => session.handle_timeout(shared.clock.now()),
                () = lane.notify.notified() => {
                    lane.arm(stream);
                    pump(shared, session);
                }
            }
            continue;
        }
        resize(&mut buf, end);
        // Event lines are taken only here, between replies, when nothing
        // waits to be written: a reply is never held up by them. Parked,
        // the socket is free for another thread to write them at once.
        lane.park();
        // None: woken for event lines.
        let read = tokio::select! {
            read = until(deadline, stream.read(&mut buf)) => Some(read),
            () = lane.notify.notified() => None,
        };
        if let Some(unparked) = lane.unpark() {
            // A growing output always has room.
            let _ = session.events_sent_elsewhere(
                shared.clock.now(),
                unparked.delivered_at,
                &unparked.rest,
            );
        }
        let Some(read) = read else {
            lane.arm(stream);
            pump(shared, session);
            continue;
        };
        match read {
            None => session.handle_timeout(shared.clock.now()),
            Some(Ok(0)) => session.peer_closed(),
            Some(Ok(n)) => (start, end) = (0, n),
            Some(Err(e)) => return Ended::Io(e),
        }
        session.shrink_to(READ_CHUNK);
    }
}

/// Move the event lines the engine queued for this connection into its
/// output.
fn pump(shared: &Shared, session: &mut HostSession) {
    shared.with_engine(|engine| session.pump_events(shared.clock.now(), engine));
}

/// Grow the read buffer after a read that filled it; give a burst's
/// memory back once the connection is back to small reads.
fn resize(buf: &mut Vec<u8>, last_read: usize) {
    if last_read == buf.len() && buf.len() < READ_CHUNK {
        buf.resize(READ_CHUNK, 0);
    } else if last_read < READ_SMALL && buf.len() > READ_SMALL {
        buf.truncate(READ_SMALL);
        buf.shrink_to_fit();
    }
}

/// `f`, or `None` once `deadline` passes.
async fn until<F: std::future::Future>(
    deadline: Option<tokio::time::Instant>,
    f: F,
) -> Option<F::Output> {
    match deadline {
        Some(d) => tokio::time::timeout_at(d, f).await.ok(),
        None => Some(f.await),
    }
}

/// Flush, giving up after the write timeout: a TLS stream holds written
/// records until the peer takes them, so a peer that reads nothing would
/// otherwise stall here.
async fn flush<S: AsyncWrite + Unpin>(
    stream: &mut S,
    write_timeout: std::time::Duration,
) -> Result<(), Ended> {
    match tokio::time::timeout(write_timeout, stream.flush()).await {
        Err(_) => Err(Ended::WriteStalled),
        Ok(Err(e)) => Err(Ended::Io(e)),
        Ok(Ok(())) => Ok(()),
    }
}

fn log_disconnect_revert(conn: ConnId, r: &Revert) {
    match r.error {
        None => info!(
            conn = conn.0,
            pin = r.pin,
            safe = %r.safe,
            "connection ended: release_on_disconnect pin back to its safe state"
        ),
        Some(e) => warn!(
            conn = conn.0,
            pin = r.pin,
            error = e.message(),
            "connection ended: release_on_disconnect revert failed, retrying"
        ),
    }
}
