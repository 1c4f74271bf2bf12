//! The fleet benchmark of BENCHMARKS.md ("MQTT bridge: a fleet"), run by
//! `bench/fleet.sh`: a Mosquitto of its own, `piconetd --count N`, and the
//! `piconet-bridge` binary serving all N boards; from outside, an MQTT
//! client sends `set` commands and a piconet connection per board watches
//! the pins.
//!
//! Measures (release binaries expected; paths as arguments):
//! - command → pin latency: `set ON`/`OFF` published, then `read_pin` on
//!   a connection of the bench's own, back to back, until the level is the
//!   one asked for (resolution: one `read_pin` round trip); and command →
//!   retained `state` message, one board at a time, over every board;
//! - throughput: bursts of `set` to every board, state messages counted
//!   until all have come back;
//! - the bridge's resident memory with 1 board and with N, per board.
//!
//! Usage: fleet_bench PICONETD BRIDGE MOSQUITTO [BOARDS [SAMPLES [ROUNDS [FIRST_PORT]]]]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use piconet_client::{Action, Client, Connection, Level};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;

/// Kills the child when dropped, however the bench ends.
struct Reaped(Child);
impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T) -> T {
    args.get(i)
        .map(|s| s.parse().unwrap_or_else(|_| panic!("argument {i}: {s:?}")))
        .unwrap_or(default)
}

async fn wait_port(port: u16, what: &str) {
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} does not listen on {port}");
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

fn bridge_config(dir: &std::path::Path, mqtt: u16, first: u16, boards: u16) -> std::path::PathBuf {
    let mut toml = format!("[broker]\nurl = \"mqtt://127.0.0.1:{mqtt}\"\n");
    for i in 0..boards {
        toml.push_str(&format!(
            "[[boards]]\nname = \"b{i}\"\naddress = \"127.0.0.1:{}\"\n\
             outputs = [{{ pin = 2, name = \"valve\", safe = 0, lease_s = 30 }}]\n\
             inputs = [{{ pin = 5, name = \"button\", pull = \"up\" }}]\n",
            first + i
        ));
    }
    let path = dir.join(format!("bridge-{boards}.toml"));
    std::fs::write(&path, toml).unwrap();
    path
}

/// Every state message: (board index, pin, payload, when it arrived).
type State = (u16, u32, String, Instant);

async fn subscriber(mqtt: u16) -> (AsyncClient, mpsc::UnboundedReceiver<State>) {
    let mut opts = MqttOptions::new("fleet-bench", "127.0.0.1", mqtt);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_inflight(1000);
    let (client, mut events) = AsyncClient::new(opts, 10_000);
    client
        .subscribe("piconet/+/+/state", QoS::AtMostOnce)
        .await
        .unwrap();
    client
        .subscribe("piconet/+/status", QoS::AtMostOnce)
        .await
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(event) = events.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = event {
                let now = Instant::now();
                let mut parts = p.topic.split('/').skip(1);
                let board = parts.next().and_then(|b| b.strip_prefix('b')?.parse().ok());
                let second = parts.next().unwrap_or_default();
                let payload = String::from_utf8_lossy(&p.payload).into_owned();
                let Some(board) = board else { continue };
                // Status messages come as pin u32::MAX.
                let pin = if second == "status" {
                    u32::MAX
                } else {
                    second.parse().unwrap_or(u32::MAX - 1)
                };
                if tx.send((board, pin, payload, now)).is_err() {
                    break;
                }
            }
        }
    });
    (client, rx)
}

async fn until_online(rx: &mut mpsc::UnboundedReceiver<State>, boards: u16) -> Duration {
    let start = Instant::now();
    let mut online = vec![false; usize::from(boards)];
    let mut left = boards;
    while left > 0 {
        let (b, pin, payload, _) = tokio::time::timeout(Duration::from_secs(120), rx.recv())
            .await
            .expect("every board online within 120 s")
            .unwrap();
        if pin == u32::MAX && payload == "online" && !online[usize::from(b)] {
            online[usize::from(b)] = true;
            left -= 1;
        }
    }
    start.elapsed()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn show(name: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "{name}: n={} p50={:.3} ms p99={:.3} ms max={:.3} ms",
        v.len(),
        percentile(&v, 0.5).as_secs_f64() * 1e3,
        percentile(&v, 0.99).as_secs_f64() * 1e3,
        v.last().unwrap().as_secs_f64() * 1e3
    );
}

