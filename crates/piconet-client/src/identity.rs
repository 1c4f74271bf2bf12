//! The client's own TLS identity (mutual TLS): a certificate and its key,
//! presented to a board that authenticates its clients. The board names a
//! client by the SHA-256 of its certificate's DER ([`Identity::fingerprint`]).

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::Error;
use crate::known_hosts::Fingerprint;

/// A certificate file and its private key file (PEM or DER).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The certificate (PEM or DER).
    pub cert: PathBuf,
    /// Its private key (PEM; PKCS#8 or SEC1).
    pub key: PathBuf,
}

/// A loaded identity, ready for a handshake.
pub(crate) struct Loaded {
    pub(crate) certs: Vec<CertificateDer<'static>>,
    pub(crate) key: PrivateKeyDer<'static>,
}

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::Identity {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// The certificates of a PEM or DER file.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bytes = std::fs::read(path).map_err(|e| bad(path, e.to_string()))?;
    if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(path, format!("bad PEM: {e}")))?;
        if certs.is_empty() {
            return Err(bad(path, "no \"BEGIN CERTIFICATE\" section"));
        }
        Ok(certs)
    } else if bytes.is_empty() {
        Err(bad(path, "the file is empty"))
    } else {
        Ok(vec![CertificateDer::from(bytes)])
    }
}

impl Identity {
    /// The identity in these two files.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Identity {
            cert: cert.into(),
            key: key.into(),
        }
    }

    /// The SHA-256 of the certificate's DER: the name a board's client
    /// list gives this identity.
    pub fn fingerprint(&self) -> Result<Fingerprint, Error> {
        let certs = read_certificates(&self.cert)?;
        Ok(Fingerprint::of_certificate(certs[0].as_ref()))
    }

    pub(crate) fn load(&self) -> Result<Loaded, Error> {
        let certs = read_certificates(&self.cert)?;
        let bytes = std::fs::read(&self.key).map_err(|e| bad(&self.key, e.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(&bytes)
            .or_else(|_| PrivateKeyDer::try_from(bytes).map_err(|e| e.to_string()))
            .map_err(|_| {
                bad(
                    &self.key,
                    "holds no private key (PEM or DER, PKCS#8 or SEC1)",
                )
            })?;
        Ok(Loaded { certs, key })
    }
}
