use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::run;
use crate::args::Cli;
use crate::error::Failure;
use crate::exit;

/// Answers like piconetd's simulated board would, for the fields these tests use:
/// the command echoed with `time_received`, `boom` refused.
async fn fake_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut lines = BufReader::new(tcp).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line.is_empty() {
                        return;
                    }
                    let mut answer: Value = serde_json::from_str(&line).unwrap();
                    answer["time_received"] = answer["time_sent"].clone();
                    match answer["action"].as_str().unwrap() {
                        "boom" => {
                            answer["error"] = json!("unknown action 'boom'");
                            answer["exception"] = json!("ValueError");
                        }
                        "get_version" => answer["version"] = json!("0.1.0"),
                        "list_actions" => answer["actions"] = json!(["ping", "read_pin"]),
                        "get_info" => answer["info"] = json!({"board": "sim", "mem_free": 5}),
                        _ => {}
                    }
                    let out = format!("{answer}\n");
                    if lines.get_mut().write_all(out.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

async fn piconet(args: &[&str]) -> (Result<(), Failure>, String) {
    let cli = Cli::try_parse_args(std::iter::once("piconet").chain(args.iter().copied())).unwrap();
    let mut out = Vec::new();
    let result = run(cli, &mut out).await;
    (result, String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn send_prints_one_json_answer_per_command() {
    let addr = fake_server().await;
    let (result, out) = piconet(&[
        "send",
        &addr,
        "-c",
        "action=setup_pin",
        "pin=2",
        "mode=output",
        "value=0",
        "-c",
        "action=read_pin",
        "pin=2",
    ])
    .await;
    result.unwrap();
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0]["mode"], "output");
    assert_eq!(lines[0]["value"], 0);
    assert_eq!(lines[1]["action"], "read_pin");
    assert!(lines[1]["time_responded"].is_i64());
}

#[tokio::test]
async fn send_prints_every_answer_then_fails_if_one_is_an_error() {
    let addr = fake_server().await;
    let (result, out) = piconet(&["send", &addr, "-c", "action=boom", "-c", "action=ping"]).await;
    let failure = result.unwrap_err();
    assert_eq!(failure.code(), exit::SERVER_ERROR);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains("\"exception\":\"ValueError\""), "{out}");
}

#[tokio::test]
async fn a_key_given_twice_is_a_usage_error() {
    let (result, _) = piconet(&["send", "127.0.0.1:1", "-c", "pin=1", "pin=2"]).await;
    let failure = result.unwrap_err();
    assert_eq!(failure.code(), exit::USAGE);
}

#[tokio::test]
async fn version_actions_and_info_as_text_and_json() {
    let addr = fake_server().await;
    let (r, out) = piconet(&["version", &addr]).await;
    r.unwrap();
    assert_eq!(out, "0.1.0\n");
    let (r, out) = piconet(&["version", &addr, "--json"]).await;
    r.unwrap();
    assert_eq!(out, "{\"version\":\"0.1.0\"}\n");
    let (r, out) = piconet(&["actions", &addr]).await;
    r.unwrap();
    assert_eq!(out, "ping\nread_pin\n");
    let (r, out) = piconet(&["--json", "actions", &addr]).await;
    r.unwrap();
    assert_eq!(out, "{\"actions\":[\"ping\",\"read_pin\"]}\n");
    let (r, out) = piconet(&["info", &addr]).await;
    r.unwrap();
    assert_eq!(out, "board: sim\nmem_free: 5\n");
    let (r, out) = piconet(&["info", &addr, "--json"]).await;
    r.unwrap();
    assert_eq!(out, "{\"board\":\"sim\",\"mem_free\":5}\n");
}

#[tokio::test]
async fn ping_reports_round_trips() {
    let addr = fake_server().await;
    let (r, out) = piconet(&["ping", &addr, "-n", "3"]).await;
    r.unwrap();
    assert!(
        out.starts_with(&format!("3 pings to {addr}: round trip min/avg/max ")),
        "{out}"
    );
    let (r, out) = piconet(&["ping", &addr, "-n", "2", "--json"]).await;
    r.unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["count"], 2);
    assert_eq!(v["addr"], addr);
    // The fake server copies time_sent into time_received.
    assert_eq!(
        v["to_server"],
        json!({"min_ns": 0, "avg_ns": 0, "max_ns": 0})
    );
    assert!(v["round_trip"]["max_ns"].as_i64().unwrap() >= 0);
}

