//! TLS session resumption on the board: session tickets, TLS 1.2
//! (RFC 5077, an abbreviated handshake without public-key work) and TLS 1.3
//! (a NewSessionTicket PSK; `psk_ke` without, `psk_dhe_ke` with an ECDHE).
//!
//! mbedtls-rs 0.3 has no ticket API; its `sys` bindings do. [`setup`] makes
//! one board-wide MbedTLS ticket context (two AES-256-GCM keys from the
//! board's CSPRNG, on the MbedTLS heap), and the `mbedtls_ssl_conf_authmode`
//! wrapper ([`crate::client_cert::conf_authmode`]) attaches it to every
//! server configuration ([`attach`]). The keys rotate every
//! [`KEY_PERIOD`] (MbedTLS keeps the previous key), so a ticket resumes
//! for one to two periods after it was issued, and never after a reboot.
//! (This MbedTLS build has no `MBEDTLS_HAVE_TIME`, so it checks no ticket
//! age itself: the rotation, on embassy-time's clock, is the expiry.)
//!
//! Identity: a resumed handshake runs no verify callback, so on a board
//! with a client list the ticket itself must name the client, and the list
//! of now decides ([`crate::client_cert::admit`]): a client revoked after
//! its ticket was issued falls back to a full handshake, which refuses it.
//! - TLS 1.2: MbedTLS keeps the client's certificate in the encrypted
//!   ticket (`MBEDTLS_SSL_KEEP_PEER_CERTIFICATE`); its DER's SHA-256 is the
//!   client.
//! - TLS 1.3: MbedTLS's TLS 1.3 ticket holds no certificate, so the board
//!   remembers the client of the last [`ISSUED`] tickets it wrote, keyed by
//!   a hash of the ticket's resumption key (secret, one per ticket, inside
//!   the encrypted ticket). An older TLS 1.3 ticket parses but names no
//!   client: a full handshake again.
//!
//! A ticket that names no listed client is answered as MbedTLS answers a
//! forged one (`INVALID_MAC`): the ticket is ignored and the handshake goes
//! on as a full one. On a board without a list every ticket that decrypts
//! resumes.
//!
//! The callbacks run inside a poll of one session's handshake (one core,
//! one executor), as the verify callback does; the client of that
//! handshake is [`crate::client_cert::current`].

use core::cell::Cell;
use core::ffi::{c_int, c_uchar, c_void};
use core::ptr::{self, null_mut};
use core::sync::atomic::{AtomicPtr, Ordering};

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::blocking_mutex::Mutex;
use embassy_time::{Duration, Instant};
use mbedtls_rs::sys::{
    mbedtls_calloc, mbedtls_cipher_type_t_MBEDTLS_CIPHER_AES_256_GCM, mbedtls_free,
    mbedtls_platform_zeroize, mbedtls_ssl_conf_session_tickets_cb, mbedtls_ssl_config,
    mbedtls_ssl_protocol_version_MBEDTLS_SSL_VERSION_TLS1_3, mbedtls_ssl_session,
    mbedtls_ssl_ticket_context, mbedtls_ssl_ticket_free, mbedtls_ssl_ticket_init,
    mbedtls_ssl_ticket_parse, mbedtls_ssl_ticket_rotate, mbedtls_ssl_ticket_setup,
    mbedtls_ssl_ticket_write, psa_crypto_init, psa_generate_random,
    MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED, MBEDTLS_ERR_SSL_INVALID_MAC,
};
use piconet_engine::Fingerprint;
use sha2::{Digest, Sha256};

use crate::client_cert;

/// How long a ticket key is the one new tickets are sealed with; it is
/// still accepted for one more period after the next key replaced it.
pub const KEY_PERIOD: Duration = Duration::from_secs(60 * 60);

/// The lifetime the board announces with each ticket, in seconds: a
/// ticket resumes at least this long (one [`KEY_PERIOD`]).
pub const LIFETIME_HINT_S: u32 = 60 * 60;

