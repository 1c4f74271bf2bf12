//! Session resumption on the board (app-core's `tickets`): a client that
//! saved its session resumes it with the board's ticket, over TLS 1.3 and
//! 1.2, and on a board with a client list keeps its identity and role;
//! a client revoked after its ticket was issued is refused.
//!
//! "Resumed" is observed on the board: its ticket callback accepted one
//! more ticket and its verify callback decided no certificate.

use embassy_futures::join::join;
use embassy_net::Stack;
use embassy_time::{Duration, Timer};
use embedded_io_async::Write;
use mbedtls_rs::{SavedSession, Session, SessionConfig, TlsReference, TlsVersion};
use piconet_app_core::client_cert::{self, fingerprint};
use piconet_app_core::tickets;
use piconet_engine::{Client, Clients, Role};
use piconet_host_test::heap::{self, Side, FIRMWARE_HEAP};
use piconet_host_test::{
    client_config_as, client_identity, connect, run, Env, Identity, LineClient,
};
use serde_json::Value;

const SETUP: &str = r#"{"action": "setup_pin", "pin": 2, "mode": "output", "value": 0}"#;
const READ: &str = r#"{"action": "read_pin", "pin": 2}"#;
const PING: &str = r#"{"action": "ping"}"#;

/// One command over a new TLS connection as `config`'s client, resuming
/// `saved` when given. Returns the reply (`None`: the board refused the
/// connection) and the session to resume next (what the board's ticket
/// left; read after the reply, so a TLS 1.3 ticket has arrived).
async fn call(
    stack: Stack<'_>,
    tls: TlsReference<'static>,
    config: &'static SessionConfig<'static>,
    saved: Option<&SavedSession>,
    line: &str,
) -> (Option<Value>, Option<SavedSession>) {
    let (mut rx, mut tx) = ([0u8; 4096], [0u8; 4096]);
    let mut socket = connect(stack, &mut rx, &mut tx).await;
    let out = async {
        let mut s = Session::new(tls, &mut socket, config).expect("TLS session");
        match saved {
            Some(saved) => s.connect_with_session(saved).await.ok()?,
            None => s.connect().await.ok()?,
        }
        s.write_all(format!("{line}\n").as_bytes()).await.ok()?;
        s.flush().await.ok()?;
        let mut c = LineClient::new(s);
        let reply = c.reply().await?;
        Some((reply, c.io.save().ok()))
    }
    .await;
    // Reset, so the board's listener is free for the next connection.
    socket.abort();
    let _ = socket.flush().await;
    match out {
        Some((reply, next)) => (Some(reply), next),
        None => (None, None),
    }
}

/// The board's counters: tickets accepted, client certificates decided.
fn counters() -> (u32, u32) {
    (tickets::accepted(), client_cert::leaves_decided())
}

fn list(clients: &[(&str, &Identity, Role)]) -> Clients {
    Clients::new(
        clients.iter().map(|(name, id, role)| {
            Client::new(name, fingerprint(&id.cert).0, *role, None).unwrap()
        }),
    )
    .unwrap()
}

