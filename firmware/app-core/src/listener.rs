//! The TCP listeners (feature `server`): embassy-net sockets that each
//! serve one client at a time, plaintext or over TLS, admitted by the
//! connection slot policy piconetd runs ([`crate::gate`]). The firmware
//! runs [`sizes::LISTENERS`] of these (one per socket task) for
//! [`sizes::SOCKETS`] slots; the host network test runs the same function
//! over an in-memory embassy-net link.

use embassy_futures::select::{select, Either};
use embassy_net::tcp::TcpSocket;
use embassy_net::{IpAddress, Stack};
use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_sync::mutex::Mutex;
use embassy_sync::semaphore::{GreedySemaphore, Semaphore};
use embassy_time::{with_timeout, Duration};
use embedded_io_async::Write;
use mbedtls_rs::{SessionConfig, TlsReference};
use piconet_engine::slots::{Notice, Refusal};
use piconet_engine::{Board, Origin};

use crate::clock::now;
use crate::conn::{serve_in, Closed, Frame, Limits};
use crate::gate::Gate;
use crate::tls::{serve_tls, TlsFailure};
use crate::Shared;

/// The firmware's socket and buffer sizes (the host test uses the same).
pub mod sizes {
    use piconet_engine::RESPONSE_OVERHEAD;

    /// Connection slots, i.e. clients served at once.
    pub const SOCKETS: usize = 3;
    /// Socket tasks: one more than the slots, so that while every slot
    /// is taken a newcomer is still accepted and told "busy", or gets the
    /// slot of an idle connection (embassy-net resets a SYN nobody
    /// listens for). The spare costs its TCP buffers only: the serving
    /// buffers are per slot ([`super::Frames`]).
    pub const LISTENERS: usize = SOCKETS + 1;
    /// TLS sessions at once; the heap is sized for this many (MbedTLS
    /// allocates each session's record buffers there).
    pub const TLS_SESSIONS: usize = 2;
    /// Longest command line accepted.
    pub const MAX_LINE: usize = 2048;
    /// The line decoder's storage (one more byte for a trailing `\r`).
    pub const LINE_BUF: usize = MAX_LINE + 1;
    /// The reply buffer.
    pub const OUT_BUF: usize = MAX_LINE + RESPONSE_OVERHEAD;
    /// Bytes read from the stream at a time.
    pub const CHUNK: usize = 512;
    /// TCP receive buffer per socket.
    pub const RX_BUF: usize = 1536;
    /// TCP transmit buffer per socket.
    pub const TX_BUF: usize = 2048;
}

/// Where the firmware's slot limits are set, for the refusal lines.
const SLOTS_SETTING: &str = "Pico W firmware: listener::sizes::SOCKETS";
const PER_ADDRESS_SETTING: &str = "Pico W firmware: gate::limits::PER_ADDRESS";

/// How long a refused or evicted client gets to take its line.
const NOTICE_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// The serving buffers, one set per connection slot.
pub type Frames<M, const SLOTS: usize, const LINE: usize, const OUT: usize, const CHUNK: usize> =
    [Mutex<M, Frame<LINE, OUT, CHUNK>>; SLOTS];

/// The connection slots the listeners share: the policy and the buffers.
pub struct Pool<
    'a,
    M: RawMutex,
    const SLOTS: usize,
    const LISTENERS: usize,
    const LINE: usize,
    const OUT: usize,
    const CHUNK: usize,
> {
    /// Who gets a slot.
    pub gate: &'a Gate<M, IpAddress, SLOTS, LISTENERS>,
    /// Each slot's serving buffers (an evicted connection lets go of its
    /// set before the newcomer takes it).
    pub frames: &'a Frames<M, SLOTS, LINE, OUT, CHUNK>,
}

impl<
        M: RawMutex,
        const SLOTS: usize,
        const LISTENERS: usize,
        const LINE: usize,
        const OUT: usize,
        const CHUNK: usize,
    > Clone for Pool<'_, M, SLOTS, LISTENERS, LINE, OUT, CHUNK>
{
    fn clone(&self) -> Self {
        *self
    }
}

