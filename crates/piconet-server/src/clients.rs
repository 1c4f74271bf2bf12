//! `--clients FILE`: the client list piconetd authenticates against, and
//! the TLS client-certificate verifier that admits only its certificates.
//!
//! The file is TOML, one `[[clients]]` table per client:
//!
//! ```toml
//! [[clients]]
//! name = "laptop"
//! sha256 = "3f9a…"        # SHA-256 of the client certificate's DER, 64 hex digits
//! role = "admin"          # viewer | operator | admin
//!
//! [[clients]]
//! name = "ha"
//! sha256 = "…"
//! role = "operator"
//! pins = [2, 3, 15]       # optional, operators only: the GPIOs it may drive
//! ```
//!
//! No CA is involved: a client is its certificate, named by the hash of
//! its DER, and TLS proves it holds the certificate's key. The engine
//! keeps the list (and decides what each client may do); the verifier
//! asks the engine at every handshake, so a revoked certificate is
//! refused from the next connection on.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, Weak};

use piconet_engine::{Client, Clients, ClientsError, Fingerprint, Role};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::server::Shared;

/// Why a clients file cannot be used. The running list (if any) stays.
#[derive(Debug, thiserror::Error)]
pub enum ClientsFileError {
    /// The file could not be read.
    #[error("cannot read the clients file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML of the expected shape.
    #[error("{path} is not a clients file: {message}; expected [[clients]] tables with name, sha256, role and optional pins")]
    Toml {
        /// The file.
        path: PathBuf,
        /// What the parser said (it names the line).
        message: String,
    },
    /// An entry's `sha256` is not 64 hex digits.
    #[error("{path}: client {name:?}: sha256 must be the certificate's SHA-256 as 64 hex digits (piconet identity list prints it)")]
    BadSha256 {
        /// The file.
        path: PathBuf,
        /// The entry's name.
        name: String,
    },
    /// An entry's `role` is not one of the three.
    #[error(
        "{path}: client {name:?}: role must be \"viewer\", \"operator\" or \"admin\", not {role:?}"
    )]
    BadRole {
        /// The file.
        path: PathBuf,
        /// The entry's name.
        name: String,
        /// What it says.
        role: String,
    },
    /// The list breaks a rule of client lists.
    #[error("{path}: {source}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The rule.
        source: ClientsError,
    },
    /// An empty list: piconetd would authenticate no one.
    #[error("{0} lists no client: give at least one admin, or run piconetd without --clients")]
    Empty(PathBuf),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    clients: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    sha256: String,
    role: String,
    pins: Option<Vec<u32>>,
}

/// The SHA-256 of `der` (a certificate), as the client list names it.
pub fn fingerprint(der: &[u8]) -> Fingerprint {
    Fingerprint(Sha256::digest(der).into())
}

fn parse_hex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(s.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

/// Read and check the clients file at `path`.
pub fn load(path: &Path) -> Result<Clients, ClientsFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ClientsFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text)
}

/// Check the clients file `text` (read from `path`).
pub fn parse(path: &Path, text: &str) -> Result<Clients, ClientsFileError> {
    let file: File = toml::from_str(text).map_err(|e| ClientsFileError::Toml {
        path: path.to_owned(),
        message: e.to_string().trim_end().replace('\n', " "),
    })?;
    if file.clients.is_empty() {
        return Err(ClientsFileError::Empty(path.to_owned()));
    }
    let invalid = |source| ClientsFileError::Invalid {
        path: path.to_owned(),
        source,
    };
    let mut list = Vec::with_capacity(file.clients.len());
    for e in &file.clients {
        let sha256 = parse_hex(&e.sha256).ok_or_else(|| ClientsFileError::BadSha256 {
            path: path.to_owned(),
            name: e.name.clone(),
        })?;
        let role = Role::from_name(&e.role).ok_or_else(|| ClientsFileError::BadRole {
            path: path.to_owned(),
            name: e.name.clone(),
            role: e.role.clone(),
        })?;
        list.push(Client::new(&e.name, sha256, role, e.pins.as_deref()).map_err(invalid)?);
    }
    Clients::new(list).map_err(invalid)
}

