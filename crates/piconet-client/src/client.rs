//! Connections and the typed commands built on them.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::client::danger::ServerCertVerifier;
use rustls::HandshakeKind;
use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::action::Action;
use crate::address::{Endpoint, ServerAddr};
use crate::config::BoardConfig;
use crate::discover;
use crate::error::Error;
use crate::event::{Event, EventBuffer, MAX_BUFFERED_EVENTS};
use crate::framing::{self, LineEnd, DEFAULT_MAX_RESPONSE_BYTES};
use crate::known_hosts::{Fingerprint, KnownHosts};
use crate::pin::PinState;
use crate::pin::{level_from_json, Level, Mode, Pull};
use crate::ping::PingStats;
use crate::response::Response;
use crate::tls::{self, CaVerifier, InsecureVerifier, Seen, TlsVerify, TofuVerifier};
use crate::update::UpdateStatus;

/// How long one command (or connecting) may take, as the original's default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a watching connection stays quiet before
/// [`Connection::next_event_keepalive`] sends a `ping`: a server closes a
/// connection that sent nothing and got no event line for its idle
/// timeout (300 s on piconetd's default and the firmware), so a watch of a
/// pin that rarely changes must say something in between.
pub const WATCH_KEEPALIVE: Duration = Duration::from_secs(60);

/// The addresses an I2C scan probes (with a one-byte read), as i2cdetect
/// does: 0x00-0x07 and 0x78-0x7F are reserved by the I2C specification.
pub const I2C_SCAN: core::ops::RangeInclusive<u8> = 0x08..=0x77;

/// A connected byte stream: TCP, TLS over TCP, or a serial port. See [`Client::connect_stream`].
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Where and how to reach a server. Cheap to clone; each call opens its own
/// connection, as the original client does (over a serial port: opens the
/// port, and closes it after the answers).
///
/// ```no_run
/// use std::time::Duration;
/// use piconet_client::{Client, Level, Mode, TlsVerify};
///
/// # async fn demo() -> Result<(), piconet_client::Error> {
/// let client = Client::new("pico.lan".parse()?)
///     .with_tls(TlsVerify::KnownHosts(piconet_client::KnownHosts::default_path()?))
///     .with_timeout(Duration::from_secs(5));
/// client.setup_pin(2, Mode::Output, Some(Level::Low), None).await?;
/// client.write_pin(2, Level::High, Duration::from_secs(5)).await?;
/// assert_eq!(client.read_pin(2).await?, Level::High);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    endpoint: Endpoint,
    tls: Option<TlsVerify>,
    identity: Option<crate::identity::Identity>,
    /// Offer TLS 1.2 only (see [`Client::with_tls12_only`]).
    tls12_only: bool,
    timeout: Duration,
    max_response_bytes: usize,
    /// The verifier and rustls config of this client's TLS connections,
    /// made at the first one and shared with its clones: rustls resumes a
    /// session only under the config that made it.
    tls_setup: Arc<std::sync::Mutex<Option<TlsSetup>>>,
}

impl Client {
    /// A plaintext client for `addr`, 3 s per command, answers up to 1 MiB.
    pub fn new(addr: ServerAddr) -> Self {
        Self::to(Endpoint::Tcp(addr))
    }

