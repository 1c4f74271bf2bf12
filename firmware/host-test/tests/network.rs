//! The firmware's network path on the host: app-core's listener on an
//! embassy-net stack, a client on a second stack over an in-memory cable,
//! plaintext and TLS (MbedTLS with the firmware's 4 KiB record profile).

use embassy_futures::join::join;
use embassy_futures::select::{select, Either};
use embassy_net::tcp::TcpSocket;
use embassy_time::{Duration, Instant, Timer};
use embedded_io_async::{Read, Write};
use mbedtls_rs::{Session, SessionConfig, TlsReference, TlsVersion};
use piconet_app_core::gate;
use piconet_app_core::listener::sizes::SOCKETS;
use piconet_app_core::listener::Listen;
use piconet_engine::slots::SlotLimits;
use piconet_engine::Level;
use piconet_host_test::heap::{self, Side, FIRMWARE_HEAP};
use piconet_host_test::{connect, run, run_with, run_with_slots, Env, LineClient, PORT};
use serde_json::Value;

fn ok(v: &Value) {
    assert!(v.get("error").is_none(), "unexpected error: {v}");
}

/// The seed's example: setup, read, write with a lease, read; after the
/// lease the pin is back at its safe level.
async fn seed_sequence<S: Read + Write>(c: &mut LineClient<S>, pin: u32) {
    let r = c
        .call(&format!(
            r#"{{"action": "setup_pin", "pin": {pin}, "mode": "output", "value": 0}}"#
        ))
        .await;
    ok(&r);
    assert_eq!(r["action"], "setup_pin");
    let r = c
        .call(&format!(r#"{{"action": "read_pin", "pin": {pin}}}"#))
        .await;
    ok(&r);
    assert_eq!(r["value"], 0);
    let r = c
        .call(&format!(
            r#"{{"action": "write_pin", "pin": {pin}, "value": 1, "timeout": 0.3}}"#
        ))
        .await;
    ok(&r);
    let written = Instant::now();
    let r = c
        .call(&format!(r#"{{"action": "read_pin", "pin": {pin}}}"#))
        .await;
    ok(&r);
    assert_eq!(r["value"], 1, "{r}");
    Timer::at(written + Duration::from_millis(600)).await;
    let r = c
        .call(&format!(r#"{{"action": "read_pin", "pin": {pin}}}"#))
        .await;
    ok(&r);
    assert_eq!(r["value"], 0, "the lease did not revert: {r}");
}

async fn tls_session<'s, 'a>(
    tls: (TlsReference<'static>, &'static SessionConfig<'static>),
    socket: &'s mut TcpSocket<'a>,
) -> Session<'static, &'s mut TcpSocket<'a>> {
    let mut s = Session::new(tls.0, socket, tls.1).expect("TLS session");
    s.connect().await.expect("TLS handshake");
    s
}

/// Wait until the board counts `n` connected clients (its LED state).
async fn clients(env: &Env, n: u32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while env.shared.clients() != n {
        assert!(
            Instant::now() < deadline,
            "board still counts {} clients",
            env.shared.clients()
        );
        Timer::after(Duration::from_millis(10)).await;
    }
}

#[test]
fn plaintext_client_drives_pins_and_the_lease_reverts() {
    run(false, |env| async move {
        let (mut rx, mut tx) = ([0u8; 4096], [0u8; 4096]);
        let socket = connect(env.client, &mut rx, &mut tx).await;
        let mut c = LineClient::new(socket);
        seed_sequence(&mut c, 2).await;
        // A blank line ends the session: the board closes.
        c.send(b"\n").await;
        assert!(c.reply().await.is_none());
        clients(&env, 0).await;
    });
}

#[test]
fn tls_client_drives_pins_and_the_lease_reverts() {
    run(true, |env| async move {
        let tls = env.tls.unwrap();
        let (mut rx, mut tx) = ([0u8; 4096], [0u8; 4096]);
        let mut socket = connect(env.client, &mut rx, &mut tx).await;
        {
            let session = tls_session(tls, &mut socket).await;
            let mut c = LineClient::new(session);
            seed_sequence(&mut c, 3).await;
            c.send(b"\n").await;
            assert!(c.reply().await.is_none());
        }
        clients(&env, 0).await;
    });
}

/// Two TLS clients at once (handshakes interleaved, then the seed's
/// sequence each); returns the board-side MbedTLS heap peak above what was
/// live before, plus the session structs mbedtls-rs allocates directly.
async fn two_sessions(env: &Env, version: Option<TlsVersion>) -> usize {
    let (tls, config) = env.tls.unwrap();
    let config: &'static SessionConfig<'static> = match (version, config) {
        (Some(v), SessionConfig::Client(c)) => {
            let mut c = c.clone();
            c.max_version = Some(v);
            Box::leak(Box::new(SessionConfig::Client(c)))
        }
        _ => config,
    };
    let base = heap::live(Side::Board);
    heap::reset_peak(Side::Board);
    let session = |pin: u32| async move {
        let (mut rx, mut tx) = ([0u8; 4096], [0u8; 4096]);
        let mut socket = connect(env.client, &mut rx, &mut tx).await;
        {
            let s = tls_session((tls, config), &mut socket).await;
            if let Some(v) = version {
                assert_eq!(s.tls_version(), Some(v));
            }
            let mut c = LineClient::new(s);
            // Both sessions are up before either runs its commands.
            clients(env, 2).await;
            seed_sequence(&mut c, pin).await;
            let r = c.call(r#"{"action": "get_info"}"#).await;
            ok(&r);
            c.send(b"\n").await;
            assert!(c.reply().await.is_none());
        }
    };
    join(session(4), session(5)).await;
    clients(env, 0).await;
    // Everything the sessions allocated is freed again.
    assert_eq!(heap::live(Side::Board), base);
    heap::peak(Side::Board) - base + 2 * heap::session_structs()
}

#[test]
fn two_concurrent_tls_sessions_fit_the_firmware_heap() {
    run(true, |env| async move {
        let identity = env.identity_heap + heap::identity_structs();
        let psa = piconet_host_test::psa_heap();
        let tickets = piconet_host_test::ticket_heap();
        let tls13 = two_sessions(&env, None).await;
        let tls12 = two_sessions(&env, Some(TlsVersion::Tls1_2)).await;
        println!(
            "board-side MbedTLS heap on x86_64: identity {identity} B, PSA state {psa} B, \
             session tickets {tickets} B; \
             2 concurrent sessions peak {tls13} B (default, TLS 1.3), {tls12} B (TLS 1.2); \
             total {} B of the firmware's {FIRMWARE_HEAP} B heap",
            identity + psa + tickets + tls13.max(tls12)
        );
        assert!(
            tls13.min(tls12) > 2 * 8 * 1024,
            "record buffers not allocated?"
        );
        assert!(
            identity + psa + tickets + tls13.max(tls12) < FIRMWARE_HEAP,
            "2 TLS sessions no longer fit the firmware's heap"
        );
    });
}

#[test]
fn a_client_that_vanishes_mid_line_frees_its_listener() {
    // The one client address opens all three slots at the end: let it.
    let slots = SlotLimits {
        per_address: SOCKETS,
        ..gate::limits::SLOT_LIMITS
    };
    run_with_slots(false, Listen::on(PORT), slots, |env| async move {
        for _ in 0..4 {
            let (mut rx, mut tx) = ([0u8; 4096], [0u8; 4096]);
            let mut socket = connect(env.client, &mut rx, &mut tx).await;
            socket
                .write_all(br#"{"action": "setup_pin", "pin": 6, "mo"#)
                .await
                .unwrap();
            socket.flush().await.unwrap();
            clients(&env, 1).await;
            // Gone without finishing the line: a reset, no FIN.
            socket.abort();
            let _ = socket.flush().await;
            drop(socket);
            clients(&env, 0).await;
        }
        // Four abandoned connections later all three listeners still serve.
        let mut bufs = [[0u8; 2048]; 6];
        let [a, b, c, d, e, f] = &mut bufs;
        let (s1, s2) = join(connect(env.client, a, b), connect(env.client, c, d)).await;
        let s3 = connect(env.client, e, f).await;
        for s in [s1, s2, s3] {
            let mut c = LineClient::new(s);
            ok(&c.call(r#"{"action": "ping"}"#).await);
        }
    });
}

#[test]
fn a_tls_client_that_vanishes_mid_line_frees_its_session() {
    run(true, |env| async move {
        let tls = env.tls.unwrap();
        let base = heap::live(Side::Board);
        for _ in 0..3 {
            let (mut rx, mut tx) = ([0u8; 4096], [0u8; 4096]);
            let mut socket = connect(env.client, &mut rx, &mut tx).await;
            {
                let mut s = tls_session(tls, &mut socket).await;
                s.write_all(br#"{"action": "read_pin", "pi"#).await.unwrap();
                s.flush().await.unwrap();
                clients(&env, 1).await;
                // The client's session is dropped without close_notify.
            }
            socket.abort();
            let _ = socket.flush().await;
            drop(socket);
            clients(&env, 0).await;
        }
        // The sessions' heap came back and a new TLS client is served (the
        // permits were returned).
        assert_eq!(heap::live(Side::Board), base);
        let (mut rx, mut tx) = ([0u8; 4096], [0u8; 4096]);
        let mut socket = connect(env.client, &mut rx, &mut tx).await;
        let s = tls_session(tls, &mut socket).await;
        let mut c = LineClient::new(s);
        ok(&c.call(r#"{"action": "ping"}"#).await);
    });
}

#[test]
fn a_client_that_never_reads_is_closed_while_leases_revert_on_time() {
    let mut listen = Listen::on(PORT);
    listen.limits.write_timeout = Duration::from_secs(1);
    run_with(false, listen, |env| async move {
        let (mut rx, mut tx) = ([0u8; 4096], [0u8; 4096]);
        let mut c = LineClient::new(connect(env.client, &mut rx, &mut tx).await);
        ok(&c
            .call(r#"{"action": "setup_pin", "pin": 7, "mode": "output", "value": 0}"#)
            .await);
        ok(&c
            .call(r#"{"action": "write_pin", "pin": 7, "value": 1, "timeout": 0.5}"#)
            .await);
        // Pipelines pings and never reads: its small receive window fills,
        // then the board's transmit buffer, then the board's writes stall.
        let (mut frx, mut ftx) = ([0u8; 512], [0u8; 4096]);
        let mut flood = connect(env.client, &mut frx, &mut ftx).await;
        clients(&env, 2).await;
        let pings = b"{\"action\": \"ping\"}\n".repeat(100);
        let started = Instant::now();
        let flooding = async { while flood.write_all(&pings).await.is_ok() {} };
        match select(flooding, Timer::after(Duration::from_secs(30))).await {
            Either::First(()) => {}
            Either::Second(()) => panic!("a client that never reads was not closed within 30 s"),
        }
        assert!(started.elapsed() >= Duration::from_secs(1));
        clients(&env, 1).await;
        {
            let engine = env.shared.engine.lock().await;
            assert_eq!(engine.board().level(7), Some(Level::Low));
            // Reverted while the flood was answered and then stalled: the
            // lease task never waited behind that connection.
            assert_eq!(engine.lateness().count(), 1);
            assert!(
                engine.lateness().max_us() < 200_000,
                "the revert was {} us late",
                engine.lateness().max_us()
            );
        }
        // The other client was never held up.
        ok(&c.call(r#"{"action": "ping"}"#).await);
    });
}

#[test]
fn a_release_on_disconnect_pin_reverts_when_its_tcp_connection_ends() {
    run(false, |env| async move {
        let (mut rx, mut tx) = ([0u8; 4096], [0u8; 4096]);
        let mut c = LineClient::new(connect(env.client, &mut rx, &mut tx).await);
        for pin in [10, 11] {
            ok(&c
                .call(&format!(
                    r#"{{"action": "setup_pin", "pin": {pin}, "mode": "output", "value": 0}}"#
                ))
                .await);
        }
        ok(&c
            .call(r#"{"action": "write_pin", "pin": 10, "value": 1, "timeout": 60, "release_on_disconnect": true}"#)
            .await);
        ok(&c
            .call(r#"{"action": "write_pin", "pin": 11, "value": 1, "timeout": 60}"#)
            .await);
        // Gone without a word: a reset, no FIN.
        let mut socket = c.io;
        socket.abort();
        let _ = socket.flush().await;
        drop(socket);
        clients(&env, 0).await;
        let engine = env.shared.engine.lock().await;
        assert_eq!(engine.board().level(10), Some(Level::Low), "released");
        assert_eq!(
            engine.board().level(11),
            Some(Level::High),
            "without the flag it runs to its timeout"
        );
        assert_eq!(engine.leases(), 1);
    });
}

const PING: &str = r#"{"action": "ping"}"#;

/// The next line is the slot policy's error of `class`, with `text` in
/// it, and then the board closes the connection.
async fn told_and_closed<S: Read + Write>(c: &mut LineClient<S>, class: &str, text: &str) {
    let r = c.reply().await.expect("a line from the slot policy");
    assert_eq!(r["exception"], class, "{r}");
    let error = r["error"].as_str().unwrap_or_default();
    assert!(error.contains(text), "{r}");
    assert!(c.reply().await.is_none(), "closed after {r}");
}

#[test]
fn one_address_gets_two_of_the_three_slots_and_its_idle_one_makes_way() {
    run(false, |env| async move {
        let mut bufs = [[0u8; 2048]; 6];
        let [a, b, c, d, e, f] = &mut bufs;
        let mut first = LineClient::new(connect(env.client, a, b).await);
        ok(&first.call(PING).await);
        let mut second = LineClient::new(connect(env.client, c, d).await);
        ok(&second.call(PING).await);
        {
            // Both of its connections just spoke: a third is refused,
            // politely (the spare listener took the SYN), and closed.
            let mut third = LineClient::new(connect(env.client, e, f).await);
            told_and_closed(
                &mut third,
                "ConnectionRefusedError",
                "your address already has 2 connections open and in use",
            )
            .await;
        }
        assert_eq!(env.gate.len(), 2);
        // The second stays in use, the first idles past evictable_after.
        for _ in 0..3 {
            Timer::after(Duration::from_millis(450)).await;
            ok(&second.call(PING).await);
        }
        let mut third = LineClient::new(connect(env.client, e, f).await);
        ok(&third.call(PING).await);
        told_and_closed(&mut first, "TimeoutError", "idle the longest").await;
        ok(&second.call(PING).await);
        assert_eq!(env.gate.len(), 2);
    });
}

#[test]
fn a_client_that_never_reads_loses_its_slot_to_a_newcomer_long_before_its_write_timeout() {
    run(false, |env| async move {
        // Pipelines pings and never reads (small receive window): the
        // board stops reading it once its replies cannot go out, so it
        // stops counting as active.
        let (mut frx, mut ftx) = ([0u8; 512], [0u8; 4096]);
        let mut flood = connect(env.client, &mut frx, &mut ftx).await;
        let (mut rx, mut tx) = ([0u8; 4096], [0u8; 4096]);
        let mut user = LineClient::new(connect(env.client, &mut rx, &mut tx).await);
        ok(&user.call(PING).await);
        clients(&env, 2).await;
        let pings = b"{\"action\": \"ping\"}\n".repeat(100);
        let flooding = async {
            let started = Instant::now();
            while flood.write_all(&pings).await.is_ok() {}
            started.elapsed()
        };
        let (mut nrx, mut ntx) = ([0u8; 4096], [0u8; 4096]);
        let others = async {
            for _ in 0..8 {
                Timer::after(Duration::from_millis(250)).await;
                ok(&user.call(PING).await);
            }
            // Same address, both slots taken: the flood, idle for over a
            // second, makes way; the user who keeps talking does not.
            let mut newcomer = LineClient::new(connect(env.client, &mut nrx, &mut ntx).await);
            ok(&newcomer.call(PING).await);
            ok(&user.call(PING).await);
            newcomer
        };
        let (flooded, mut newcomer) = join(
            embassy_time::with_timeout(Duration::from_secs(15), flooding),
            others,
        )
        .await;
        let flooded = flooded.expect("the flood's connection was closed");
        // Closed for the newcomer (after ≈ 2 s), not at the 30 s write
        // timeout.
        assert!(flooded < Duration::from_secs(10), "{flooded:?}");
        clients(&env, 2).await;
        assert_eq!(env.gate.len(), 2);
        ok(&newcomer.call(PING).await);
        ok(&user.call(PING).await);
    });
}
