//! The firmware's network path on the host.
//!
//! Two embassy-net stacks joined by an in-memory Ethernet cable
//! ([`link::cable`]): the "board" stack runs app-core's listener (the same
//! `listener::run` the firmware's socket tasks run, with the firmware's
//! buffer sizes, TLS permits and MbedTLS profile) and its lease timer over
//! piconet-sim's `SimBoard`; the "client" stack is the test's. Everything is
//! polled by one thread (`futures_executor::block_on`) on embassy-time's std
//! driver.

pub mod heap;
pub mod link;
pub mod mdns;

// The verify callback of a board with a client list and the board's
// session tickets, as in the firmware (build.rs links with
// `--wrap=mbedtls_ssl_conf_authmode`); the test's MbedTLS clients keep
// the TLS 1.3 tickets they get, so they can resume.
piconet_app_core::client_cert_verifier!(clients: piconet_app_core::tickets::keep_tls13_tickets);

use std::future::Future;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use embassy_futures::join::join;
use embassy_futures::select::{select, Either};
use embassy_net::{Ipv4Address, Ipv4Cidr, Stack, StackResources, StaticConfigV4};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::semaphore::GreedySemaphore;
use embassy_time::Duration;
use embedded_io_async::{Read, Write};
use mbedtls_rs::{
    AuthMode, Certificate, ClientSessionConfig, Credentials, PrivateKey, ServerSessionConfig,
    SessionConfig, Tls, TlsReference, X509,
};
use piconet_app_core::conn::Frame;
use piconet_app_core::entropy::Csprng;
use piconet_app_core::gate::{self, Gate};
use piconet_app_core::listener::sizes::{
    CHUNK, LINE_BUF, LISTENERS, OUT_BUF, RX_BUF, SOCKETS, TLS_SESSIONS, TX_BUF,
};
use piconet_app_core::listener::{self, Frames, Listen, Pool, TlsServer};
use piconet_app_core::{lease, Shared};
use piconet_engine::slots::SlotLimits;
use piconet_engine::Config;
use piconet_sim::SimBoard;

/// The board's engine and shared state, as in the firmware.
pub type Sh = Shared<CriticalSectionRawMutex, SimBoard>;

/// The board's connection slots, as in the firmware.
pub type BoardGate = Gate<CriticalSectionRawMutex, embassy_net::IpAddress, SOCKETS, LISTENERS>;

/// The board's address on the cable.
pub const BOARD_IP: Ipv4Address = Ipv4Address::new(10, 42, 0, 1);
/// The client's address.
pub const CLIENT_IP: Ipv4Address = Ipv4Address::new(10, 42, 0, 2);
/// The port the board serves.
pub const PORT: u16 = 12345;

/// A client socket connected to the board's port, 10 s for each step.
pub async fn connect<'a>(
    stack: Stack<'a>,
    rx: &'a mut [u8],
    tx: &'a mut [u8],
) -> embassy_net::tcp::TcpSocket<'a> {
    let mut s = embassy_net::tcp::TcpSocket::new(stack, rx, tx);
    s.set_timeout(Some(Duration::from_secs(10)));
    s.connect((BOARD_IP, PORT)).await.expect("TCP connect");
    s
}

/// What a test body gets.
pub struct Env {
    /// The board's state (engine with the SimBoard, client count).
    pub shared: &'static Sh,
    /// The client's network stack.
    pub client: Stack<'static>,
    /// Client TLS: the MbedTLS instance and a configuration that trusts the
    /// board's certificate. `None` when the board serves plaintext.
    pub tls: Option<(TlsReference<'static>, &'static SessionConfig<'static>)>,
    /// Board-side MbedTLS heap taken by parsing the certificate and key
    /// (the firmware does it once at boot), 0 without TLS.
    pub identity_heap: usize,
    /// The board's slot table.
    pub gate: &'static BoardGate,
}

fn leak<T>(v: T) -> &'static mut T {
    Box::leak(Box::new(v))
}

fn stack_config(ip: Ipv4Address) -> embassy_net::Config {
    embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(ip, 24),
        gateway: None,
        dns_servers: Default::default(),
    })
}

/// An EC P-256 certificate (CN=pico) and key, DER, made once per run with
/// the `openssl` command (nothing secret is stored in the repository).
pub struct Identity {
    /// Certificate, DER.
    pub cert: Vec<u8>,
    /// Private key, SEC1 DER.
    pub key: Vec<u8>,
}

/// The test identity.
pub fn identity() -> &'static Identity {
    static ID: OnceLock<Identity> = OnceLock::new();
    ID.get_or_init(|| make_identity("pico"))
}

/// Client identity `n` (0 to 2; CN=client-N), made once per run.
pub fn client_identity(n: usize) -> &'static Identity {
    static IDS: [OnceLock<Identity>; 3] = [const { OnceLock::new() }; 3];
    IDS[n].get_or_init(|| make_identity(&format!("client-{n}")))
}