    /// A client for a board on a serial port such as `/dev/ttyACM0` (its USB
    /// CDC-ACM port), 3 s per command. There is no TLS on the cable; a board
    /// accepts the provisioning commands (`set_wifi`, ...) only this way.
    /// Find a board's port with [`crate::usb_serial_ports`].
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), piconet_client::Error> {
    /// let board = piconet_client::Client::serial("/dev/ttyACM0");
    /// println!("firmware {}", board.version().await?);
    /// # Ok(()) }
    /// ```
    pub fn serial(path: impl Into<std::path::PathBuf>) -> Self {
        Self::to(Endpoint::Serial(path.into()))
    }

    /// A plaintext client for `endpoint`.
    pub fn to(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            tls: None,
            identity: None,
            tls12_only: false,
            timeout: DEFAULT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            tls_setup: Arc::default(),
        }
    }

    /// Speaks TLS, trusting the server as `verify` says. Over a serial port,
    /// connecting then fails with [`Error::InvalidArgument`].
    ///
    /// Later connections of this client (and of its clones) resume the TLS
    /// session of an earlier one where the server allows it, so they skip
    /// the certificate exchange and the key agreement's signatures: the
    /// session was verified when it was made. Changing the trust settings
    /// or the identity starts a new session cache.
    pub fn with_tls(mut self, verify: TlsVerify) -> Self {
        self.tls = Some(verify);
        self.tls_setup = Arc::default();
        self
    }

    /// Offers TLS 1.2 only, for cheap reconnections to a Pico W: rustls
    /// resumes a TLS 1.3 session only with a fresh key exchange
    /// (`psk_dhe_ke`), which costs the board 482 ms, where a TLS 1.2 session
    /// ticket costs it 15 ms (BENCHMARKS.md, issue 14). A full handshake
    /// costs the same either way. The price: TLS 1.2 sends the client's
    /// certificate in the clear, so a listener on the LAN sees which
    /// identity connects (never its key). piconetd resumes TLS 1.3
    /// cheaply, so it has no need of this.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), piconet_client::Error> {
    /// use piconet_client::{Client, TlsVerify};
    /// let board = Client::new("pico.lan".parse()?)
    ///     .with_tls(TlsVerify::Insecure)
    ///     .with_tls12_only();
    /// board.ping(1).await?; // a full handshake
    /// board.ping(1).await?; // resumed from the first one's ticket
    /// # Ok(()) }
    /// ```
    pub fn with_tls12_only(mut self) -> Self {
        self.tls12_only = true;
        self.tls_setup = Arc::default();
        self
    }

    /// Presents this certificate (mutual TLS) to a board that authenticates
    /// its clients. Needs [`Client::with_tls`]: without TLS, connecting
    /// fails with [`Error::InvalidArgument`].
    pub fn with_identity(mut self, identity: crate::identity::Identity) -> Self {
        self.identity = Some(identity);
        self.tls_setup = Arc::default();
        self
    }

    /// The time allowed to connect (with the TLS handshake), and then to each
    /// command from sending it to its whole answer.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest answer line accepted, so a hostile server cannot exhaust memory.
    pub fn with_max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Where the server is reached.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Opens a connection for [`Connection::request`]s.
    ///
    /// With [`TlsVerify::KnownHosts`] a first connection pins the server's
    /// certificate and warns on stderr; [`TlsVerify::Insecure`] warns too.
    pub async fn connect(&self) -> Result<Connection, Error> {
        let (io, resumed) = self.open().await?;
        Ok(Connection {
            resumed,
            io: BufReader::new(io),
            addr: self.endpoint.to_string(),
            resync: matches!(self.endpoint, Endpoint::Serial(_)),
            timeout: self.timeout,
            limit: self.max_response_bytes,
            answered: 0,
            line: Vec::new(),
            partial: false,
            events: EventBuffer::new(MAX_BUFFERED_EVENTS),
        })
    }

    /// Opens a connection (TLS verified as for [`Client::connect`]) and hands
    /// over its bytes, for tools that frame lines themselves, such as a load
    /// generator that writes many commands at once. Nothing is stamped or
    /// checked on what is sent or received then.
    pub async fn connect_stream(&self) -> Result<Box<dyn Stream>, Error> {
        self.open().await.map(|(io, _)| io)
    }

    /// The connection's bytes, and whether its TLS session was resumed.
    async fn open(&self) -> Result<(Box<dyn Stream>, bool), Error> {
        let server = match &self.endpoint {
            Endpoint::Tcp(addr) => addr,
            Endpoint::Serial(path) => {
                if self.tls.is_some() {
                    return Err(Error::InvalidArgument(format!(
                        "no TLS over the serial port {}: the cable is plaintext",
                        path.display()
                    )));
                }
                return Ok((Box::new(crate::serial::open(path)?), false));
            }
        };
        let addr = server.to_string();
        if self.identity.is_some() && self.tls.is_none() {
            return Err(Error::InvalidArgument(format!(
                "a client certificate is presented over TLS only: connect to {addr} with TLS"
            )));
        }
        // Taken out of the client for this connection (a clone connecting
        // meanwhile makes its own), and put back only after a connection
        // that passed every check: a session from a refused one (TLS 1.2
        // stores it as the handshake ends, before the pin and the mDNS
        // checks) must not be resumed. Made before connecting, so a bad CA
        // or known-hosts file fails fast and alone.
        let setup = match &self.tls {
            Some(verify) => {
                let name = tls::server_name(server.host())?;
                let kept = self
                    .tls_setup
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take();
                let setup = match kept {
                    Some(setup) => {
                        setup.verifier.reset(&addr)?;
                        setup
                    }
                    None => TlsSetup::prepare(verify, &addr, &self.identity, self.tls12_only)?,
                };
                Some((setup, name))
            }
            None => None,
        };
        // Before the connect timeout: an mDNS name has a wait of its own
        // (MDNS_RESOLVE_WAIT, or the timeout when longer), and its "not
        // found" says more than a timeout would.
        let (candidates, found) = resolve(server, self.timeout).await?;
        let open = async {
            let tcp = tcp_connect(server, &addr, candidates).await?;
            // Commands are small and latency is what ping measures.
            let _ = tcp.set_nodelay(true);
            // A board found over mDNS announces its certificate's SHA-256:
            // a first TLS contact must present that one to be pinned.
            let announced = found.and_then(|f| f.tls.parse::<Fingerprint>().ok());
            let opened: (Box<dyn Stream>, bool) = match setup {
                Some((setup, name)) => {
                    let config = setup.config.clone();
                    let opened = (setup.verifier)
                        .handshake(tcp, name, &addr, announced, config)
                        .await?;
                    *self.tls_setup.lock().unwrap_or_else(|e| e.into_inner()) = Some(setup);
                    opened
                }
                None => (Box::new(tcp), false),
            };
            Ok::<_, Error>(opened)
        };
        tokio::time::timeout(self.timeout, open)
            .await
            .map_err(|_| Error::Timeout {
                addr: addr.clone(),
                step: "connecting to",
                after: self.timeout,
            })?
    }

    /// Sends `commands` over one connection, the last one followed by the
    /// blank line that lets the server close, and returns one answer each, in
    /// order. Error answers are returned as they are (see
    /// [`Response::server_error`]); an empty list sends nothing.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), piconet_client::Error> {
    /// use serde_json::json;
    /// let client = piconet_client::Client::new("127.0.0.1:12345".parse()?);
    /// let cmd = |v: serde_json::Value| v.as_object().unwrap().clone();
    /// for answer in client.send([
    ///     cmd(json!({"action": "setup_pin", "pin": 2, "mode": "output", "value": 0})),
    ///     cmd(json!({"action": "read_pin", "pin": 2})),
    /// ]).await? {
    ///     println!("{answer}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn send(
        &self,
        commands: impl IntoIterator<Item = Map<String, Value>>,
    ) -> Result<Vec<Response>, Error> {
        let commands: Vec<_> = commands.into_iter().collect();
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.connect().await?;
        let count = commands.len();
        let mut answers = Vec::with_capacity(count);
        for (i, command) in commands.into_iter().enumerate() {
            answers.push(conn.request(command, i + 1 == count).await?);
        }
        conn.close().await;
        Ok(answers)
    }

    /// Sends one command on its own connection; an error answer is [`Error::Server`].
    pub async fn command(&self, command: Map<String, Value>) -> Result<Response, Error> {
        let mut answers = self.send([command]).await?;
        answers.remove(0).into_result()
    }

    /// Sends one typed action on its own connection; an error answer is
    /// [`Error::Server`].
    pub async fn perform(&self, action: Action<'_>) -> Result<Response, Error> {
        self.command(action.to_command()).await
    }

    /// Configures a pin; an output's `value` is also its safe state on piconetd.
    pub async fn setup_pin(
        &self,
        pin: u32,
        mode: Mode,
        value: Option<Level>,
        pull: Option<Pull>,
    ) -> Result<Response, Error> {
        self.perform(Action::SetupPin {
            pin,
            mode,
            value,
            pull,
        })
        .await
    }

    /// Drives an output to `value` for `hold`, after which the server puts it
    /// back (the fail-safe the protocol requires). To also put it back when
    /// the connection ends, send [`Action::WritePin`] with
    /// `release_on_disconnect` over a [`Connection`] that stays open.
    pub async fn write_pin(
        &self,
        pin: u32,
        value: Level,
        hold: Duration,
    ) -> Result<Response, Error> {
        self.perform(Action::WritePin {
            pin,
            value,
            hold,
            release_on_disconnect: false,
        })
        .await
    }

    /// A pin's level.
    pub async fn read_pin(&self, pin: u32) -> Result<Level, Error> {
        let answer = self.perform(Action::ReadPin { pin }).await?;
        answer.field("value", level_from_json)
    }

    /// Makes `pin` a PWM output at `frequency` Hz whose safe duty (where
    /// every [`Client::write_pwm`] lease ends) is `safe_duty` (0.0–1.0).
    pub async fn setup_pwm(
        &self,
        pin: u32,
        frequency: u32,
        safe_duty: f64,
    ) -> Result<Response, Error> {
        self.perform(Action::SetupPwm {
            pin,
            frequency,
            safe_duty,
        })
        .await
    }

    /// Runs a PWM pin at `duty` (0.0–1.0; and `frequency` Hz if given,
    /// else the running one) for `hold`; then the server puts its safe
    /// duty and frequency back, as [`Client::write_pin`]'s lease does.
    /// With `release_on_disconnect` the pin also goes back when the
    /// connection that wrote it ends: this client opens one connection per
    /// call, so use it over a [`Connection`] that stays open (a lease
    /// renewed before `hold` passes keeps the pin where it is).
    pub async fn write_pwm(
        &self,
        pin: u32,
        duty: f64,
        frequency: Option<u32>,
        hold: Duration,
        release_on_disconnect: bool,
    ) -> Result<Response, Error> {
        self.perform(Action::WritePwm {
            pin,
            duty,
            frequency,
            hold,
            release_on_disconnect,
        })
        .await
    }

    /// Makes `pin` an analogue input (GPIO 26–28 on a Pico W).
    pub async fn setup_adc(&self, pin: u32) -> Result<Response, Error> {
        self.perform(Action::SetupAdc { pin }).await
    }

    /// One conversion of an ADC pin.
    pub async fn read_adc(&self, pin: u32) -> Result<AdcReading, Error> {
        let answer = self.perform(Action::ReadAdc { pin }).await?;
        Ok(AdcReading {
            raw: answer.field("raw", |v| v.as_u64().and_then(|r| u16::try_from(r).ok()))?,
            volts: answer.field("volts", serde_json::Value::as_f64)?,
        })
    }

    /// The board's temperature in degrees Celsius (the RP2040's sensor,
    /// piconetd's CPU thermal zone).
    pub async fn read_temperature(&self) -> Result<f64, Error> {
        let answer = self.perform(Action::ReadTemperature).await?;
        answer.field("celsius", serde_json::Value::as_f64)
    }

    /// Sets up I2C bus `bus` on `sda` and `scl` at `frequency` Hz.
    pub async fn i2c_setup(
        &self,
        bus: u8,
        sda: u32,
        scl: u32,
        frequency: u32,
    ) -> Result<Response, Error> {
        self.perform(Action::I2cSetup {
            bus,
            sda,
            scl,
            frequency,
        })
        .await
    }

    /// Writes `data` (1–256 bytes) to the device at `address`.
    pub async fn i2c_write(&self, bus: u8, address: u8, data: &[u8]) -> Result<Response, Error> {
        self.perform(Action::I2cWrite { bus, address, data }).await
    }

    /// Reads `count` (1–256) bytes from the device at `address`.
    pub async fn i2c_read(&self, bus: u8, address: u8, count: u16) -> Result<Vec<u8>, Error> {
        let answer = self
            .perform(Action::I2cRead {
                bus,
                address,
                count,
            })
            .await?;
        answer.field("data", bytes_from_json)
    }

    /// Writes `write`, then reads `count` bytes after a repeated start
    /// (a register read).
    pub async fn i2c_transfer(
        &self,
        bus: u8,
        address: u8,
        write: &[u8],
        count: u16,
    ) -> Result<Vec<u8>, Error> {
        let answer = self
            .perform(Action::I2cTransfer {
                bus,
                address,
                write,
                count,
            })
            .await?;
        answer.field("data", bytes_from_json)
    }

    /// Every configured pin, in pin order (`get_pins`, piconet servers only).
    pub async fn get_pins(&self) -> Result<Vec<PinState>, Error> {
        let answer = self.perform(Action::GetPins).await?;
        answer.field("pins", PinState::list_from_json)
    }

    /// `n` pings over one connection and their round-trip statistics.
    pub async fn ping(&self, n: usize) -> Result<PingStats, Error> {
        if n == 0 {
            return Err(Error::InvalidArgument(
                "ping needs at least one ping".into(),
            ));
        }
        let pings = (0..n).map(|_| Action::Ping.to_command());
        PingStats::from_responses(&self.send(pings).await?)
    }

    /// The board's client list (`get_clients`): empty when it
    /// authenticates no one.
    pub async fn get_clients(&self) -> Result<Vec<crate::ClientEntry>, Error> {
        let answer = self.perform(Action::GetClients).await?;
        answer.field("clients", crate::ClientEntry::list_from_json)
    }

    /// Replaces the board's client list (`set_clients`) and returns the
    /// list stored. A board without a list takes one over its USB cable
    /// only; then an admin may change it over the network.
    pub async fn set_clients(
        &self,
        clients: &[crate::ClientEntry],
    ) -> Result<Vec<crate::ClientEntry>, Error> {
        let answer = self.perform(Action::SetClients { clients }).await?;
        answer.field("clients", crate::ClientEntry::list_from_json)
    }

    /// The board's `info` object (what the server reports about itself).
    pub async fn info(&self) -> Result<Map<String, Value>, Error> {
        let answer = self.perform(Action::GetInfo).await?;
        answer.field("info", |v| v.as_object().cloned())
    }

    /// The server software's version.
    pub async fn version(&self) -> Result<String, Error> {
        let answer = self.perform(Action::GetVersion).await?;
        answer.field("version", |v| v.as_str().map(str::to_owned))
    }

    /// The actions the server knows.
    pub async fn actions(&self) -> Result<Vec<String>, Error> {
        let answer = self.perform(Action::ListActions).await?;
        actions_of(&answer)
    }

    /// Resets the board; it answers first, then restarts.
    pub async fn reset(&self) -> Result<Response, Error> {
        self.perform(Action::Reset).await
    }

    /// Puts the board to light (`deep == false`) or deep sleep for `time_ms`.
    pub async fn sleep(&self, time_ms: u32, deep: bool) -> Result<Response, Error> {
        self.perform(Action::Sleep { time_ms, deep }).await
    }

    /// Where an image upload stands (`update_status`).
    pub async fn update_status(&self) -> Result<UpdateStatus, Error> {
        let answer = self.perform(Action::UpdateStatus).await?;
        UpdateStatus::of(&answer)
    }

    /// Announces a signed image (`update_begin`); chunks follow from offset 0.
    pub async fn update_begin(
        &self,
        size: u64,
        sha256: &[u8; 32],
        signature: &[u8; 64],
        version: Option<&str>,
        allow_downgrade: bool,
    ) -> Result<UpdateStatus, Error> {
        let answer = self
            .perform(Action::UpdateBegin {
                size,
                sha256,
                signature,
                version,
                allow_downgrade,
            })
            .await?;
        UpdateStatus::of(&answer)
    }

    /// Verifies the whole image and lets the board swap it in
    /// (`update_finish`); the board hashes the image before it answers, so
    /// give this client a long timeout.
    pub async fn update_finish(&self) -> Result<UpdateStatus, Error> {
        let answer = self.perform(Action::UpdateFinish).await?;
        UpdateStatus::of(&answer)
    }
}

