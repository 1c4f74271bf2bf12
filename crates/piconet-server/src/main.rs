//! `piconetd`: serve the piconet protocol on a Linux host.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use piconet_server::announce::{self, Announcement, Announcer};
use piconet_server::{logging, BoardSpec, Fleet, Limits, ServerConfig, TlsFiles, MAX_FLEET};

/// Serve the piconet GPIO protocol (wire-compatible with piconetcontrol
/// 0.2.4) on this machine, on a simulated Pico W or on real GPIO lines.
#[derive(Parser, Debug)]
#[command(name = "piconetd", version, about)]
struct Args {
    /// Address and port to listen on: IP:PORT, [IPv6]:PORT or HOST:PORT.
    #[arg(long, default_value = "0.0.0.0:12345", value_parser = parse_listen)]
    listen: SocketAddr,
    /// `sim` (a simulated Pico W) or `gpiochip:/dev/gpiochipN` (real lines).
    #[arg(long, default_value = "sim")]
    board: BoardSpec,
    /// With `--board sim`: serve this many simulated boards, each with its
    /// own engine, board `i` on the --listen port + `i` (1 to 1000).
    #[arg(long, default_value_t = 1, value_parser = fleet_size)]
    count: usize,
    /// The board's name, announced over mDNS as NAME.local (1-32 of
    /// a-z, 0-9 and -) [default: piconet-XXXX from the board id]. With
    /// --count, board i is NAME-i.
    #[arg(long, value_parser = parse_name)]
    name: Option<String>,
    /// Do not announce the board(s) over mDNS/DNS-SD (_piconet._tcp).
    #[arg(long)]
    no_mdns: bool,
    /// With a gpiochip board: a line to blink as the status LED.
    #[arg(long)]
    led_line: Option<u32>,
    /// With a gpiochip board: PIN=CHIP:CHANNEL drives line PIN as PWM
    /// through channel CHANNEL of /sys/class/pwm/pwmchipCHIP (repeat for
    /// more pins, at most 64; Raspberry Pi 4 with dtoverlay=pwm-2chan:
    /// 18=0:0 and 19=0:1).
    #[arg(long = "pwm", value_name = "PIN=CHIP:CHANNEL")]
    pwm: Vec<piconet_server::pwm_sysfs::PwmMapping>,
    /// With a gpiochip board: BUS=DEVICE:SDA:SCL[@HZ] serves piconet I2C
    /// bus BUS (0 or 1) on the kernel adapter DEVICE, whose lines are SDA
    /// and SCL, clocked at HZ by the device tree (default 100000).
    /// Raspberry Pi header I2C: 1=/dev/i2c-1:2:3.
    #[arg(long = "i2c", value_name = "BUS=DEVICE:SDA:SCL[@HZ]")]
    i2c: Vec<piconet_server::i2c_linux::I2cMapping>,
    /// Certificate (PEM or DER); with --tls-key, serve TLS instead of plaintext.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM or DER, SEC1 or PKCS#8).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Simultaneous connections. When all are taken, the one idle longest
    /// makes way for a newcomer; if all are in use, the newcomer is told
    /// the server is busy.
    #[arg(long, default_value_t = Limits::default().max_connections, value_parser = at_least::<1>)]
    max_connections: usize,
    /// Connections one address (IPv6: one /64) may hold [default: half of
    /// --max-connections, at least 1].
    #[arg(long, value_parser = at_least::<1>)]
    max_connections_per_address: Option<usize>,
    /// TLS handshakes in progress at once; a connection takes its slot only
    /// after its handshake.
    #[arg(long, default_value_t = Limits::default().max_handshakes, value_parser = at_least::<1>)]
    max_handshakes: usize,
    /// TLS handshakes in progress from one address; more are closed before
    /// any handshake work.
    #[arg(long, default_value_t = Limits::default().max_handshakes_per_address, value_parser = at_least::<1>)]
    max_handshakes_per_address: usize,
    /// Abandon a TLS handshake not finished within this many seconds.
    #[arg(long, default_value_t = Limits::default().handshake_timeout.as_secs(), value_parser = at_least_secs)]
    handshake_timeout_secs: u64,
    /// A connection idle (or a handshake pending) this many seconds may be
    /// closed to make room for a newcomer when the slots are full.
    #[arg(long, default_value_t = Limits::default().evictable_after.as_secs())]
    evict_idle_after_secs: u64,
    /// Longest command line in bytes.
    #[arg(long, default_value_t = Limits::default().max_line, value_parser = at_least::<MIN_LINE>)]
    max_line_bytes: usize,
    /// Close a connection idle for this many seconds.
    #[arg(long, default_value_t = Limits::default().idle_timeout.as_secs(), value_parser = at_least_secs)]
    idle_timeout_secs: u64,
    /// Close a connection whose command line is not finished this many
    /// seconds after it began (slow or stuck senders).
    #[arg(long, default_value_t = Limits::default().line_timeout.as_secs(), value_parser = at_least_secs)]
    line_timeout_secs: u64,
    /// Close a connection whose client reads none of its replies for this
    /// many seconds (a client that sends and never reads).
    #[arg(long, default_value_t = Limits::default().write_timeout.as_secs(), value_parser = at_least_secs)]
    write_timeout_secs: u64,
    /// Reply bytes that may wait unread per connection before no more of
    /// its commands are read.
    #[arg(long, default_value_t = Limits::default().max_output)]
    max_output_bytes: usize,
    /// Longest write_pin timeout accepted, in seconds.
    #[arg(long, default_value_t = 24 * 3600, value_parser = at_least_secs)]
    max_lease_secs: u64,
    /// Sim board: accept firmware images signed for this ed25519 public
    /// key (64 hex digits, as `piconet firmware keygen` prints it); the
    /// board then updates itself through simulated embassy-boot flash.
    #[arg(long, value_parser = parse_key)]
    update_public_key: Option<[u8; 32]>,
    /// Authenticate clients: a TOML file of `[[clients]]` tables (name,
    /// sha256 of the client certificate's DER, role viewer|operator|admin,
    /// optional pins). Needs --tls-cert/--tls-key; every client must then
    /// present a listed certificate. Reloaded on SIGHUP.
    #[arg(long)]
    clients: Option<PathBuf>,
}

