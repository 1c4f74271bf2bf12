//! One board's bridge: its own MQTT connection (whose last will marks this
//! board offline) and its own piconet connection, ONs held by renewed leases.

use std::collections::BTreeMap;
use std::time::Duration;

use piconet_client::{Action, Connection, Edge, Event as BoardEvent, Level, Mode, Response};
use rumqttc::{
    AsyncClient, ConnectionError, Event, LastWill, MqttOptions, Outgoing, Packet, QoS,
    TlsConfiguration, Transport,
};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::config::{Board, Broker, BrokerUrl, Output};
use crate::discovery;
use crate::error::BridgeError;
use crate::topics::{self, Topics, HA_STATUS};

/// The first wait before reconnecting to a board or the broker, doubled
/// after each failure up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between reconnection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// An idle board connection is pinged this often, so a lost board is marked
/// offline without waiting for the next command.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(5);
/// MQTT keep-alive: a broker that hears nothing for 1.5 times this from a
/// bridge that vanished without closing its socket publishes its will.
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// Requests queued for the MQTT connection before publishing reports full.
const MQTT_QUEUE: usize = 64;

/// What the MQTT side tells the board side.
#[derive(Debug)]
enum FromBroker {
    /// Connected (again): subscriptions and retained topics must be renewed.
    Up,
    /// The broker connection dropped.
    Down,
    /// A message on a subscribed topic.
    Message { topic: String, payload: Vec<u8> },
}

/// Runs `board` until `shutdown` turns true, then marks it offline and puts
/// its held pins back. Returns only for shutdown or a broker setting that
/// cannot work (such as an unreadable CA file).
pub async fn run(
    board: Board,
    broker: Broker,
    url: BrokerUrl,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), BridgeError> {
    let topics = Topics::new(&broker.prefix, &board.name);
    let options = mqtt_options(&board, &broker, &url, &topics)?;
    let board_client = board.client().map_err(|source| BridgeError::Board {
        board: board.name.clone(),
        source: Box::new(source),
    })?;
    let (mqtt, mut events) = AsyncClient::new(options, MQTT_QUEUE);
    let (tx, rx) = mpsc::channel(MQTT_QUEUE);
    let name = board.name.clone();
    // rumqttc's event loop must be polled all the time for anything to be
    // sent; its own task keeps that independent of slow board commands.
    let pump = tokio::spawn(async move {
        let mut backoff = MIN_BACKOFF;
        loop {
            let forward = match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff = MIN_BACKOFF;
                    FromBroker::Up
                }
                Ok(Event::Incoming(Packet::Publish(p))) => FromBroker::Message {
                    topic: p.topic,
                    payload: p.payload.to_vec(),
                },
                Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                Ok(_) => continue,
                Err(e) => {
                    if matches!(e, ConnectionError::RequestsDone) {
                        break;
                    }
                    warn!(board = %name, "broker: {e}; again in {backoff:?}");
                    if tx.send(FromBroker::Down).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            if tx.send(forward).await.is_err() {
                break;
            }
        }
    });
    let mut bridge = BoardBridge {
        board,
        topics,
        client: board_client,
        mqtt,
        conn: None,
        broker_up: false,
        held: BTreeMap::new(),
        retry_at: Instant::now(),
        backoff: MIN_BACKOFF,
        last_sent: Instant::now(),
    };
    bridge.serve(rx, &mut shutdown).await;
    bridge.stop().await;
    // Lets the offline status and the DISCONNECT go out.
    let _ = tokio::time::timeout(Duration::from_secs(3), pump).await;
    Ok(())
}

