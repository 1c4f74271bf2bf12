//! Accepting connections and running the tasks that share the engine.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use piconet_engine::{After, Board, Config, ConnId, Engine, Revert};
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use piconet_engine::slots::{Notice, Refusal, SlotLimits};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use crate::admission::{AddrKey, Gate, Ticket};
use crate::boards::BoardSpec;
use crate::clock::Clock;
use crate::connection::{self, Ended, HostSession};
use crate::edges::EdgeReceiver;
use crate::event_lane::{Delivery, DirectSocket, EventLane};
use crate::limits::Limits;
use crate::tls::{self, TlsError, TlsFiles};

pub(crate) type SharedEngine = Engine<Box<dyn Board + Send>>;

/// The engine lock. It inherits priority (a Linux PI futex): when the
/// real-time lease thread waits for it, the normal-priority worker holding
/// it runs at real-time priority until it lets go. With a plain mutex a
/// holder preempted by ordinary processes made the revert wait a
/// scheduler tick or more (issue 12.4, BENCHMARKS.md).
pub(crate) type EngineLock = priority_inheriting_lock::PriorityInheritingLock<SharedEngine>;

/// A held engine lock; not `Send`, so it cannot be held across an `.await`.
pub(crate) type EngineGuard<'a> =
    priority_inheriting_lock::PriorityInheritingLockGuard<'a, SharedEngine>;

/// Everything `piconetd` needs to start.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The board to drive.
    pub board: BoardSpec,
    /// A GPIO line to blink as the status LED (gpiochip boards only).
    pub led_line: Option<u32>,
    /// What a gpiochip board drives besides its lines (`--pwm`).
    pub peripherals: crate::boards::Peripherals,
    /// TLS identity; plaintext when `None`.
    pub tls: Option<TlsFiles>,
    /// Protection limits.
    pub limits: Limits,
    /// Engine settings (version, longest lease).
    pub engine: Config,
    /// The clients file (`--clients`): with one, TLS is required with a
    /// client certificate the list names, and the engine checks every
    /// command against the client's role and pins.
    pub clients: Option<std::path::PathBuf>,
    /// The sim board's firmware update key (ed25519 public key): with one,
    /// the simulated Pico W has flash with embassy-boot and accepts images
    /// signed by its secret half (`piconet firmware sign`).
    pub update_key: Option<[u8; 32]>,
    /// The board's name: `get_info`'s `name` and the mDNS name
    /// (`NAME.local`). `None`: `piconet-XXXX` from the board id, which
    /// hashes the bound port, so the name is made once the port is bound.
    pub name: Option<String>,
}

/// A board's name and id, made once its port is bound.
struct Naming {
    name: String,
    id: String,
}

impl Naming {
    fn of(config: &ServerConfig, listener: &TcpListener) -> Result<Naming, ServerError> {
        let port = bound_addr(listener, config.listen)?.port();
        let id = crate::announce::board_id(&config.board.id_kind(), port);
        let name = config
            .name
            .clone()
            .unwrap_or_else(|| crate::announce::default_name(&id));
        Ok(Naming { name, id })
    }
}

async fn listen(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

fn bound_addr(listener: &TcpListener, asked: SocketAddr) -> Result<SocketAddr, ServerError> {
    listener.local_addr().map_err(|source| ServerError::Bind {
        addr: asked,
        source,
    })
}

impl Default for ServerConfig {
    /// `0.0.0.0:12345`, simulated board, plaintext, default limits.
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], piconet_protocol::DEFAULT_PORT)),
            board: BoardSpec::Sim,
            led_line: None,
            peripherals: crate::boards::Peripherals::default(),
            tls: None,
            limits: Limits::default(),
            engine: Config {
                version: env!("CARGO_PKG_VERSION"),
                ..Config::default()
            },
            update_key: None,
            clients: None,
            name: None,
        }
    }
}