/// The shortest `--max-line-bytes` that still fits every command the
/// original client sends (a `write_pin` with its `time_sent` is ~100
/// bytes; a `set_tls` certificate needs far more, so 64 KiB is the default).
const MIN_LINE: usize = 256;

fn at_least<const MIN: usize>(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number"))?;
    if n < MIN {
        return Err(format!("must be at least {MIN}"));
    }
    Ok(n)
}

fn parse_name(s: &str) -> Result<String, String> {
    announce::check_name(s).map_err(|e| e.to_string())?;
    Ok(s.to_owned())
}

fn fleet_size(s: &str) -> Result<usize, String> {
    let n = at_least::<1>(s)?;
    if n > MAX_FLEET {
        return Err(format!("at most {MAX_FLEET} boards per process"));
    }
    Ok(n)
}

fn at_least_secs(s: &str) -> Result<u64, String> {
    Ok(at_least::<1>(s)? as u64)
}

/// `IP:PORT`, or `HOST:PORT` resolved now (the first address).
fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    let hint = "expected IP:PORT such as 0.0.0.0:12345 (every IPv4 interface), \
                127.0.0.1:12345, [::]:12345, or HOST:PORT";
    if s.rsplit_once(':')
        .is_none_or(|(_, port)| port.parse::<u16>().is_err())
    {
        return Err(format!("no port in {s:?}: {hint}"));
    }
    match s.to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| format!("{s:?} resolves to no address: {hint}")),
        Err(e) => Err(format!("cannot resolve {s:?}: {e}; {hint}")),
    }
}

/// Flags that parse but make no sense together.
fn check_combinations(args: &Args) -> Result<(), String> {
    match args.board {
        BoardSpec::Sim if args.led_line.is_some() => Err(
            "--led-line needs a gpiochip board: the simulated board has its own status LED".into(),
        ),
        BoardSpec::Sim if !args.pwm.is_empty() => {
            Err("--pwm needs a gpiochip board: the simulated board has PWM on every pin".into())
        }
        BoardSpec::Sim if !args.i2c.is_empty() => {
            Err("--i2c needs a gpiochip board: the simulated board has its own buses".into())
        }
        BoardSpec::GpioChip(_) if args.update_public_key.is_some() => Err(
            "--update-public-key is for the simulated board: piconetd on a GPIO chip is \
             updated as a program (cargo install), not with firmware images"
                .into(),
        ),
        BoardSpec::GpioChip(_) if args.count > 1 => {
            Err("--count needs --board sim: a GPIO chip is one board".into())
        }
        _ if args.count > 1 && args.listen.port() == 0 => {
            Err("--count needs a fixed --listen port: board i listens on that port + i".into())
        }
        _ if args.count > 1
            && args.name.as_ref().is_some_and(|n| {
                n.len() + 1 + (args.count - 1).to_string().len() > announce::MAX_NAME
            }) =>
        {
            Err(format!(
                "--name with --count {}: NAME-{} would be longer than {} characters",
                args.count,
                args.count - 1,
                announce::MAX_NAME
            ))
        }
        _ if usize::from(args.listen.port()) + args.count - 1 > usize::from(u16::MAX) => {
            Err(format!(
                "--count {} from port {}: the last board would need a port above 65535",
                args.count,
                args.listen.port()
            ))
        }
        _ => Ok(()),
    }
}

fn parse_key(s: &str) -> Result<[u8; 32], String> {
    let bad = || format!("{s:?} is not an ed25519 public key: expected 64 hex digits");
    if s.len() != 64 || !s.is_ascii() {
        return Err(bad());
    }
    let mut key = [0u8; 32];
    for (byte, pair) in key.iter_mut().zip(s.as_bytes().chunks(2)) {
        let text = std::str::from_utf8(pair).map_err(|_| bad())?;
        *byte = u8::from_str_radix(text, 16).map_err(|_| bad())?;
    }
    Ok(key)
}

