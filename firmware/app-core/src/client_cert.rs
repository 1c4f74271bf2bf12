//! Client certificates on a board with a client list: MbedTLS asks for
//! one and accepts exactly the certificates the list names by SHA-256.
//!
//! mbedtls-rs 0.3 offers a server neither a verify callback nor the peer
//! certificate after the handshake, so the firmware installs MbedTLS's
//! own verify callback itself: the link wraps `mbedtls_ssl_conf_authmode`
//! (`--wrap`, see app/build.rs and host-test/build.rs), and for a server
//! configuration that requires a client certificate the wrapper also sets
//! [`verify_listed`] as its `f_vrfy`. That configuration's trust anchor is
//! the board's own certificate, which signs no client: MbedTLS marks every
//! client certificate untrusted, and the callback clears the mark for a
//! leaf whose DER hashes to a listed fingerprint. MbedTLS checks the
//! client's `CertificateVerify` signature with that certificate's key, so
//! the handshake proves the client holds the listed certificate's key; a
//! missing or unlisted certificate fails the handshake with an alert,
//! before any command is read. Works for TLS 1.2 and 1.3 alike.
//!
//! The callback runs synchronously inside a poll of one session's
//! handshake (one core, one executor): [`crate::tls::serve_tls`] copies
//! the engine's fingerprints into [`LISTED`] before each poll and takes
//! the accepted fingerprint from [`VERIFIED`] after it, so it belongs to
//! that session.
//!
//! A resumed session (a session ticket, [`crate::tickets`]) runs no verify
//! callback: the ticket callback names the client instead, through
//! [`admit`], against the same list, so a revoked client cannot resume.

use core::cell::{Cell, RefCell};
use core::ffi::{c_int, c_void};

use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::blocking_mutex::Mutex;
use mbedtls_rs::sys::{
    mbedtls_ssl_conf_verify, mbedtls_ssl_config, mbedtls_x509_crt, MBEDTLS_SSL_IS_SERVER,
    MBEDTLS_SSL_VERIFY_REQUIRED, MBEDTLS_X509_BADCERT_OTHER,
};
use piconet_engine::clients::MAX_CLIENTS;
use piconet_engine::{Clients, Fingerprint};
use sha2::{Digest, Sha256};

type Listed = heapless::Vec<Fingerprint, MAX_CLIENTS>;

/// The fingerprints the callback accepts: the engine's list as of the
/// start of the handshake poll running now.
static LISTED: Mutex<CriticalSectionRawMutex, RefCell<Listed>> =
    Mutex::new(RefCell::new(heapless::Vec::new()));

/// The leaf fingerprint the callback accepted in the poll running now.
static VERIFIED: Mutex<CriticalSectionRawMutex, Cell<Option<Fingerprint>>> =
    Mutex::new(Cell::new(None));

/// The client of the handshake being polled now, once known: the
/// verify callback or a ticket named it, in this poll or an earlier one
/// ([`crate::tls::serve_tls`] sets it before each poll). A TLS 1.3 ticket
/// written in this poll is issued to it.
static CURRENT: Mutex<CriticalSectionRawMutex, Cell<Option<Fingerprint>>> =
    Mutex::new(Cell::new(None));

/// How many client leaf certificates the verify callback has decided
/// (accepted or not) since boot: a resumed handshake adds none.
static LEAVES_DECIDED: Mutex<CriticalSectionRawMutex, Cell<u32>> = Mutex::new(Cell::new(0));

/// Make `clients` the list the callback checks (before polling a
/// handshake that requires a client certificate).
pub fn set_listed(clients: &Clients) {
    LISTED.lock(|l| {
        let mut l = l.borrow_mut();
        l.clear();
        for c in clients.as_slice() {
            // At most MAX_CLIENTS, as the list itself.
            let _ = l.push(c.sha256);
        }
    });
}

/// The fingerprint the callback accepted since the last call, if any.
pub fn take_verified() -> Option<Fingerprint> {
    VERIFIED.lock(Cell::take)
}

