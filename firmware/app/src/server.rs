//! The TCP listener pool: each task owns one socket and serves one client
//! at a time, over TLS when an identity is configured.

use embassy_net::tcp::TcpSocket;
use embassy_net::Stack;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::semaphore::{GreedySemaphore, Semaphore};
use embassy_time::Duration;
use mbedtls_rs::{SessionConfig, TlsReference};
use piconet_app_core::conn::{serve, Limits};
use piconet_app_core::tls::serve_tls;
use piconet_engine::RESPONSE_OVERHEAD;

use crate::{build_config, SHARED};

/// Socket tasks, i.e. clients served at once.
pub const SOCKETS: usize = 3;
/// TLS sessions at once; the heap is sized for this many (MbedTLS
/// allocates each session's record buffers there). A further TLS client is
/// accepted and waits for a session to end.
pub const TLS_SESSIONS: usize = 2;
/// Longest command line accepted (the decoder holds one more byte).
pub const MAX_LINE: usize = 2048;
const LINE_BUF: usize = MAX_LINE + 1;
const OUT_BUF: usize = MAX_LINE + RESPONSE_OVERHEAD;
const CHUNK: usize = 512;
const RX_BUF: usize = 1536;
const TX_BUF: usize = 2048;

static TLS_PERMITS: GreedySemaphore<CriticalSectionRawMutex> = GreedySemaphore::new(TLS_SESSIONS);

/// What a socket task needs to run TLS.
#[derive(Clone, Copy)]
pub struct TlsSetup {
    /// The one MbedTLS instance.
    pub tls: TlsReference<'static>,
    /// The server configuration (certificate, key).
    pub config: &'static SessionConfig<'static>,
}

#[embassy_executor::task(pool_size = SOCKETS)]
pub async fn socket_task(stack: Stack<'static>, tls: Option<TlsSetup>) -> ! {
    let shared = SHARED.get();
    let mut rx = [0u8; RX_BUF];
    let mut tx = [0u8; TX_BUF];
    let limits = Limits::default();
    loop {
        let mut socket = TcpSocket::new(stack, &mut rx, &mut tx);
        // A peer that vanishes without FIN/RST is dropped.
        socket.set_timeout(Some(Duration::from_secs(120)));
        socket.set_keep_alive(Some(Duration::from_secs(30)));
        if socket.accept(build_config::PORT).await.is_err() {
            continue;
        }
        let client = shared.client();
        match tls {
            None => {
                let _ =
                    serve::<_, _, _, LINE_BUF, OUT_BUF, CHUNK>(shared, &mut socket, limits).await;
            }
            Some(t) => {
                // Infallible for a GreedySemaphore; held for the session.
                let _permit = TLS_PERMITS.acquire(1).await;
                let _ = serve_tls::<_, _, _, LINE_BUF, OUT_BUF, CHUNK>(
                    shared,
                    t.tls,
                    t.config,
                    &mut socket,
                    Duration::from_secs(20),
                    limits,
                )
                .await;
            }
        }
        drop(client);
        socket.close();
        let _ = embassy_time::with_timeout(Duration::from_secs(2), socket.flush()).await;
        socket.abort();
    }
}
