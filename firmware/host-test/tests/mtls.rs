//! Mutual TLS on a board with a client list: the firmware's listener and
//! MbedTLS profile on the host, the board requiring a listed client
//! certificate (app-core's `client_cert`), clients with MbedTLS
//! certificates made at test time.

use embassy_futures::join::join;
use embassy_net::Stack;
use embassy_time::{Duration, Timer};
use embedded_io_async::Write;
use mbedtls_rs::{Session, SessionConfig, TlsReference, TlsVersion};
use piconet_app_core::client_cert::fingerprint;
use piconet_engine::{Client, Clients, Role};
use piconet_host_test::heap::{self, Side, FIRMWARE_HEAP};
use piconet_host_test::{client_config_as, client_identity, connect, run, Env, LineClient};
use serde_json::Value;

/// One command over a new TLS connection as `config`'s client; `None`
/// when the board refused it (the handshake failed, or, in TLS 1.3 where
/// the client finishes first, the connection ended without a reply).
async fn call_as(
    stack: Stack<'_>,
    tls: TlsReference<'static>,
    config: &'static SessionConfig<'static>,
    line: &str,
) -> Option<Value> {
    let (mut rx, mut tx) = ([0u8; 4096], [0u8; 4096]);
    let mut socket = connect(stack, &mut rx, &mut tx).await;
    let reply = async {
        let mut s = Session::new(tls, &mut socket, config).expect("TLS session");
        s.connect().await.ok()?;
        s.write_all(format!("{line}\n").as_bytes()).await.ok()?;
        s.flush().await.ok()?;
        LineClient::new(s).reply().await
    }
    .await;
    // Reset, so the board's listener is free for the next connection.
    socket.abort();
    let _ = socket.flush().await;
    reply
}