fn mqtt_options(
    board: &Board,
    broker: &Broker,
    url: &BrokerUrl,
    topics: &Topics,
) -> Result<MqttOptions, BridgeError> {
    let id = format!("piconet-bridge-{}-{}", broker.prefix, board.name);
    let mut options = MqttOptions::new(id, url.host.clone(), url.port);
    options
        .set_keep_alive(KEEP_ALIVE)
        .set_clean_session(true)
        .set_last_will(LastWill::new(
            topics.status(),
            "offline",
            QoS::AtLeastOnce,
            true,
        ));
    if let Some(user) = &broker.username {
        options.set_credentials(user.clone(), broker.password.clone().unwrap_or_default());
    }
    if url.tls {
        options.set_transport(match &broker.ca {
            Some(path) => {
                let ca = std::fs::read(path).map_err(|source| BridgeError::BrokerCa {
                    path: path.clone(),
                    source,
                })?;
                Transport::tls_with_config(TlsConfiguration::Simple {
                    ca,
                    alpn: None,
                    client_auth: None,
                })
            }
            None => Transport::tls_with_default_config(),
        });
    }
    Ok(options)
}

struct BoardBridge {
    board: Board,
    topics: Topics,
    client: piconet_client::Client,
    mqtt: AsyncClient,
    conn: Option<Connection>,
    broker_up: bool,
    /// Outputs held ON, and when each lease is renewed next.
    held: BTreeMap<u32, Instant>,
    retry_at: Instant,
    backoff: Duration,
    last_sent: Instant,
}

/// The next event of the board connection; never, without one.
async fn next_event(conn: &mut Option<Connection>) -> Result<BoardEvent, piconet_client::Error> {
    match conn {
        Some(conn) => conn.next_event().await,
        None => std::future::pending().await,
    }
}

/// What a board command came to: an answer (which may be an error answer),
/// or the connection is gone (and has been marked lost).
enum Outcome {
    Answer(Response),
    Lost,
}

impl BoardBridge {
    async fn serve(
        &mut self,
        mut rx: mpsc::Receiver<FromBroker>,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        loop {
            let connected = self.conn.is_some();
            let renew_at = match (connected && self.broker_up, self.held.values().min()) {
                (true, Some(at)) => *at,
                _ => self.last_sent + HEALTH_INTERVAL,
            };
            tokio::select! {
                _ = shutdown.changed() => return,
                message = rx.recv() => match message {
                    Some(m) => self.on_broker(m).await,
                    None => return,
                },
                _ = tokio::time::sleep_until(self.retry_at), if !connected => {
                    self.connect_board().await;
                }
                _ = tokio::time::sleep_until(renew_at), if connected => {
                    self.renew().await;
                }
                // Cancel-safe: a line half read when another branch wins
                // is finished by the next read.
                event = next_event(&mut self.conn), if connected => {
                    self.on_board_event(event).await;
                }
            }
        }
    }

    /// An input edge (or lost edges) from the board's `watch_pin`s.
    async fn on_board_event(&mut self, event: Result<BoardEvent, piconet_client::Error>) {
        match event {
            Ok(BoardEvent::Edge { pin, value, .. }) => {
                if self.board.inputs.iter().any(|i| i.pin == pin) {
                    self.publish(
                        "state",
                        self.topics.state(pin),
                        topics::state_payload(value == Level::High).into(),
                    );
                }
            }
            Ok(BoardEvent::Overflow { dropped, .. }) => {
                // Which pins the lost edges were on is not known: every
                // input's state is read again, so the retained states end
                // right whatever was missed.
                warn!(board = %self.board.name, dropped, "input edges lost (queue full): reading the inputs again");
                let inputs: Vec<u32> = self.board.inputs.iter().map(|i| i.pin).collect();
                for pin in inputs {
                    self.publish_state(pin).await;
                }
            }
            Err(e) => {
                warn!(board = %self.board.name, "board connection lost: {e}");
                self.lost();
            }
        }
    }

    async fn on_broker(&mut self, message: FromBroker) {
        match message {
            FromBroker::Up => {
                info!(board = %self.board.name, "broker connected");
                self.broker_up = true;
                for filter in [self.topics.set_filter(), HA_STATUS.to_owned()] {
                    if let Err(e) = self.mqtt.try_subscribe(filter, QoS::AtLeastOnce) {
                        warn!(board = %self.board.name, "subscribing: {e}");
                    }
                }
                self.publish_discovery();
                self.publish_status();
                self.publish_all_states().await;
            }
            FromBroker::Down => {
                if self.broker_up {
                    warn!(board = %self.board.name, "broker lost: held outputs go back to their safe levels");
                }
                self.broker_up = false;
                self.release_all().await;
            }
            FromBroker::Message { topic, payload } => {
                if topic == HA_STATUS {
                    if payload.trim_ascii() == b"online" {
                        self.publish_discovery();
                    }
                } else if let Some(pin) = self.topics.pin_of_set(&topic) {
                    self.on_set(pin, &payload).await;
                }
            }
        }
    }

