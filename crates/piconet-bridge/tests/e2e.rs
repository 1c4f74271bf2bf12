//! The bridge for real: a Mosquitto broker of the test's own (own config, own
//! loopback port), piconetd on the simulated board in-process, the
//! `piconet-bridge` binary as a child process, and an MQTT client and a
//! piconet client looking from outside.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use piconet_client::{Client, Level};
use piconet_server::{Server, ServerConfig};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;

const LEASE_S: u64 = 3;

/// Kills the child when the test ends, however it ends.
struct Reaped(Child);
impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn mosquitto_binary() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    // Debian installs the broker in sbin, often not on a user's PATH.
    dirs.extend(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from));
    dirs.into_iter()
        .map(|d| d.join("mosquitto"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the MQTT bridge tests need the mosquitto broker: install it \
                 (Debian/Ubuntu: apt-get install mosquitto; scripts/test.sh does)"
            )
        })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "piconet-bridge-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn start_mosquitto(dir: &Path) -> (Reaped, u16) {
    let port = free_port();
    (mosquitto_on(dir, port).await, port)
}

/// A broker on `port` (again, after [`start_mosquitto`] chose it).
async fn mosquitto_on(dir: &Path, port: u16) -> Reaped {
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_type error\nlog_type warning\n"),
    )
    .unwrap();
    let child = Command::new(mosquitto_binary())
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting mosquitto");
    let child = Reaped(child);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("mosquitto did not listen on 127.0.0.1:{port}");
}

/// Every message the watcher sees: (topic, payload, retained).
type Seen = (String, String, bool);

async fn watcher(port: u16, id: &str, filters: &[&str]) -> (AsyncClient, Watch) {
    watcher_with(port, id, filters, |_| {}).await
}

async fn watcher_with(
    port: u16,
    id: &str,
    filters: &[&str],
    configure: impl FnOnce(&mut MqttOptions),
) -> (AsyncClient, Watch) {
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(5));
    configure(&mut opts);
    let (client, mut events) = AsyncClient::new(opts, 16);
    for f in filters {
        client.subscribe(*f, QoS::AtLeastOnce).await.unwrap();
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let watch = Watch {
        rx,
        seen: Vec::new(),
    };
    tokio::spawn(async move {
        while let Ok(event) = events.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = event {
                let payload = String::from_utf8_lossy(&p.payload).into_owned();
                if tx.send((p.topic, payload, p.retain)).is_err() {
                    break;
                }
            }
        }
    });
    (client, watch)
}

/// What a watcher saw, each message taken by at most one wait, so the
/// order in which the bridge publishes independent topics does not matter.
struct Watch {
    rx: mpsc::UnboundedReceiver<Seen>,
    seen: Vec<(Seen, bool)>,
}

impl Watch {
    /// The first message not yet taken on `topic` with `payload` (any
    /// payload: `None`), waiting up to 15 s for it.
    async fn take(&mut self, topic: &str, payload: Option<&str>) -> Seen {
        let matches = |s: &Seen| s.0 == topic && payload.is_none_or(|p| s.1 == p);
        let wait = async {
            let mut i = 0;
            loop {
                while i < self.seen.len() {
                    let (s, taken) = &mut self.seen[i];
                    if !*taken && matches(s) {
                        *taken = true;
                        return s.clone();
                    }
                    i += 1;
                }
                let s = self.rx.recv().await.expect("watcher ended");
                self.seen.push((s, false));
            }
        };
        tokio::time::timeout(Duration::from_secs(15), wait)
            .await
            .unwrap_or_else(|_| panic!("no {payload:?} on {topic} within 15 s"))
    }

    async fn until(&mut self, topic: &str, payload: &str) -> Seen {
        self.take(topic, Some(payload)).await
    }

    async fn next_on(&mut self, topic: &str) -> Seen {
        self.take(topic, None).await
    }
}

fn start_bridge(dir: &Path, mqtt_port: u16, board: SocketAddr) -> Reaped {
    start_bridge_with(
        dir,
        &format!("url = \"mqtt://127.0.0.1:{mqtt_port}\""),
        board,
    )
}

