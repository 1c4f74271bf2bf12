//! How a TLS server is trusted: a CA or certificate file, a certificate
//! pinned on first use, or (as the original client) not at all.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls13_signature_with_raw_key, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, SubjectPublicKeyInfoDer, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, PeerMisbehaved, RootCertStore,
    SignatureScheme,
};

use crate::error::Error;
use crate::known_hosts::{Fingerprint, KnownHost, KnownHosts};

/// Which servers a TLS connection accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsVerify {
    /// A PEM or DER file of CA certificates, or the server's own certificate.
    ///
    /// A server presenting exactly one of the file's certificates is accepted
    /// without name or date checks: the seed's openssl steps make self-signed
    /// certificates without a subject alternative name, and holding that exact
    /// certificate is a stronger statement than any name in it. Any other
    /// certificate must chain to one in the file and name the host.
    CaFile(PathBuf),
    /// Trust on first use: the certificate's SHA-256 is pinned in this
    /// known-hosts file the first time, and a different one is refused later.
    KnownHosts(PathBuf),
    /// No verification, as the original client (`CERT_NONE`): encrypted, but
    /// anyone on the path can pose as the server. A warning is printed.
    Insecure,
}

/// What the first-use verifier saw, read after the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    Nothing,
    Matches,
    New(Fingerprint),
    Changed {
        pinned: KnownHost,
        found: Fingerprint,
    },
}

/// The ring provider: pure Rust and assembly, no cmake needed to build it.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(host.to_owned()).map_err(|e| Error::InvalidAddress {
        input: host.to_owned(),
        reason: format!("not usable as a TLS server name: {e}"),
    })
}

pub(crate) fn client_config(
    verifier: Arc<dyn ServerCertVerifier>,
    identity: Option<crate::identity::Loaded>,
    tls12_only: bool,
) -> Result<ClientConfig, Error> {
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12_only {
        &[&rustls::version::TLS12]
    } else {
        rustls::DEFAULT_VERSIONS
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| Error::InvalidArgument(format!("TLS setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    // rustls resumes sessions (its default in-memory store) only under the
    // config that made them: the client keeps this one for its connections.
    let config = match identity {
        Some(id) => builder
            .with_client_auth_cert(id.certs, id.key)
            .map_err(|e| Error::InvalidArgument(format!("the client identity: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    Ok(config)
}

/// Reads every certificate of a PEM file, or the one certificate of a DER file.
pub(crate) fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bad = |reason: String| Error::CaFile {
        path: path.to_owned(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("bad PEM: {e}")))?;
        if certs.is_empty() {
            return Err(bad("the PEM file has no CERTIFICATE block".into()));
        }
        Ok(certs)
    } else if bytes.first() == Some(&0x30) {
        Ok(vec![CertificateDer::from(bytes)])
    } else {
        Err(bad("neither PEM nor a DER certificate".into()))
    }
}

/// The certificate's SubjectPublicKeyInfo, read with x509-parser.
///
/// Not with webpki: webpki parses only X.509 v3 certificates, and the seed's
/// openssl steps (`openssl x509 -req -signkey`) make v1 ones. Pinning,
/// `--insecure` and an exact `--ca` match need nothing from the certificate
/// but its public key, to check the handshake signature with.
pub(crate) fn public_key_of(
    cert: &CertificateDer<'_>,
) -> Result<SubjectPublicKeyInfoDer<'static>, rustls::Error> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    Ok(SubjectPublicKeyInfoDer::from(
        parsed.tbs_certificate.subject_pki.raw.to_vec(),
    ))
}

fn bad_signature() -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::BadSignature)
}