/// Admits a client certificate only if its fingerprint is in the engine's
/// client list (asked at each handshake), and checks the handshake's
/// signatures with it: TLS then proves the client holds its key.
pub(crate) struct ListedClients {
    /// Set once the shared state exists (it is built after the TLS
    /// configuration). Weak: the state does not own the acceptor.
    shared: OnceLock<Weak<Shared>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ListedClients {
    pub(crate) fn new(provider: &CryptoProvider) -> Arc<Self> {
        Arc::new(ListedClients {
            shared: OnceLock::new(),
            algorithms: provider.signature_verification_algorithms,
        })
    }

    pub(crate) fn attach(&self, shared: &Arc<Shared>) {
        let _ = self.shared.set(Arc::downgrade(shared));
    }
}

impl std::fmt::Debug for ListedClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ListedClients")
    }
}

impl ClientCertVerifier for ListedClients {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let shared = self
            .shared
            .get()
            .and_then(Weak::upgrade)
            .ok_or(rustls::Error::General("piconetd is stopping".into()))?;
        let fp = fingerprint(end_entity.as_ref());
        let known = {
            let engine = shared.engine();
            // A list an admin cleared at run time: no authentication, any
            // certificate will do.
            engine.clients().is_empty() || engine.clients().contains(&fp)
        };
        if known {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Reloads the clients file into a running daemon (SIGHUP).
#[derive(Clone)]
pub struct ClientsReloader {
    pub(crate) path: PathBuf,
    pub(crate) shared: Arc<Shared>,
}

impl ClientsReloader {
    /// Read the file again and replace the list: connections made from now
    /// on are checked against it, and every command from now on too. A
    /// file that cannot be used leaves the running list as it was.
    /// Returns how many clients the new list has.
    pub fn reload(&self) -> Result<usize, ClientsFileError> {
        let clients = load(&self.path)?;
        let n = clients.as_slice().len();
        self.shared.with_engine(|e| e.set_clients(clients));
        Ok(n)
    }

    /// The clients file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("clients.toml")
    }

    #[test]
    fn a_file_parses_into_a_checked_list() {
        let list = parse(
            p(),
            &format!(
                "[[clients]]\nname = \"laptop\"\nsha256 = \"{}\"\nrole = \"admin\"\n\n[[clients]]\nname = \"ha\"\nsha256 = \"{}\"\nrole = \"operator\"\npins = [2, 3]\n",
                "ab".repeat(32),
                "CD".repeat(32)
            ),
        )
        .unwrap();
        let c = list.as_slice();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].name.as_str(), "laptop");
        assert_eq!(c[1].sha256, Fingerprint([0xcd; 32]));
        assert_eq!(c[1].pins, Some(0b1100));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let entry = |name: &str, sha: &str, role: &str| {
            format!("[[clients]]\nname = \"{name}\"\nsha256 = \"{sha}\"\nrole = \"{role}\"\n")
        };
        let sha = "ab".repeat(32);
        let err = |text: &str| parse(p(), text).unwrap_err().to_string();
        assert!(err("").contains("lists no client"));
        assert!(err("[[clients]]\nname = 1\n").contains("is not a clients file"));
        assert!(err(&format!("{}colour = 1\n", entry("a", &sha, "admin"))).contains("colour"));
        assert!(err(&entry("a", "12", "admin")).contains("64 hex digits"));
        assert!(err(&entry("a", &sha, "root")).contains("not \"root\""));
        assert!(err(&entry("a", &sha, "viewer")).contains("at least one admin"));
        assert!(err(&entry("a b", &sha, "admin")).contains("client name"));
        let two = entry("a", &sha, "admin") + &entry("b", &sha, "viewer");
        assert!(err(&two).contains("same certificate"));
        let read = load(Path::new("/nonexistent/clients.toml")).unwrap_err();
        assert!(matches!(read, ClientsFileError::Read { .. }));
    }
}
