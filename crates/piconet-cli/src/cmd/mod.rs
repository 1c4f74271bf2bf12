//! One module per subcommand; [`run`] sends a parsed command line to its own.

pub mod actions;
pub mod analog;
pub mod bench;
pub mod clients;
pub mod discover;
pub mod firmware;
pub mod i2c;
pub mod identity;
pub mod info;
pub mod ping;
pub mod pins;
pub mod provision;
pub mod pwm;
pub mod send;
pub mod update;
pub mod version;
pub mod watch;

use std::io::Write;

use piconet_client::Client;

use crate::args::{Cli, ClientsAction, Command, IdentityAction};
use crate::error::Failure;

/// Carries out `cli`, writing what it prints to `out`.
pub async fn run(cli: Cli, out: &mut dyn Write) -> Result<(), Failure> {
    let json = cli.json;
    if let Command::Firmware { action } = &cli.command {
        return firmware::run(action, json, out);
    }
    if let Command::Discover { timeout } = cli.command {
        return discover::run(timeout, json, out);
    }
    if let Command::Provision(args) = &cli.command {
        return provision::run(args, &cli.connection, json, out).await;
    }
    if let Command::Identity { action } = &cli.command {
        return match action {
            IdentityAction::New { name } => identity::new(&cli.connection, name, json, out),
            IdentityAction::List => identity::list(&cli.connection, json, out),
        };
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
    let id = cli.command.identity().cloned().unwrap_or_default();
    let mut tls = cli.connection.tls()?;
    if id.given() {
        if let Some(path) = cli.command.serial() {
            return Err(Failure::Usage(format!(
                "--serial {} is plaintext: a client certificate is presented over TLS only, drop --identity/--cert",
                path.display()
            )));
        }
        let identity = match (&id.identity, &id.cert, &id.key) {
            (Some(name), _, _) => identity::Store::of(&cli.connection)?.get(name)?,
            (None, Some(cert), Some(key)) => piconet_client::Identity::new(cert, key),
            _ => unreachable!("clap requires --key with --cert"),
        };
        client = client.with_identity(identity);
        // A certificate implies TLS, verified as --tls verifies.
        if tls.is_none() {
            tls = Some(piconet_client::TlsVerify::KnownHosts(
                match &cli.connection.known_hosts {
                    Some(p) => p.clone(),
                    None => piconet_client::KnownHosts::default_path()?,
                },
            ));
        }
    }
    let with_tls = tls.is_some();
    if let Some(verify) = tls {
        client = client.with_tls(verify);
        if cli.connection.tls12 {
            client = client.with_tls12_only();
        }
    }
    match cli.command {
        Command::Update {
            image,
            sig,
            wait,
            quiet,
            allow_downgrade,
            ..
        } => {
            let args = update::UpdateArgs {
                image,
                sig,
                wait,
                progress: !quiet && !json,
                notes: !json,
                allow_downgrade,
            };
            let report = update::update(&client, &args).await?;
            if json {
                writeln!(out, "{}", report.json())?;
            } else {
                write!(out, "{report}")?;
            }
            Ok(())
        }
        // Answered at the top, before any connection.
        Command::Firmware { .. }
        | Command::Provision(_)
        | Command::Discover { .. }
        | Command::Identity { .. } => Ok(()),
        Command::Clients { action, .. } => {
            let list = match action {
                ClientsAction::List => client.get_clients().await?,
                ClientsAction::Allow { who, role, pins } => {
                    let change = clients::Change::Allow { who, role, pins };
                    clients::apply(&client, &identity::Store::of(&cli.connection)?, &change).await?
                }
                ClientsAction::Revoke { name } => {
                    let change = clients::Change::Revoke(name);
                    clients::apply(&client, &identity::Store::of(&cli.connection)?, &change).await?
                }
            };
            clients::print(&list, json, out)
        }
        Command::Send {
            stdin: true,
            release_on_disconnect,
            ..
        } => {
            let input = tokio::io::BufReader::new(tokio::io::stdin());
            send::run_lines(&client, input, release_on_disconnect, send::KEEPALIVE, out).await
        }
        Command::Send {
            commands,
            release_on_disconnect,
            ..
        } => send::run(&client, &commands, release_on_disconnect, out).await,
        Command::Ping { count, .. } => ping::run(&client, count, json, out).await,
        Command::Info { .. } => info::run(&client, json, out).await,
        Command::Version { .. } => version::run(&client, json, out).await,
        Command::Actions { .. } => actions::run(&client, json, out).await,
        Command::Pins { .. } => pins::run(&client, json, out).await,
        Command::I2c {
            bus,
            sda,
            scl,
            frequency,
            action,
            ..
        } => {
            let bus_pins = i2c::BusPins {
                bus,
                sda,
                scl,
                frequency,
            };
            i2c::run(&client, &bus_pins, action, json, out).await
        }
        Command::Temp { .. } => analog::temperature(&client, json, out).await,
        Command::Adc { pin, .. } => {
            let pin =
                pin.ok_or_else(|| Failure::Usage("piconet adc ADDR PIN: give the PIN".into()))?;
            analog::adc(&client, pin, json, out).await
        }
        Command::Pwm {
            pin,
            duty,
            timeout,
            frequency,
            ..
        } => {
            let (Some(pin), Some(duty)) = (pin, duty) else {
                return Err(Failure::Usage(
                    "piconet pwm ADDR PIN DUTY --timeout S: give the PIN and the DUTY".into(),
                ));
            };
            pwm::run(&client, pin, duty, timeout, frequency, json, out).await
        }
        Command::Watch {
            pins,
            edge,
            debounce_ms,
            count,
            ..
        } => watch::run(&client, &pins, edge, debounce_ms, count, json, out).await,
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
            bench::report(&client, with_tls, config, json, out).await
        }
    }
}

#[cfg(test)]
mod tests;
