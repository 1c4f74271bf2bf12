//! Exit codes: what a script can tell apart without reading messages.

use piconet_client::Error;

/// Everything worked.
pub const OK: u8 = 0;
/// The server answered at least one command with an error.
pub const SERVER_ERROR: u8 = 1;
/// The command line is wrong (clap exits with it too).
pub const USAGE: u8 = 2;
/// No connection: refused, unreachable, unknown host, closed early, reset;
/// or the serial port cannot be opened.
pub const CONNECTION: u8 = 3;
/// TLS failed: the certificate is not trusted or changed, or the handshake broke.
pub const TLS: u8 = 4;
/// The server did not answer in time.
pub const TIMEOUT: u8 = 5;
/// The server answered something that is not a valid answer (or too long).
pub const BAD_ANSWER: u8 = 6;
/// A local file (CA certificate, known-hosts, password, certificate or key) is missing or unusable.
pub const LOCAL_FILE: u8 = 7;
/// `provision` found no piconet board on USB, or several, and no --port says which.
pub const NO_BOARD: u8 = 8;

/// The table for `--help` and the README.
pub const TABLE: &str = "\
Exit codes:
  0  success
  1  the server answered at least one command with an error (`error`/`exception` fields);
     provision: the board refused a setting, or its firmware cannot be provisioned
  2  usage: bad arguments, address or KEY=VALUE; firmware sign --version that is not the
     image's; update of an older image without --allow-downgrade
  3  connection failed: refused, unreachable, unknown host, closed by the server, or the
     serial port cannot be opened; discover: mDNS browsing cannot start
  4  TLS failed: certificate not trusted by --ca, changed since pinned (or, first seen, not the
     one its mDNS announcement names), or handshake error;
     or the server speaks TLS and the client did not
  5  timeout: no connection or no answer within --timeout seconds
  6  the server's answer is not valid (not JSON, missing fields, over 1 MiB); provision:
     the configuration read back differs from what was stored
  7  a local file is unusable: --ca FILE, the known-hosts file, provision's password,
     certificate or key file (or the certificate to write exists already), firmware's key,
     image or signature file (missing, or made for another image), or keygen --out exists
  8  provision: no piconet board found on USB, or several (choose one with --port)";

/// The code for an error.
pub fn code(error: &Error) -> u8 {
    match error {
        Error::Server { .. } => SERVER_ERROR,
        Error::InvalidAddress { .. } | Error::InvalidArgument(_) => USAGE,
        Error::Resolve { .. }
        | Error::ConnectionRefused { .. }
        | Error::Connect { .. }
        | Error::Io { .. }
        | Error::Closed { .. }
        | Error::SerialOpen { .. }
        | Error::SerialList { .. } => CONNECTION,
        Error::Tls { .. }
        | Error::CertificateRejected { .. }
        | Error::HostKeyChanged { .. }
        | Error::AnnouncementMismatch { .. }
        | Error::ServerWantsTls { .. } => TLS,
        Error::Timeout { .. } => TIMEOUT,
        Error::ResponseTooLarge { .. }
        | Error::InvalidResponse { .. }
        | Error::MissingField { .. } => BAD_ANSWER,
        Error::CaFile { .. }
        | Error::KnownHostsIo { .. }
        | Error::KnownHostsSyntax { .. }
        | Error::NoConfigDir => LOCAL_FILE,
        // A kind added to the library later is at least a failure.
        _ => CONNECTION,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn each_kind_of_failure_has_its_code() {
        let addr = || "127.0.0.1:12345".to_owned();
        let cases = [
            (Error::ConnectionRefused { addr: addr() }, CONNECTION),
            (
                Error::Timeout {
                    addr: addr(),
                    step: "connecting to",
                    after: Duration::from_secs(3),
                },
                TIMEOUT,
            ),
            (
                Error::HostKeyChanged {
                    addr: addr(),
                    file: "kh".into(),
                    line: 1,
                    expected: "a".into(),
                    found: "b".into(),
                },
                TLS,
            ),
            (
                Error::ResponseTooLarge {
                    addr: addr(),
                    limit: 1,
                },
                BAD_ANSWER,
            ),
            (Error::NoConfigDir, LOCAL_FILE),
            (Error::InvalidArgument("x".into()), USAGE),
            (Error::ServerWantsTls { addr: addr() }, TLS),
        ];
        for (error, expected) in cases {
            assert_eq!(code(&error), expected, "{error}");
        }
        let codes: Vec<&str> = TABLE
            .lines()
            .skip(1)
            .filter(|line| !line.starts_with("     "))
            .collect();
        assert_eq!(codes.len(), 9);
        for (n, line) in codes.iter().enumerate() {
            assert!(line.trim_start().starts_with(&n.to_string()), "{line}");
        }
    }
}
