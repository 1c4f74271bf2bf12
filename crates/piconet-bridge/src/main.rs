//! `piconet-bridge --config bridge.toml`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use piconet_bridge::{board, BridgeConfig};
use tokio::sync::watch;
use tracing::{error, info};

/// Bridges piconet boards to an MQTT broker and Home Assistant.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The bridge's configuration (TOML: [broker], [[boards]]).
    #[arg(long)]
    config: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = match BridgeConfig::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("piconet-bridge: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("piconet-bridge: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(config))
}

async fn serve(config: BridgeConfig) -> ExitCode {
    let url = config.broker_url();
    let (stop, stopped) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for b in &config.boards {
        tasks.spawn(board::run(
            b.clone(),
            config.broker.clone(),
            url.clone(),
            stopped.clone(),
        ));
    }
    info!(boards = config.boards.len(), broker = %config.broker.url, "bridging");
    let failed = tokio::select! {
        _ = shutdown_signal() => false,
        // A board task returns early only for a setting that cannot work.
        Some(result) = tasks.join_next() => {
            match result {
                Ok(Err(e)) => error!("{e}"),
                Ok(Ok(())) => {}
                Err(e) => error!("board task failed: {e}"),
            }
            true
        }
    };
    info!("stopping: held outputs to their safe levels, boards offline");
    let _ = stop.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

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
}