#[test]
fn a_listed_client_resumes_as_itself_and_a_revoked_one_cannot() {
    run(true, |env| async move {
        let (tls, _) = env.tls.unwrap();
        let [laptop, tv] = [0, 1].map(client_identity);
        let both = list(&[("laptop", laptop, Role::Admin), ("tv", tv, Role::Viewer)]);
        for version in [None, Some(TlsVersion::Tls1_2)] {
            env.shared.engine.lock().await.set_clients(both.clone());
            let as_laptop = client_config_as(Some(laptop), version);
            let as_tv = client_config_as(Some(tv), version);

            // A full handshake leaves a ticket; resuming it checks no
            // certificate and serves the admin as the admin.
            let (r, ticket) = call(env.client, tls, as_laptop, None, PING).await;
            assert!(r.is_some(), "{version:?}: the admin is served");
            let laptop_ticket = ticket.expect("the board gave a ticket");
            let (accepted, decided) = counters();
            let (r, next) = call(env.client, tls, as_laptop, Some(&laptop_ticket), SETUP).await;
            // A client resumes with the newest ticket it has (TLS 1.3 gives
            // one per connection; TLS 1.2 keeps the first).
            let laptop_ticket = next.expect("a session to resume");
            let r = r.expect("the resumed admin is served");
            assert!(r.get("error").is_none(), "{version:?}: {r}");
            assert_eq!(counters(), (accepted + 1, decided), "{version:?}: resumed");

            // The viewer, resumed, is still the viewer.
            let (r, ticket) = call(env.client, tls, as_tv, None, READ).await;
            assert_eq!(r.expect("the viewer is served")["value"], 0);
            let tv_ticket = ticket.expect("the board gave a ticket");
            let (accepted, decided) = counters();
            let (r, next) = call(env.client, tls, as_tv, Some(&tv_ticket), SETUP).await;
            let tv_ticket = next.expect("a session to resume");
            let r = r.expect("the resumed viewer is served");
            assert_eq!(r["exception"], "PermissionError", "{version:?}: {r}");
            assert!(
                r["error"].as_str().unwrap().starts_with("tv is a viewer"),
                "{r}"
            );
            let (r, next) = call(env.client, tls, as_tv, Some(&tv_ticket), READ).await;
            let tv_ticket = next.expect("a session to resume");
            assert_eq!(r.expect("the resumed viewer reads")["value"], 0);
            assert_eq!(counters(), (accepted + 2, decided), "{version:?}: resumed");

            // Revoked: the tv's ticket no longer resumes, and the full
            // handshake it falls back to refuses its certificate.
            env.shared
                .engine
                .lock()
                .await
                .set_clients(list(&[("laptop", laptop, Role::Admin)]));
            let (accepted, decided) = counters();
            let (r, _) = call(env.client, tls, as_tv, Some(&tv_ticket), PING).await;
            assert!(r.is_none(), "{version:?}: a revoked client resumed: {r:?}");
            assert_eq!(
                counters(),
                (accepted, decided + 1),
                "{version:?}: ticket refused, certificate refused"
            );
            // The admin's ticket still resumes.
            let (r, _) = call(env.client, tls, as_laptop, Some(&laptop_ticket), PING).await;
            assert!(r.is_some(), "{version:?}");
            assert_eq!(
                counters(),
                (accepted + 1, decided + 1),
                "{version:?}: resumed"
            );
        }
    });
}

#[test]
fn a_ticket_from_before_the_list_names_no_client() {
    run(true, |env| async move {
        let (tls, _) = env.tls.unwrap();
        let laptop = client_identity(0);
        for version in [None, Some(TlsVersion::Tls1_2)] {
            env.shared
                .engine
                .lock()
                .await
                .set_clients(Clients::default());
            let as_laptop = client_config_as(Some(laptop), version);
            // No list: no certificate asked for; the ticket resumes.
            let (r, ticket) = call(env.client, tls, as_laptop, None, PING).await;
            assert!(r.is_some(), "{version:?}");
            let ticket = ticket.expect("the board gave a ticket");
            let (accepted, decided) = counters();
            let (r, _) = call(env.client, tls, as_laptop, Some(&ticket), PING).await;
            assert!(r.is_some(), "{version:?}");
            assert_eq!(counters(), (accepted + 1, decided), "{version:?}: resumed");

            // With a list that names the laptop, that ticket (issued to an
            // anonymous session) is refused: the laptop gets in by a full
            // handshake, its certificate checked.
            env.shared
                .engine
                .lock()
                .await
                .set_clients(list(&[("laptop", laptop, Role::Admin)]));
            let (r, _) = call(env.client, tls, as_laptop, Some(&ticket), SETUP).await;
            let r = r.expect("the laptop is served");
            assert!(r.get("error").is_none(), "{version:?}: {r}");
            assert_eq!(
                counters(),
                (accepted + 1, decided + 1),
                "{version:?}: full handshake"
            );
        }
    });
}

