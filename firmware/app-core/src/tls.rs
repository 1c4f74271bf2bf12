//! A TLS server session (mbedtls-rs) around [`crate::conn::serve`].

use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_time::{with_timeout, Duration};
use embedded_io_async::{Read, Write};
use mbedtls_rs::{Session, SessionConfig, SessionError, TlsReference};
use piconet_engine::{Board, Origin};

use crate::conn::{serve, Closed, Limits};
use crate::Shared;

/// Why a TLS connection ended with an error.
#[derive(Debug)]
pub enum TlsFailure {
    /// The handshake did not finish in time.
    HandshakeTimeout,
    /// MbedTLS or the stream underneath failed (handshake, record, I/O,
    /// or out of heap for the session's buffers).
    Session(SessionError),
}

impl From<SessionError> for TlsFailure {
    fn from(e: SessionError) -> Self {
        TlsFailure::Session(e)
    }
}

/// Run the TLS handshake on `stream` as a server with `config`, serve the
/// protocol over the session (network origin), then send close_notify.
pub async fn serve_tls<'t, M, B, T, const LINE: usize, const OUT: usize, const CHUNK: usize>(
    shared: &Shared<M, B>,
    tls: TlsReference<'t>,
    config: &SessionConfig<'t>,
    stream: T,
    handshake_timeout: Duration,
    limits: Limits,
) -> Result<Closed, TlsFailure>
where
    M: RawMutex,
    B: Board,
    T: Read + Write,
{
    let mut session = Session::new(tls, stream, config)?;
    match with_timeout(handshake_timeout, session.connect()).await {
        Err(_) => return Err(TlsFailure::HandshakeTimeout),
        Ok(r) => r?,
    }
    let closed =
        serve::<M, B, _, LINE, OUT, CHUNK>(shared, &mut session, Origin::Network, limits).await?;
    // Best effort: the peer may already be gone.
    let _ = with_timeout(Duration::from_secs(2), session.close()).await;
    Ok(closed)
}