    async fn on_set(&mut self, pin: u32, payload: &[u8]) {
        let name = self.board.name.clone();
        let Some(output) = self.output(pin).cloned() else {
            warn!(board = %name, "set for pin {pin}, which is not an output in the configuration: ignored");
            return;
        };
        let Some(on) = topics::parse_set(payload) else {
            warn!(board = %name, pin, "set payload {:?} is not ON, OFF, 1 or 0: ignored",
                String::from_utf8_lossy(payload));
            return;
        };
        if self.conn.is_none() {
            warn!(board = %name, pin, "board offline: set ignored");
            return;
        }
        let level = if on { Level::High } else { output.safe_level() };
        if on {
            self.held.insert(pin, Instant::now() + output.lease() / 3);
        } else {
            self.held.remove(&pin);
        }
        if let Outcome::Answer(answer) = self.write(&output, level).await {
            if let Some(e) = answer.server_error() {
                warn!(board = %name, pin, "write_pin refused: {}: {}", e.error, e.exception);
                self.held.remove(&pin);
            }
            self.publish_state(pin).await;
        }
    }

    async fn write(&mut self, output: &Output, value: Level) -> Outcome {
        self.request(Action::WritePin {
            pin: output.pin,
            value,
            hold: output.lease(),
            // A board connection that ends (the bridge killed, the network
            // gone) puts the pin back at once instead of after the lease.
            release_on_disconnect: true,
        })
        .await
    }

    async fn request(&mut self, action: Action<'_>) -> Outcome {
        let Some(conn) = self.conn.as_mut() else {
            return Outcome::Lost;
        };
        self.last_sent = Instant::now();
        match conn.perform(action, false).await {
            Ok(answer) => Outcome::Answer(answer),
            Err(e) => {
                warn!(board = %self.board.name, "board connection lost: {e}");
                self.lost();
                Outcome::Lost
            }
        }
    }

