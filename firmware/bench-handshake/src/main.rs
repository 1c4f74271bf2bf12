//! Handshake benchmark image for the RP2040: the firmware's mutual-TLS
//! handshake, server and client in one image, over an in-memory pipe (no
//! network), timed with the RP2040's 1 MHz TIMER and printed on UART0.
//!
//! The server side is configured as the firmware's `tls_setup` does for a
//! board with a client list (its own certificate as the trust anchor, a
//! client certificate required, the client accepted by app-core's
//! fingerprint callback, linked in through `--wrap` as in the firmware);
//! the client trusts exactly the server's certificate and checks its name,
//! as `piconet` does. MbedTLS is the firmware's profile (mbedtls-rs 0.3.0,
//! `tls`, 4 KiB records). Then, with the board's session tickets set up
//! (app-core's `tickets`, as the firmware does at boot), handshakes that
//! resume a saved session: TLS 1.3 `psk_dhe_ke` and `psk_ke`, TLS 1.2.
//! Run it in rp2040js with
//! tests/emulator/handshake.test.mjs (firmware/README.md, "Handshake
//! benchmark").
#![no_std]
#![no_main]

extern crate alloc;
use tinyrlibc as _;

// The client side keeps TLS 1.3 tickets and offers the key exchange
// modes of the case being measured (resumed handshakes).
piconet_app_core::client_cert_verifier!(clients: bench_client);

mod pipe;

use core::cell::Cell;
use core::fmt::Write as _;
use core::future::{poll_fn, Future};
use core::mem::MaybeUninit;
use core::pin::pin;

use core::sync::atomic::{AtomicU32, Ordering};
use embassy_futures::block_on;
use embassy_futures::join::join;
use embassy_rp::uart::{self, Blocking, Uart};
use embassy_time::Instant;
use embedded_alloc::TlsfHeap;
use mbedtls_rs::sys::MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_ALL;
use mbedtls_rs::{
    AuthMode, Certificate, ClientSessionConfig, Credentials, PrivateKey, SavedSession,
    ServerSessionConfig, Session, SessionConfig, Tls, TlsReference, TlsVersion, X509,
};
use piconet_app_core::client_cert;
use piconet_app_core::entropy::Csprng;
use piconet_engine::{Client, Clients, Role};

use pipe::Pipe;

const SERVER_CERT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/server_cert.der"));
const SERVER_KEY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/server_key.der"));
const CLIENT_CERT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/client_cert.der"));
const CLIENT_KEY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/client_key.der"));

/// Both sides' MbedTLS state at once (two sessions ≈ 2 × 25 KB with 4 KiB
/// records, the parsed certificates and keys); the RP2040 has room, this
/// image is not the firmware.
const HEAP_SIZE: usize = 128 * 1024;

#[global_allocator]
static HEAP: TlsfHeap = TlsfHeap::empty();

/// The TIMER's rate is 1 MHz; the core runs at 125 MHz (embassy-rp's clock
/// setup; rp2040js counts 8 ns per cycle).
const CYCLES_PER_US: u64 = 125;

/// UART0 on GPIO 0 (TX) / 1 (RX), 115200 8N1.
type Console = Uart<'static, Blocking>;

struct Out<'a>(&'a mut Console);

impl core::fmt::Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0
            .blocking_write(s.as_bytes())
            .map_err(|_| core::fmt::Error)
    }
}

#[cortex_m_rt::entry]
fn main() -> ! {
    {
        static mut MEMORY: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
        // SAFETY: called once, before anything allocates; MEMORY is used by
        // the heap only.
        unsafe { HEAP.init(core::ptr::addr_of_mut!(MEMORY) as usize, HEAP_SIZE) }
    }
    let p = embassy_rp::init(Default::default());
    let mut console = Uart::new_blocking(p.UART0, p.PIN_0, p.PIN_1, uart::Config::default());
    let mut out = Out(&mut console);
    let _ = writeln!(out, "handshake bench: start");
    match run(&mut out) {
        Ok(()) => {
            let _ = writeln!(out, "handshake bench: done");
        }
        Err(e) => {
            let _ = writeln!(out, "handshake bench: FAILED: {e}");
        }
    }
    loop {
        cortex_m::asm::wfi();
    }
}