/// Set the client of the handshake about to be polled (`None`: not known
/// yet, or no handshake).
pub fn set_current(client: Option<Fingerprint>) {
    CURRENT.lock(|c| c.set(client));
}

/// The client of the handshake being polled, if known.
pub fn current() -> Option<Fingerprint> {
    CURRENT.lock(Cell::get)
}

/// Client leaf certificates the verify callback decided since boot.
pub fn leaves_decided() -> u32 {
    LEAVES_DECIDED.lock(Cell::get)
}

/// Accept `client` for the handshake being polled if the list names it:
/// it becomes the poll's verified client (and [`current`]).
pub fn admit(client: Fingerprint) -> bool {
    if LISTED.lock(|l| l.borrow().contains(&client)) {
        VERIFIED.lock(|v| v.set(Some(client)));
        CURRENT.lock(|c| c.set(Some(client)));
        true
    } else {
        false
    }
}

/// The fingerprint of a certificate's DER.
pub fn fingerprint(der: &[u8]) -> Fingerprint {
    Fingerprint(Sha256::digest(der).into())
}

/// Decide one certificate of a client's chain: certificates above the
/// leaf are not used (the list names leaves), the leaf is accepted when
/// listed and marked `BADCERT_OTHER` (alert `access_denied`) otherwise.
/// Returns the flags to leave on the certificate.
pub fn decide(depth: c_int, der: &[u8], flags: u32) -> u32 {
    if depth > 0 {
        return 0;
    }
    LEAVES_DECIDED.lock(|n| n.set(n.get().wrapping_add(1)));
    if admit(fingerprint(der)) {
        0
    } else {
        flags | MBEDTLS_X509_BADCERT_OTHER
    }
}

/// MbedTLS's `f_vrfy` for a server that requires a client certificate.
///
/// # Safety
/// Called by MbedTLS only, with a valid certificate and flags pointer.
unsafe extern "C" fn verify_listed(
    _ctx: *mut c_void,
    crt: *mut mbedtls_x509_crt,
    depth: c_int,
    flags: *mut u32,
) -> c_int {
    // SAFETY: MbedTLS passes a parsed certificate whose `raw` is its DER
    // (owned by the certificate for the duration of the call) and a valid
    // flags pointer.
    unsafe {
        let raw = &(*crt).raw;
        let der: &[u8] = if raw.p.is_null() {
            &[]
        } else {
            core::slice::from_raw_parts(raw.p, raw.len)
        };
        *flags = decide(depth, der, *flags);
    }
    0
}

/// The real `mbedtls_ssl_conf_authmode`, as the link names it under
/// `--wrap` (`__real_mbedtls_ssl_conf_authmode`).
pub type ConfAuthmode = unsafe extern "C" fn(conf: *mut mbedtls_ssl_config, authmode: c_int);

/// The body of the `mbedtls_ssl_conf_authmode` wrapper
/// ([`crate::client_cert_verifier!`]): the real function, then, for a
/// server requiring a client certificate, the verify callback, and for
/// every server configuration the board's session tickets
/// ([`crate::tickets::attach`], once they are set up). mbedtls-rs calls it
/// once per session, after `mbedtls_ssl_config_defaults` set the endpoint.
///
/// # Safety
/// `conf` must be a valid configuration, as for the real function.
pub unsafe fn conf_authmode(conf: *mut mbedtls_ssl_config, authmode: c_int, real: ConfAuthmode) {
    // SAFETY: the caller's contract, passed on unchanged.
    unsafe {
        real(conf, authmode);
        if !is_server(conf) {
            return;
        }
        let listed = authmode == MBEDTLS_SSL_VERIFY_REQUIRED as c_int;
        if listed {
            mbedtls_ssl_conf_verify(conf, Some(verify_listed), core::ptr::null_mut());
        }
        crate::tickets::attach(conf, listed);
    }
}

