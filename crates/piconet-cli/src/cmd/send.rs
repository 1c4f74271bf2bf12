//! `piconet send ADDR -c KEY=VALUE ...`: the user's own commands, as
//! run_client.py sends them.

use std::io::Write;

use piconet_client::{Client, Map, Value};

use crate::error::Failure;
use crate::fields;

/// One connection, each answer printed as soon as it arrives, so a failure
/// halfway still shows what was done. With `release_on_disconnect`, every
/// `write_pin` also gets `"release_on_disconnect": true`, so its pin returns
/// to its safe level when this connection ends.
pub async fn run(
    client: &Client,
    words: &[Vec<(String, Value)>],
    release_on_disconnect: bool,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let commands = words
        .iter()
        .map(|fields| fields::command(fields))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::Usage)?;
    let commands: Vec<Map<String, Value>> = commands
        .into_iter()
        .map(|mut command| {
            if release_on_disconnect && command.get("action") == Some(&Value::from("write_pin")) {
                command
                    .entry("release_on_disconnect")
                    .or_insert(Value::Bool(true));
            }
            command
        })
        .collect();
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