/// The daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listening socket.
    #[error("cannot listen on {addr}: {source} (is another piconetd running? choose another --listen port)")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The board.
    #[error(transparent)]
    Board(#[from] crate::boards::BoardOpenError),
    /// The TLS identity.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The clients file.
    #[error(transparent)]
    Clients(#[from] crate::clients::ClientsFileError),
    /// A clients file without a TLS identity.
    #[error("--clients needs --tls-cert and --tls-key: clients authenticate with their certificates over TLS, so piconetd serves no plaintext port while a client list is set")]
    ClientsNeedTls,
    /// The lease thread could not start.
    #[error("cannot start the lease timer thread: {0}")]
    Thread(std::io::Error),
}

/// What shutting down did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Leased pins driven back to their safe level.
    pub reverted: usize,
}

/// State shared by the connection, lease and LED tasks.
pub(crate) struct Shared {
    engine: EngineLock,
    pub(crate) clock: Clock,
    pub(crate) limits: Limits,
    /// The lease thread, unparked when the earliest lease deadline may
    /// have changed, or when stopping.
    lease_thread: OnceLock<std::thread::Thread>,
    /// Set once at shutdown, for the lease thread.
    pub(crate) stopping: AtomicBool,
    /// Signalled when the number of clients changes.
    pub(crate) clients_changed: Notify,
    pub(crate) clients: AtomicUsize,
    /// Bumped at every power cycle (reset, deep sleep): every connection
    /// watches it and closes.
    power_cycles: tokio::sync::watch::Sender<u64>,
    /// During a deep sleep: when it ends (no connection is accepted).
    asleep_until: std::sync::Mutex<Option<std::time::Instant>>,
    /// Each connection's way to the event lines the engine queued for it
    /// (by another connection's `sim_input`, or a board's edge source).
    event_lanes: std::sync::Mutex<HashMap<ConnId, Arc<EventLane>>>,
}