/// The bridge with `broker` as the [broker] table's lines.
fn start_bridge_with(dir: &Path, broker: &str, board: SocketAddr) -> Reaped {
    start_bridge_config(
        dir,
        &format!(
            r#"
[broker]
{broker}
[[boards]]
name = "garden"
address = "{board}"
outputs = [{{ pin = 2, name = "valve", safe = 0, lease_s = {LEASE_S} }}]
inputs = [{{ pin = 5, name = "button", pull = "up" }}]
"#
        ),
    )
}

/// The bridge with `toml` as its whole configuration.
fn start_bridge_config(dir: &Path, toml: &str) -> Reaped {
    let config = dir.join("bridge.toml");
    std::fs::write(&config, toml).unwrap();
    Reaped(
        Command::new(env!("CARGO_BIN_EXE_piconet-bridge"))
            .arg("--config")
            .arg(&config)
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting piconet-bridge"),
    )
}

/// piconetd on the simulated board, in this process, until `stop`ped.
struct Board {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Board {
    async fn start(listen: SocketAddr) -> Board {
        Self::start_tls(listen, None).await
    }

    async fn start_tls(listen: SocketAddr, tls: Option<piconet_server::TlsFiles>) -> Board {
        let server = Server::bind(ServerConfig {
            listen,
            tls,
            ..ServerConfig::default()
        })
        .await
        .unwrap();
        let addr = server.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Board { addr, stop, task }
    }

