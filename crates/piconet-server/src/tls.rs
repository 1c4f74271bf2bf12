//! The server's TLS identity: certificate and key files, PEM or DER, as
//! the seed's openssl steps make them (EC P-256; the key as SEC1 or PKCS#8).
//!
//! The seed's steps end with `openssl x509 -req -signkey`, which makes an
//! X.509 **v1** certificate. rustls' `with_single_cert` checks that key and
//! certificate match by parsing the certificate with webpki, and webpki
//! refuses every v1 certificate (`UnsupportedCertVersion`): it only
//! validates v3 end-entity certificates. A server merely presents its
//! certificate, so here it is parsed with x509-parser instead, which reads
//! v1 and v3 alike, and the match is checked on the SubjectPublicKeyInfo.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::ring as provider;
use rustls::sign::{CertifiedKey, SigningKey, SingleCertAndKey};
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
    /// The certificate file's first certificate is not an X.509 certificate.
    #[error("{path} is not a readable X.509 certificate: {reason}")]
    BadCertificate {
        /// The certificate file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// The key's public half is not the certificate's public key.
    #[error(
        "the key in {key} does not belong to the certificate in {cert}: their public keys differ \
         (make the certificate from this key, or pass the key it was made from)"
    )]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// rustls refused the key or the configuration.
    #[error("TLS setup failed: {0}")]
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

/// Checks that `key` is the private half of the first certificate's public
/// key, reading the certificate with x509-parser (v1 as well as v3).
fn check_key_matches(
    files: &TlsFiles,
    certs: &[CertificateDer<'static>],
    key: &dyn SigningKey,
) -> Result<(), TlsError> {
    let leaf = certs
        .first()
        .ok_or_else(|| TlsError::NoCertificate(files.cert.clone()))?;
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref()).map_err(|e| {
        TlsError::BadCertificate {
            path: files.cert.clone(),
            reason: e.to_string(),
        }
    })?;
    // A key type whose public half the provider cannot say is not checked, as
    // rustls itself does not.
    let Some(public) = key.public_key() else {
        return Ok(());
    };
    if public.as_ref() != parsed.tbs_certificate.subject_pki.raw {
        return Err(TlsError::KeyMismatch {
            cert: files.cert.clone(),
            key: files.key.clone(),
        });
    }
    Ok(())
}

/// A rustls server configuration for the identity in `files`.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    Ok(Arc::new(config_with(files, None)?))
}

/// The identity in `files`; with `clients`, every client must present a
/// certificate that verifier admits (mutual TLS).
pub(crate) fn config_with(
    files: &TlsFiles,
    clients: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
) -> Result<rustls::ServerConfig, TlsError> {
    let certs = load_certs(&files.cert)?;
    let key = load_key(&files.key)?;
    let provider = Arc::new(provider::default_provider());
    let signing_key = provider.key_provider.load_private_key(key)?;
    check_key_matches(files, &certs, signing_key.as_ref())?;
    // Not `with_single_cert`: it would parse the certificate with webpki,
    // which refuses the seed's v1 certificate (see the module comment).
    let resolver = SingleCertAndKey::from(CertifiedKey::new(certs, signing_key));
    let builder = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?;
    let builder = match clients {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    Ok(builder.with_cert_resolver(Arc::new(resolver)))
}