impl Shared {
    pub(crate) fn engine(&self) -> EngineGuard<'_> {
        // No poisoning: a panic while holding the lock cannot leave the
        // engine half-way through a command in a way that matters more
        // than stopping every client (and every lease) would.
        self.engine.lock()
    }

    /// Run `f` on the engine, then wake the lease thread if the earliest
    /// deadline changed.
    pub(crate) fn with_engine<R>(&self, f: impl FnOnce(&mut SharedEngine) -> R) -> R {
        self.with_engine_waking(f).0
    }

    /// [`Shared::with_engine`], also saying whether `f` queued event lines
    /// that a watcher's own task must write (it was woken): a connection's
    /// task then lets it write them before it writes its own reply (see
    /// `connection::run`). Lines a parked plaintext watcher can take go
    /// out from here, from this thread, before this returns.
    pub(crate) fn with_engine_waking<R>(
        &self,
        f: impl FnOnce(&mut SharedEngine) -> R,
    ) -> (R, bool) {
        let mut woke = false;
        let (r, changed, taken) = {
            let mut engine = self.engine();
            let before = engine.next_deadline();
            let r = f(&mut engine);
            let changed = engine.next_deadline() != before;
            // Rare (an edge on a watched pin): the common case is one
            // look at the engine's few watcher slots.
            let mut taken = Vec::new();
            if let Some(first) = engine.take_woken() {
                let lanes = self.event_lanes.lock().unwrap_or_else(|p| p.into_inner());
                let mut conn = Some(first);
                while let Some(c) = conn {
                    if let Some(lane) = lanes.get(&c) {
                        if lane.take(&mut engine, c) {
                            taken.push(lane.clone());
                        } else {
                            // Stores a permit when the task is not
                            // waiting: no wake-up lost.
                            lane.notify.notify_one();
                            woke = true;
                        }
                    }
                    conn = engine.take_woken();
                }
            }
            (r, changed, taken)
        };
        // The writes after the engine is free: the lease thread never
        // waits behind a system call.
        if !taken.is_empty() {
            let now = self.clock.now();
            for lane in taken {
                if lane.write_taken(now) == Delivery::WakeTask {
                    lane.notify.notify_one();
                    woke = true;
                }
            }
        }
        if changed {
            self.wake_leases();
        }
        (r, woke)
    }

    /// Register `conn` for its event lines.
    pub(crate) fn event_lane(&self, conn: ConnId) -> Arc<EventLane> {
        let lane = Arc::new(EventLane::new());
        self.event_lanes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(conn, lane.clone());
        lane
    }

    /// `conn` ended: no more event lines for it, and no other thread
    /// writes to its socket again.
    pub(crate) fn forget_event_lane(&self, conn: ConnId) {
        let lane = self
            .event_lanes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&conn);
        if let Some(lane) = lane {
            lane.close();
        }
    }

    /// Tell the lease thread to look at the deadlines again.
    pub(crate) fn wake_leases(&self) {
        if let Some(t) = self.lease_thread.get() {
            t.unpark();
        }
    }

    /// Carry out the reset or sleep `session` has due (its reply is
    /// sent): the session drives every leased pin to its safe level first
    /// when the board is about to forget them (reset, deep sleep); then
    /// [`Shared::connections_after`].
    pub(crate) fn after_reply(&self, session: &mut HostSession) {
        let mut released: Vec<Revert> = Vec::new();
        let after = self.with_engine(|engine| {
            session.carry_out(self.clock.now(), engine, |r| released.push(r))
        });
        let Some(after) = after else { return };
        match after {
            After::Nothing => return,
            After::Reset => info!("reset requested: leased pins to their safe levels, board reset, every connection closed"),
            After::Sleep { ms, deep: true } => info!(ms, "deep sleep requested: leased pins to their safe levels, every connection closed, none accepted until it ends"),
            After::Sleep { ms, deep: false } => info!(ms, "light sleep requested"),
        }
        for r in released {
            info!(
                pin = r.pin,
                safe = %r.safe,
                "pin driven to its safe state before the power cycle"
            );
        }
        self.connections_after(after);
    }

    /// What `after` (carried out on the engine) does to the connections:
    /// a reset or deep sleep closes every one, a deep sleep also refuses
    /// new ones until it ends.
    pub(crate) fn connections_after(&self, after: After) {
        match after {
            After::Nothing | After::Sleep { deep: false, .. } => return,
            After::Sleep { ms, deep: true } => {
                let until = std::time::Instant::now() + Duration::from_millis(ms.into());
                *self.asleep_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(until);
            }
            After::Reset => {}
        }
        self.power_cycles.send_modify(|n| *n += 1);
    }

    /// Whether the board is in a deep sleep now.
    fn asleep(&self) -> bool {
        let mut until = self.asleep_until.lock().unwrap_or_else(|p| p.into_inner());
        match *until {
            Some(t) if std::time::Instant::now() < t => true,
            Some(_) => {
                *until = None;
                false
            }
            None => false,
        }
    }
}

/// A bound, ready-to-run daemon.
pub struct Server {
    listener: TcpListener,
    /// The board's edge queue, pumped into the engine while running.
    edges: Option<EdgeReceiver>,
    shared: Arc<Shared>,
    tls: Option<TlsAcceptor>,
    clients_file: Option<std::path::PathBuf>,
    naming: Naming,
}

impl Server {
    /// Open the board, load the TLS identity and bind the listener.
    pub async fn bind(config: ServerConfig) -> Result<Server, ServerError> {
        let clock = Clock::start();
        let listener = listen(config.listen).await?;
        let naming = Naming::of(&config, &listener)?;
        let (board, edges) = config.board.open(
            clock,
            config.led_line,
            config.update_key.map(|key| (key, config.engine.version)),
            &config.peripherals,
            &naming.name,
        )?;
        Self::serve_board(config, clock, board, edges, listener, naming)
    }

    /// [`Server::bind`] with the board already open (`config.board` is not
    /// used): `edges` is the end of its edge queue, if it has one.
    #[cfg(test)]
    pub(crate) async fn bind_board(
        config: ServerConfig,
        clock: Clock,
        board: Box<dyn Board + Send>,
        edges: Option<EdgeReceiver>,
    ) -> Result<Server, ServerError> {
        let listener = listen(config.listen).await?;
        let naming = Naming::of(&config, &listener)?;
        Self::serve_board(config, clock, board, edges, listener, naming)
    }