impl Client {
    /// The board's stored settings (`get_config`; over the USB cable, or
    /// from the board itself).
    pub async fn get_config(&self) -> Result<BoardConfig, Error> {
        config_of(self.perform(Action::GetConfig).await?)
    }

    /// Stores the board's name (`set_name`, over the USB cable only) and
    /// returns the settings stored now. A name that is not 1 to 32 of
    /// `a-z`, `0-9` and `-` is refused here, before anything is sent.
    pub async fn set_name(&self, name: &str) -> Result<BoardConfig, Error> {
        if !piconet_protocol::provision::is_board_name(name) {
            return Err(Error::InvalidArgument(format!(
                "board name {name:?}: use 1 to {} of a-z, 0-9 and - (it becomes NAME.local)",
                piconet_protocol::provision::MAX_NAME
            )));
        }
        config_of(self.perform(Action::SetName { name }).await?)
    }

    /// Stores a provisioning setting ([`Action::SetWifi`], [`Action::SetPort`],
    /// [`Action::SetTls`], [`Action::ClearTls`], [`Action::SetName`],
    /// [`Action::SetRadioPower`]) and returns the settings stored now. A board
    /// takes them only over its USB cable
    /// ([`Client::serial`]); they apply at its next reset.
    pub async fn provision(&self, setting: Action<'_>) -> Result<BoardConfig, Error> {
        if !matches!(
            setting,
            Action::SetWifi { .. }
                | Action::SetPort { .. }
                | Action::SetRadioPower { .. }
                | Action::SetTls { .. }
                | Action::ClearTls
                | Action::SetName { .. }
        ) {
            return Err(Error::InvalidArgument(format!(
                "{} is not a provisioning setting",
                setting.name()
            )));
        }
        config_of(self.perform(setting).await?)
    }
}