/// Print a start-up error. Not `eprintln!`: it panics when stderr is a
/// broken pipe, and an error message is not worth a panic.
fn fail(message: std::fmt::Arguments<'_>) -> ExitCode {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "piconetd: {message}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(message) = check_combinations(&args) {
        use clap::CommandFactory;
        Args::command()
            .error(clap::error::ErrorKind::ArgumentConflict, message)
            .exit();
    }
    let log = match logging::init() {
        Ok(log) => log,
        Err(e) => return fail(format_args!("cannot start the log thread: {e}")),
    };
    let code = run(args);
    // Bounded: a stalled stderr must not keep the daemon from exiting.
    log.flush(logging::FLUSH_WAIT);
    code
}

fn run(args: Args) -> ExitCode {
    let count = args.count;
    let mdns = !args.no_mdns;
    let authenticated = args.clients.is_some();
    let defaults = ServerConfig::default();
    let config = ServerConfig {
        listen: args.listen,
        board: args.board,
        led_line: args.led_line,
        peripherals: piconet_server::Peripherals {
            pwm: args.pwm,
            i2c: args.i2c,
        },
        tls: args
            .tls_cert
            .zip(args.tls_key)
            .map(|(cert, key)| TlsFiles { cert, key }),
        limits: Limits {
            max_connections: args.max_connections,
            max_connections_per_address: args
                .max_connections_per_address
                .unwrap_or((args.max_connections / 2).max(1)),
            max_handshakes: args.max_handshakes,
            max_handshakes_per_address: args.max_handshakes_per_address,
            handshake_timeout: Duration::from_secs(args.handshake_timeout_secs),
            evictable_after: Duration::from_secs(args.evict_idle_after_secs),
            max_line: args.max_line_bytes,
            idle_timeout: Duration::from_secs(args.idle_timeout_secs),
            line_timeout: Duration::from_secs(args.line_timeout_secs),
            write_timeout: Duration::from_secs(args.write_timeout_secs),
            max_output: args.max_output_bytes,
        },
        engine: piconet_engine::Config {
            max_lease: Duration::from_secs(args.max_lease_secs),
            ..defaults.engine
        },
        update_key: args.update_public_key,
        clients: args.clients.clone(),
        name: args.name.clone(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format_args!("cannot start the runtime: {e}")),
    };
    runtime.block_on(async {
        let tls = match config.tls.as_ref().map(tls_fingerprint).transpose() {
            Ok(t) => t.unwrap_or_default(),
            Err(e) => return fail(format_args!("{e}")),
        };
        let fw = config.engine.version.to_owned();
        let fleet = match Fleet::bind(config, count).await {
            Ok(f) => f,
            Err(e) => return fail(format_args!("{e}")),
        };
        for reloader in fleet.clients_reloaders() {
            if let Err(e) = reload_on_sighup(reloader) {
                return fail(format_args!("cannot watch for SIGHUP: {e}"));
            }
        }
        let announcer = if mdns {
            let boards: Vec<Announcement> = fleet
                .boards()
                .into_iter()
                .map(|(addr, name, id)| Announcement {
                    name,
                    port: addr.port(),
                    ip: addr.ip(),
                    fw: fw.clone(),
                    id,
                    tls: tls.clone(),
                    auth: if authenticated { "mtls" } else { "none" },
                })
                .collect();
            match Announcer::start(&boards) {
                Ok(a) => Some(a),
                Err(e) => return fail(format_args!("{e}")),
            }
        } else {
            None
        };
        let shutdown = async {
            shutdown_signal().await;
            // Goodbyes first, so browsers drop the boards now rather than
            // at the records' TTL, and no client is sent to a closing port.
            if let Some(a) = announcer {
                let _ = tokio::task::spawn_blocking(move || a.stop(announce::GOODBYE_WAIT)).await;
            }
        };
        match fleet.run(shutdown).await {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => fail(format_args!("{e}")),
        }
    })
}

/// The TXT `tls` value: SHA-256 of the (first) certificate's DER, hex,
/// what `piconet` pins on first use.
fn tls_fingerprint(files: &TlsFiles) -> Result<String, piconet_server::TlsError> {
    use sha2::{Digest, Sha256};
    let certs = piconet_server::tls::load_certs(&files.cert)?;
    Ok(certs
        .first()
        .map(|c| {
            Sha256::digest(c.as_ref())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .unwrap_or_default())
}

/// Reload the clients file at every SIGHUP; a file that cannot be used is
/// logged and the running list kept.
fn reload_on_sighup(reloader: piconet_server::ClientsReloader) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            match reloader.reload() {
                Ok(n) => {
                    tracing::info!(clients = n, file = %reloader.path().display(), "clients file reloaded")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "clients file not reloaded: the running list stays")
                }
            }
        }
    });
    Ok(())
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("signal received: reverting leased pins and stopping");
}