/// Fixed noise for the CSPRNG: the benchmark repeats run for run. (The
/// firmware seeds from the ring oscillator; the cost of the handshake does
/// not depend on the seed.)
fn bench_rng() -> &'static mut Csprng {
    static mut RNG: MaybeUninit<Csprng> = MaybeUninit::uninit();
    let mut n: u32 = 0x1234_5678;
    let rng = Csprng::from_noise(
        || {
            n = n.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (n >> 24) as u8
        },
        b"handshake bench",
    );
    // SAFETY: called once (from `run`), so this is the only reference.
    unsafe { (*core::ptr::addr_of_mut!(RNG)).write(rng) }
}

fn run(out: &mut Out<'_>) -> Result<(), &'static str> {
    let tls = Tls::new(bench_rng()).map_err(|_| "Tls::new")?;
    let tls = tls.reference();

    // The server: as the firmware's tls_setup for a board with a client list.
    let server_cert = Certificate::new(X509::DER(SERVER_CERT)).map_err(|_| "server cert")?;
    let mut server = ServerSessionConfig::new(Credentials {
        certificate: server_cert.clone(),
        private_key: PrivateKey::new(X509::DER(SERVER_KEY), None).map_err(|_| "server key")?,
    });
    server.ca_chain = Some(server_cert.clone());
    server.auth_mode = AuthMode::Required;
    let server = SessionConfig::Server(server);
    let listed = Clients::new([Client::new(
        "bench",
        client_cert::fingerprint(CLIENT_CERT).0,
        Role::Admin,
        None,
    )
    .map_err(|_| "client list")?])
    .map_err(|_| "client list")?;
    client_cert::set_listed(&listed);

    // The client: trusts exactly the server's certificate, checks its name.
    let mut client = ClientSessionConfig::new();
    client.ca_chain = Some(server_cert);
    client.server_name = Some(c"pico");
    client.auth_mode = AuthMode::Required;
    client.creds = Some(Credentials {
        certificate: Certificate::new(X509::DER(CLIENT_CERT)).map_err(|_| "client cert")?,
        private_key: PrivateKey::new(X509::DER(CLIENT_KEY), None).map_err(|_| "client key")?,
    });

    for (name, version) in [("TLS 1.3", None), ("TLS 1.2", Some(TlsVersion::Tls1_2))] {
        client.max_version = version;
        let client = SessionConfig::Client(client.clone());
        let (t, _) = full_handshake(tls, &server, &client)?;
        let _ = writeln!(
            out,
            "full mTLS handshake ({name}, ECDHE-ECDSA P-256): {} us, {} cycles at 125 MHz; \
             board (server) side {} us, {} cycles",
            t.total_us,
            t.total_us * CYCLES_PER_US,
            t.server_us,
            t.server_us * CYCLES_PER_US
        );
    }
    resumed(out, tls, &server, &client)
}

/// The client's TLS 1.3 key exchange modes for the next client session
/// (MbedTLS's `MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_*` bits).
static CLIENT_KEX_MODES: AtomicU32 = AtomicU32::new(MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_ALL);

/// The wrapper's hook for client configurations: keep TLS 1.3 tickets,
/// offer [`CLIENT_KEX_MODES`].
///
/// # Safety
/// `conf` is a valid client configuration (the wrapper's contract).
unsafe fn bench_client(conf: *mut mbedtls_rs::sys::mbedtls_ssl_config) {
    // SAFETY: the caller's contract.
    unsafe {
        piconet_app_core::tickets::keep_tls13_tickets(conf);
        mbedtls_rs::sys::mbedtls_ssl_conf_tls13_key_exchange_modes(
            conf,
            CLIENT_KEX_MODES.load(Ordering::Relaxed) as core::ffi::c_int,
        );
    }
}

/// Resumed handshakes (the board's session tickets, app-core's
/// `tickets`): per version one full handshake that leaves the client a
/// ticket, then the resumption, timed like the full one. TLS 1.3 twice:
/// `psk_dhe_ke` (an ECDHE on each side; the only mode rustls clients
/// offer) and `psk_ke` (no public-key work; a client offering only it);
/// TLS 1.2 has one abbreviated handshake (no public-key work).
fn resumed(
    out: &mut Out<'_>,
    tls: TlsReference<'_>,
    server: &SessionConfig<'_>,
    client: &ClientSessionConfig<'_>,
) -> Result<(), &'static str> {
    use mbedtls_rs::sys::{
        MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL as EPHEMERAL,
        MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK as PSK,
        MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL as PSK_EPHEMERAL,
    };
    // TLSF's `used()` panics in embedded-alloc 0.7.0; `free()` does not.
    let before = HEAP.free();
    piconet_app_core::tickets::setup().map_err(|_| "session tickets")?;
    let _ = writeln!(
        out,
        "session tickets: {} B of heap kept (2 AES-256-GCM keys, {} TLS 1.3 clients)",
        before - HEAP.free(),
        piconet_app_core::tickets::ISSUED
    );
    let mut client = client.clone();
    for (version, cases) in [
        (
            None,
            &[
                ("TLS 1.3, psk_dhe_ke", PSK_EPHEMERAL | EPHEMERAL),
                // Only psk_ke offered: MbedTLS's server prefers a full
                // (ephemeral) handshake to psk_ke when the client could
                // do either.
                ("TLS 1.3, psk_ke", PSK),
            ][..],
        ),
        (
            Some(TlsVersion::Tls1_2),
            &[(
                "TLS 1.2, session ticket",
                MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_ALL,
            )][..],
        ),
    ] {
        client.max_version = version;
        CLIENT_KEX_MODES.store(MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_ALL, Ordering::Relaxed);
        let config = SessionConfig::Client(client.clone());
        let (t, saved) = full_handshake(tls, server, &config)?;
        let saved = saved.ok_or("the client has no session to save")?;
        let _ = writeln!(
            out,
            "full mTLS handshake issuing a ticket ({}): {} us, {} cycles at 125 MHz; \
             board (server) side {} us, {} cycles",
            if version.is_some() {
                "TLS 1.2"
            } else {
                "TLS 1.3"
            },
            t.total_us,
            t.total_us * CYCLES_PER_US,
            t.server_us,
            t.server_us * CYCLES_PER_US
        );
        for &(name, modes) in cases {
            CLIENT_KEX_MODES.store(modes, Ordering::Relaxed);
            let config = SessionConfig::Client(client.clone());
            let t = resumed_handshake(tls, server, &config, &saved)?;
            let _ = writeln!(
                out,
                "resumed mTLS handshake ({name}): {} us, {} cycles at 125 MHz; \
                 board (server) side {} us, {} cycles",
                t.total_us,
                t.total_us * CYCLES_PER_US,
                t.server_us,
                t.server_us * CYCLES_PER_US
            );
        }
    }
    Ok(())
}