fn config_of(answer: Response) -> Result<BoardConfig, Error> {
    answer.field("config", |_| BoardConfig::from_answer(answer.raw()))
}

/// The `actions` list of a `list_actions` answer.
pub(crate) fn actions_of(answer: &Response) -> Result<Vec<String>, Error> {
    answer.field("actions", |v| {
        v.as_array()?
            .iter()
            .map(|a| a.as_str().map(str::to_owned))
            .collect()
    })
}

/// One open connection: send commands one at a time and read each answer.
///
/// ```no_run
/// # async fn demo() -> Result<(), piconet_client::Error> {
/// use serde_json::json;
/// let client = piconet_client::Client::new("127.0.0.1".parse()?);
/// let mut conn = client.connect().await?;
/// let ping = json!({"action": "ping"}).as_object().unwrap().clone();
/// let first = conn.request(ping.clone(), false).await?;
/// let last = conn.request(ping, true).await?;
/// conn.close().await;
/// # Ok(()) }
/// ```
pub struct Connection {
    io: BufReader<Box<dyn Stream>>,
    addr: String,
    /// Skip answers to someone else's commands (a serial port outlives
    /// sessions: an answer that came too late for an earlier one may wait there).
    resync: bool,
    timeout: Duration,
    limit: usize,
    answered: usize,
    line: Vec<u8>,
    /// `line` holds the start of a line whose reading was cancelled (a
    /// dropped [`Connection::next_event`]): the next read continues it.
    partial: bool,
    /// Event lines that came while an answer was awaited.
    events: EventBuffer,
    /// The TLS session was resumed from an earlier connection.
    resumed: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.addr)
            .field("answered", &self.answered)
            .finish()
    }
}