impl<
        M: RawMutex,
        const SLOTS: usize,
        const LISTENERS: usize,
        const LINE: usize,
        const OUT: usize,
        const CHUNK: usize,
    > Copy for Pool<'_, M, SLOTS, LISTENERS, LINE, OUT, CHUNK>
{
}

/// What the listeners need to serve TLS.
pub struct TlsServer<'a, M: RawMutex> {
    /// The one MbedTLS instance.
    pub tls: TlsReference<'a>,
    /// The server configuration (certificate, key).
    pub config: &'a SessionConfig<'a>,
    /// The configuration while the engine has a client list: the same
    /// identity, requiring a client certificate (`AuthMode::Required`,
    /// the board's own certificate as the trust anchor; see
    /// [`crate::client_cert`]).
    pub mtls_config: &'a SessionConfig<'a>,
    /// Admits at most as many concurrent sessions as the heap is sized
    /// for; a further TLS client is accepted and waits for a permit.
    pub permits: &'a GreedySemaphore<M>,
    /// A handshake that takes longer ends the connection.
    pub handshake_timeout: Duration,
}

impl<M: RawMutex> Clone for TlsServer<'_, M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M: RawMutex> Copy for TlsServer<'_, M> {}

/// Socket settings of a listener.
#[derive(Clone, Copy, Debug)]
pub struct Listen {
    /// TCP port.
    pub port: u16,
    /// A peer that stops acknowledging for this long is dropped.
    pub socket_timeout: Duration,
    /// TCP keep-alive interval (finds peers that vanished without FIN/RST).
    pub keep_alive: Duration,
    /// Per-connection limits.
    pub limits: Limits,
}

impl Listen {
    /// The firmware's settings on `port`.
    pub fn on(port: u16) -> Self {
        Listen {
            port,
            socket_timeout: Duration::from_secs(120),
            keep_alive: Duration::from_secs(30),
            limits: Limits::default(),
        }
    }
}

/// How one connection ended.
#[derive(Debug)]
pub enum Outcome {
    /// Served until the peer ended it (plaintext or TLS).
    Closed(Closed),
    /// The TCP connection failed (reset, timeout) while serving plaintext.
    Tcp(embassy_net::tcp::Error),
    /// The TLS session failed or timed out.
    Tls(TlsFailure),
    /// `accept` failed; nothing was served.
    Accept,
    /// A plaintext connection to a board with a client list: closed at
    /// once (only listed TLS clients are served).
    Plaintext,
    /// No slot: told so (plaintext; a TLS peer is closed before the
    /// handshake) and closed.
    Refused(Refusal),
    /// Its slot went to a newcomer while it was idle.
    Evicted,
}

/// Accept connections on `listen.port` forever, one at a time, as
/// listener number `listener` (below `LISTENERS`) of `pool`.
#[allow(clippy::too_many_arguments)]
pub async fn run<
    M,
    B,
    const SLOTS: usize,
    const LISTENERS: usize,
    const LINE: usize,
    const OUT: usize,
    const CHUNK: usize,
>(
    shared: &Shared<M, B>,
    stack: Stack<'_>,
    listen: Listen,
    tls: Option<TlsServer<'_, M>>,
    pool: Pool<'_, M, SLOTS, LISTENERS, LINE, OUT, CHUNK>,
    listener: usize,
    rx: &mut [u8],
    tx: &mut [u8],
) -> !
where
    M: RawMutex,
    B: Board,
{
    loop {
        serve_one(shared, stack, listen, tls, pool, listener, rx, tx).await;
    }
}

/// The protocol's error line for a slot notice.
fn notice_line(notice: &Notice<'_>) -> heapless::Vec<u8, 256> {
    let mut line = heapless::Vec::new();
    // 256 B hold the longest notice (≈ 190 B); a shorter line is not sent.
    if piconet_protocol::response::write_error_line(&mut line, notice).is_err() {
        line.clear();
    }
    line
}

/// Accept one connection, ask the gate for a slot, serve it to the end
/// (or until it is evicted), close the socket.
///
/// The client counts for the LED while it is served. The socket is
/// closed gracefully (FIN, up to 2 s to flush) and then aborted, so the
/// next `accept` starts from a clean socket.
#[allow(clippy::too_many_arguments)]
pub async fn serve_one<
    M,
    B,
    const SLOTS: usize,
    const LISTENERS: usize,
    const LINE: usize,
    const OUT: usize,
    const CHUNK: usize,