/// Two listed clients resuming at once: the board-side MbedTLS heap peak
/// above what was live before, plus the session structs mbedtls-rs
/// allocates directly.
async fn two_resumed_sessions(env: &Env, version: Option<TlsVersion>) -> usize {
    let (tls, _) = env.tls.unwrap();
    let configs = [0, 1].map(|n| client_config_as(Some(client_identity(n)), version));
    let mut saved = Vec::new();
    for config in configs {
        let (r, ticket) = call(env.client, tls, config, None, PING).await;
        assert!(r.is_some());
        saved.push(ticket.expect("a ticket"));
    }
    // The board has let go of those connections.
    while env.shared.clients() != 0 {
        Timer::after(Duration::from_millis(10)).await;
    }
    let (accepted, _) = counters();
    let base = heap::live(Side::Board);
    heap::reset_peak(Side::Board);
    let saved = &saved;
    let session = |i: usize| async move {
        let (mut rx, mut tx) = ([0u8; 4096], [0u8; 4096]);
        let mut socket = connect(env.client, &mut rx, &mut tx).await;
        {
            let mut s = Session::new(tls, &mut socket, configs[i]).expect("TLS session");
            s.connect_with_session(&saved[i]).await.expect("resumed");
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
    join(session(0), session(1)).await;
    while env.shared.clients() != 0 {
        Timer::after(Duration::from_millis(10)).await;
    }
    assert_eq!(counters().0, accepted + 2, "both resumed");
    assert_eq!(
        heap::live(Side::Board),
        base,
        "the sessions' heap came back"
    );
    heap::peak(Side::Board) - base + 2 * heap::session_structs()
}

#[test]
fn two_concurrent_resumed_sessions_fit_the_firmware_heap() {
    run(true, |env| async move {
        let [a, b] = [0, 1].map(client_identity);
        env.shared
            .engine
            .lock()
            .await
            .set_clients(list(&[("a", a, Role::Admin), ("b", b, Role::Viewer)]));
        let identity = env.identity_heap + heap::identity_structs();
        let psa = piconet_host_test::psa_heap();
        let tickets = piconet_host_test::ticket_heap();
        let tls13 = two_resumed_sessions(&env, None).await;
        let tls12 = two_resumed_sessions(&env, Some(TlsVersion::Tls1_2)).await;
        println!(
            "board-side MbedTLS heap on x86_64, resumed with a client list: identity {identity} B, \
             PSA state {psa} B, session tickets {tickets} B; 2 concurrent resumed mTLS sessions \
             peak {tls13} B (TLS 1.3), {tls12} B (TLS 1.2); total {} B of the firmware's \
             {FIRMWARE_HEAP} B heap",
            identity + psa + tickets + tls13.max(tls12)
        );
        assert!(
            identity + psa + tickets + tls13.max(tls12) < FIRMWARE_HEAP,
            "2 resumed mTLS sessions no longer fit the firmware's heap"
        );
    });
}

#[test]
fn a_ticket_resumes_until_its_key_is_rotated_out() {
    run(true, |env| async move {
        let (tls, _) = env.tls.unwrap();
        let laptop = client_identity(0);
        env.shared
            .engine
            .lock()
            .await
            .set_clients(list(&[("laptop", laptop, Role::Admin)]));
        for version in [None, Some(TlsVersion::Tls1_2)] {
            let as_laptop = client_config_as(Some(laptop), version);
            let (r, ticket) = call(env.client, tls, as_laptop, None, PING).await;
            assert!(r.is_some(), "{version:?}");
            let ticket = ticket.expect("the board gave a ticket");
            // A new key seals new tickets; the one that sealed this ticket
            // is kept for one more period.
            tickets::rotate_keys().expect("rotated");
            let (accepted, decided) = counters();
            let (r, _) = call(env.client, tls, as_laptop, Some(&ticket), PING).await;
            assert!(r.is_some(), "{version:?}");
            assert_eq!(counters(), (accepted + 1, decided), "{version:?}: resumed");
            // The next rotation drops that key: a full handshake.
            tickets::rotate_keys().expect("rotated");
            let (r, _) = call(env.client, tls, as_laptop, Some(&ticket), PING).await;
            assert!(r.is_some(), "{version:?}: served after a full handshake");
            assert_eq!(
                counters(),
                (accepted + 1, decided + 1),
                "{version:?}: expired ticket"
            );
        }
    });
}
