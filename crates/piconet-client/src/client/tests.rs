use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::test_server::{echo, FakeServer, Reply};
use crate::{CaRefusal, Client, Error, Level, Mode, Pull, TlsVerify};

fn cmd(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn client(server: &FakeServer) -> Client {
    Client::new(server.server_addr())
}

#[tokio::test]
async fn several_commands_share_one_connection_and_the_last_ends_with_a_blank_line() {
    let server = FakeServer::plain(echo).await;
    let answers = client(&server)
        .send([
            cmd(json!({"action": "setup_pin", "pin": 2, "mode": "output", "value": 0})),
            cmd(json!({"action": "read_pin", "pin": 2})),
            cmd(json!({"action": "ping"})),
        ])
        .await
        .unwrap();

    let wire = String::from_utf8(server.received()).unwrap();
    assert!(wire.ends_with("}\n\n"), "{wire:?}");
    let lines: Vec<&str> = wire.split('\n').collect();
    // three commands, the blank line, and nothing after the final \n
    assert_eq!(lines.len(), 5, "{wire:?}");
    assert_eq!(&lines[3..], ["", ""]);
    for (line, action) in lines[..3].iter().zip(["setup_pin", "read_pin", "ping"]) {
        let sent: Map<String, Value> = serde_json::from_str(line).unwrap();
        assert_eq!(sent["action"], action);
        assert!(sent["time_sent"].as_i64().unwrap() > 1_600_000_000_000_000_000);
    }

    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0].raw()["mode"], "output");
    assert_eq!(answers[1].action(), "read_pin");
    for a in &answers {
        let (sent, received, responded) = (
            a.time_sent().unwrap(),
            a.time_received().unwrap(),
            a.time_responded().unwrap(),
        );
        assert!(sent <= received && received <= responded, "{a}");
    }
}

#[tokio::test]
async fn an_empty_send_connects_to_nothing() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let c = Client::new(crate::ServerAddr::new("127.0.0.1", addr.port()));
    assert!(c.send([]).await.unwrap().is_empty());
}

fn fake_board(command: &Map<String, Value>) -> Reply {
    let extra = match command["action"].as_str().unwrap() {
        "read_pin" if command["pin"] == 7 => {
            return Reply::Echo(cmd(json!({"error": "pin 7 not set up",
                "exception": "GPIOPinNotSetupError"})))
        }
        "read_pin" => json!({"value": 1}),
        "get_version" => json!({"version": "1.13.1"}),
        "get_info" => json!({"info": {"board": "sim", "mem_free": 1000}}),
        "list_actions" => json!({"actions": ["ping", "read_pin"]}),
        "get_pins" => json!({"pins": [{"pin": 2, "mode": "output", "level": 1, "safe": 0,
            "lease_ms": 900}]}),
        "get_config" | "set_port" => json!({"config": {"ssid": null, "password_set": false,
            "port": command.get("port").cloned().unwrap_or(json!(12345)),
            "tls_fingerprint": null, "restart_needed": command["action"] == "set_port"}}),
        _ => json!({}),
    };
    Reply::Echo(cmd(extra))
}