/// TLS 1.3 tickets whose client the board remembers (the newest).
pub const ISSUED: usize = 16;

/// Bytes of a resumption key's hash kept to find its ticket's client.
const TAG_LEN: usize = 8;

/// A TLS 1.3 ticket the board wrote for a client.
#[derive(Clone, Copy)]
struct Issued {
    tag: [u8; TAG_LEN],
    client: Fingerprint,
}

/// Everything the tickets keep, on the MbedTLS heap (allocated once by
/// [`setup`], never freed): the static RAM budget has no room for it.
struct State {
    keys: mbedtls_ssl_ticket_context,
    issued: heapless::Deque<Issued, ISSUED>,
    rotated_at: Instant,
    accepted: u32,
}

/// The state once [`setup`] made it.
static STATE: AtomicPtr<State> = AtomicPtr::new(null_mut());

/// Set while a callback uses [`STATE`]. Not a critical section around
/// the callback: a ticket's AES-GCM (and, for TLS 1.2, parsing the client
/// certificate inside it) would keep interrupts off for too long.
static BUSY: Mutex<CriticalSectionRawMutex, Cell<bool>> = Mutex::new(Cell::new(false));

/// Why [`setup`] failed: no tickets, every handshake is a full one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupError {
    /// Already set up (once per boot).
    AlreadySetUp,
    /// The MbedTLS heap had no room for the ticket state.
    OutOfHeap,
    /// MbedTLS or PSA failed (their error code).
    MbedTls(c_int),
}

/// Make the board's ticket keys (from the board's CSPRNG, the one handed
/// to `mbedtls_rs::Tls::new`, which must exist) and attach them, from now
/// on, to every server session. Call once at boot, before serving.
pub fn setup() -> Result<(), SetupError> {
    if !STATE.load(Ordering::Acquire).is_null() {
        return Err(SetupError::AlreadySetUp);
    }
    // SAFETY: plain calls; the allocation is checked and fully written
    // before it is published, and only freed on the error path before that.
    unsafe {
        let r = psa_crypto_init();
        if r != 0 {
            return Err(SetupError::MbedTls(r));
        }
        let state = mbedtls_calloc(1, size_of::<State>()).cast::<State>();
        if state.is_null() {
            return Err(SetupError::OutOfHeap);
        }
        ptr::write(
            state,
            State {
                keys: mbedtls_ssl_ticket_context::default(),
                issued: heapless::Deque::new(),
                rotated_at: Instant::now(),
                accepted: 0,
            },
        );
        let keys = &raw mut (*state).keys;
        mbedtls_ssl_ticket_init(keys);
        let r = mbedtls_ssl_ticket_setup(
            keys,
            Some(board_random),
            null_mut(),
            mbedtls_cipher_type_t_MBEDTLS_CIPHER_AES_256_GCM,
            LIFETIME_HINT_S,
        );
        if r != 0 {
            mbedtls_ssl_ticket_free(keys);
            mbedtls_free(state.cast());
            return Err(SetupError::MbedTls(r));
        }
        STATE.store(state, Ordering::Release);
    }
    Ok(())
}

/// Tickets MbedTLS decrypted and the board accepted since boot: each
/// one a resumed handshake, unless the handshake then failed or (TLS 1.3)
/// went on as a full one because no PSK mode suited both sides.
pub fn accepted() -> u32 {
    with_state(|s| s.accepted).unwrap_or(0)
}

/// Replace the older ticket key now, as [`KEY_PERIOD`] does: tickets
/// sealed by the key in use stay valid until the next rotation, older
/// ones no longer resume. `Err`: not set up, or MbedTLS's error code.
pub fn rotate_keys() -> Result<(), c_int> {
    with_state(rotate).unwrap_or(Err(MBEDTLS_ERR_SSL_INVALID_MAC))
}

