//! `piconetd`: serve the piconet protocol on a Linux host.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use piconet_server::{logging, BoardSpec, Limits, Server, ServerConfig, TlsFiles};

/// Serve the piconet GPIO protocol (wire-compatible with piconetcontrol
/// 0.2.4) on this machine, on a simulated Pico W or on real GPIO lines.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address and port to listen on.
    #[arg(long, default_value = "0.0.0.0:12345")]
    listen: SocketAddr,
    /// `sim` (a simulated Pico W) or `gpiochip:/dev/gpiochipN` (real lines).
    #[arg(long, default_value = "sim")]
    board: BoardSpec,
    /// With a gpiochip board: a line to blink as the status LED.
    #[arg(long)]
    led_line: Option<u32>,
    /// Certificate (PEM or DER); with --tls-key, serve TLS instead of plaintext.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM or DER, SEC1 or PKCS#8).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Simultaneous connections; one more is told the server is busy.
    #[arg(long, default_value_t = Limits::default().max_connections)]
    max_connections: usize,
    /// Longest command line in bytes.
    #[arg(long, default_value_t = Limits::default().max_line)]
    max_line_bytes: usize,
    /// Close a connection idle for this many seconds.
    #[arg(long, default_value_t = Limits::default().idle_timeout.as_secs())]
    idle_timeout_secs: u64,
    /// Close a connection whose command line is not finished this many
    /// seconds after it began (slow or stuck senders).
    #[arg(long, default_value_t = Limits::default().line_timeout.as_secs())]
    line_timeout_secs: u64,
    /// Longest write_pin timeout accepted, in seconds.
    #[arg(long, default_value_t = 24 * 3600)]
    max_lease_secs: u64,
    /// Sim board: accept firmware images signed for this ed25519 public
    /// key (64 hex digits, as `piconet firmware keygen` prints it); the
    /// board then updates itself through simulated embassy-boot flash.
    #[arg(long, value_parser = parse_key)]
    update_public_key: Option<[u8; 32]>,
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
    let defaults = ServerConfig::default();
    let config = ServerConfig {
        listen: args.listen,
        board: args.board,
        led_line: args.led_line,
        tls: args
            .tls_cert
            .zip(args.tls_key)
            .map(|(cert, key)| TlsFiles { cert, key }),
        limits: Limits {
            max_connections: args.max_connections.max(1),
            max_line: args.max_line_bytes.max(1),
            idle_timeout: Duration::from_secs(args.idle_timeout_secs.max(1)),
            line_timeout: Duration::from_secs(args.line_timeout_secs.max(1)),
            ..Limits::default()
        },
        engine: piconet_engine::Config {
            max_lease: Duration::from_secs(args.max_lease_secs.max(1)),
            ..defaults.engine
        },
        update_key: args.update_public_key,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format_args!("cannot start the runtime: {e}")),
    };
    runtime.block_on(async {
        let server = match Server::bind(config).await {
            Ok(s) => s,
            Err(e) => return fail(format_args!("{e}")),
        };
        match server.run(shutdown_signal()).await {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => fail(format_args!("{e}")),
        }
    })
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