fn make_identity(cn: &str) -> Identity {
    {
        let dir =
            std::env::temp_dir().join(format!("piconet-host-test-{}-{cn}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let run = |args: &[&str]| {
            let st = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .status()
                .expect("the openssl command is needed to make a test certificate");
            assert!(st.success(), "openssl {args:?}");
        };
        run(&[
            "ecparam",
            "-genkey",
            "-name",
            "prime256v1",
            "-noout",
            "-outform",
            "DER",
            "-out",
            "key.der",
        ]);
        run(&[
            "req",
            "-new",
            "-x509",
            "-key",
            "key.der",
            "-keyform",
            "DER",
            "-subj",
            &format!("/CN={cn}"),
            "-days",
            "2",
            "-outform",
            "DER",
            "-out",
            "cert.der",
        ]);
        let id = Identity {
            cert: std::fs::read(dir.join("cert.der")).unwrap(),
            key: std::fs::read(dir.join("key.der")).unwrap(),
        };
        let _ = std::fs::remove_dir_all(&dir);
        id
    }
}

/// The one MbedTLS instance of the process (MbedTLS allows one), with the
/// counting allocator installed first.
pub fn tls() -> TlsReference<'static> {
    static TLS: OnceLock<Tls<'static>> = OnceLock::new();
    heap::install();
    TLS.get_or_init(|| {
        let mut n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let rng = leak(Csprng::from_noise(
            || {
                n = n
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (n >> 64) as u8
            },
            &std::process::id().to_le_bytes(),
        ));
        let tls = Tls::new(rng).unwrap();
        // MbedTLS's global PSA crypto state, which the first session would
        // otherwise set up (and keep): set up here, measured once.
        let before = heap::live(heap::Side::Board);
        // SAFETY: plain initialisation call, no arguments.
        assert_eq!(unsafe { mbedtls_rs::sys::psa_crypto_init() }, 0);
        PSA_HEAP.store(
            heap::live(heap::Side::Board) - before,
            std::sync::atomic::Ordering::Relaxed,
        );
        // The board's session tickets, set up at boot as the firmware does.
        let before = heap::live(heap::Side::Board);
        piconet_app_core::tickets::setup().expect("session tickets");
        TICKET_HEAP.store(
            heap::live(heap::Side::Board) - before,
            std::sync::atomic::Ordering::Relaxed,
        );
        tls
    })
    .reference()
}

static PSA_HEAP: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

static TICKET_HEAP: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Board-side heap the session tickets keep for the whole run (their two
/// keys and the TLS 1.3 clients, app-core's `tickets`; set up at boot).
pub fn ticket_heap() -> usize {
    TICKET_HEAP.load(std::sync::atomic::Ordering::Relaxed)
}

/// Board-side heap MbedTLS's global PSA crypto state keeps for the whole
/// run (allocated at the first session; on the firmware too).
pub fn psa_heap() -> usize {
    PSA_HEAP.load(std::sync::atomic::Ordering::Relaxed)
}

/// The board's TLS configuration: the identity, parsed (on the board side
/// of the heap counter).
pub fn server_config(id: &Identity) -> SessionConfig<'static> {
    let certificate = Certificate::new(X509::DER(leak(id.cert.clone()))).unwrap();
    let private_key = PrivateKey::new(X509::DER(&id.key), None).unwrap();
    SessionConfig::Server(ServerSessionConfig::new(Credentials {
        certificate,
        private_key,
    }))
}

/// The board's configuration while it has a client list, as the firmware
/// makes it: the same identity, a client certificate required, the
/// board's own certificate as the trust anchor (see app-core's
/// `client_cert`).
pub fn mtls_server_config(id: &Identity) -> SessionConfig<'static> {
    let certificate = Certificate::new(X509::DER(leak(id.cert.clone()))).unwrap();
    let private_key = PrivateKey::new(X509::DER(&id.key), None).unwrap();
    let mut c = ServerSessionConfig::new(Credentials {
        certificate: certificate.clone(),
        private_key,
    });
    c.ca_chain = Some(certificate);
    c.auth_mode = AuthMode::Required;
    SessionConfig::Server(c)
}

/// A client configuration (leaked) that trusts the board and presents
/// `me`'s certificate (none: `None`), at most TLS `max_version`.
pub fn client_config_as(
    me: Option<&Identity>,
    max_version: Option<mbedtls_rs::TlsVersion>,
) -> &'static SessionConfig<'static> {
    let SessionConfig::Client(mut c) = client_config(identity()) else {
        unreachable!("client_config makes a client configuration")
    };
    c.max_version = max_version;
    c.creds = me.map(|me| {
        heap::as_client(|| Credentials {
            certificate: Certificate::new(X509::DER(leak(me.cert.clone()))).unwrap(),
            private_key: PrivateKey::new(X509::DER(&me.key), None).unwrap(),
        })
    });
    leak(SessionConfig::Client(c))
}

/// The client's TLS configuration: trust exactly the board's certificate,
/// and check its name.
pub fn client_config(id: &Identity) -> SessionConfig<'static> {
    heap::as_client(|| {
        let mut c = ClientSessionConfig::new();
        c.ca_chain = Some(Certificate::new(X509::DER(leak(id.cert.clone()))).unwrap());
        c.server_name = Some(c"pico");
        c.auth_mode = AuthMode::Required;
        SessionConfig::Client(c)
    })
}