#[tokio::test]
async fn nobody_listening_is_a_connection_failure() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (r, out) = piconet(&["version", &format!("127.0.0.1:{port}")]).await;
    let failure = r.unwrap_err();
    assert_eq!(failure.code(), exit::CONNECTION);
    assert!(out.is_empty());
    let Failure::Client(e) = failure else {
        panic!("{failure:?}")
    };
    assert!(e.to_string().contains("is piconetd running"), "{e}");
}

/// piconetd on the simulated board, in this process.
async fn piconetd() -> String {
    let config = piconet_server::ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..piconet_server::ServerConfig::default()
    };
    let server = piconet_server::Server::bind(config).await.unwrap();
    let addr = server.local_addr().to_string();
    tokio::spawn(server.run(std::future::pending()));
    addr
}

/// Answers every line; every `every`-th answer is an error; closes after
/// `close_after` lines if given.
async fn scripted_server(every: usize, close_after: Option<usize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut lines = BufReader::new(tcp).lines();
                let mut n = 0;
                while let Ok(Some(_)) = lines.next_line().await {
                    n += 1;
                    if close_after == Some(n) {
                        return;
                    }
                    let answer: &[u8] = if n % every == 0 {
                        b"{\"action\": \"ping\", \"error\": \"no\", \"exception\": \"ValueError\"}\n"
                    } else {
                        b"{\"action\": \"ping\", \"time_received\": 1}\n"
                    };
                    if lines.get_mut().write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

async fn bench_json(args: &[&str]) -> (Result<(), Failure>, Value) {
    let mut all = vec!["bench", "--json", "--warmup", "0", "--duration", "0.3"];
    all.extend_from_slice(args);
    let (result, out) = piconet(&all).await;
    let value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    (result, value)
}

#[tokio::test]
async fn bench_reports_counts_and_latency_as_json() {
    let addr = piconetd().await;
    let (result, v) = bench_json(&[&addr, "--connections", "3"]).await;
    result.unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    for key in [
        "addr",
        "tls",
        "action",
        "connections",
        "pipeline",
        "duration_s",
        "warmup_s",
        "elapsed_s",
        "commands",
        "errors",
        "failed_connections",
        "first_error",
        "commands_per_s",
        "latency_us",
    ] {
        assert!(keys.contains(&key), "{key} missing from {v}");
    }
    assert_eq!(v["addr"], addr);
    assert_eq!(v["tls"], false);
    assert_eq!(v["action"], "ping");
    assert_eq!(v["connections"], 3);
    assert_eq!(v["errors"], 0);
    assert_eq!(v["failed_connections"], 0);
    assert_eq!(v["first_error"], Value::Null);
    assert!(v["commands"].as_u64().unwrap() > 0, "{v}");
    assert!(v["commands_per_s"].as_f64().unwrap() > 0.0, "{v}");
    let l = &v["latency_us"];
    let p = |k: &str| l[k].as_f64().unwrap();
    assert!(0.0 < p("p50") && p("p50") <= p("p90") && p("p90") <= p("p99"));
    assert!(p("p99") <= p("max"), "{l}");
}

#[tokio::test]
async fn bench_pins_work_on_piconetd_and_bursts_are_answered_whole() {
    let addr = piconetd().await;
    for action in ["read_pin", "write_pin"] {
        // 30 connections: more than the 26 pins, so some share one.
        let (result, v) = bench_json(&[
            &addr,
            "--action",
            action,
            "--connections",
            "30",
            "--pipeline",
            "4",
        ])
        .await;
        result.unwrap();
        assert_eq!(v["errors"], 0, "{v}");
        assert_eq!(v["action"], action);
        let commands = v["commands"].as_u64().unwrap();
        assert!(commands > 0 && commands % 4 == 0, "{v}");
    }
}

#[tokio::test]
async fn bench_counts_error_answers_apart_and_exits_1() {
    let addr = scripted_server(2, None).await;
    let (result, v) = bench_json(&[&addr, "--pipeline", "2", "--connections", "2"]).await;
    assert_eq!(result.unwrap_err().code(), exit::SERVER_ERROR);
    // Each burst of two gets one success and one error.
    let ok = v["commands"].as_u64().unwrap();
    assert!(ok > 0);
    assert_eq!(v["errors"].as_u64().unwrap(), ok, "{v}");
    assert!(v["first_error"].as_str().unwrap().contains("ValueError"));
    assert_eq!(v["failed_connections"], 0);
}

#[tokio::test]
async fn bench_reports_a_connection_the_server_drops() {
    let addr = scripted_server(usize::MAX, Some(5)).await;
    let (result, v) = bench_json(&[&addr, "--connections", "2"]).await;
    assert_eq!(result.unwrap_err().code(), exit::SERVER_ERROR);
    assert_eq!(v["failed_connections"], 2, "{v}");
    assert_eq!(v["errors"], 0);
    assert_eq!(v["commands"], 8, "{v}");
    assert!(v["first_error"].as_str().unwrap().contains("closed"));
}

#[tokio::test]
async fn bench_on_a_pin_it_cannot_set_up_fails_before_measuring() {
    let addr = scripted_server(1, None).await;
    let (result, out) =
        piconet(&["bench", &addr, "--action", "read_pin", "--duration", "0.1"]).await;
    let failure = result.unwrap_err();
    assert_eq!(failure.code(), exit::SERVER_ERROR);
    assert!(
        matches!(&failure, Failure::Bench(m) if m.contains("setup_pin 0 refused")),
        "{failure:?}"
    );
    assert_eq!(out, "");
}

#[tokio::test]
async fn bench_event_times_edges_beside_pings_on_the_simulated_board() {
    let addr = piconetd().await;
    let (result, v) = bench_json(&[&addr, "--action", "event"]).await;
    result.unwrap();
    assert_eq!(v["action"], "event");
    assert_eq!(v["failure"], Value::Null, "{v}");
    assert!(v["rounds"].as_u64().unwrap() > 0, "{v}");
    for side in ["event_us", "ping_us"] {
        let p = |k: &str| v[side][k].as_f64().unwrap();
        assert!(
            0.0 < p("p50") && p("p50") <= p("p99") && p("p99") <= p("max"),
            "{v}"
        );
    }
    let ratio = v["event_p50_over_ping_p50"].as_f64().unwrap();
    let expect = v["event_us"]["p50"].as_f64().unwrap() / v["ping_us"]["p50"].as_f64().unwrap();
    assert!((ratio - expect).abs() < 0.02, "{v}");
}

#[tokio::test]
async fn bench_event_needs_a_simulated_board_and_one_pair_of_connections() {
    // Every answer is an error: setup_pin is refused before anything is timed.
    let addr = scripted_server(1, None).await;
    let (result, out) = piconet(&["bench", &addr, "--action", "event", "--duration", "0.1"]).await;
    let failure = result.unwrap_err();
    assert!(
        matches!(&failure, Failure::Bench(m) if m.contains("needs a simulated board")),
        "{failure:?}"
    );
    assert_eq!(out, "");
    let addr = piconetd().await;
    let (result, _) = piconet(&["bench", &addr, "--action", "event", "--connections", "2"]).await;
    assert!(
        matches!(&result, Err(Failure::Bench(m)) if m.contains("leave out --connections")),
        "{result:?}"
    );
}

mod send_stdin {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use piconet_client::{Client, ServerAddr};
    use serde_json::Value;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;
    use tokio::sync::Notify;

    use crate::cmd::send;
    use crate::error::Failure;

    /// A board that echoes each command, counting connections and pings and
    /// telling `pinged` of each ping; it keeps every line it read.
    struct Board {
        port: u16,
        connections: Arc<AtomicUsize>,
        pings: Arc<AtomicUsize>,
        pinged: Arc<Notify>,
        lines: Arc<std::sync::Mutex<Vec<String>>>,
    }

    async fn board() -> Board {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let b = Board {
            port: listener.local_addr().unwrap().port(),
            connections: Arc::default(),
            pings: Arc::default(),
            pinged: Arc::default(),
            lines: Arc::default(),
        };
        let (connections, pings, pinged, kept) = (
            b.connections.clone(),
            b.pings.clone(),
            b.pinged.clone(),
            b.lines.clone(),
        );
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                connections.fetch_add(1, Ordering::SeqCst);
                let (pings, pinged, kept) = (pings.clone(), pinged.clone(), kept.clone());
                tokio::spawn(async move {
                    let mut lines = BufReader::new(tcp).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        kept.lock().unwrap().push(line.clone());
                        if line.is_empty() {
                            return;
                        }
                        let mut answer: Value = serde_json::from_str(&line).unwrap();
                        answer["time_received"] = answer["time_sent"].clone();
                        if answer["action"] == "boom" {
                            answer["error"] = "unknown action 'boom'".into();
                            answer["exception"] = "ValueError".into();
                        }
                        let out = format!("{answer}\n");
                        if lines.get_mut().write_all(out.as_bytes()).await.is_err() {
                            return;
                        }
                        if answer["action"] == "ping" {
                            pings.fetch_add(1, Ordering::SeqCst);
                            pinged.notify_one();
                        }
                    }
                });
            }
        });
        b
    }

    fn client(b: &Board) -> Client {
        Client::new(ServerAddr::new("127.0.0.1", b.port))
    }

    #[tokio::test]
    async fn every_line_goes_over_one_connection_and_the_session_ends_with_a_blank_line() {
        let b = board().await;
        let input = b"action=setup_pin pin=2 mode=output value=0\n\n# a comment\n\
            {\"action\": \"write_pin\", \"pin\": 2, \"value\": 1}\naction=read_pin pin=2\n";
        let mut out = Vec::new();
        send::run_lines(&client(&b), &input[..], true, send::KEEPALIVE, &mut out)
            .await
            .unwrap();
        let out = String::from_utf8(out).unwrap();
        let answers: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(answers.len(), 3, "{out}");
        assert_eq!(answers[0]["mode"], "output");
        // --release-on-disconnect reaches write_pin only.
        assert_eq!(answers[1]["release_on_disconnect"], true);
        assert!(answers[2].get("release_on_disconnect").is_none());
        assert_eq!(b.connections.load(Ordering::SeqCst), 1);
        // The closing ping and its blank line, after the three commands.
        let lines = b.lines.lock().unwrap().clone();
        assert_eq!(lines.len(), 5, "{lines:?}");
        assert!(lines[3].contains("\"ping\""), "{lines:?}");
        assert_eq!(lines[4], "");
    }

    #[tokio::test]
    async fn a_quiet_input_is_kept_alive_with_pings_that_are_not_printed() {
        let b = board().await;
        let (mut feed, input) = tokio::io::duplex(1024);
        let pinged = b.pinged.clone();
        let feeder = tokio::spawn(async move {
            feed.write_all(b"action=read_pin pin=3\n").await.unwrap();
            // The next line only once the client has pinged in the quiet.
            pinged.notified().await;
            feed.write_all(b"action=read_pin pin=4\n").await.unwrap();
        });
        let mut out = Vec::new();
        let input = BufReader::new(input);
        send::run_lines(
            &client(&b),
            input,
            false,
            Duration::from_millis(10),
            &mut out,
        )
        .await
        .unwrap();
        feeder.await.unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out.lines().count(), 2, "{out}");
        assert!(out.contains("\"pin\":4"), "{out}");
        assert!(
            b.pings.load(Ordering::SeqCst) >= 2,
            "a keep-alive and the closing ping"
        );
        assert_eq!(b.connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_line_that_is_no_command_is_skipped_and_the_rest_is_sent() {
        let b = board().await;
        let input = b"pin\naction=boom\n{not json\naction=read_pin pin=2\n";
        let mut out = Vec::new();
        let err = send::run_lines(&client(&b), &input[..], false, send::KEEPALIVE, &mut out)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Failure::Usage(m) if m.starts_with("2 input line(s)")),
            "{err}"
        );
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out.lines().count(), 2, "{out}");
        assert!(out.contains("ValueError"), "{out}");
        assert!(out.contains("read_pin"), "{out}");
    }
}