/// Define the `__wrap_mbedtls_ssl_conf_authmode` symbol (once, in the
/// binary: the firmware's `main`, the host test's library). The binary
/// must link with `--wrap=mbedtls_ssl_conf_authmode`; without it the
/// symbol is unused, and a board with a client list accepts no client
/// (its trust anchor signs none), which fails closed.
///
/// `client_cert_verifier!(clients: path)` also calls `path(conf)` for
/// every client configuration: the benchmark's and the host test's own
/// TLS clients use it to keep TLS 1.3 tickets (the firmware is never a
/// TLS client).
#[macro_export]
macro_rules! client_cert_verifier {
    () => {
        $crate::client_cert_verifier!(clients: $crate::client_cert::leave_client);
    };
    (clients: $client:path) => {
        unsafe extern "C" {
            fn __real_mbedtls_ssl_conf_authmode(
                conf: *mut $crate::client_cert::SslConfig,
                authmode: core::ffi::c_int,
            );
        }

        /// `mbedtls_ssl_conf_authmode`, wrapped by the link: see
        /// `piconet_app_core::client_cert`.
        ///
        /// # Safety
        /// As the real function.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn __wrap_mbedtls_ssl_conf_authmode(
            conf: *mut $crate::client_cert::SslConfig,
            authmode: core::ffi::c_int,
        ) {
            // SAFETY: the caller's contract, passed on.
            unsafe {
                $crate::client_cert::conf_authmode(conf, authmode, __real_mbedtls_ssl_conf_authmode);
                if !$crate::client_cert::is_server(conf) {
                    $client(conf);
                }
            }
        }
    };
}

/// Whether `conf` is a server configuration.
///
/// # Safety
/// `conf` must be a valid configuration after `mbedtls_ssl_config_defaults`.
pub unsafe fn is_server(conf: *const mbedtls_ssl_config) -> bool {
    // SAFETY: the caller's contract.
    unsafe { u32::from((*conf).private_endpoint) == MBEDTLS_SSL_IS_SERVER }
}

/// The client hook of [`crate::client_cert_verifier!`] that changes nothing.
///
/// # Safety
/// None needed: the configuration is not touched.
pub unsafe fn leave_client(_conf: *mut mbedtls_ssl_config) {}

/// MbedTLS's SSL configuration type, for [`crate::client_cert_verifier!`].
pub type SslConfig = mbedtls_ssl_config;

#[cfg(test)]
mod tests {
    use super::*;
    use piconet_engine::{Client, Role};

    #[test]
    fn only_a_listed_client_is_accepted_and_recorded() {
        let listed = b"listed certificate";
        let list = Clients::new([
            Client::new("laptop", fingerprint(listed).0, Role::Admin, None).unwrap(),
        ])
        .unwrap();
        set_listed(&list);
        let _ = take_verified();
        set_current(None);
        let decided = leaves_decided();
        let untrusted = 8;
        assert_eq!(decide(1, b"an intermediate", untrusted), 0);
        assert_eq!(take_verified(), None);
        assert_eq!(decide(0, listed, untrusted), 0);
        assert_eq!(take_verified(), Some(fingerprint(listed)));
        assert_eq!(take_verified(), None, "taken once");
        assert_eq!(
            current(),
            Some(fingerprint(listed)),
            "the handshake's client"
        );
        set_current(None);
        let flags = decide(0, b"a stranger", untrusted);
        assert_eq!(flags, untrusted | MBEDTLS_X509_BADCERT_OTHER);
        assert_eq!(take_verified(), None);
        assert_eq!(current(), None);
        assert_eq!(leaves_decided(), decided + 2, "leaves only");
        // A resumed client (named by its ticket) is admitted the same way.
        assert!(admit(fingerprint(listed)));
        assert_eq!(take_verified(), Some(fingerprint(listed)));
        set_listed(&Clients::default());
        assert_ne!(decide(0, listed, untrusted), 0, "revoked");
        assert!(!admit(fingerprint(listed)), "revoked");
        assert_eq!(take_verified(), None);
    }
}