impl Connection {
    /// True when this connection resumed the TLS session of an earlier one
    /// of the same [`Client`] (no certificate was exchanged): see
    /// [`Client::with_tls`].
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), piconet_client::Error> {
    /// use piconet_client::{Client, TlsVerify};
    /// let client = Client::new("pico.lan".parse()?).with_tls(TlsVerify::Insecure);
    /// client.connect().await?.close().await;
    /// println!("resumed: {}", client.connect().await?.tls_resumed());
    /// # Ok(()) }
    /// ```
    pub fn tls_resumed(&self) -> bool {
        self.resumed
    }

    /// Sends one command with a fresh `time_sent` and reads its answer, which
    /// gets `time_responded`. `last` sends the blank line after it, after
    /// which the server closes: send nothing more then.
    ///
    /// An error answer is returned as `Ok`; check [`Response::server_error`].
    pub async fn request(
        &mut self,
        mut command: Map<String, Value>,
        last: bool,
    ) -> Result<Response, Error> {
        let sent = now_ns();
        command.insert("time_sent".into(), Value::from(sent));
        let bytes = framing::encode(&command, last);
        let Self {
            io,
            line,
            limit,
            resync,
            events,
            partial,
            ..
        } = self;
        let exchange = async {
            io.write_all(&bytes).await?;
            io.flush().await?;
            loop {
                // An event line cut short by a cancelled next_event ends first.
                if !std::mem::take(partial) {
                    line.clear();
                }
                let end = framing::continue_line(io, line, *limit).await?;
                // Events interleave with answers on a watching connection.
                if end == LineEnd::Line {
                    if let Some(event) = event_line(line) {
                        if let Ok(event) = event {
                            events.push(event);
                        }
                        continue;
                    }
                }
                if !(*resync && end == LineEnd::Line && answers_another(line, sent)) {
                    return Ok::<_, io::Error>(end);
                }
            }
        };
        let end = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| Error::Timeout {
                addr: self.addr.clone(),
                step: "waiting for an answer from",
                after: self.timeout,
            })?
            .map_err(|source| Error::Io {
                addr: self.addr.clone(),
                source,
            })?;
        match end {
            LineEnd::TooLong => {
                return Err(Error::ResponseTooLarge {
                    addr: self.addr.clone(),
                    limit: self.limit,
                })
            }
            // The original client takes what came before the close as the answer.
            LineEnd::Closed if self.line.is_empty() => {
                return Err(Error::Closed {
                    addr: self.addr.clone(),
                    answered: self.answered,
                })
            }
            LineEnd::Closed | LineEnd::Line => {}
        }
        let mut answer = match serde_json::from_slice::<Value>(&self.line) {
            Ok(Value::Object(map)) => map,
            Ok(other) => {
                return Err(self.invalid(format!("a JSON {}", json_kind(&other))));
            }
            // A TLS server answers a plaintext command with a TLS alert record.
            Err(_) if self.line.starts_with(&[0x15, 0x03]) => {
                return Err(Error::ServerWantsTls {
                    addr: self.addr.clone(),
                });
            }
            Err(e) => return Err(self.invalid(e.to_string())),
        };
        answer.insert("time_responded".into(), Value::from(now_ns()));
        self.answered += 1;
        Ok(Response::from_raw(answer))
    }

    /// Sends one typed action, as [`Connection::request`] does: an error
    /// answer is returned as `Ok`.
    pub async fn perform(&mut self, action: Action<'_>, last: bool) -> Result<Response, Error> {
        self.request(action.to_command(), last).await
    }

    /// The next event line (after `watch_pin` on this connection): one
    /// that came while an answer was awaited, else the next to arrive,
    /// however long that takes. Event kinds this client does not know are
    /// skipped; an answer here (no command is waiting for one) is an
    /// [`Error::InvalidResponse`].
    ///
    /// Cancel-safe: dropped while a line is half read (in a `select!`),
    /// the next call, or the next [`Connection::request`], goes on from
    /// where it stopped.
    pub async fn next_event(&mut self) -> Result<Event, Error> {
        if let Some(event) = self.events.pop() {
            return Ok(event);
        }
        loop {
            if !self.partial {
                self.line.clear();
            }
            self.partial = true;
            let end = framing::continue_line(&mut self.io, &mut self.line, self.limit)
                .await
                .map_err(|source| Error::Io {
                    addr: self.addr.clone(),
                    source,
                })?;
            self.partial = false;
            match end {
                LineEnd::Line => {}
                LineEnd::TooLong => {
                    return Err(Error::ResponseTooLarge {
                        addr: self.addr.clone(),
                        limit: self.limit,
                    })
                }
                LineEnd::Closed => {
                    return Err(Error::Closed {
                        addr: self.addr.clone(),
                        answered: self.answered,
                    })
                }
            }
            match event_line(&self.line) {
                Some(Ok(event)) => return Ok(event),
                Some(Err(_)) => continue,
                None => {
                    return Err(
                        self.invalid("an answer while no command was waiting for one".to_owned())
                    )
                }
            }
        }
    }

    /// [`Connection::next_event`], sending a `ping` each time `keepalive`
    /// passes without a byte from the server, so the server's idle timeout
    /// does not end a watch of a quiet pin (see [`WATCH_KEEPALIVE`]).
    /// Events that come while the ping is answered are kept, in order.
    pub async fn next_event_keepalive(&mut self, keepalive: Duration) -> Result<Event, Error> {
        loop {
            if let Some(event) = self.events.pop() {
                return Ok(event);
            }
            // Only the wait for the first byte is given up at the
            // keepalive: a line already arriving is read to its end.
            match tokio::time::timeout(keepalive, self.io.fill_buf()).await {
                Ok(Ok(_)) => return self.next_event().await,
                Ok(Err(source)) => {
                    return Err(Error::Io {
                        addr: self.addr.clone(),
                        source,
                    })
                }
                Err(_quiet) => {
                    self.perform(Action::Ping, false).await?.into_result()?;
                }
            }
        }
    }

    /// Call `f` with every event as it comes (the callback form of
    /// [`Connection::next_event_keepalive`], with [`WATCH_KEEPALIVE`]),
    /// until it returns [`std::ops::ControlFlow::Break`] (then `Ok`) or the
    /// connection fails. Watch the pins first ([`Action::WatchPin`]).
    ///
    /// ```no_run
    /// use std::ops::ControlFlow;
    /// use piconet_client::{Action, Client, Edge, Event};
    ///
    /// # async fn demo() -> Result<(), piconet_client::Error> {
    /// let mut conn = Client::new("pico.lan".parse()?).connect().await?;
    /// conn.perform(Action::WatchPin { pin: 5, edge: Edge::Rising, debounce_ms: 20 }, false)
    ///     .await?
    ///     .into_result()?;
    /// let mut presses = 0;
    /// conn.on_event(|event| {
    ///     if let Event::Edge { time_us, .. } = event {
    ///         presses += 1;
    ///         println!("pressed at {time_us} us");
    ///     }
    ///     if presses == 3 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn on_event<F>(&mut self, mut f: F) -> Result<(), Error>
    where
        F: FnMut(Event) -> std::ops::ControlFlow<()>,
    {
        loop {
            let event = self.next_event_keepalive(WATCH_KEEPALIVE).await?;
            if f(event).is_break() {
                return Ok(());
            }
        }
    }

    /// Closes the connection, telling a TLS peer so; errors no longer matter then.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(self.timeout, self.io.shutdown()).await;
    }

    fn invalid(&self, reason: String) -> Error {
        Error::InvalidResponse {
            addr: self.addr.clone(),
            reason,
        }
    }
}

