//! A TLS server session (mbedtls-rs) around [`crate::conn::serve`].
//!
//! On a board with a client list the session requires a client
//! certificate the list names ([`crate::client_cert`]): a missing or
//! unlisted one fails the handshake, and a listed client is served as
//! that client (the engine's `Peer::authenticated` path, as on piconetd).
//! A client may resume with a session ticket ([`crate::tickets`]); on a
//! board with a list the ticket names the client, checked against the
//! list as the certificate would be.

use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::Poll;

use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_time::{with_timeout, Duration};
use embedded_io_async::{Read, Write};
use mbedtls_rs::{Session, SessionConfig, SessionError, TlsReference};
use piconet_engine::{Board, Origin};

use crate::client_cert;
use crate::conn::{serve_in, Closed, Frame, Limits};
use crate::Shared;

/// Why a TLS connection ended with an error.
#[derive(Debug)]
pub enum TlsFailure {
    /// The handshake did not finish in time.
    HandshakeTimeout,
    /// MbedTLS or the stream underneath failed (handshake, record, I/O,
    /// or out of heap for the session's buffers). A client without a
    /// listed certificate on a board with a client list ends here too.
    Session(SessionError),
    /// The handshake passed without the verify callback accepting a
    /// client certificate, on a board with a client list (the link lacks
    /// the `--wrap` that installs it): refused.
    Unverified,
}

impl From<SessionError> for TlsFailure {
    fn from(e: SessionError) -> Self {
        TlsFailure::Session(e)
    }
}

/// Run the TLS handshake on `stream` as a server with `config`, serve the
/// protocol over the session (network origin) in `frame`, then send
/// close_notify. `on_read` is called after each read that brought
/// application bytes (not for handshake records).
///
/// With `authenticate` (the board has a client list; `config` then
/// requires a client certificate, see [`crate::client_cert`]) the client
/// must present a certificate the engine's list names, and it is served
/// as that client.
#[allow(clippy::too_many_arguments)]
pub async fn serve_tls<'t, M, B, T, F, const LINE: usize, const OUT: usize, const CHUNK: usize>(
    shared: &Shared<M, B>,
    tls: TlsReference<'t>,
    config: &SessionConfig<'t>,
    authenticate: bool,
    stream: T,
    handshake_timeout: Duration,
    limits: Limits,
    frame: &mut Frame<LINE, OUT, CHUNK>,
    on_read: F,
) -> Result<Closed, TlsFailure>
where
    M: RawMutex,
    B: Board,
    T: Read + Write,
    F: FnMut(),
{
    let mut session = Session::new(tls, stream, config)?;
    let mut client = None;
    {
        let mut connect = pin!(session.connect());
        let handshake = poll_fn(|cx| {
            if authenticate {
                // The list the callback checks, as of this poll. The
                // engine is never locked across an await, so it is free
                // whenever this task runs; should it not be, poll later
                // rather than check against a stale list.
                let Ok(engine) = shared.engine.try_lock() else {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                };
                client_cert::set_listed(engine.clients());
                drop(engine);
                let _ = client_cert::take_verified();
            }
            // This session's client as far as known: a TLS 1.3 ticket
            // the board writes in this poll is issued to it (tickets.rs).
            client_cert::set_current(client);
            let r = connect.as_mut().poll(cx);
            if let Some(fp) = client_cert::take_verified() {
                client = Some(fp);
            }
            client_cert::set_current(None);
            r
        });
        match with_timeout(handshake_timeout, handshake).await {
            Err(_) => return Err(TlsFailure::HandshakeTimeout),
            Ok(r) => r?,
        }
    }
    if authenticate && client.is_none() {
        return Err(TlsFailure::Unverified);
    }
    let closed = serve_in(
        shared,
        &mut session,
        Origin::Network,
        client,
        limits,
        frame,
        on_read,
    )
    .await?;
    // Best effort: the peer may already be gone.
    let _ = with_timeout(Duration::from_secs(2), session.close()).await;
    Ok(closed)
}