    fn client(&self) -> Client {
        Client::new(self.addr.to_string().parse().unwrap())
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}

/// Polls pin 2 until it reads low; fails if that takes more than one lease from `since`.
async fn low_within_one_lease(board: &Client, since: tokio::time::Instant, what: &str) {
    loop {
        if board.read_pin(2).await.unwrap() == Level::Low {
            return;
        }
        assert!(
            since.elapsed() <= Duration::from_secs(LEASE_S),
            "pin 2 still high one lease ({LEASE_S} s) after {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A broker, a board, the bridge, a watcher; pin 2 switched ON through MQTT.
async fn switched_on(dir: &Path) -> (Reaped, u16, Board, Reaped, AsyncClient, Watch) {
    let (broker, port) = start_mosquitto(dir).await;
    let board = Board::start("127.0.0.1:0".parse().unwrap()).await;
    let (ha, mut seen) = watcher(port, "test-watcher", &["piconet/#", "homeassistant/#"]).await;
    let bridge = start_bridge(dir, port, board.addr);
    seen.until("piconet/garden/status", "online").await;
    seen.until("piconet/garden/2/state", "OFF").await;
    ha.publish("piconet/garden/2/set", QoS::AtLeastOnce, false, "ON")
        .await
        .unwrap();
    seen.until("piconet/garden/2/state", "ON").await;
    assert_eq!(board.client().read_pin(2).await.unwrap(), Level::High);
    (broker, port, board, bridge, ha, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_broker_lets_go_and_a_returning_one_gets_the_state_again() {
    let dir = scratch();
    let (broker, port, board, _bridge, _ha, _seen) = switched_on(&dir).await;
    drop(broker);
    let gone = tokio::time::Instant::now();
    low_within_one_lease(&board.client(), gone, "the broker went away").await;
    // The broker comes back on the same port: the bridge reconnects by
    // itself (backoff 1 s, 2 s, ...) and publishes status and state anew.
    let _broker = mosquitto_on(&dir, port).await;
    let (_late, mut late) = watcher(port, "late-watcher", &["piconet/#"]).await;
    late.until("piconet/garden/status", "online").await;
    late.until("piconet/garden/2/state", "OFF").await;
    assert_eq!(board.client().read_pin(2).await.unwrap(), Level::Low);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_board_is_offline_and_comes_back_set_up() {
    let dir = scratch();
    let (_broker, _port, board, _bridge, ha, mut seen) = switched_on(&dir).await;
    let addr = board.addr;
    board.stop().await;
    // Seen by the next renewal (every lease / 3) at the latest.
    seen.until("piconet/garden/status", "offline").await;
    let board = Board::start(addr).await;
    seen.until("piconet/garden/status", "online").await;
    // Set up again: the pin is an output at its safe level, and takes commands.
    seen.until("piconet/garden/2/state", "OFF").await;
    ha.publish("piconet/garden/2/set", QoS::AtLeastOnce, false, "ON")
        .await
        .unwrap();
    seen.until("piconet/garden/2/state", "ON").await;
    assert_eq!(board.client().read_pin(2).await.unwrap(), Level::High);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_puts_the_pins_back_and_marks_the_board_offline() {
    let dir = scratch();
    let (_broker, _port, board, mut bridge, _ha, mut seen) = switched_on(&dir).await;
    let term = Command::new("kill")
        .arg("-TERM")
        .arg(bridge.0.id().to_string())
        .status()
        .unwrap();
    assert!(term.success());
    let stopped = tokio::time::Instant::now();
    seen.until("piconet/garden/status", "offline").await;
    low_within_one_lease(&board.client(), stopped, "SIGTERM").await;
    let exit = tokio::task::spawn_blocking(move || bridge.0.wait().map(|s| s.code()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exit, Some(0), "a clean stop exits 0");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_with_a_ca_file_and_a_password() {
    let dir = scratch();
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test broker CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    let passwd = dir.join("passwd");
    let mut mosquitto_passwd = mosquitto_binary();
    mosquitto_passwd.set_file_name("mosquitto_passwd");
    if !mosquitto_passwd.is_file() {
        mosquitto_passwd = PathBuf::from("mosquitto_passwd");
    }
    let made = Command::new(&mosquitto_passwd)
        .args(["-b", "-c"])
        .arg(&passwd)
        .args(["bridge", "s3cret"])
        .status()
        .expect("mosquitto_passwd (Debian's mosquitto package has it)");
    assert!(made.success());
    let port = free_port();
    let d = dir.display();
    std::fs::write(
        dir.join("mosquitto.conf"),
        format!(
            "listener {port} 127.0.0.1\ncafile {d}/ca.pem\ncertfile {d}/server.pem\n\
             keyfile {d}/server.key\nallow_anonymous false\npassword_file {d}/passwd\n\
             persistence false\n"
        ),
    )
    .unwrap();
    let _broker = Reaped(
        Command::new(mosquitto_binary())
            .arg("-c")
            .arg(dir.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let board = Board::start("127.0.0.1:0".parse().unwrap()).await;
    let ca = std::fs::read(dir.join("ca.pem")).unwrap();
    let (ha, mut seen) = watcher_with(port, "tls-watcher", &["piconet/#"], |o| {
        o.set_credentials("bridge", "s3cret");
        o.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Simple {
                ca,
                alpn: None,
                client_auth: None,
            },
        ));
    })
    .await;
    let _bridge = start_bridge_with(
        &dir,
        &format!(
            "url = \"mqtts://127.0.0.1:{port}\"\nusername = \"bridge\"\npassword = \"s3cret\"\nca = \"{d}/ca.pem\""
        ),
        board.addr,
    );
    seen.until("piconet/garden/status", "online").await;
    ha.publish("piconet/garden/2/set", QoS::AtLeastOnce, false, "ON")
        .await
        .unwrap();
    seen.until("piconet/garden/2/state", "ON").await;
    assert_eq!(board.client().read_pin(2).await.unwrap(), Level::High);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_boards_one_over_tls_both_offline_and_released_when_the_bridge_is_killed() {
    let dir = scratch();
    let (_broker, port) = start_mosquitto(&dir).await;
    let garden = Board::start("127.0.0.1:0".parse().unwrap()).await;
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["pico".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let files = piconet_server::TlsFiles {
        cert: dir.join("shed.crt"),
        key: dir.join("shed.key"),
    };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    let shed = Board::start_tls("127.0.0.1:0".parse().unwrap(), Some(files.clone())).await;
    let shed_client = shed
        .client()
        .with_tls(piconet_client::TlsVerify::CaFile(files.cert.clone()));
    let (ha, mut seen) = watcher(port, "test-watcher", &["home/#", "homeassistant/#"]).await;
    let mut bridge = start_bridge_config(
        &dir,
        &format!(
            r#"
[broker]
url = "mqtt://127.0.0.1:{port}"
prefix = "home"
[[boards]]
name = "garden"
address = "{garden}"
outputs = [{{ pin = 2, name = "valve", safe = 0, lease_s = {LEASE_S} }}]
[[boards]]
name = "shed"
address = "{shed}"
ca = "{cert}"
outputs = [{{ pin = 2, name = "light", safe = 0, lease_s = {LEASE_S} }}]
"#,
            garden = garden.addr,
            shed = shed.addr,
            cert = files.cert.display(),
        ),
    );
    for name in ["garden", "shed"] {
        seen.until(&format!("home/{name}/status"), "online").await;
        seen.next_on(&format!("homeassistant/device/piconet_{name}/config"))
            .await;
        ha.publish(format!("home/{name}/2/set"), QoS::AtLeastOnce, false, "ON")
            .await
            .unwrap();
        seen.until(&format!("home/{name}/2/state"), "ON").await;
    }
    assert_eq!(garden.client().read_pin(2).await.unwrap(), Level::High);
    assert_eq!(shed_client.read_pin(2).await.unwrap(), Level::High);
    bridge.0.kill().unwrap();
    bridge.0.wait().unwrap();
    let killed = tokio::time::Instant::now();
    // One last will per board: each board's own connection had its own.
    seen.until("home/garden/status", "offline").await;
    seen.until("home/shed/status", "offline").await;
    low_within_one_lease(&garden.client(), killed, "the bridge was killed").await;
    low_within_one_lease(&shed_client, killed, "the bridge was killed").await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_config_names_the_setting_and_exits_2() {
    let dir = scratch();
    let config = dir.join("bridge.toml");
    std::fs::write(
        &config,
        "[broker]\nurl = \"mqtt://127.0.0.1\"\n[[boards]]\nname = \"Garden\"\naddress = \"h:1\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_piconet-bridge"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("boards[0].name"), "{stderr}");
    assert!(stderr.contains("a-z, 0-9 and -"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_commands_reach_the_pin_and_a_killed_bridge_lets_go() {
    let dir = scratch();
    let (_broker, port) = start_mosquitto(&dir).await;
    let daemon = Board::start("127.0.0.1:0".parse().unwrap()).await;
    let board_addr = daemon.addr;
    let board = daemon.client();

    let (ha, mut seen) = watcher(port, "test-watcher", &["piconet/#", "homeassistant/#"]).await;
    let mut bridge = start_bridge(&dir, port, board_addr);

    // Live deliveries carry no retain flag (MQTT 3.1.1); retention is
    // checked by a late subscriber below.
    seen.until("piconet/garden/status", "online").await;
    let discovery = seen
        .next_on("homeassistant/device/piconet_garden/config")
        .await;
    let payload: serde_json::Value = serde_json::from_str(&discovery.1).unwrap();
    assert_eq!(payload["cmps"]["piconet_garden_2"]["p"], "switch");
    assert_eq!(payload["cmps"]["piconet_garden_5"]["p"], "binary_sensor");
    assert_eq!(payload["availability_topic"], "piconet/garden/status");
    seen.until("piconet/garden/2/state", "OFF").await;
    // The input was set up with its pull-up: the simulated pin reads 1.
    seen.until("piconet/garden/5/state", "ON").await;
    assert_eq!(board.read_pin(2).await.unwrap(), Level::Low);

    ha.publish("piconet/garden/2/set", QoS::AtLeastOnce, false, "ON")
        .await
        .unwrap();
    seen.until("piconet/garden/2/state", "ON").await;
    assert_eq!(board.read_pin(2).await.unwrap(), Level::High);
    // Two leases later it is still on: the bridge renews.
    tokio::time::sleep(Duration::from_secs(2 * LEASE_S)).await;
    assert_eq!(
        board.read_pin(2).await.unwrap(),
        Level::High,
        "the lease was not renewed"
    );

    ha.publish("piconet/garden/2/set", QoS::AtLeastOnce, false, "0")
        .await
        .unwrap();
    seen.until("piconet/garden/2/state", "OFF").await;
    assert_eq!(board.read_pin(2).await.unwrap(), Level::Low);

    // Home Assistant restarting: discovery again.
    ha.publish("homeassistant/status", QoS::AtLeastOnce, false, "online")
        .await
        .unwrap();
    let again = seen
        .next_on("homeassistant/device/piconet_garden/config")
        .await;
    assert_eq!(again.1, discovery.1);

    ha.publish("piconet/garden/2/set", QoS::AtLeastOnce, false, "1")
        .await
        .unwrap();
    seen.until("piconet/garden/2/state", "ON").await;
    assert_eq!(board.read_pin(2).await.unwrap(), Level::High);

    // SIGKILL: no clean shutdown runs; the board and the broker must act alone.
    bridge.0.kill().unwrap();
    bridge.0.wait().unwrap();
    let killed = tokio::time::Instant::now();
    seen.until("piconet/garden/status", "offline").await;
    low_within_one_lease(&board, killed, "the bridge was killed").await;
    // Retained: a client arriving now learns the board is offline.
    let (_late, mut late_seen) = watcher(port, "late-watcher", &["piconet/garden/status"]).await;
    let retained = late_seen.next_on("piconet/garden/status").await;
    assert_eq!((retained.1.as_str(), retained.2), ("offline", true));
    // The state topic says what the board does (ON stays retained from
    // before: nobody is left to read the board; Home Assistant shows the
    // switch unavailable through the status topic instead).
    let _ = std::fs::remove_dir_all(&dir);
}

/// Drives the simulated input `pin` of `board` to `high` (sim_input).
async fn drive(board: &Client, pin: u32, high: bool) {
    let answer = board
        .perform(piconet_client::Action::SimInput {
            pin,
            value: Level::from_bool(high),
        })
        .await
        .unwrap();
    assert!(answer.server_error().is_none(), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_edges_arrive_as_retained_states_and_the_level_is_sent_again_on_reconnect() {
    let dir = scratch();
    let (_broker, port) = start_mosquitto(&dir).await;
    let daemon = Board::start("127.0.0.1:0".parse().unwrap()).await;
    let addr = daemon.addr;
    let (_ha, mut seen) = watcher(port, "test-watcher", &["piconet/#"]).await;
    let _bridge = start_bridge(&dir, port, addr);
    seen.until("piconet/garden/status", "online").await;
    // The pull-up's level, read once after the watch began.
    seen.until("piconet/garden/5/state", "ON").await;
    // The bridge watches the pin (get_pins says so) instead of polling it.
    let pins = daemon.client().get_pins().await.unwrap();
    let button = pins.iter().find(|p| p.pin == 5).expect("pin 5 set up");
    assert_eq!(button.raw["watched"], true, "{button:?}");

    let board = daemon.client();
    for high in [false, true, false] {
        drive(&board, 5, high).await;
        seen.until("piconet/garden/5/state", if high { "ON" } else { "OFF" })
            .await;
    }
    // Retained: a subscriber arriving now learns the last edge's level.
    let (_late, mut late) = watcher(port, "late-watcher", &["piconet/garden/5/state"]).await;
    let retained = late.next_on("piconet/garden/5/state").await;
    assert_eq!((retained.1.as_str(), retained.2), ("OFF", true));

    // A new board on the same address (its pull-up reads 1 again): after
    // the reconnection the bridge publishes the level it reads, with no
    // edge having happened on the new connection.
    daemon.stop().await;
    seen.until("piconet/garden/status", "offline").await;
    let daemon = Board::start(addr).await;
    seen.until("piconet/garden/status", "online").await;
    seen.until("piconet/garden/5/state", "ON").await;
    // And edges on the new connection still come through.
    drive(&daemon.client(), 5, false).await;
    seen.until("piconet/garden/5/state", "OFF").await;
    daemon.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// `n` consecutive loopback ports nobody listens on right now; the first.
fn free_ports(n: u16) -> u16 {
    for _ in 0..100 {
        let first = free_port();
        if first.checked_add(n).is_none() {
            continue;
        }
        let held: Vec<_> = (first..first + n)
            .map_while(|p| TcpListener::bind(("127.0.0.1", p)).ok())
            .collect();
        if held.len() == usize::from(n) {
            return first;
        }
    }
    panic!("no {n} consecutive free ports");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_from_one_piconetd_through_one_bridge() {
    const N: u16 = 4;
    let dir = scratch();
    let (_broker, port) = start_mosquitto(&dir).await;
    let first = free_ports(N);
    let fleet = piconet_server::Fleet::bind(
        ServerConfig {
            listen: format!("127.0.0.1:{first}").parse().unwrap(),
            ..ServerConfig::default()
        },
        N.into(),
    )
    .await
    .unwrap();
    let addrs = fleet.local_addrs();
    assert_eq!(addrs.len(), usize::from(N));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let fleet = tokio::spawn(fleet.run(async {
        let _ = stopped.await;
    }));
    let mut toml = format!("[broker]\nurl = \"mqtt://127.0.0.1:{port}\"\n");
    for (i, addr) in addrs.iter().enumerate() {
        toml.push_str(&format!(
            "[[boards]]\nname = \"b{i}\"\naddress = \"{addr}\"\n\
             outputs = [{{ pin = 2, name = \"valve\", safe = 0, lease_s = {LEASE_S} }}]\n\
             inputs = [{{ pin = 5, name = \"button\", pull = \"up\" }}]\n"
        ));
    }
    let (ha, mut seen) = watcher(port, "test-watcher", &["piconet/#"]).await;
    let mut bridge = start_bridge_config(&dir, &toml);
    for i in 0..N {
        seen.until(&format!("piconet/b{i}/status"), "online").await;
        seen.until(&format!("piconet/b{i}/5/state"), "ON").await;
    }
    let clients: Vec<Client> = addrs
        .iter()
        .map(|a| Client::new(a.to_string().parse().unwrap()))
        .collect();
    // Every other board switched on: each board's pin follows its own topic.
    for i in (0..N).step_by(2) {
        ha.publish(format!("piconet/b{i}/2/set"), QoS::AtLeastOnce, false, "ON")
            .await
            .unwrap();
        seen.until(&format!("piconet/b{i}/2/state"), "ON").await;
    }
    for (i, c) in clients.iter().enumerate() {
        let want = if i % 2 == 0 { Level::High } else { Level::Low };
        assert_eq!(c.read_pin(2).await.unwrap(), want, "board b{i}");
    }
    // An edge on the last board reaches its own state topic only.
    drive(&clients[usize::from(N) - 1], 5, false).await;
    seen.until(&format!("piconet/b{}/5/state", N - 1), "OFF")
        .await;
    for (i, c) in clients.iter().enumerate().take(usize::from(N) - 1) {
        assert_eq!(c.read_pin(5).await.unwrap(), Level::High, "board b{i}");
    }

    bridge.0.kill().unwrap();
    bridge.0.wait().unwrap();
    let killed = tokio::time::Instant::now();
    for i in 0..N {
        seen.until(&format!("piconet/b{i}/status"), "offline").await;
    }
    for (i, c) in clients.iter().enumerate() {
        loop {
            if c.read_pin(2).await.unwrap() == Level::Low {
                break;
            }
            assert!(
                killed.elapsed() <= Duration::from_secs(LEASE_S),
                "board b{i}: pin 2 still high one lease after the bridge was killed"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let _ = stop.send(());
    fleet.await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