/// The event `line` holds, if it is an event line (`Err` for a kind this
/// client does not know); `None` for an answer.
fn event_line(line: &[u8]) -> Option<Result<Event, ()>> {
    // Most lines are answers: look for the key before parsing.
    if !line.windows(7).any(|w| w == b"\"event\"") {
        return None;
    }
    match serde_json::from_slice::<Value>(line) {
        Ok(Value::Object(map)) => Event::from_line(&map).map(|r| r.map_err(|_| ())),
        _ => None,
    }
}

/// Whether `line` is an answer to another command than the one sent at
/// `sent`: it echoes a different `time_sent`.
fn answers_another(line: &[u8], sent: i64) -> bool {
    #[derive(serde::Deserialize)]
    struct Echo {
        time_sent: Option<Value>,
    }
    match serde_json::from_slice::<Echo>(line) {
        Ok(Echo {
            time_sent: Some(Value::Number(n)),
        }) => n.as_i64() != Some(sent),
        _ => false,
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Nanoseconds since the Unix epoch, as the original stamps `time_sent`.
pub fn now_ns() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_nanos()).unwrap_or(i64::MAX)
}

/// How long a `NAME` / `NAME.local` is looked for over mDNS at least (the
/// client's timeout when that is longer). Responders answer the same
/// question at most about once a second, so a lookup right after another
/// can take over a second on a busy link.
pub const MDNS_RESOLVE_WAIT: Duration = Duration::from_secs(5);

