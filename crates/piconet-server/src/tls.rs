//! The server's TLS identity: certificate and key files, PEM or DER, as
//! the seed's openssl steps make them (EC P-256; the key as SEC1 or PKCS#8).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::ring as provider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};

/// Where the identity lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate (chain), PEM or DER.
    pub cert: PathBuf,
    /// Private key, PEM or DER.
    pub key: PathBuf,
}

/// The identity could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No certificate in the certificate file.
    #[error("{0} holds no certificate (expected PEM \"BEGIN CERTIFICATE\" or DER)")]
    NoCertificate(PathBuf),
    /// No usable key in the key file.
    #[error("{0} holds no usable private key (expected an EC P-256, RSA or Ed25519 key, PEM or DER, SEC1 or PKCS#8)")]
    NoKey(PathBuf),
    /// Certificate and key do not go together, or rustls refused them.
    #[error("TLS identity refused: {0} (does the key belong to the certificate?)")]
    Config(#[from] rustls::Error),
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn is_pem(bytes: &[u8]) -> bool {
    bytes.trim_ascii_start().starts_with(b"-----BEGIN")
}

/// Load the certificate chain from `path`.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let certs: Vec<_> = if is_pem(&bytes) {
        CertificateDer::pem_slice_iter(&bytes)
            .filter_map(Result::ok)
            .collect()
    } else if bytes.is_empty() {
        Vec::new()
    } else {
        vec![CertificateDer::from(bytes)]
    };
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.to_owned()));
    }
    Ok(certs)
}

/// Load the private key from `path`.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    let no_key = || TlsError::NoKey(path.to_owned());
    if is_pem(&bytes) {
        // Skips other sections, such as the "EC PARAMETERS" that
        // `openssl ecparam -genkey` writes before the key.
        return PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| no_key());
    }
    // DER does not say which container it is: try each.
    let candidates = [
        PrivateKeyDer::from(PrivatePkcs8KeyDer::from(bytes.clone())),
        PrivateKeyDer::from(PrivateSec1KeyDer::from(bytes)),
    ];
    candidates
        .into_iter()
        .find(|k| provider::sign::any_supported_type(k).is_ok())
        .ok_or_else(no_key)
}

/// A rustls server configuration for the identity in `files`.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs = load_certs(&files.cert)?;
    let key = load_key(&files.key)?;
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(provider::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
    Ok(Arc::new(config))
}