/// Tests share one MbedTLS instance and the heap counter: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Run `body` against a board serving plaintext (`tls: false`) or TLS.
///
/// The board side is what the firmware's tasks run: four listeners
/// (`listener::run`, the firmware's sizes) sharing three connection slots
/// (the firmware's gate and limits) and two TLS permits, and the lease
/// timer. The body is polled as the client for the heap counter.
pub fn run<Fut: Future<Output = ()>>(tls: bool, body: impl FnOnce(Env) -> Fut) {
    run_with(tls, Listen::on(PORT), body)
}

/// [`run`] with the board's listeners on `listen` (other limits).
pub fn run_with<Fut: Future<Output = ()>>(
    tls: bool,
    listen: Listen,
    body: impl FnOnce(Env) -> Fut,
) {
    run_with_slots(tls, listen, gate::limits::SLOT_LIMITS, body)
}

/// [`run_with`] with other slot limits than the firmware's (a test whose
/// one client address needs every slot).
pub fn run_with_slots<Fut: Future<Output = ()>>(
    tls: bool,
    listen: Listen,
    slots: SlotLimits,
    body: impl FnOnce(Env) -> Fut,
) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (board_end, client_end) = link::cable();
    let (board_stack, mut board_runner) = embassy_net::new(
        board_end,
        stack_config(BOARD_IP),
        leak(StackResources::<{ LISTENERS + 1 }>::new()),
        1,
    );
    let (client_stack, mut client_runner) = embassy_net::new(
        client_end,
        stack_config(CLIENT_IP),
        leak(StackResources::<8>::new()),
        2,
    );
    let shared: &'static Sh = leak(Shared::new(SimBoard::new(), Config::default()));
    shared.set_link_up(true);

    let permits = GreedySemaphore::<CriticalSectionRawMutex>::new(TLS_SESSIONS);
    let mut identity_heap = 0;
    let (server, client_tls) = if tls {
        let r = self::tls();
        let id = identity();
        let before = heap::live(heap::Side::Board);
        let server: &'static SessionConfig<'static> = leak(server_config(id));
        identity_heap = heap::live(heap::Side::Board) - before;
        let mtls: &'static SessionConfig<'static> = leak(mtls_server_config(id));
        let client: &'static SessionConfig<'static> = leak(client_config(id));
        (
            Some(TlsServer {
                tls: r,
                config: server,
                mtls_config: mtls,
                permits: &permits,
                handshake_timeout: Duration::from_secs(20),
            }),
            Some((r, client)),
        )
    } else {
        (None, None)
    };

    let gate: &'static BoardGate = leak(Gate::new(slots));
    let frames: &'static Frames<CriticalSectionRawMutex, SOCKETS, LINE_BUF, OUT_BUF, CHUNK> =
        leak(core::array::from_fn(|_| {
            embassy_sync::mutex::Mutex::new(Frame::new())
        }));
    let pool = Pool { gate, frames };
    let mut rxs = vec![[0u8; RX_BUF]; LISTENERS];
    let mut txs = vec![[0u8; TX_BUF]; LISTENERS];
    let env = Env {
        shared,
        client: client_stack,
        tls: client_tls,
        identity_heap,
        gate,
    };
    futures_executor::block_on(async {
        let listeners: Vec<_> = rxs
            .iter_mut()
            .zip(txs.iter_mut())
            .enumerate()
            .map(|(i, (rx, tx))| {
                listener::run(shared, board_stack, listen, server, pool, i, rx, tx)
            })
            .collect();
        let listeners: [_; LISTENERS] = listeners.try_into().unwrap_or_else(|_| unreachable!());
        let listeners = embassy_futures::join::join_array(listeners);
        let board = join(listeners, lease::run(shared));
        let nets = join(board_runner.run(), client_runner.run());
        match select(join(board, nets), heap::AsClient(body(env))).await {
            Either::First(_) => unreachable!(),
            Either::Second(()) => {}
        }
    });
}

/// A line-oriented client over any byte stream (a TcpSocket, a TLS session).
pub struct LineClient<S> {
    /// The stream.
    pub io: S,
    buf: Vec<u8>,
}

impl<S: Read + Write> LineClient<S> {
    /// Wrap a connected stream.
    pub fn new(io: S) -> Self {
        LineClient {
            io,
            buf: Vec::new(),
        }
    }

    /// Send raw bytes (no newline added) and flush.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.expect("write");
        self.io.flush().await.expect("flush");
    }

    /// The next reply line, parsed; `None` at end of stream.
    pub async fn reply(&mut self) -> Option<serde_json::Value> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Some(serde_json::from_slice(&line).expect("a JSON reply"));
            }
            let mut chunk = [0u8; 512];
            let n = self.io.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Send one command line and return its reply.
    pub async fn call(&mut self, line: &str) -> serde_json::Value {
        self.send(format!("{line}\n").as_bytes()).await;
        self.reply()
            .await
            .expect("a reply before the end of the stream")
    }
}