/// The addresses to try for `server`, and the board's mDNS announcement
/// when it was found that way. `NAME.local` is asked over mDNS; a bare
/// `NAME` the system resolver does not know is too. A board found so is
/// reached on its announced port when `server` has the default one.
async fn resolve(
    server: &ServerAddr,
    wait: Duration,
) -> Result<(Vec<SocketAddr>, Option<discover::Found>), Error> {
    let host = server.host();
    let resolve_error = |source| Error::Resolve {
        host: host.to_owned(),
        source,
    };
    let by_mdns = |name: &str| {
        let name = name.to_owned();
        async move {
            let found = discover::resolve(&name, wait.max(MDNS_RESOLVE_WAIT))
                .await
                .map_err(|e| resolve_error(io::Error::other(e.to_string())))?;
            let found = found.ok_or_else(|| {
                resolve_error(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "no board named {name:?} answered over mDNS within {:?} (piconet discover lists those that do)",
                        wait.max(MDNS_RESOLVE_WAIT)
                    ),
                ))
            })?;
            let port = if server.port() == crate::DEFAULT_PORT {
                found.port
            } else {
                server.port()
            };
            let addrs = found.socket_addrs(port);
            Ok::<_, Error>((addrs, Some(found)))
        }
    };
    if let Some(name) = discover::mdns_name(host, false) {
        return by_mdns(name).await;
    }
    match tokio::net::lookup_host((host, server.port())).await {
        Ok(addrs) => Ok((addrs.collect(), None)),
        Err(e) => match discover::mdns_name(host, true) {
            Some(name) => by_mdns(name).await.map_err(|mdns| match mdns {
                Error::Resolve { source, .. } => {
                    resolve_error(io::Error::new(e.kind(), format!("{e}; {source}")))
                }
                other => other,
            }),
            None => Err(resolve_error(e)),
        },
    }
}

async fn tcp_connect(
    server: &ServerAddr,
    addr: &str,
    candidates: Vec<SocketAddr>,
) -> Result<TcpStream, Error> {
    let resolve_error = |source| Error::Resolve {
        host: server.host().to_owned(),
        source,
    };
    let mut failure = None;
    for candidate in candidates {
        match TcpStream::connect(candidate).await {
            Ok(stream) => return Ok(stream),
            Err(e) => failure = Some(e),
        }
    }
    Err(match failure {
        Some(e) if e.kind() == io::ErrorKind::ConnectionRefused => Error::ConnectionRefused {
            addr: addr.to_owned(),
        },
        Some(source) => Error::Connect {
            addr: addr.to_owned(),
            source,
        },
        None => resolve_error(io::Error::new(io::ErrorKind::NotFound, "no addresses")),
    })
}

/// What a TLS client keeps between its connections.
struct TlsSetup {
    verifier: Verifier,
    config: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for TlsSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSetup").finish_non_exhaustive()
    }
}

impl TlsSetup {
    /// Reads the CA file or the known-hosts entry, and the identity, for a
    /// connection that has no kept setup (a first one, or after a refusal).
    fn prepare(
        verify: &TlsVerify,
        addr: &str,
        identity: &Option<crate::identity::Identity>,
        tls12_only: bool,
    ) -> Result<Self, Error> {
        let verifier = Verifier::prepare(verify, addr)?;
        let identity = identity.as_ref().map(|id| id.load()).transpose()?;
        let config = Arc::new(tls::client_config(
            verifier.dyn_verifier(),
            identity,
            tls12_only,
        )?);
        Ok(Self { verifier, config })
    }
}