/// A handshake's microseconds: both peers together, and the server's
/// polls alone (what the board spends; the client is a computer).
struct Timing {
    total_us: u64,
    server_us: u64,
}

/// Polls `fut`, adding the TIMER microseconds each poll takes to `spent`.
/// The peers share one core and hand off through the pipe, so the
/// server's polls are exactly the server's work.
async fn timed<F: Future>(fut: F, spent: &Cell<u64>) -> F::Output {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        let start = Instant::now();
        let r = fut.as_mut().poll(cx);
        spent.set(spent.get() + start.elapsed().as_micros());
        r
    })
    .await
}

/// One full handshake between `server` and `client` over a new pipe, both
/// sides in this core (joined futures, polled until both finish), checked
/// to have accepted the client by its fingerprint, then one record each
/// way (the client's read takes in a TLS 1.3 ticket, when the board issues
/// them) and the client's session (for a resumption; `None` when the
/// server issued no ticket).
fn full_handshake(
    tls: TlsReference<'_>,
    server: &SessionConfig<'_>,
    client: &SessionConfig<'_>,
) -> Result<(Timing, Option<SavedSession>), &'static str> {
    let pipe = Pipe::new();
    let (a, b) = pipe.ends();
    let mut s = Session::new(tls, a, server).map_err(|_| "server session")?;
    let mut c = Session::new(tls, b, client).map_err(|_| "client session")?;
    client_cert::set_current(None);
    let _ = client_cert::take_verified();
    let (t, rs, rc) = join_timed(s.connect(), c.connect());
    rs.map_err(|_| "server handshake failed")?;
    rc.map_err(|_| "client handshake failed")?;
    if client_cert::take_verified() != Some(client_cert::fingerprint(CLIENT_CERT)) {
        return Err("the server did not accept the client by its fingerprint");
    }
    exchange(&mut s, &mut c)?;
    Ok((t, c.save().ok()))
}