/// TLS 1.2: every algorithm the provider maps the scheme to is tried, as
/// rustls' own `verify_tls12_signature` does, but on the bare public key.
fn verify12(
    provider: &CryptoProvider,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    let spki = public_key_of(cert)?;
    let key = webpki::RawPublicKeyEntity::try_from(&spki)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let algorithms = provider
        .signature_verification_algorithms
        .mapping
        .iter()
        .find(|(scheme, _)| *scheme == dss.scheme)
        .map(|(_, algorithms)| *algorithms)
        .ok_or(rustls::Error::PeerMisbehaved(
            PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
        ))?;
    for algorithm in algorithms {
        match key.verify_signature(*algorithm, message, dss.signature()) {
            Ok(()) => return Ok(HandshakeSignatureValid::assertion()),
            // This algorithm is for another kind of key: try the next one.
            Err(webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_)) => continue,
            Err(_) => return Err(bad_signature()),
        }
    }
    Err(bad_signature())
}

fn verify13(
    provider: &CryptoProvider,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    let spki = public_key_of(cert)?;
    verify_tls13_signature_with_raw_key(
        message,
        &spki,
        dss,
        &provider.signature_verification_algorithms,
    )
}

/// Every verifier here still checks the handshake signatures: accepting a
/// certificate means nothing unless the peer proves it holds its key. The
/// check uses the certificate's public key alone (see [`public_key_of`]), so
/// a v1 certificate works in every mode that accepts it.
macro_rules! signatures_by_provider {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify12(&self.provider, message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify13(&self.provider, message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    };
}

/// Why a CA file does not vouch for a server's certificate, in plain words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaRefusal {
    /// Neither one of the file's certificates nor signed by one of them.
    NotTrusted,
    /// Signed by a certificate of the file, but made out for other names.
    WrongName {
        /// The name the client connected to.
        host: String,
    },
    /// Signed by a certificate of the file, but expired.
    Expired,
    /// Signed by a certificate of the file, but not valid yet.
    NotYetValid,
    /// Another reason the chain check gave.
    Other(String),
}

impl fmt::Display for CaRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotTrusted => f.write_str(
                "the server's certificate is not that one and not signed by it (nor by any \
                 other certificate in the file)",
            ),
            Self::WrongName { host } => write!(
                f,
                "the server's certificate is signed by that file but made out for other names \
                 than {host}; pass the server's own certificate as --ca to trust it whatever \
                 names it holds"
            ),
            Self::Expired => {
                f.write_str("the server's certificate is signed by that file but has expired")
            }
            Self::NotYetValid => f.write_str(
                "the server's certificate is signed by that file but is not valid yet (is this \
                 machine's clock right?)",
            ),
            Self::Other(reason) => write!(f, "checking the chain to that file failed: {reason}"),
        }
    }
}

impl CaRefusal {
    fn from_rustls(error: &rustls::Error, server_name: &ServerName<'_>) -> Self {
        let rustls::Error::InvalidCertificate(reason) = error else {
            return Self::Other(error.to_string());
        };
        match reason {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                Self::WrongName {
                    host: server_name.to_str().into_owned(),
                }
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => Self::Expired,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                Self::NotYetValid
            }
            // UnknownIssuer, a bad chain signature, a CA presented as the
            // server's certificate (CaUsedAsEndEntity), a certificate webpki
            // cannot parse (a v1 one that is not the file's): no path to it.
            _ => Self::NotTrusted,
        }
    }
}

/// Exact certificates from the file, else a WebPKI chain to them.
pub(crate) struct CaVerifier {
    exact: Vec<CertificateDer<'static>>,
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    refusal: Mutex<Option<CaRefusal>>,
}

impl CaVerifier {
    pub(crate) fn from_file(path: &Path) -> Result<Self, Error> {
        let exact = load_certificates(path)?;
        let mut roots = RootCertStore::empty();
        // A leaf certificate that is no valid trust anchor can still be pinned exactly.
        let (_added, _ignored) = roots.add_parsable_certificates(exact.iter().cloned());
        let provider = provider();
        let chain = if roots.is_empty() {
            None
        } else {
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .ok()
        };
        Ok(Self {
            exact,
            chain,
            provider,
            refusal: Mutex::new(None),
        })
    }