#[tokio::test]
async fn pins_and_board_settings_are_typed() {
    let server = FakeServer::plain(fake_board).await;
    let c = client(&server);
    let pins = c.get_pins().await.unwrap();
    assert_eq!(pins.len(), 1);
    assert_eq!(
        (pins[0].pin, pins[0].level, pins[0].lease_ms),
        (2, Some(Level::High), Some(900))
    );
    let config = c.get_config().await.unwrap();
    assert_eq!((config.port, config.ssid.as_deref()), (12345, None));
    let stored = c
        .provision(crate::Action::SetPort { port: 8080 })
        .await
        .unwrap();
    assert_eq!(stored.port, 8080);
    assert!(stored.restart_needed);
    let e = c.provision(crate::Action::Reset).await.unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    // An answer without the object is a missing field, not a panic.
    let e = c.update_status().await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::MissingField {
                field: "update",
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn typed_helpers_send_the_wire_fields_and_read_the_answers() {
    let server = FakeServer::plain(fake_board).await;
    let c = client(&server);
    let setup = c
        .setup_pin(2, Mode::Output, Some(Level::Low), Some(Pull::Down))
        .await
        .unwrap();
    assert_eq!(setup.raw()["value"], 0);
    assert_eq!(setup.raw()["pull"], "down");
    let write = c
        .write_pin(2, Level::High, Duration::from_millis(1500))
        .await
        .unwrap();
    assert_eq!(write.raw()["value"], 1);
    assert_eq!(write.raw()["timeout"], 1.5);
    assert_eq!(c.read_pin(2).await.unwrap(), Level::High);
    assert_eq!(c.version().await.unwrap(), "1.13.1");
    assert_eq!(c.info().await.unwrap()["board"], "sim");
    assert_eq!(c.actions().await.unwrap(), ["ping", "read_pin"]);
    let sleep = c.sleep(250, true).await.unwrap();
    assert_eq!(
        (sleep.raw()["time_ms"].clone(), sleep.raw()["deep"].clone()),
        (json!(250), json!(1))
    );
    assert_eq!(c.reset().await.unwrap().action(), "reset");

    let stats = c.ping(4).await.unwrap();
    assert_eq!(stats.count, 4);
    assert!(stats.round_trip.min_ns <= stats.round_trip.avg_ns);
    assert!(stats.round_trip.avg_ns <= stats.round_trip.max_ns);
    assert!(stats.round_trip.min_ns >= 0);
    assert!(matches!(c.ping(0).await, Err(Error::InvalidArgument(_))));
}

#[tokio::test]
async fn a_server_error_is_an_error_with_both_strings_and_the_raw_answer() {
    let server = FakeServer::plain(fake_board).await;
    let c = client(&server);
    match c.read_pin(7).await {
        Err(Error::Server {
            error,
            exception,
            response,
        }) => {
            assert_eq!(error, "pin 7 not set up");
            assert_eq!(exception, "GPIOPinNotSetupError");
            assert_eq!(response.raw()["pin"], 7);
        }
        other => panic!("{other:?}"),
    }
    // send() hands error answers back for the caller to print.
    let answers = c
        .send([cmd(json!({"action": "read_pin", "pin": 7}))])
        .await
        .unwrap();
    assert_eq!(
        answers[0].server_error().unwrap().exception,
        "GPIOPinNotSetupError"
    );
}

#[tokio::test]
async fn an_answer_without_its_field_is_reported() {
    let server = FakeServer::plain(echo).await;
    let err = client(&server).read_pin(2).await.unwrap_err();
    assert!(
        matches!(err, Error::MissingField { field: "value", .. }),
        "{err:?}"
    );
}

fn huge(_: &Map<String, Value>) -> Reply {
    // Two MiB without a newline: a server trying to exhaust the client's memory.
    Reply::Raw(vec![b'a'; 2 * 1024 * 1024])
}

fn line_of_1001(_: &Map<String, Value>) -> Reply {
    let mut line = format!("{{\"pad\": \"{}\"}}", "x".repeat(1001 - 11)).into_bytes();
    assert_eq!(line.len(), 1001);
    line.push(b'\n');
    Reply::Raw(line)
}

#[tokio::test]
async fn an_answer_longer_than_the_limit_is_refused() {
    let server = FakeServer::plain(huge).await;
    let err = client(&server)
        .send([cmd(json!({"action": "ping"}))])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ResponseTooLarge { limit, .. } if limit == 1024 * 1024),
        "{err:?}"
    );

    let server = FakeServer::plain(line_of_1001).await;
    let ping = || [cmd(json!({"action": "ping"}))];
    let c = client(&server);
    assert!(c
        .clone()
        .with_max_response_bytes(1001)
        .send(ping())
        .await
        .is_ok());
    let err = c
        .with_max_response_bytes(1000)
        .send(ping())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ResponseTooLarge { limit: 1000, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("longer than 1000 bytes"), "{err}");
}

#[tokio::test]
async fn a_silent_server_times_out_per_command() {
    let server = FakeServer::plain(|_| Reply::Silent).await;
    let started = std::time::Instant::now();
    let err = client(&server)
        .with_timeout(Duration::from_millis(200))
        .send([cmd(json!({"action": "ping"}))])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                step: "waiting for an answer from",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn the_timeout_renews_for_each_command() {
    fn slow(_: &Map<String, Value>) -> Reply {
        Reply::Later(Duration::from_millis(150))
    }
    let server = FakeServer::plain(slow).await;
    // 4 × 150 ms exceeds 300 ms in total, but never per command.
    let answers = client(&server)
        .with_timeout(Duration::from_millis(300))
        .send((0..4).map(|_| cmd(json!({"action": "ping"}))))
        .await
        .unwrap();
    assert_eq!(answers.len(), 4);
}

#[tokio::test]
async fn a_refused_connection_says_what_to_check() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let err = Client::new(crate::ServerAddr::new("127.0.0.1", port))
        .version()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ConnectionRefused { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("connection refused at 127.0.0.1:{port}: is piconetd running, on this port?")
    );
}