/// `server` and `client` joined, until both finish, timed: both together,
/// and the server's polls alone ([`timed`]).
fn join_timed<S: Future, C: Future>(server: S, client: C) -> (Timing, S::Output, C::Output) {
    let server_us = Cell::new(0);
    let start = Instant::now();
    let (rs, rc) = block_on(join(timed(server, &server_us), client));
    let total_us = start.elapsed().as_micros();
    let t = Timing {
        total_us,
        server_us: server_us.get(),
    };
    (t, rs, rc)
}

/// One handshake resuming `saved`, timed as the full one ([`timed`]: both
/// sides, and the server's polls alone). Checks that the server resumed (its ticket callback
/// accepted one more ticket, its verify callback decided no certificate)
/// and still knows the client by its fingerprint.
fn resumed_handshake(
    tls: TlsReference<'_>,
    server: &SessionConfig<'_>,
    client: &SessionConfig<'_>,
    saved: &SavedSession,
) -> Result<Timing, &'static str> {
    let pipe = Pipe::new();
    let (a, b) = pipe.ends();
    let mut s = Session::new(tls, a, server).map_err(|_| "server session")?;
    let mut c = Session::new(tls, b, client).map_err(|_| "client session")?;
    client_cert::set_current(None);
    let _ = client_cert::take_verified();
    let accepted = piconet_app_core::tickets::accepted();
    let decided = client_cert::leaves_decided();
    let (t, rs, rc) = join_timed(s.connect(), c.connect_with_session(saved));
    rs.map_err(|_| "server resumption failed")?;
    rc.map_err(|_| "client resumption failed")?;
    if piconet_app_core::tickets::accepted() != accepted + 1 {
        return Err("the server accepted no ticket");
    }
    if client_cert::leaves_decided() != decided {
        return Err("the server verified a certificate: a full handshake");
    }
    if client_cert::take_verified() != Some(client_cert::fingerprint(CLIENT_CERT)) {
        return Err("the resumed session did not name the client");
    }
    exchange(&mut s, &mut c)?;
    Ok(t)
}

/// One application record each way.
fn exchange<A, B>(s: &mut Session<'_, A>, c: &mut Session<'_, B>) -> Result<(), &'static str>
where
    A: embedded_io_async::Read + embedded_io_async::Write,
    B: embedded_io_async::Read + embedded_io_async::Write,
{
    use embedded_io_async::{Read, Write};
    block_on(async {
        let mut buf = [0u8; 4];
        c.write_all(b"ping").await.map_err(|_| "client write")?;
        c.flush().await.map_err(|_| "client flush")?;
        s.read_exact(&mut buf).await.map_err(|_| "server read")?;
        if &buf != b"ping" {
            return Err("server read other bytes");
        }
        s.write_all(b"pong").await.map_err(|_| "server write")?;
        s.flush().await.map_err(|_| "server flush")?;
        c.read_exact(&mut buf).await.map_err(|_| "client read")?;
        if &buf != b"pong" {
            return Err("client read other bytes");
        }
        Ok(())
    })
}

// MbedTLS's self-test and debug-print code refers to printf/puts; nothing
// this image runs calls them (as in the firmware's main.rs).
#[no_mangle]
extern "C" fn printf(_format: *const core::ffi::c_char) -> core::ffi::c_int {
    0
}

#[no_mangle]
extern "C" fn puts(_s: *const core::ffi::c_char) -> core::ffi::c_int {
    0
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        cortex_m::asm::wfi();
    }
}