    /// Why the last handshake's certificate was refused, if it was.
    /// Forgets the last handshake's verdict, before the next one.
    pub(crate) fn reset(&self) {
        *self.refusal.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    pub(crate) fn refusal(&self) -> Option<CaRefusal> {
        self.refusal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl fmt::Debug for CaVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaVerifier")
            .field("certificates", &self.exact.len())
            .finish()
    }
}

impl ServerCertVerifier for CaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.exact.iter().any(|c| c.as_ref() == end_entity.as_ref()) {
            return Ok(ServerCertVerified::assertion());
        }
        let verdict = match &self.chain {
            Some(chain) => {
                chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        };
        if let Err(e) = &verdict {
            *self.refusal.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(CaRefusal::from_rustls(e, server_name));
        }
        verdict
    }

    signatures_by_provider!();
}

/// Accepts the pinned certificate or, on first use, any; records what it saw.
pub(crate) struct TofuVerifier {
    /// Read again before every handshake: the file may have changed.
    pinned: Mutex<Option<KnownHost>>,
    seen: Mutex<Seen>,
    provider: Arc<CryptoProvider>,
}

impl TofuVerifier {
    pub(crate) fn new(store: &KnownHosts, host: &str) -> Result<Self, Error> {
        Ok(Self {
            pinned: Mutex::new(store.lookup(host)?),
            seen: Mutex::new(Seen::Nothing),
            provider: provider(),
        })
    }

    /// Reads `host`'s pin again and forgets the last handshake's verdict,
    /// before the next one.
    pub(crate) fn reset(&self, store: &KnownHosts, host: &str) -> Result<(), Error> {
        let pinned = store.lookup(host)?;
        *self.pinned.lock().unwrap_or_else(|e| e.into_inner()) = pinned;
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Seen::Nothing;
        Ok(())
    }

    pub(crate) fn seen(&self) -> Seen {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for TofuVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TofuVerifier")
            .field(
                "pinned",
                &*self.pinned.lock().unwrap_or_else(|e| e.into_inner()),
            )
            .finish()
    }
}

impl ServerCertVerifier for TofuVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let found = Fingerprint::of_certificate(end_entity);
        let pinned = *self.pinned.lock().unwrap_or_else(|e| e.into_inner());
        let (seen, verdict) = match pinned {
            None => (Seen::New(found), Ok(ServerCertVerified::assertion())),
            Some(pinned) if pinned.fingerprint == found => {
                (Seen::Matches, Ok(ServerCertVerified::assertion()))
            }
            Some(pinned) => (
                Seen::Changed { pinned, found },
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::ApplicationVerificationFailure,
                )),
            ),
        };
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = seen;
        verdict
    }

    signatures_by_provider!();
}

/// Accepts any certificate, as the original client's `CERT_NONE`.
pub(crate) struct InsecureVerifier {
    provider: Arc<CryptoProvider>,
}

impl InsecureVerifier {
    pub(crate) fn new() -> Self {
        Self {
            provider: provider(),
        }
    }
}

impl fmt::Debug for InsecureVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InsecureVerifier")
    }
}

impl ServerCertVerifier for InsecureVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    signatures_by_provider!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_files_in_pem_and_der_load() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::generate_simple_self_signed(vec!["pico".into()]).unwrap();
        let pem = dir.path().join("c.pem");
        let der = dir.path().join("c.der");
        std::fs::write(&pem, key.cert.pem()).unwrap();
        std::fs::write(&der, key.cert.der()).unwrap();
        assert_eq!(
            load_certificates(&pem).unwrap(),
            vec![key.cert.der().clone()]
        );
        assert_eq!(
            load_certificates(&der).unwrap(),
            vec![key.cert.der().clone()]
        );

        let junk = dir.path().join("junk");
        std::fs::write(&junk, "hello").unwrap();
        assert!(matches!(
            load_certificates(&junk),
            Err(Error::CaFile { .. })
        ));
        let key_only = dir.path().join("key.pem");
        std::fs::write(&key_only, key.signing_key.serialize_pem()).unwrap();
        let err = load_certificates(&key_only).unwrap_err();
        assert!(err.to_string().contains("no CERTIFICATE"), "{err}");
        let missing = dir.path().join("missing.pem");
        assert!(matches!(
            load_certificates(&missing),
            Err(Error::CaFile { .. })
        ));
    }
}
