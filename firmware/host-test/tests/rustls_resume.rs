//! A rustls client (the TLS stack of `piconet` and the client library)
//! against the board's MbedTLS server with a client list: it resumes with
//! the board's session tickets over TLS 1.3 (rustls offers `psk_dhe_ke`
//! only) and TLS 1.2, as itself.

use std::io::{Read as _, Write as _};
use std::sync::Arc;

use embassy_net::tcp::TcpSocket;
use embassy_time::Duration;
use embedded_io_async::Write;
use piconet_app_core::client_cert::{self, fingerprint};
use piconet_app_core::tickets;
use piconet_engine::{Client, Clients, Role};
use piconet_host_test::{client_identity, identity, run, BOARD_IP, PORT};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivateSec1KeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, HandshakeKind, SignatureScheme,
};
use serde_json::Value;

/// Trusts exactly the board's certificate (pinned, as `piconet` can).
#[derive(Debug)]
struct Pinned(Arc<CryptoProvider>);

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == identity().cert.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("not the board's certificate".into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A rustls configuration as client `n`, at `version` only. One per
/// client: its in-memory session store is what resumes.
fn config(n: usize, version: &'static rustls::SupportedProtocolVersion) -> Arc<ClientConfig> {
    let provider = Arc::new(ring::default_provider());
    let me = client_identity(n);
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[version])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned(provider)))
        .with_client_auth_cert(
            vec![CertificateDer::from(me.cert.clone())],
            PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(me.key.clone())),
        )
        .unwrap();
    Arc::new(config)
}

/// One command over a new connection with rustls; the reply (`None`: the
/// board refused) and the kind of handshake rustls saw.
async fn call(
    stack: embassy_net::Stack<'_>,
    config: &Arc<ClientConfig>,
    line: &str,
) -> (Option<Value>, Option<HandshakeKind>) {
    let (mut rx, mut tx) = ([0u8; 4096], [0u8; 4096]);
    let mut socket = TcpSocket::new(stack, &mut rx, &mut tx);
    socket.set_timeout(Some(Duration::from_secs(10)));
    socket.connect((BOARD_IP, PORT)).await.expect("TCP connect");
    let mut tls = ClientConnection::new(config.clone(), ServerName::try_from("pico").unwrap())
        .expect("rustls connection");
    tls.writer()
        .write_all(format!("{line}\n").as_bytes())
        .unwrap();
    let mut reply = Vec::new();
    let done = loop {
        while tls.wants_write() {
            let mut out = Vec::new();
            tls.write_tls(&mut out).unwrap();
            if socket.write_all(&out).await.is_err() || socket.flush().await.is_err() {
                break;
            }
        }
        let mut plain = [0u8; 512];
        match tls.reader().read(&mut plain) {
            Ok(0) => break false,
            Ok(n) => {
                reply.extend_from_slice(&plain[..n]);
                if reply.contains(&b'\n') {
                    break true;
                }
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break false,
        }
        let mut buf = [0u8; 2048];
        let n = match socket.read(&mut buf).await {
            Ok(0) | Err(_) => break false,
            Ok(n) => n,
        };
        if tls.read_tls(&mut &buf[..n]).is_err() || tls.process_new_packets().is_err() {
            break false;
        }
    };
    let kind = tls.handshake_kind();
    socket.abort();
    let _ = socket.flush().await;
    let reply = done.then(|| serde_json::from_slice(&reply).expect("a JSON reply"));
    (reply, kind)
}

#[test]
fn a_rustls_client_resumes_as_itself_over_tls_1_3_and_1_2() {
    run(true, |env| async move {
        let [laptop, tv] = [0, 1].map(client_identity);
        env.shared.engine.lock().await.set_clients(
            Clients::new([
                Client::new("laptop", fingerprint(&laptop.cert).0, Role::Admin, None).unwrap(),
                Client::new("tv", fingerprint(&tv.cert).0, Role::Viewer, None).unwrap(),
            ])
            .unwrap(),
        );
        let setup = r#"{"action": "setup_pin", "pin": 2, "mode": "output", "value": 0}"#;
        for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
            let (as_laptop, as_tv) = (config(0, version), config(1, version));
            let (r, kind) = call(env.client, &as_laptop, r#"{"action": "ping"}"#).await;
            assert!(r.is_some(), "{version:?}: the admin is served");
            assert_ne!(kind, Some(HandshakeKind::Resumed));
            let (r, kind) = call(env.client, &as_tv, r#"{"action": "ping"}"#).await;
            assert!(r.is_some(), "{version:?}: the viewer is served");
            assert_ne!(kind, Some(HandshakeKind::Resumed));

            let (accepted, decided) = (tickets::accepted(), client_cert::leaves_decided());
            let (r, kind) = call(env.client, &as_laptop, setup).await;
            let r = r.expect("the resumed admin is served");
            assert!(r.get("error").is_none(), "{version:?}: {r}");
            assert_eq!(kind, Some(HandshakeKind::Resumed), "{version:?}");
            let (r, kind) = call(env.client, &as_tv, setup).await;
            let r = r.expect("the resumed viewer is served");
            assert_eq!(r["exception"], "PermissionError", "{version:?}: {r}");
            assert_eq!(kind, Some(HandshakeKind::Resumed), "{version:?}");
            assert_eq!(
                (tickets::accepted(), client_cert::leaves_decided()),
                (accepted + 2, decided),
                "{version:?}: the board resumed both"
            );
        }

        // The viewer, revoked after its full handshake: its saved session
        // does not get it in (the board refuses the ticket, then the
        // certificate).
        let as_tv = config(1, &rustls::version::TLS13);
        let (r, _) = call(env.client, &as_tv, r#"{"action": "ping"}"#).await;
        assert!(r.is_some(), "the viewer is served");
        env.shared.engine.lock().await.set_clients(
            Clients::new([
                Client::new("laptop", fingerprint(&laptop.cert).0, Role::Admin, None).unwrap(),
            ])
            .unwrap(),
        );
        let (accepted, decided) = (tickets::accepted(), client_cert::leaves_decided());
        let (r, _) = call(env.client, &as_tv, r#"{"action": "ping"}"#).await;
        assert!(r.is_none(), "a revoked client resumed: {r:?}");
        assert_eq!(
            (tickets::accepted(), client_cert::leaves_decided()),
            (accepted, decided + 1)
        );
    });
}