#[tokio::test]
async fn a_server_closing_early_or_answering_garbage_is_reported() {
    let server = FakeServer::plain(|_| Reply::Close).await;
    let err = client(&server).version().await.unwrap_err();
    assert!(matches!(err, Error::Closed { answered: 0, .. }), "{err:?}");

    let server = FakeServer::plain(|_| Reply::Raw(b"[1, 2]\n".to_vec())).await;
    let err = client(&server).version().await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidResponse { ref reason, .. } if reason == "a JSON array"),
        "{err:?}"
    );

    let server = FakeServer::plain(|_| Reply::Raw(b"{oops\n".to_vec())).await;
    let err = client(&server).version().await.unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
}

#[tokio::test]
async fn an_answer_cut_by_the_close_is_taken_as_the_original_client_does() {
    // No newline after the answer; the blank line after the command then
    // makes the fake server close, which ends the answer.
    fn cut(_: &Map<String, Value>) -> Reply {
        Reply::Raw(br#"{"version": "9"}"#.to_vec())
    }
    let server = FakeServer::plain(cut).await;
    assert_eq!(client(&server).version().await.unwrap(), "9");
}

mod tls {
    use super::*;
    use crate::known_hosts::{Fingerprint, KnownHosts};

    fn self_signed(names: &[&str]) -> rcgen::CertifiedKey<rcgen::KeyPair> {
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.self_signed(&key).unwrap();
        rcgen::CertifiedKey {
            cert,
            signing_key: key,
        }
    }

    #[tokio::test]
    async fn the_servers_own_certificate_as_ca_file_is_trusted_even_without_a_name() {
        // As the seed's openssl steps make it: self-signed, no subject alternative name.
        let cert = self_signed(&[]);
        let server = FakeServer::tls(&cert, fake_board).await;
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [
            ("c.der", cert.cert.der().to_vec()),
            ("c.pem", cert.cert.pem().into_bytes()),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let c = client(&server).with_tls(TlsVerify::CaFile(path));
            assert_eq!(c.version().await.unwrap(), "1.13.1");
        }
    }

    #[tokio::test]
    async fn another_certificate_than_the_ca_file_is_rejected() {
        let server = FakeServer::tls(&self_signed(&["127.0.0.1"]), echo).await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.pem");
        std::fs::write(&path, self_signed(&["127.0.0.1"]).cert.pem()).unwrap();
        let err = client(&server)
            .with_tls(TlsVerify::CaFile(path.clone()))
            .version()
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::CertificateRejected { ref ca_file, .. } if *ca_file == path),
            "{err:?}"
        );
        assert!(
            matches!(
                err,
                Error::CertificateRejected {
                    reason: CaRefusal::NotTrusted,
                    ..
                }
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("is not that one and not signed by it"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_certificate_signed_by_the_ca_file_must_also_name_the_host() {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();

        for (name, trusted) in [("127.0.0.1", true), ("pico.example", false)] {
            let leaf_key = rcgen::KeyPair::generate().unwrap();
            let leaf = rcgen::CertificateParams::new(vec![name.to_string()])
                .unwrap()
                .signed_by(&leaf_key, &ca)
                .unwrap();
            let server = FakeServer::tls_with(leaf.der().clone(), &leaf_key, fake_board).await;
            let got = client(&server)
                .with_tls(TlsVerify::CaFile(ca_file.clone()))
                .version()
                .await;
            if trusted {
                assert_eq!(got.unwrap(), "1.13.1");
            } else {
                let err = got.unwrap_err();
                assert!(matches!(err, Error::CertificateRejected { .. }), "{err:?}");
                assert!(
                    matches!(err, Error::CertificateRejected { reason: CaRefusal::WrongName { ref host }, .. } if host == "127.0.0.1"),
                    "{err:?}"
                );
                assert!(
                    err.to_string().contains("other names than 127.0.0.1"),
                    "{err}"
                );
            }
        }
    }

    #[tokio::test]
    async fn first_use_pins_the_certificate_then_a_changed_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("piconet/known_hosts");
        let first = self_signed(&[]);
        let server = FakeServer::tls(&first, fake_board).await;
        let c = client(&server).with_tls(TlsVerify::KnownHosts(file.clone()));

        assert_eq!(c.version().await.unwrap(), "1.13.1");
        let host = server.server_addr().to_string();
        let pinned = Fingerprint::of_certificate(first.cert.der());
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            format!("{host} {pinned}\n")
        );
        // The same certificate again: accepted, nothing added.
        assert_eq!(c.version().await.unwrap(), "1.13.1");
        assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 1);

        // Another certificate at the same address: refused, naming file and line.
        let impostor = self_signed(&[]);
        let other = FakeServer::tls(&impostor, fake_board).await;
        KnownHosts::new(&file)
            .add(&other.server_addr().to_string(), &pinned)
            .unwrap();
        let err = client(&other)
            .with_tls(TlsVerify::KnownHosts(file.clone()))
            .version()
            .await
            .unwrap_err();
        match &err {
            Error::HostKeyChanged {
                file: f,
                line,
                expected,
                found,
                ..
            } => {
                assert_eq!((f, *line), (&file, 2));
                assert_eq!(*expected, pinned.to_string());
                assert_eq!(
                    *found,
                    Fingerprint::of_certificate(impostor.cert.der()).to_string()
                );
            }
            other => panic!("{other:?}"),
        }
        let message = err.to_string();
        assert!(
            message.contains("HAS CHANGED") && message.contains("delete line 2"),
            "{message}"
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 2);
    }

    #[tokio::test]
    async fn insecure_accepts_any_certificate() {
        let server = FakeServer::tls(&self_signed(&["elsewhere.example"]), fake_board).await;
        let c = client(&server).with_tls(TlsVerify::Insecure);
        assert_eq!(c.version().await.unwrap(), "1.13.1");
        let answers = c
            .send([
                cmd(json!({"action": "ping"})),
                cmd(json!({"action": "ping"})),
            ])
            .await
            .unwrap();
        assert_eq!(answers.len(), 2);
        let wire = String::from_utf8(server.received()).unwrap();
        // get_version\n\n, then ping\n ping\n\n
        assert_eq!(wire.matches('\n').count(), 2 + 3, "{wire:?}");
    }

    #[tokio::test]
    async fn plaintext_to_a_tls_server_says_to_use_tls() {
        let server = FakeServer::tls(&self_signed(&[]), echo).await;
        let err = client(&server).version().await.unwrap_err();
        assert!(
            matches!(err, Error::ServerWantsTls { .. })
                && err.to_string().contains("connect with TLS"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn tls_to_a_plaintext_server_fails_the_handshake() {
        let server = FakeServer::plain(echo).await;
        let err = client(&server)
            .with_tls(TlsVerify::Insecure)
            .with_timeout(Duration::from_secs(2))
            .version()
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Tls { .. }), "{err:?}");
        assert!(
            err.to_string().contains("does the server speak TLS"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_handshake_that_never_ends_times_out_while_connecting() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let _held = tokio::spawn(async move {
            let _conn = listener.accept().await;
            std::future::pending::<()>().await;
        });
        let err = Client::new(crate::ServerAddr::new("127.0.0.1", port))
            .with_tls(TlsVerify::Insecure)
            .with_timeout(Duration::from_millis(200))
            .version()
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Timeout {
                    step: "connecting to",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

mod serial {
    use super::*;
    use crate::test_server::FakeSerialBoard;
    use crate::Endpoint;

    #[tokio::test]
    async fn commands_go_over_the_serial_port_as_over_tcp() {
        let board = FakeSerialBoard::start(|cmd| match cmd["action"].as_str() {
            Some("get_version") => Reply::Echo(cmd_map(json!({"version": "0.3.0"}))),
            _ => Reply::Echo(Map::new()),
        });
        let client = Client::serial(&board.path);
        assert_eq!(client.endpoint(), &Endpoint::Serial(board.path.clone()));
        assert_eq!(client.version().await.unwrap(), "0.3.0");
        // The port is closed after each call and opened again for the next.
        let answers = client
            .send([
                cmd(json!({"action": "setup_pin", "pin": 2, "mode": "output"})),
                cmd(json!({"action": "ping"})),
            ])
            .await
            .unwrap();
        assert_eq!(answers.len(), 2);
        assert_eq!(answers[1].action(), "ping");
        let wire =
            board.received_once(|bytes| bytes.windows(2).filter(|w| w == b"\n\n").count() >= 2);
        let wire = String::from_utf8(wire).unwrap();
        assert!(wire.ends_with("}\n\n"), "{wire:?}");
        assert_eq!(wire.matches("\n\n").count(), 2, "{wire:?}");
    }

    fn cmd_map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[tokio::test]
    async fn an_answer_left_over_from_an_earlier_session_is_skipped() {
        // The board answers an older command (another time_sent) first.
        let board = FakeSerialBoard::start(|cmd| {
            let mut real = cmd.clone();
            real.insert("time_received".into(), json!(1));
            Reply::Raw(
                format!(
                    "{}\n{}\n",
                    json!({"action": "read_pin", "pin": 3, "time_sent": 17, "value": 1}),
                    Value::Object(real)
                )
                .into_bytes(),
            )
        });
        let answer = Client::serial(&board.path)
            .command(cmd(json!({"action": "ping"})))
            .await
            .unwrap();
        assert_eq!(answer.action(), "ping");
    }

    #[tokio::test]
    async fn a_silent_board_times_out_naming_the_port() {
        let board = FakeSerialBoard::start(|_| Reply::Silent);
        let err = Client::serial(&board.path)
            .with_timeout(Duration::from_millis(200))
            .command(cmd(json!({"action": "ping"})))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
        assert!(
            err.to_string().contains(board.path.to_str().unwrap()),
            "{err}"
        );
    }

    #[tokio::test]
    async fn tls_over_the_serial_port_is_refused_before_opening_it() {
        let err = Client::serial("/dev/piconet-none")
            .with_tls(TlsVerify::Insecure)
            .command(cmd(json!({"action": "ping"})))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_missing_port_is_a_serial_open_error() {
        let err = Client::serial("/dev/piconet-none")
            .command(cmd(json!({"action": "ping"})))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::SerialOpen { .. }), "{err:?}");
    }
}

/// `next_event` in a `select!` is dropped whenever something else is
/// ready first; a line it had half read must not be lost, neither for the
/// next `next_event` nor for the next `request`.
#[tokio::test]
async fn a_cancelled_next_event_loses_no_half_read_line() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (go_tx, mut go_rx) = tokio::sync::mpsc::channel::<()>(1);
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let (r, mut w) = tcp.into_split();
        let mut r = BufReader::new(r);
        let edge = |seq: u32| {
            format!(r#"{{"event": "edge", "pin": 5, "value": 1, "time_us": 9, "seq": {seq}}}"#)
        };
        let first_line = edge(1);
        let (first, rest) = first_line.split_at(20);
        w.write_all(first.as_bytes()).await.unwrap();
        go_rx.recv().await.unwrap();
        w.write_all(format!("{rest}\n").as_bytes()).await.unwrap();
        let second = edge(2);
        let (first, rest) = second.split_at(30);
        w.write_all(first.as_bytes()).await.unwrap();
        let mut command = String::new();
        r.read_line(&mut command).await.unwrap();
        w.write_all(format!("{rest}\n{{\"action\": \"ping\"}}\n").as_bytes())
            .await
            .unwrap();
        // Holds the connection open until the client is done.
        let _ = r.read_line(&mut command).await;
    });
    let client = Client::new(crate::ServerAddr::new("127.0.0.1", port));
    let mut conn = client.connect().await.unwrap();
    let edge = |seq| crate::Event::Edge {
        pin: 5,
        value: Level::High,
        time_us: 9,
        seq,
    };
    // Cancelled with the first half of the line read.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), conn.next_event())
            .await
            .is_err()
    );
    go_tx.send(()).await.unwrap();
    assert_eq!(conn.next_event().await.unwrap(), edge(1));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), conn.next_event())
            .await
            .is_err()
    );
    let answer = conn
        .request(cmd(json!({"action": "ping"})), false)
        .await
        .unwrap();
    assert_eq!(answer.action(), "ping");
    assert_eq!(conn.next_event().await.unwrap(), edge(2));
    conn.close().await;
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap();
}
