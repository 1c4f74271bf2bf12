//! Carrying out a parsed command line.

use std::io::Write;

use piconet_client::{Client, Error, Map, PingStats, Spread, Value};
use serde_json::json;

use crate::args::{Cli, Command};
use crate::bench;
use crate::exit;
use crate::fields;

/// What a run ended with, for `main` to report.
#[derive(Debug)]
pub enum Failure {
    /// The client failed; its code says how.
    Client(Error),
    /// Every command was answered, but some answers are errors (already printed).
    ErrorAnswers,
    /// The command line is wrong in a way clap cannot see.
    Usage(String),
    /// Stdout is gone (e.g. a closed pipe).
    Output(std::io::Error),
    /// A benchmark could not set up, or met error answers or broken connections.
    Bench(String),
    /// A firmware key, signature or update failed.
    Update(String),
    /// Provisioning failed; the code says how (see `exit`).
    Provision(u8, String),
}

impl Failure {
    pub fn code(&self) -> u8 {
        match self {
            Failure::Client(e) => exit::code(e),
            Failure::ErrorAnswers => exit::SERVER_ERROR,
            Failure::Usage(_) => exit::USAGE,
            Failure::Output(_) => exit::CONNECTION,
            Failure::Bench(_) => exit::SERVER_ERROR,
            Failure::Update(_) => exit::SERVER_ERROR,
            Failure::Provision(code, _) => *code,
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Client(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Output(e)
    }
}

pub async fn run(cli: Cli, out: &mut dyn Write) -> Result<(), Failure> {
    if let Command::Firmware { action } = &cli.command {
        return crate::firmware::run(action, out);
    }
    if let Command::Provision(args) = &cli.command {
        return crate::provision::run(args, &cli.connection, cli.json, out).await;
    }
    if let Some(path) = cli.command.serial() {
        if cli.connection.tls()?.is_some() {
            return Err(Failure::Usage(format!(
                "--serial {} is plaintext (the cable is the security): drop --tls, --ca and --insecure",
                path.display()
            )));
        }
    }
    let mut client = Client::to(cli.command.endpoint()).with_timeout(cli.connection.timeout);
    if let Some(verify) = cli.connection.tls()? {
        client = client.with_tls(verify);
    }
    let json = cli.json;
    let tls = cli.connection.tls()?.is_some();
    match cli.command {
        Command::Update {
            image,
            sig,
            wait,
            quiet,
            ..
        } => {
            let args = crate::update::UpdateArgs {
                image,
                sig,
                wait: std::time::Duration::from_secs(wait),
                progress: !quiet && !json,
            };
            match crate::update::update(&client, &args).await {
                Ok(report) => Ok(write!(out, "{report}")?),
                Err(crate::update::UpdateFailure::Client(e)) => Err(e.into()),
                Err(crate::update::UpdateFailure::Other(m)) => Err(Failure::Update(m)),
            }
        }
        // Answered at the top, before any connection.
        Command::Firmware { .. } | Command::Provision(_) => Ok(()),
        Command::Send { commands, .. } => {
            let commands = commands
                .iter()
                .map(|fields| fields::command(fields))
                .collect::<Result<Vec<_>, _>>()
                .map_err(Failure::Usage)?;
            send(&client, commands, out).await
        }
        Command::Ping { count, .. } => {
            let stats = client.ping(count as usize).await?;
            print_ping(&client, &stats, json, out)
        }
        Command::Info { .. } => {
            let info = client.info().await?;
            if json {
                writeln!(out, "{}", Value::Object(info))?;
            } else {
                for (key, value) in &info {
                    writeln!(out, "{key}: {}", text(value))?;
                }
            }
            Ok(())
        }
        Command::Version { .. } => {
            let version = client.version().await?;
            if json {
                writeln!(out, "{}", json!({ "version": version }))?;
            } else {
                writeln!(out, "{version}")?;
            }
            Ok(())
        }
        Command::Bench {
            connections,
            duration,
            action,
            pipeline,
            warmup,
            ..
        } => {
            let config = bench::BenchConfig {
                connections: connections as usize,
                duration,
                warmup,
                action,
                pipeline: pipeline as usize,
                timeout: cli.connection.timeout,
            };
            let report = match bench::run(&client, tls, config).await {
                Ok(report) => report,
                Err(bench::BenchError::Client(e)) => return Err(Failure::Client(e)),
                Err(bench::BenchError::Setup(why)) => return Err(Failure::Bench(why)),
            };
            report.print(json, out)?;
            if report.errors > 0 || report.failed_connections > 0 {
                return Err(Failure::Bench(format!(
                    "{} error answers and {} broken connections during the benchmark",
                    report.errors, report.failed_connections
                )));
            }
            Ok(())
        }
        Command::Actions { .. } => {
            let actions = client.actions().await?;
            if json {
                writeln!(out, "{}", json!({ "actions": actions }))?;
            } else {
                for action in actions {
                    writeln!(out, "{action}")?;
                }
            }
            Ok(())
        }
    }
}

/// As run_client.py: one connection, each answer printed as soon as it
/// arrives, so a failure halfway still shows what was done.
async fn send(
    client: &Client,
    commands: Vec<Map<String, Value>>,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let mut conn = client.connect().await?;
    let count = commands.len();
    let mut refused = false;
    for (i, command) in commands.into_iter().enumerate() {
        let answer = conn.request(command, i + 1 == count).await?;
        refused |= answer.server_error().is_some();
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    conn.close().await;
    if refused {
        Err(Failure::ErrorAnswers)
    } else {
        Ok(())
    }
}

fn print_ping(
    client: &Client,
    stats: &PingStats,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    if json {
        let mut value = serde_json::to_value(stats).expect("stats serialize");
        value["addr"] = json!(client.endpoint().to_string());
        writeln!(out, "{value}")?;
        return Ok(());
    }
    let ms = |s: &Spread| {
        let f = |ns: i64| ns as f64 / 1e6;
        format!(
            "{:.3}/{:.3}/{:.3} ms",
            f(s.min_ns),
            f(s.avg_ns),
            f(s.max_ns)
        )
    };
    writeln!(
        out,
        "{} pings to {}: round trip min/avg/max {}",
        stats.count,
        client.endpoint(),
        ms(&stats.round_trip)
    )?;
    writeln!(
        out,
        "to the server (across two clocks) min/avg/max {}",
        ms(&stats.to_server)
    )?;
    Ok(())
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