    /// Renews the leases that are due, or checks an idle connection.
    async fn renew(&mut self) {
        let now = Instant::now();
        let due: Vec<u32> = self
            .held
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(pin, _)| *pin)
            .collect();
        if due.is_empty() || !self.broker_up {
            // Only whether the connection still answers matters here.
            let _ = self.request(Action::Ping).await;
            return;
        }
        for pin in due {
            let Some(output) = self.output(pin).cloned() else {
                continue;
            };
            self.held.insert(pin, now + output.lease() / 3);
            match self.write(&output, Level::High).await {
                Outcome::Lost => return,
                Outcome::Answer(answer) => {
                    if let Some(e) = answer.server_error() {
                        warn!(board = %self.board.name, pin, "renewal refused: {}: {}", e.error, e.exception);
                        self.held.remove(&pin);
                        self.publish_state(pin).await;
                    }
                }
            }
        }
    }

    async fn connect_board(&mut self) {
        let name = self.board.name.clone();
        let mut conn = match self.client.connect().await {
            Ok(conn) => conn,
            Err(e) => {
                warn!(board = %name, "cannot connect: {e}; again in {:?}", self.backoff);
                self.schedule_retry();
                return;
            }
        };
        let outputs = self.board.outputs.iter().map(|o| Action::SetupPin {
            pin: o.pin,
            mode: Mode::Output,
            value: Some(o.safe_level()),
            pull: None,
        });
        let inputs = self.board.inputs.iter().map(|i| Action::SetupPin {
            pin: i.pin,
            mode: Mode::Input,
            value: None,
            pull: Some(i.pull.into()),
        });
        // Watched before the levels are first read and published: an
        // edge in between is then an event after that read, never lost.
        let watches = self.board.inputs.iter().map(|i| Action::WatchPin {
            pin: i.pin,
            edge: Edge::Both,
            debounce_ms: i.debounce_ms,
        });
        for setup in outputs.chain(inputs).chain(watches).collect::<Vec<_>>() {
            let (pin, what) = match &setup {
                Action::SetupPin { pin, .. } => (*pin, "setup_pin"),
                Action::WatchPin { pin, .. } => (*pin, "watch_pin"),
                _ => unreachable!("only setup_pin and watch_pin here"),
            };
            match conn.perform(setup, false).await {
                Ok(answer) => {
                    if let Some(e) = answer.server_error() {
                        warn!(board = %name, pin, "{what} refused: {}: {}; again in {:?}",
                            e.error, e.exception, self.backoff);
                        conn.close().await;
                        self.schedule_retry();
                        return;
                    }
                }
                Err(e) => {
                    warn!(board = %name, "setting up pins: {e}; again in {:?}", self.backoff);
                    self.schedule_retry();
                    return;
                }
            }
        }
        info!(board = %name, "board connected, pins set up");
        self.conn = Some(conn);
        self.last_sent = Instant::now();
        self.backoff = MIN_BACKOFF;
        self.publish_status();
        self.publish_all_states().await;
    }

    fn schedule_retry(&mut self) {
        self.retry_at = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    /// The board connection is gone; its leases end on the board.
    fn lost(&mut self) {
        self.conn = None;
        self.held.clear();
        self.schedule_retry();
        self.publish_status();
    }

    /// Drops every ON: writes the safe levels now rather than letting the
    /// leases run out.
    async fn release_all(&mut self) {
        let held: Vec<u32> = std::mem::take(&mut self.held).into_keys().collect();
        for pin in held {
            let Some(output) = self.output(pin).cloned() else {
                continue;
            };
            if let Outcome::Lost = self.write(&output, output.safe_level()).await {
                return;
            }
        }
    }

    async fn stop(&mut self) {
        self.release_all().await;
        if let Some(conn) = self.conn.take() {
            conn.close().await;
        }
        if self.broker_up {
            self.publish("status", self.topics.status(), "offline".into());
        }
        let _ = self.mqtt.try_disconnect();
    }

    fn output(&self, pin: u32) -> Option<&Output> {
        self.board.outputs.iter().find(|o| o.pin == pin)
    }

    fn publish(&self, what: &str, topic: String, payload: Vec<u8>) {
        if !self.broker_up {
            return;
        }
        if let Err(e) = self
            .mqtt
            .try_publish(topic, QoS::AtLeastOnce, true, payload)
        {
            warn!(board = %self.board.name, "publishing {what}: {e}");
        }
    }

    fn publish_status(&self) {
        let status = if self.conn.is_some() {
            "online"
        } else {
            "offline"
        };
        self.publish("status", self.topics.status(), status.into());
    }

    fn publish_discovery(&self) {
        let payload = discovery::payload(&self.board, &self.topics).to_string();
        self.publish("discovery", self.topics.discovery(), payload.into_bytes());
    }

    async fn publish_all_states(&mut self) {
        let pins: Vec<u32> = self
            .board
            .outputs
            .iter()
            .map(|o| o.pin)
            .chain(self.board.inputs.iter().map(|i| i.pin))
            .collect();
        for pin in pins {
            self.publish_state(pin).await;
        }
    }

    /// Publishes the level the board reports now, not the one asked for.
    async fn publish_state(&mut self, pin: u32) {
        if !self.broker_up {
            return;
        }
        let Outcome::Answer(answer) = self.request(Action::ReadPin { pin }).await else {
            return;
        };
        let high = match answer.get("value") {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(v) if v.as_u64() == Some(1) => true,
            Some(v) if v.as_u64() == Some(0) => false,
            _ => {
                warn!(board = %self.board.name, pin, "read_pin answer without a level: {answer}");
                return;
            }
        };
        self.publish(
            "state",
            self.topics.state(pin),
            topics::state_payload(high).into(),
        );
    }
}