#[test]
fn only_listed_certificates_get_in_and_each_is_served_as_its_client() {
    run(true, |env| async move {
        let (tls, _) = env.tls.unwrap();
        let [laptop, tv, stranger] = [0, 1, 2].map(client_identity);
        env.shared.engine.lock().await.set_clients(
            Clients::new([
                Client::new("laptop", fingerprint(&laptop.cert).0, Role::Admin, None).unwrap(),
                Client::new("tv", fingerprint(&tv.cert).0, Role::Viewer, None).unwrap(),
            ])
            .unwrap(),
        );
        for version in [None, Some(TlsVersion::Tls1_2)] {
            let as_laptop = client_config_as(Some(laptop), version);
            let as_tv = client_config_as(Some(tv), version);
            let setup = r#"{"action": "setup_pin", "pin": 2, "mode": "output", "value": 0}"#;
            let r = call_as(env.client, tls, as_laptop, setup).await;
            let r = r.expect("the admin is served");
            assert!(r.get("error").is_none(), "{version:?}: {r}");
            let r = call_as(
                env.client,
                tls,
                as_tv,
                r#"{"action": "read_pin", "pin": 2}"#,
            )
            .await;
            let r = r.expect("the viewer is served");
            assert_eq!(r["value"], 0, "{version:?}: {r}");
            let r = call_as(env.client, tls, as_tv, setup).await.unwrap();
            assert_eq!(r["exception"], "PermissionError", "{version:?}: {r}");
            assert!(
                r["error"].as_str().unwrap().starts_with("tv is a viewer"),
                "{r}"
            );
            let r = call_as(env.client, tls, as_laptop, r#"{"action": "get_clients"}"#).await;
            assert_eq!(r.unwrap()["clients"][1]["name"], "tv");

            // A stranger's certificate, and none at all: refused.
            let as_stranger = client_config_as(Some(stranger), version);
            let anonymous = client_config_as(None, version);
            for config in [as_stranger, anonymous] {
                let r = call_as(env.client, tls, config, r#"{"action": "ping"}"#).await;
                assert!(r.is_none(), "{version:?}: served {r:?}");
            }
        }

        // Revoked: the tv's next connection is refused.
        env.shared.engine.lock().await.set_clients(
            Clients::new([
                Client::new("laptop", fingerprint(&laptop.cert).0, Role::Admin, None).unwrap(),
            ])
            .unwrap(),
        );
        let as_tv = client_config_as(Some(tv), None);
        let r = call_as(env.client, tls, as_tv, r#"{"action": "ping"}"#).await;
        assert!(r.is_none(), "a revoked client served: {r:?}");

        // No list: anyone over TLS again, no certificate asked.
        env.shared
            .engine
            .lock()
            .await
            .set_clients(Clients::default());
        let anonymous = client_config_as(None, None);
        let r = call_as(env.client, tls, anonymous, r#"{"action": "ping"}"#).await;
        assert!(r.unwrap().get("error").is_none());
    });
}

#[test]
fn with_a_client_list_plaintext_is_refused_at_once() {
    run(false, |env| async move {
        let admin = client_identity(0);
        env.shared.engine.lock().await.set_clients(
            Clients::new([
                Client::new("laptop", fingerprint(&admin.cert).0, Role::Admin, None).unwrap(),
            ])
            .unwrap(),
        );
        let (mut rx, mut tx) = ([0u8; 4096], [0u8; 4096]);
        let socket = connect(env.client, &mut rx, &mut tx).await;
        let mut c = LineClient::new(socket);
        let _ = c.io.write_all(b"{\"action\": \"ping\"}\n").await;
        let _ = c.io.flush().await;
        assert!(c.reply().await.is_none(), "plaintext served");
    });
}

/// Two listed clients at once: the board-side MbedTLS heap peak of two
/// mutual-TLS sessions (each also parses its client's certificate) above
/// what was live before, plus the session structs mbedtls-rs allocates.
async fn two_mtls_sessions(env: &Env, version: Option<TlsVersion>) -> usize {
    let (tls, _) = env.tls.unwrap();
    let configs = [0, 1].map(|n| client_config_as(Some(client_identity(n)), version));
    let base = heap::live(Side::Board);
    heap::reset_peak(Side::Board);
    let session = |config: &'static SessionConfig<'static>| async move {
        let (mut rx, mut tx) = ([0u8; 4096], [0u8; 4096]);
        let mut socket = connect(env.client, &mut rx, &mut tx).await;
        {
            let mut s = Session::new(tls, &mut socket, config).expect("TLS session");
            s.connect().await.expect("mTLS handshake");
            let mut c = LineClient::new(s);
            let r = c.call(r#"{"action": "get_clients"}"#).await;
            assert!(r.get("error").is_none(), "{r}");
            // Both sessions are up before either ends.
            while env.shared.clients() < 2 {
                Timer::after(Duration::from_millis(10)).await;
            }
            c.send(b"\n").await;
            assert!(c.reply().await.is_none());
        }
    };
    join(session(configs[0]), session(configs[1])).await;
    while env.shared.clients() != 0 {
        Timer::after(Duration::from_millis(10)).await;
    }
    assert_eq!(
        heap::live(Side::Board),
        base,
        "the sessions' heap came back"
    );
    heap::peak(Side::Board) - base + 2 * heap::session_structs()
}

#[test]
fn two_concurrent_mtls_sessions_fit_the_firmware_heap() {
    run(true, |env| async move {
        let [a, b] = [0, 1].map(client_identity);
        env.shared.engine.lock().await.set_clients(
            Clients::new([
                Client::new("a", fingerprint(&a.cert).0, Role::Admin, None).unwrap(),
                Client::new("b", fingerprint(&b.cert).0, Role::Viewer, None).unwrap(),
            ])
            .unwrap(),
        );
        let identity = env.identity_heap + heap::identity_structs();
        let psa = piconet_host_test::psa_heap();
        let tickets = piconet_host_test::ticket_heap();
        let tls13 = two_mtls_sessions(&env, None).await;
        let tls12 = two_mtls_sessions(&env, Some(TlsVersion::Tls1_2)).await;
        println!(
            "board-side MbedTLS heap on x86_64 with a client list: identity {identity} B, \
             PSA state {psa} B, session tickets {tickets} B; 2 concurrent mTLS sessions peak \
             {tls13} B (TLS 1.3), {tls12} B (TLS 1.2); total {} B of the firmware's \
             {FIRMWARE_HEAP} B heap",
            identity + psa + tickets + tls13.max(tls12)
        );
        assert!(
            identity + psa + tickets + tls13.max(tls12) < FIRMWARE_HEAP,
            "2 mTLS sessions no longer fit the firmware's heap"
        );
    });
}
