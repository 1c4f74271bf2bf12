//! The TCP listener pool: each task owns one socket and serves one client
//! at a time (app-core's listener), over TLS when an identity is configured.
//! One task more than there are connection slots: the spare answers a
//! newcomer while every slot is taken (app-core's `gate`).

use embassy_net::Stack;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::mutex::Mutex;
use embassy_sync::semaphore::GreedySemaphore;
use embassy_time::Duration;
use mbedtls_rs::{SessionConfig, TlsReference};
use piconet_app_core::conn::Frame;
use piconet_app_core::gate::{self, Gate};
use piconet_app_core::listener::sizes::{CHUNK, LINE_BUF, OUT_BUF, RX_BUF, TX_BUF};
use piconet_app_core::listener::{self, Frames, Listen, Pool, TlsServer};

pub use piconet_app_core::listener::sizes::{LISTENERS, SOCKETS, TLS_SESSIONS};

use crate::SHARED;

static TLS_PERMITS: GreedySemaphore<CriticalSectionRawMutex> = GreedySemaphore::new(TLS_SESSIONS);

/// Who gets one of the `SOCKETS` slots.
static GATE: Gate<CriticalSectionRawMutex, embassy_net::IpAddress, SOCKETS, LISTENERS> =
    Gate::new(gate::limits::SLOT_LIMITS);

/// Each slot's serving buffers (line, reply, read chunk).
static FRAMES: Frames<CriticalSectionRawMutex, SOCKETS, LINE_BUF, OUT_BUF, CHUNK> =
    [const { Mutex::new(Frame::new()) }; SOCKETS];

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

#[embassy_executor::task(pool_size = LISTENERS)]
pub async fn socket_task(
    stack: Stack<'static>,
    port: u16,
    tls: Option<TlsSetup>,
    listener: usize,
) -> ! {
    let mut rx = [0u8; RX_BUF];
    let mut tx = [0u8; TX_BUF];
    let tls = tls.map(|t| TlsServer {
        tls: t.tls,
        config: t.config,
        mtls_config: t.mtls_config,
        permits: &TLS_PERMITS,
        handshake_timeout: Duration::from_secs(20),
    });
    let pool = Pool {
        gate: &GATE,
        frames: &FRAMES,
    };
    listener::run(
        SHARED.get(),
        stack,
        Listen::on(port),
        tls,
        pool,
        listener,
        &mut rx,
        &mut tx,
    )
    .await
}