    fn serve_board(
        config: ServerConfig,
        clock: Clock,
        board: Box<dyn Board + Send>,
        edges: Option<EdgeReceiver>,
        listener: TcpListener,
        naming: Naming,
    ) -> Result<Server, ServerError> {
        let clients = match &config.clients {
            Some(path) => Some(crate::clients::load(path)?),
            None => None,
        };
        let verifier = clients
            .as_ref()
            .map(|_| crate::clients::ListedClients::new(&rustls::crypto::ring::default_provider()));
        let tls = match (&config.tls, &verifier) {
            (Some(files), v) => {
                let v = v
                    .clone()
                    .map(|v| v as Arc<dyn rustls::server::danger::ClientCertVerifier>);
                Some(TlsAcceptor::from(Arc::new(tls::config_with(files, v)?)))
            }
            (None, Some(_)) => return Err(ServerError::ClientsNeedTls),
            (None, None) => None,
        };
        info!(
            addr = %bound_addr(&listener, config.listen)?,
            name = naming.name.as_str(),
            board = board.name(),
            tls = tls.is_some(),
            "piconetd listening"
        );
        let mut engine = Engine::new(board, config.engine);
        if let Some(list) = clients {
            info!(
                clients = list.as_slice().len(),
                "client authentication on: mutual TLS, roles and pins from the clients file"
            );
            engine.set_clients(list);
        }
        let server = Server {
            listener,
            edges,
            tls,
            clients_file: config.clients.clone(),
            naming,
            shared: Arc::new(Shared {
                engine: EngineLock::new(engine),
                clock,
                limits: config.limits,
                lease_thread: OnceLock::new(),
                stopping: AtomicBool::new(false),
                clients_changed: Notify::new(),
                clients: AtomicUsize::new(0),
                power_cycles: tokio::sync::watch::Sender::new(0),
                asleep_until: std::sync::Mutex::new(None),
                event_lanes: std::sync::Mutex::new(HashMap::new()),
            }),
        };
        if let Some(v) = verifier {
            v.attach(&server.shared);
        }
        Ok(server)
    }

    /// Reloads the clients file into this daemon (on SIGHUP); `None`
    /// without `--clients`.
    pub fn clients_reloader(&self) -> Option<crate::clients::ClientsReloader> {
        Some(crate::clients::ClientsReloader {
            path: self.clients_file.clone()?,
            shared: self.shared.clone(),
        })
    }

    /// The board's name (`get_info`'s `name`, announced as `NAME.local`).
    pub fn name(&self) -> &str {
        &self.naming.name
    }

