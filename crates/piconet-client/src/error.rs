//! Everything that can go wrong between asking and getting an answer.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::response::Response;
use crate::tls::CaRefusal;

/// What went wrong, phrased so the person reading it knows what to try next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `host[:port]` text could not be understood.
    #[error("invalid address {input:?}: {reason} (expected HOST, HOST:PORT or [IPv6]:PORT)")]
    InvalidAddress {
        /// What was given.
        input: String,
        /// Why it was refused.
        reason: String,
    },

    /// A caller passed an argument no server could accept (e.g. `ping(0)`).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// The host name did not resolve.
    #[error("cannot resolve {host:?}: {source}")]
    Resolve {
        /// The host as given.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },

    /// Nothing listens at the address.
    #[error("connection refused at {addr}: is piconetd running, on this port?")]
    ConnectionRefused {
        /// `host:port`.
        addr: String,
    },

    /// The TCP connection could not be made (unreachable, reset, ...).
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// The server did not finish the step in time.
    #[error("timed out after {}s {step} {addr} (raise --timeout if the server is slow)", after.as_secs_f64())]
    Timeout {
        /// `host:port`.
        addr: String,
        /// "connecting to" or "waiting for an answer from".
        step: &'static str,
        /// The time allowed.
        after: Duration,
    },

    /// The TLS handshake failed for a reason other than the certificate.
    #[error("TLS handshake with {addr} failed: {source} (does the server speak TLS? piconetd does only when started with --tls-cert)")]
    Tls {
        /// `host:port`.
        addr: String,
        /// The TLS library's error.
        #[source]
        source: io::Error,
    },

    /// The server's certificate is not signed by, nor equal to, the given CA file.
    #[error("the TLS certificate of {addr} is not trusted by {}: {reason}", ca_file.display())]
    CertificateRejected {
        /// `host:port`.
        addr: String,
        /// The CA or certificate file it was checked against.
        ca_file: PathBuf,
        /// Why, in plain words.
        reason: CaRefusal,
    },

    /// The server presents another certificate than the one pinned for it.
    #[error(
        "THE TLS CERTIFICATE OF {addr} HAS CHANGED: {file} line {line} pins sha256 {expected}, \
         the server presented sha256 {found}. Someone may be intercepting the connection, or the \
         server got a new certificate; if you expect the change, delete line {line} of {file} \
         and connect again", file = file.display()
    )]
    HostKeyChanged {
        /// `host:port`.
        addr: String,
        /// The known-hosts file.
        file: PathBuf,
        /// The 1-based line holding the old fingerprint.
        line: usize,
        /// The pinned SHA-256 fingerprint, hex.
        expected: String,
        /// The presented certificate's SHA-256 fingerprint, hex.
        found: String,
    },

    /// The client identity (certificate or key file) could not be used.
    #[error("cannot use {} as this client's identity: {reason}", path.display())]
    Identity {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// A board reached through its mDNS name presented, on first contact,
    /// another certificate than the one its announcement names: not pinned.
    #[error(
        "{addr} presented a certificate with sha256 {found}, but its mDNS announcement names \
         {announced}: not trusted (someone else may be answering for that name; check the \
         board, or pin it explicitly with --ca)"
    )]
    AnnouncementMismatch {
        /// `host:port` as given.
        addr: String,
        /// The fingerprint in the TXT record.
        announced: String,
        /// The presented certificate's.
        found: String,
    },

    /// The CA/certificate file could not be used.
    #[error("cannot use {} as a CA or server certificate: {reason}", path.display())]
    CaFile {
        /// The file given.
        path: PathBuf,
        /// Why.
        reason: String,
    },

    /// The known-hosts file could not be read or written.
    #[error("cannot use the known-hosts file {}: {source}", path.display())]
    KnownHostsIo {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// A line of the known-hosts file is not `host:port sha256-hex`.
    #[error("{} line {line} is not `HOST:PORT SHA256-HEX`: {reason}; fix or delete that line", path.display())]
    KnownHostsSyntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },

    /// No per-user configuration directory (no `$HOME`), so no default known-hosts file.
    #[error("no configuration directory to keep known TLS certificates in: set PICONET_KNOWN_HOSTS to a file path")]
    NoConfigDir,

    /// The serial port could not be opened (missing, not allowed, in use).
    #[error("cannot open the serial port {}: {reason}", path.display())]
    SerialOpen {
        /// The device file.
        path: PathBuf,
        /// What failed, and what to check.
        reason: String,
    },

    /// The system's serial ports could not be listed.
    #[error("cannot list the serial ports: {reason}")]
    SerialList {
        /// What failed.
        reason: String,
    },

    /// Reading or writing the connection failed after it was made.
    #[error("connection to {addr} failed: {source}")]
    Io {
        /// `host:port`.
        addr: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// The server closed the connection before answering a command.
    #[error("{addr} closed the connection before answering (after {answered} answer(s))")]
    Closed {
        /// `host:port`.
        addr: String,
        /// Commands answered on this connection before it closed.
        answered: usize,
    },

    /// An answer line is longer than the client accepts.
    #[error("an answer from {addr} is longer than {limit} bytes; refusing to read more")]
    ResponseTooLarge {
        /// `host:port`.
        addr: String,
        /// The limit in bytes.
        limit: usize,
    },

    /// A plaintext command was answered with TLS: the server wants TLS.
    #[error("{addr} answered with TLS: it serves TLS, connect with TLS (piconet --tls, --ca FILE or --insecure; Client::with_tls)")]
    ServerWantsTls {
        /// `host:port`.
        addr: String,
    },

    /// An answer is not a JSON object.
    #[error("{addr} answered something that is not a JSON object: {reason}")]
    InvalidResponse {
        /// `host:port`.
        addr: String,
        /// Why it was refused.
        reason: String,
    },

    /// The answer lacks a field the command promises.
    #[error("the answer to {action} has no valid {field:?} field: {response}")]
    MissingField {
        /// The command's action.
        action: String,
        /// The missing field.
        field: &'static str,
        /// The whole answer.
        response: Box<Response>,
    },

    /// The server answered with an error (`error` and `exception` fields).
    #[error("the server refused the command: {exception}: {error}")]
    Server {
        /// The server's message.
        error: String,
        /// The error class name (the original's Python exception, e.g. `ValueError`).
        exception: String,
        /// The whole answer.
        response: Box<Response>,
    },
}
