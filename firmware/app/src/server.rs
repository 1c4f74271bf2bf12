//! The TCP listener pool: each task owns one socket and serves one client
//! at a time (app-core's listener), over TLS when an identity is configured.

use embassy_net::Stack;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::semaphore::GreedySemaphore;
use embassy_time::Duration;
use mbedtls_rs::{SessionConfig, TlsReference};
use piconet_app_core::listener::sizes::{CHUNK, LINE_BUF, OUT_BUF, RX_BUF, TX_BUF};
use piconet_app_core::listener::{self, Listen, TlsServer};

pub use piconet_app_core::listener::sizes::{SOCKETS, TLS_SESSIONS};

use crate::SHARED;

static TLS_PERMITS: GreedySemaphore<CriticalSectionRawMutex> = GreedySemaphore::new(TLS_SESSIONS);

/// What a socket task needs to run TLS.
#[derive(Clone, Copy)]
pub struct TlsSetup {
    /// The one MbedTLS instance.
    pub tls: TlsReference<'static>,
    /// The server configuration (certificate, key).
    pub config: &'static SessionConfig<'static>,
    /// The same, requiring a listed client certificate (a board with a
    /// client list).
    pub mtls_config: &'static SessionConfig<'static>,
}

#[embassy_executor::task(pool_size = SOCKETS)]
pub async fn socket_task(stack: Stack<'static>, port: u16, tls: Option<TlsSetup>) -> ! {
    let mut rx = [0u8; RX_BUF];
    let mut tx = [0u8; TX_BUF];
    let tls = tls.map(|t| TlsServer {
        tls: t.tls,
        config: t.config,
        mtls_config: t.mtls_config,
        permits: &TLS_PERMITS,
        handshake_timeout: Duration::from_secs(20),
    });
    listener::run::<_, _, LINE_BUF, OUT_BUF, CHUNK>(
        SHARED.get(),
        stack,
        Listen::on(port),
        tls,
        &mut rx,
        &mut tx,
    )
    .await
}