>(
    shared: &Shared<M, B>,
    stack: Stack<'_>,
    listen: Listen,
    tls: Option<TlsServer<'_, M>>,
    pool: Pool<'_, M, SLOTS, LISTENERS, LINE, OUT, CHUNK>,
    listener: usize,
    rx: &mut [u8],
    tx: &mut [u8],
) -> Outcome
where
    M: RawMutex,
    B: Board,
{
    let mut socket = TcpSocket::new(stack, rx, tx);
    socket.set_timeout(Some(listen.socket_timeout));
    socket.set_keep_alive(Some(listen.keep_alive));
    if socket.accept(listen.port).await.is_err() {
        return Outcome::Accept;
    }
    // A board with a client list serves listed TLS clients only: a
    // plaintext connection is closed at once, holding no slot.
    let authenticate = !shared.engine.lock().await.clients().is_empty();
    if tls.is_none() && authenticate {
        close(&mut socket).await;
        return Outcome::Plaintext;
    }
    let Some(peer) = socket.remote_endpoint() else {
        socket.abort();
        return Outcome::Accept;
    };
    let ticket = match pool.gate.admit(listener, now(), peer.addr) {
        Ok(ticket) => ticket,
        Err(refusal) => {
            if tls.is_none() {
                let limit = match refusal {
                    Refusal::Full => SLOTS,
                    Refusal::AddressFull => pool.gate.limits().per_address,
                };
                let setting = match refusal {
                    Refusal::Full => SLOTS_SETTING,
                    Refusal::AddressFull => PER_ADDRESS_SETTING,
                };
                let line = notice_line(&Notice::Refused {
                    refusal,
                    limit,
                    setting,
                });
                let _ = with_timeout(NOTICE_WRITE_TIMEOUT, socket.write_all(&line)).await;
            }
            close(&mut socket).await;
            return Outcome::Refused(refusal);
        }
    };
    // An evicted holder lets go of the slot's buffers as soon as it sees
    // the eviction: this waits for no I/O.
    let mut frame = pool.frames[ticket.slot()].lock().await;
    let client = shared.client();
    let touch = || ticket.touch(now());
    let served = async {
        match tls {
            None => {
                let served = serve_in(
                    shared,
                    &mut socket,
                    Origin::Network,
                    None,
                    listen.limits,
                    &mut *frame,
                    touch,
                );
                match served.await {
                    Ok(c) => Outcome::Closed(c),
                    Err(e) => Outcome::Tcp(e),
                }
            }
            Some(t) => {
                // Infallible for a GreedySemaphore; held for the session.
                let _permit = t.permits.acquire(1).await;
                let config = if authenticate {
                    t.mtls_config
                } else {
                    t.config
                };
                match serve_tls(
                    shared,
                    t.tls,
                    config,
                    authenticate,
                    &mut socket,
                    t.handshake_timeout,
                    listen.limits,
                    &mut *frame,
                    touch,
                )
                .await
                {
                    Ok(c) => Outcome::Closed(c),
                    Err(e) => Outcome::Tls(e),
                }
            }
        }
    };
    let ended = select(served, ticket.evicted()).await;
    drop(frame);
    drop(client);
    let outcome = match ended {
        Either::First(outcome) => outcome,
        Either::Second(()) => {
            // A TLS session was dropped mid-stream: a plaintext line
            // would be garbage to its peer, which just sees the close.
            if tls.is_none() {
                let line = notice_line(&Notice::Evicted {
                    setting: SLOTS_SETTING,
                });
                let _ = with_timeout(NOTICE_WRITE_TIMEOUT, socket.write_all(&line)).await;
            }
            Outcome::Evicted
        }
    };
    drop(ticket);
    close(&mut socket).await;
    outcome
}

/// FIN, up to 2 s for the peer to take what is queued, then abort.
async fn close(socket: &mut TcpSocket<'_>) {
    socket.close();
    let _ = with_timeout(Duration::from_secs(2), socket.flush()).await;
    socket.abort();
}