/// Give a server configuration the board's tickets (nothing before
/// [`setup`]). `listed`: the configuration of a board with a client list,
/// where a ticket must name a listed client.
///
/// # Safety
/// `conf` must be a valid server configuration.
pub unsafe fn attach(conf: *mut mbedtls_ssl_config, listed: bool) {
    if STATE.load(Ordering::Acquire).is_null() {
        return;
    }
    let mode: *const u8 = if listed { &LISTED } else { &OPEN };
    // SAFETY: the caller's contract; the callbacks and the mode marker
    // live for the whole program.
    unsafe {
        mbedtls_ssl_conf_session_tickets_cb(
            conf,
            Some(write_ticket),
            Some(parse_ticket),
            mode.cast_mut().cast(),
        )
    };
}

/// For a TLS client built with these bindings (the benchmark's and the
/// host test's, through [`crate::client_cert_verifier!`]'s `clients:`
/// hook): keep the TLS 1.3 tickets a server sends, so the session can be
/// saved and resumed (MbedTLS 3.6 drops them by default).
///
/// # Safety
/// `conf` must be a valid client configuration.
pub unsafe fn keep_tls13_tickets(conf: *mut mbedtls_ssl_config) {
    // SAFETY: the caller's contract.
    unsafe {
        mbedtls_rs::sys::mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(
            conf,
            mbedtls_rs::sys::MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED as c_int,
        )
    };
}

/// The mode markers handed to the callbacks as `p_ticket` (their
/// addresses are what counts).
static OPEN: u8 = 0;
static LISTED: u8 = 1;

/// Run `f` on the state (`None`: not set up, or already in use, which
/// the single executor never does).
fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> Option<R> {
    let state = STATE.load(Ordering::Acquire);
    if state.is_null() || BUSY.lock(|b| b.replace(true)) {
        return None;
    }
    // SAFETY: published once by `setup`, never freed; BUSY makes this the
    // only reference while `f` runs.
    let r = f(unsafe { &mut *state });
    BUSY.lock(|b| b.set(false));
    Some(r)
}

/// MbedTLS's RNG callback for the ticket keys and IVs: the board's CSPRNG
/// through PSA (`MBEDTLS_PSA_CRYPTO_EXTERNAL_RNG`, mbedtls-rs's hook).
///
/// # Safety
/// `out` must be valid for `len` bytes.
unsafe extern "C" fn board_random(_: *mut c_void, out: *mut c_uchar, len: usize) -> c_int {
    // SAFETY: the caller's contract.
    if unsafe { psa_generate_random(out, len) } == 0 {
        0
    } else {
        MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED
    }
}

/// Replace the older key when the active one is [`KEY_PERIOD`] old.
fn rotate_if_due(s: &mut State) -> Result<(), c_int> {
    if Instant::now().saturating_duration_since(s.rotated_at) < KEY_PERIOD {
        return Ok(());
    }
    rotate(s)
}

/// Replace the older key by a fresh one (name and key from the board's
/// CSPRNG), which seals the tickets from now on.
fn rotate(s: &mut State) -> Result<(), c_int> {
    let mut fresh = [0u8; 4 + 32];
    // SAFETY: valid buffers; the key context was set up.
    unsafe {
        let r = board_random(null_mut(), fresh.as_mut_ptr(), fresh.len());
        let r = if r == 0 {
            mbedtls_ssl_ticket_rotate(
                &mut s.keys,
                fresh.as_ptr(),
                4,
                fresh[4..].as_ptr(),
                32,
                LIFETIME_HINT_S,
            )
        } else {
            r
        };
        mbedtls_platform_zeroize(fresh.as_mut_ptr().cast(), fresh.len());
        if r != 0 {
            return Err(r);
        }
    }
    s.rotated_at = Instant::now();
    Ok(())
}

fn is_tls13(session: &mbedtls_ssl_session) -> bool {
    session.private_tls_version == mbedtls_ssl_protocol_version_MBEDTLS_SSL_VERSION_TLS1_3
}