async fn read(conn: &mut Connection) -> Level {
    let answer = conn
        .perform(Action::ReadPin { pin: 2 }, false)
        .await
        .unwrap();
    match answer.get("value").and_then(|v| v.as_u64()) {
        Some(1) => Level::High,
        Some(0) => Level::Low,
        _ => panic!("read_pin: {answer}"),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (piconetd, bridge, mosquitto) = (&args[1], &args[2], &args[3]);
    let boards: u16 = arg(&args, 4, 200);
    let samples: usize = arg(&args, 5, 1000);
    let rounds: usize = arg(&args, 6, 10);
    let first: u16 = arg(&args, 7, 24000);
    let mqtt = first - 1;
    let dir = std::env::temp_dir().join(format!("piconet-fleet-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {mqtt} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\nlog_type error\n"),
    )
    .unwrap();
    let _broker = Reaped(
        Command::new(mosquitto)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .spawn()
            .expect("mosquitto"),
    );
    wait_port(mqtt, "mosquitto").await;
    let _daemon = Reaped(
        Command::new(piconetd)
            .args([
                "--listen",
                &format!("127.0.0.1:{first}"),
                "--count",
                &boards.to_string(),
            ])
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("piconetd"),
    );
    for i in 0..boards {
        wait_port(first + i, "piconetd").await;
    }
    let (mqtt_client, mut states) = subscriber(mqtt).await;

    // The bridge's memory with one board, then with all.
    let one = Reaped(
        Command::new(bridge)
            .arg("--config")
            .arg(bridge_config(&dir, mqtt, first, 1))
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("piconet-bridge"),
    );
    until_online(&mut states, 1).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_one = rss_kib(one.0.id());
    drop(one);
    tokio::time::sleep(Duration::from_millis(500)).await;
    while states.try_recv().is_ok() {}

    let all = Reaped(
        Command::new(bridge)
            .arg("--config")
            .arg(bridge_config(&dir, mqtt, first, boards))
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("piconet-bridge"),
    );
    let up = until_online(&mut states, boards).await;
    println!(
        "boards: {boards}; all online {:.2} s after the bridge started",
        up.as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    while states.try_recv().is_ok() {}
    let rss_all = rss_kib(all.0.id());

    let mut conns = Vec::new();
    for i in 0..boards {
        let c = Client::new(format!("127.0.0.1:{}", first + i).parse().unwrap());
        conns.push(c.connect().await.unwrap());
    }

    // One command at a time, round-robin over the boards, ON then OFF.
    let mut to_pin = Vec::with_capacity(samples);
    let mut to_state = Vec::with_capacity(samples);
    for k in 0..samples {
        let b = (k % usize::from(boards)) as u16;
        let on = (k / usize::from(boards)) % 2 == 0;
        let want = if on { Level::High } else { Level::Low };
        let payload = if on { "ON" } else { "OFF" };
        let sent = Instant::now();
        mqtt_client
            .publish(
                format!("piconet/b{b}/2/set"),
                QoS::AtMostOnce,
                false,
                payload,
            )
            .await
            .unwrap();
        let conn = &mut conns[usize::from(b)];
        loop {
            if read(conn).await == want {
                to_pin.push(sent.elapsed());
                break;
            }
            assert!(
                sent.elapsed() < Duration::from_secs(10),
                "board b{b} never changed"
            );
        }
        loop {
            let (sb, pin, p, at) = tokio::time::timeout(Duration::from_secs(10), states.recv())
                .await
                .expect("a state message within 10 s")
                .unwrap();
            if sb == b && pin == 2 && p == payload {
                to_state.push(at - sent);
                break;
            }
        }
    }
    show("set -> pin level (read_pin loop)", to_pin);
    show("set -> retained state message", to_state);
    // Every pin back OFF for the bursts (sample count may end mid-round).
    for b in 0..boards {
        mqtt_client
            .publish(format!("piconet/b{b}/2/set"), QoS::AtMostOnce, false, "OFF")
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    while states.try_recv().is_ok() {}

    // Bursts: every board ON, then every board OFF, `rounds` times, all
    // published at once; done when every state message came back.
    let expected = rounds * 2 * usize::from(boards);
    let start = Instant::now();
    let publisher = mqtt_client.clone();
    let sender = tokio::spawn(async move {
        for r in 0..rounds * 2 {
            let payload = if r % 2 == 0 { "ON" } else { "OFF" };
            for b in 0..boards {
                publisher
                    .publish(
                        format!("piconet/b{b}/2/set"),
                        QoS::AtMostOnce,
                        false,
                        payload,
                    )
                    .await
                    .unwrap();
            }
        }
    });
    let mut got: HashMap<u16, usize> = HashMap::new();
    let mut count = 0;
    while count < expected {
        let Ok(Some((b, pin, _, _))) =
            tokio::time::timeout(Duration::from_secs(30), states.recv()).await
        else {
            println!("burst: only {count} of {expected} state messages within 30 s of the last");
            break;
        };
        if pin == 2 {
            *got.entry(b).or_default() += 1;
            count += 1;
        }
    }
    let took = start.elapsed();
    sender.await.unwrap();
    println!(
        "burst: {expected} set commands to {boards} boards, {count} state messages back in {:.2} s: {:.0} commands/s ({:.0} MQTT messages/s in and out)",
        took.as_secs_f64(),
        count as f64 / took.as_secs_f64(),
        (expected + count) as f64 / took.as_secs_f64()
    );
    let rss_after = rss_kib(all.0.id());
    println!(
        "bridge RSS: 1 board {rss_one} KiB; {boards} boards {rss_all} KiB idle, {rss_after} KiB after the bursts; {:.1} KiB per board",
        (rss_all as f64 - rss_one as f64) / f64::from(boards - 1)
    );
    for c in conns {
        c.close().await;
    }
    drop(all);
    let _ = std::fs::remove_dir_all(&dir);
}