/// A TLS verifier ready for one handshake, and what to do with its verdict.
enum Verifier {
    Ca(Arc<CaVerifier>, std::path::PathBuf),
    Tofu(Arc<TofuVerifier>, KnownHosts),
    Insecure(Arc<InsecureVerifier>),
}

impl Verifier {
    /// Reads the CA file or the known-hosts entry before any connection,
    /// so a bad file fails fast and alone.
    fn prepare(verify: &TlsVerify, addr: &str) -> Result<Self, Error> {
        Ok(match verify {
            TlsVerify::CaFile(path) => {
                Self::Ca(Arc::new(CaVerifier::from_file(path)?), path.clone())
            }
            TlsVerify::KnownHosts(path) => {
                let store = KnownHosts::new(path);
                Self::Tofu(Arc::new(TofuVerifier::new(&store, addr)?), store)
            }
            TlsVerify::Insecure => Self::Insecure(Arc::new(InsecureVerifier::new())),
        })
    }

    /// The verifier as rustls takes it.
    fn dyn_verifier(&self) -> Arc<dyn ServerCertVerifier> {
        match self {
            Self::Ca(v, _) => v.clone(),
            Self::Tofu(v, _) => v.clone(),
            Self::Insecure(v) => v.clone(),
        }
    }

    /// Forgets the last handshake's verdict (and reads the pin again).
    fn reset(&self, addr: &str) -> Result<(), Error> {
        match self {
            Self::Ca(v, _) => v.reset(),
            Self::Tofu(v, store) => v.reset(store, addr)?,
            Self::Insecure(_) => {}
        }
        Ok(())
    }

    /// `config` must be the one made with this verifier. `announced`: the
    /// fingerprint the board's mDNS record gives, which a certificate seen
    /// for the first time must match to be pinned.
    async fn handshake(
        &self,
        tcp: TcpStream,
        name: rustls::pki_types::ServerName<'static>,
        addr: &str,
        announced: Option<Fingerprint>,
        config: Arc<rustls::ClientConfig>,
    ) -> Result<(Box<dyn Stream>, bool), Error> {
        if let Self::Insecure(_) = self {
            eprintln!(
                "warning: TLS to {addr} WITHOUT verifying its certificate (insecure mode, \
                 as the original client): anyone on the network path can pose as the server"
            );
        }
        let result = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map(|stream| {
                let resumed = stream.get_ref().1.handshake_kind() == Some(HandshakeKind::Resumed);
                (stream, resumed)
            });
        let tls_error = |source: io::Error| Error::Tls {
            addr: addr.to_owned(),
            source,
        };
        match self {
            Self::Ca(verifier, ca_file) => match (verifier.refusal(), result) {
                (Some(reason), _) => Err(Error::CertificateRejected {
                    addr: addr.to_owned(),
                    ca_file: ca_file.clone(),
                    reason,
                }),
                (None, Ok((stream, resumed))) => Ok((Box::new(stream), resumed)),
                (None, Err(e)) => Err(tls_error(e)),
            },
            Self::Tofu(verifier, store) => match (verifier.seen(), result) {
                (Seen::Changed { pinned, found }, _) => Err(Error::HostKeyChanged {
                    addr: addr.to_owned(),
                    file: store.path().to_owned(),
                    line: pinned.line,
                    expected: pinned.fingerprint.to_string(),
                    found: found.to_string(),
                }),
                (_, Err(e)) => Err(tls_error(e)),
                // Pinned only now: the handshake proved the server holds the key.
                (Seen::New(fingerprint), Ok(_)) if announced.is_some_and(|a| a != fingerprint) => {
                    Err(Error::AnnouncementMismatch {
                        addr: addr.to_owned(),
                        announced: announced.map(|a| a.to_string()).unwrap_or_default(),
                        found: fingerprint.to_string(),
                    })
                }
                (Seen::New(fingerprint), Ok((stream, resumed))) => {
                    store.add(addr, &fingerprint)?;
                    eprintln!(
                        "warning: first TLS connection to {addr}: trusting its certificate \
                         sha256 {fingerprint} from now on (pinned in {}). Check it against the \
                         server's: openssl x509 -in CERT -noout -fingerprint -sha256",
                        store.path().display()
                    );
                    Ok((Box::new(stream), resumed))
                }
                (_, Ok((stream, resumed))) => Ok((Box::new(stream), resumed)),
            },
            Self::Insecure(_) => result
                .map(|(s, resumed)| (Box::new(s) as Box<dyn Stream>, resumed))
                .map_err(tls_error),
        }
    }
}

#[cfg(test)]
mod tests;

/// One `read_adc` answer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdcReading {
    /// The converter's reading, 0 to 4095.
    pub raw: u16,
    /// The same in volts (0 to 3.3 nominal).
    pub volts: f64,
}

/// A JSON list of integers 0–255.
fn bytes_from_json(value: &serde_json::Value) -> Option<Vec<u8>> {
    value
        .as_array()?
        .iter()
        .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
        .collect()
}