    /// The board id announced as TXT `id` (see [`crate::announce::board_id`]).
    pub fn board_id(&self) -> &str {
        &self.naming.id
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serve until `shutdown` completes, then drive every leased pin to its
    /// safe level and return.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<ShutdownReport, ServerError> {
        let Server {
            listener,
            edges,
            shared,
            tls,
            clients_file: _,
            naming: _,
        } = self;
        let mut background = JoinSet::new();
        let leases = crate::leases::spawn(shared.clone()).map_err(ServerError::Thread)?;
        let _ = shared.lease_thread.set(leases.thread().clone());
        background.spawn(crate::status_led::status_led(shared.clone()));
        if let Some(edges) = edges {
            background.spawn(crate::edges::pump(shared.clone(), edges));
        }
        let limits = shared.limits;
        let gates = Gates {
            connections: Gate::new(
                limits.max_connections,
                SlotLimits {
                    per_address: limits.max_connections_per_address,
                    evictable_after: limits.evictable_after,
                },
                shared.clock,
            ),
            handshakes: Gate::new(
                limits.max_handshakes,
                SlotLimits {
                    per_address: limits.max_handshakes_per_address,
                    evictable_after: limits.evictable_after,
                },
                shared.clock,
            ),
        };
        let refusals = RateLimitedWarn::default();
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => {
                    let (tcp, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            // Out of file descriptors and the like: back off
                            // instead of spinning.
                            warn!(error = %e, "accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    if shared.asleep() {
                        // A sleeping board does not answer: closed at once.
                        drop(tcp);
                        debug!(%peer, "connection refused: the board is in deep sleep");
                        continue;
                    }
                    let _ = tcp.set_nodelay(true);
                    let key = AddrKey::from(peer.ip());
                    match &tls {
                        None => match gates.connections.admit(key) {
                            Ok(ticket) => {
                                connections.spawn(serve_plain(tcp, peer, shared.clone(), ticket));
                            }
                            Err(refusal) => {
                                refusals.warn(peer, refusal, &limits);
                                // Fits in a fresh socket's buffer: no task, no wait.
                                let _ = tcp.try_write(&busy_message(refusal, &limits));
                            }
                        },
                        Some(acceptor) => {
                            // Refused before any handshake work: a full
                            // handshake costs more than the refusal is worth.
                            let admitted = gates
                                .connections
                                .check(key)
                                .and_then(|()| gates.handshakes.admit(key));
                            match admitted {
                                Ok(handshake) => {
                                    connections.spawn(serve_tls(
                                        tcp,
                                        peer,
                                        shared.clone(),
                                        acceptor.clone(),
                                        handshake,
                                        gates.connections.clone(),
                                    ));
                                }
                                Err(refusal) => refusals.warn(peer, refusal, &limits),
                            }
                        }
                    }
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        connections.abort_all();
        background.abort_all();
        shared.stopping.store(true, Ordering::Release);
        // An unpark before the thread parks is kept, so it cannot be missed.
        shared.wake_leases();
        let _ = leases.join();
        let now = shared.clock.now();
        let reverted = shared.engine().release_all(now, |r| match r.error {
            None => info!(
                pin = r.pin,
                safe = %r.safe,
                "shutdown: pin back to its safe state"
            ),
            Some(e) => warn!(
                pin = r.pin,
                error = e.message(),
                "shutdown: could not revert pin"
            ),
        });
        info!(
            reverted,
            log_lines_dropped = crate::logging::dropped_lines(),
            "piconetd stopped"
        );
        Ok(ShutdownReport { reverted })
    }
}

/// The two slot tables.
struct Gates {
    connections: Arc<Gate>,
    handshakes: Arc<Gate>,
}

async fn serve_plain(tcp: TcpStream, peer: SocketAddr, shared: Arc<Shared>, ticket: Ticket) {
    let stream = ticket.track(tcp);
    with_stream(stream, peer, None, shared, ticket).await
}

async fn serve_tls(
    tcp: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    acceptor: TlsAcceptor,
    handshake: Ticket,
    connections: Arc<Gate>,
) {
    let limits = shared.limits;
    let accepted = tokio::select! {
        () = handshake.evicted() => {
            debug!(%peer, "TLS handshake abandoned: its place went to a newer one");
            return;
        }
        r = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)) => r,
    };
    drop(handshake);
    let mut stream = match accepted {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            info!(%peer, error = %e, "TLS handshake failed (a plaintext client on the TLS port?)");
            return;
        }
        Err(_) => {
            info!(%peer, "TLS handshake timed out");
            return;
        }
    };
    // The verifier admitted this certificate (or none was asked for).
    let client = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .map(|der| crate::clients::fingerprint(der.as_ref()));
    // The slot is taken only now, so silent or slow handshakes hold none.
    match connections.admit(AddrKey::from(peer.ip())) {
        Ok(ticket) => {
            let stream = ticket.track(stream);
            with_stream(stream, peer, client, shared, ticket).await
        }
        Err(refusal) => {
            // Taken while this one shook hands: say so over TLS, briefly.
            let msg = busy_message(refusal, &limits);
            let _ = tokio::time::timeout(BUSY_WRITE_TIMEOUT, async {
                stream.write_all(&msg).await?;
                stream.shutdown().await
            })
            .await;
        }
    }
}

/// How long a refused client gets to take its "busy" line.
const BUSY_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a connection is turned away or closed by the slot policy: written
/// through the protocol's error line, like every other error.
enum SlotLine<'a> {
    /// No slot for a newcomer.
    Refused(Refusal, &'a Limits),
    /// This idle connection made room for a newcomer.
    Evicted,
}

