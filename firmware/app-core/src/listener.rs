//! The TCP listener (feature `server`): one embassy-net socket that serves
//! one client at a time, plaintext or over TLS. The firmware runs several
//! of these (one per socket task); the host network test runs the same
//! function over an in-memory embassy-net link.

use embassy_net::tcp::TcpSocket;
use embassy_net::Stack;
use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_sync::semaphore::{GreedySemaphore, Semaphore};
use embassy_time::{with_timeout, Duration};
use mbedtls_rs::{SessionConfig, TlsReference};
use piconet_engine::{Board, Origin};

use crate::conn::{serve, Closed, Limits};
use crate::tls::{serve_tls, TlsFailure};
use crate::Shared;

/// The firmware's socket and buffer sizes (the host test uses the same).
pub mod sizes {
    use piconet_engine::RESPONSE_OVERHEAD;

    /// Socket tasks, i.e. clients served at once.
    pub const SOCKETS: usize = 3;
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
}

/// Accept connections on `listen.port` forever, one at a time.
pub async fn run<M, B, const LINE: usize, const OUT: usize, const CHUNK: usize>(
    shared: &Shared<M, B>,
    stack: Stack<'_>,
    listen: Listen,
    tls: Option<TlsServer<'_, M>>,
    rx: &mut [u8],
    tx: &mut [u8],
) -> !
where
    M: RawMutex,
    B: Board,
{
    loop {
        serve_one::<M, B, LINE, OUT, CHUNK>(shared, stack, listen, tls, rx, tx).await;
    }
}

/// Accept one connection, serve it to the end, close the socket.
///
/// The client counts for the LED while it is connected. The socket is
/// closed gracefully (FIN, up to 2 s to flush) and then aborted, so the
/// next `accept` starts from a clean socket.
pub async fn serve_one<M, B, const LINE: usize, const OUT: usize, const CHUNK: usize>(
    shared: &Shared<M, B>,
    stack: Stack<'_>,
    listen: Listen,
    tls: Option<TlsServer<'_, M>>,
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
    let client = shared.client();
    // A board with a client list serves listed TLS clients only.
    let authenticate = !shared.engine.lock().await.clients().is_empty();
    let outcome = match tls {
        None if authenticate => Outcome::Plaintext,
        None => {
            let served = serve::<M, B, _, LINE, OUT, CHUNK>(
                shared,
                &mut socket,
                Origin::Network,
                listen.limits,
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
            match serve_tls::<M, B, _, LINE, OUT, CHUNK>(
                shared,
                t.tls,
                config,
                authenticate,
                &mut socket,
                t.handshake_timeout,
                listen.limits,
            )
            .await
            {
                Ok(c) => Outcome::Closed(c),
                Err(e) => Outcome::Tls(e),
            }
        }
    };
    drop(client);
    socket.close();
    let _ = with_timeout(Duration::from_secs(2), socket.flush()).await;
    socket.abort();
    outcome
}