/// The tag of a TLS 1.3 session's ticket: a hash of its resumption key.
fn tag(session: &mbedtls_ssl_session) -> [u8; TAG_LEN] {
    let len = usize::from(session.private_resumption_key_len).min(48);
    let h = Sha256::new()
        .chain_update(b"piconet ticket tag")
        .chain_update(&session.private_resumption_key[..len])
        .finalize();
    let mut t = [0u8; TAG_LEN];
    t.copy_from_slice(&h[..TAG_LEN]);
    t
}

/// The client a parsed ticket names, if any.
fn named_client(s: &State, session: &mbedtls_ssl_session) -> Option<Fingerprint> {
    if is_tls13(session) {
        let t = tag(session);
        s.issued.iter().find(|i| i.tag == t).map(|i| i.client)
    } else {
        // SAFETY: a session MbedTLS just loaded: `peer_cert` is null or a
        // parsed certificate whose `raw` is its DER.
        unsafe {
            let crt = session.private_peer_cert.as_ref()?;
            if crt.raw.p.is_null() {
                return None;
            }
            let der = core::slice::from_raw_parts(crt.raw.p, crt.raw.len);
            Some(client_cert::fingerprint(der))
        }
    }
}

/// MbedTLS's `f_ticket_write`: MbedTLS's own ticket, and for TLS 1.3 the
/// handshake's client remembered.
///
/// # Safety
/// Called by MbedTLS only, with its arguments for `mbedtls_ssl_ticket_write`.
unsafe extern "C" fn write_ticket(
    _mode: *mut c_void,
    session: *const mbedtls_ssl_session,
    start: *mut c_uchar,
    end: *const c_uchar,
    tlen: *mut usize,
    lifetime: *mut u32,
) -> c_int {
    with_state(|s| {
        if let Err(r) = rotate_if_due(s) {
            return r;
        }
        // SAFETY: MbedTLS's arguments, passed on; the key context was set up.
        let r = unsafe {
            mbedtls_ssl_ticket_write(&raw mut s.keys as _, session, start, end, tlen, lifetime)
        };
        // SAFETY: MbedTLS passes a valid session.
        let session = unsafe { &*session };
        if r == 0 && is_tls13(session) {
            if let Some(client) = client_cert::current() {
                if s.issued.is_full() {
                    s.issued.pop_front();
                }
                let _ = s.issued.push_back(Issued {
                    tag: tag(session),
                    client,
                });
            }
        }
        r
    })
    .unwrap_or(MBEDTLS_ERR_SSL_INVALID_MAC)
}

/// MbedTLS's `f_ticket_parse`: MbedTLS's own check (authentic, sealed by
/// a current key), then, on a board with a client list, the client the
/// ticket names must be listed now.
///
/// # Safety
/// Called by MbedTLS only, with its arguments for `mbedtls_ssl_ticket_parse`.
unsafe extern "C" fn parse_ticket(
    mode: *mut c_void,
    session: *mut mbedtls_ssl_session,
    buf: *mut c_uchar,
    len: usize,
) -> c_int {
    let listed = ptr::eq(mode.cast_const().cast::<u8>(), &LISTED);
    with_state(|s| {
        if let Err(r) = rotate_if_due(s) {
            return r;
        }
        // SAFETY: MbedTLS's arguments, passed on; the key context was set up.
        let r = unsafe { mbedtls_ssl_ticket_parse(&raw mut s.keys as _, session, buf, len) };
        if r != 0 {
            return r;
        }
        if listed {
            // SAFETY: the session MbedTLS just loaded.
            let named = named_client(s, unsafe { &*session });
            if !named.is_some_and(client_cert::admit) {
                return MBEDTLS_ERR_SSL_INVALID_MAC;
            }
        }
        s.accepted = s.accepted.wrapping_add(1);
        0
    })
    .unwrap_or(MBEDTLS_ERR_SSL_INVALID_MAC)
}