impl SlotLine<'_> {
    /// The shared text, naming piconetd's flags.
    fn notice(&self) -> Notice<'static> {
        match self {
            SlotLine::Refused(Refusal::Full, limits) => Notice::Refused {
                refusal: Refusal::Full,
                limit: limits.max_connections,
                setting: "piconetd --max-connections",
            },
            SlotLine::Refused(Refusal::AddressFull, limits) => Notice::Refused {
                refusal: Refusal::AddressFull,
                limit: limits.max_connections_per_address,
                setting: "piconetd --max-connections-per-address",
            },
            SlotLine::Evicted => Notice::Evicted {
                setting: "piconetd --max-connections",
            },
        }
    }

    fn line(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // A Vec never runs out of room.
        let _ = piconet_protocol::response::write_error_line(&mut out, &self.notice());
        out
    }
}

/// The line a refused client gets.
fn busy_message(refusal: Refusal, limits: &Limits) -> Vec<u8> {
    SlotLine::Refused(refusal, limits).line()
}

/// A warning about refused connections at most once a second, with the
/// number refused since the last one: a connection flood must not turn
/// into a log flood.
#[derive(Default)]
struct RateLimitedWarn {
    last: std::sync::Mutex<Option<std::time::Instant>>,
    since: std::sync::atomic::AtomicU64,
}

impl RateLimitedWarn {
    fn warn(&self, peer: SocketAddr, refusal: Refusal, limits: &Limits) {
        let refused = self.since.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed() < Duration::from_secs(1)) {
            return;
        }
        *last = Some(std::time::Instant::now());
        self.since.store(0, Ordering::Relaxed);
        let (why, limit) = match refusal {
            Refusal::Full => ("every connection slot is in use", limits.max_connections),
            Refusal::AddressFull => (
                "this address holds its share of slots",
                limits.max_connections_per_address,
            ),
        };
        warn!(%peer, refused, limit, "connections refused: {why}");
    }
}

async fn with_stream<S: AsyncRead + AsyncWrite + DirectSocket + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    client: Option<piconet_engine::Fingerprint>,
    shared: Arc<Shared>,
    ticket: Ticket,
) {
    debug!(%peer, "client connected");
    shared.clients.fetch_add(1, Ordering::Relaxed);
    shared.clients_changed.notify_one();
    let mut power = shared.power_cycles.subscribe();
    let ended = tokio::select! {
        ended = connection::serve(&mut stream, client, &shared) => Closed::Ended(ended),
        () = ticket.evicted() => Closed::Evicted,
        _ = power.changed() => Closed::PowerCycle,
    };
    shared.clients.fetch_sub(1, Ordering::Relaxed);
    shared.clients_changed.notify_one();
    match ended {
        Closed::PowerCycle => {
            // As a board's reset: no goodbye, the connection just ends.
            debug!(%peer, "connection closed: the board reset or went to deep sleep");
            let _ = tokio::time::timeout(BUSY_WRITE_TIMEOUT, stream.shutdown()).await;
        }
        Closed::Evicted => {
            info!(%peer, "idle connection closed to make room for a new one");
            let _ = tokio::time::timeout(BUSY_WRITE_TIMEOUT, async {
                stream.write_all(&SlotLine::Evicted.line()).await?;
                stream.shutdown().await
            })
            .await;
        }
        Closed::Ended(Ended::Io(e)) => info!(%peer, error = %e, "client connection failed"),
        Closed::Ended(other) => {
            debug!(%peer, ended = ended_reason(&other), "client disconnected")
        }
    }
}

/// How a connection's task ended.
enum Closed {
    /// The connection ended by itself.
    Ended(Ended),
    /// Its slot went to a newcomer.
    Evicted,
    /// The board reset or went to deep sleep.
    PowerCycle,
}

/// Why a connection ended, as a word for the log (not Debug text).
fn ended_reason(ended: &Ended) -> &'static str {
    match ended {
        Ended::Done => "client sent the blank line",
        Ended::Closed => "client closed",
        Ended::Idle => "idle timeout",
        Ended::SlowLine => "line timeout",
        Ended::WriteStalled => "write timeout: the client reads none of its replies",
        Ended::Io(_) => "socket error",
    }
}
