//! `piconet send ADDR -c KEY=VALUE ...`: the user's own commands, as
//! run_client.py sends them; `piconet send ADDR --stdin`: the same, one
//! command per input line, over one connection kept open.

use std::io::Write;
use std::time::Duration;

use piconet_client::{Client, Map, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

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
        .map(|command| with_release(command, release_on_disconnect))
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

fn with_release(
    mut command: Map<String, Value>,
    release_on_disconnect: bool,
) -> Map<String, Value> {
    if release_on_disconnect && command.get("action") == Some(&Value::from("write_pin")) {
        command
            .entry("release_on_disconnect")
            .or_insert(Value::Bool(true));
    }
    command
}

/// How long `--stdin` lets the input be quiet before it pings: well inside
/// the idle timeouts of piconetd (300 s) and the firmware.
pub const KEEPALIVE: Duration = Duration::from_secs(60);

/// `--stdin`: one command per line of `input` (KEY=VALUE words or a JSON
/// object; blank lines and `#` comments skipped), each sent over one
/// connection as it arrives and its answer printed at once, until end of
/// input. A line that is not a command is reported on stderr with its
/// number and skipped (the exit status then says so); the connection goes
/// on. While the input is quiet for `keepalive`, a `ping` (not printed)
/// keeps the board from closing the connection as idle; a last one, with
/// the blank line after it, ends the session at end of input.
pub async fn run_lines(
    client: &Client,
    input: impl AsyncBufRead + Unpin,
    release_on_disconnect: bool,
    keepalive: Duration,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let mut conn = client.connect().await?;
    let mut lines = input.lines();
    let (mut refused, mut skipped) = (false, 0usize);
    let mut number = 0usize;
    loop {
        let line = tokio::select! {
            biased;
            line = lines.next_line() => {
                line.map_err(|e| Failure::Usage(format!("cannot read the commands: {e}")))?
            }
            () = tokio::time::sleep(keepalive) => {
                let answer = conn.request(ping(), false).await?;
                if let Some(e) = answer.server_error() {
                    return Err(Failure::Usage(format!("the keep-alive ping was refused: {e}")));
                }
                continue;
            }
        };
        let Some(line) = line else { break };
        number += 1;
        let command = match parse_line(&line) {
            Ok(Some(command)) => with_release(command, release_on_disconnect),
            Ok(None) => continue,
            Err(e) => {
                eprintln!("piconet: line {number}: {e}; skipped");
                skipped += 1;
                continue;
            }
        };
        let answer = conn.request(command, false).await?;
        refused |= answer.server_error().is_some();
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    // The blank line that ends the session (over USB the port stays open,
    // so only it ends the session and its release_on_disconnect pins).
    conn.request(ping(), true).await?;
    conn.close().await;
    if skipped > 0 {
        Err(Failure::Usage(format!(
            "{skipped} input line(s) were not commands and were skipped (see above)"
        )))
    } else if refused {
        Err(Failure::ErrorAnswers)
    } else {
        Ok(())
    }
}

fn ping() -> Map<String, Value> {
    let mut command = Map::new();
    command.insert("action".into(), Value::from("ping"));
    command
}

/// One input line as a command; `None` for a blank line or a comment.
fn parse_line(line: &str) -> Result<Option<Map<String, Value>>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    if line.starts_with('{') {
        return serde_json::from_str(line)
            .map(Some)
            .map_err(|e| format!("not a JSON object: {e}"));
    }
    let fields = line
        .split_whitespace()
        .map(fields::parse_field)
        .collect::<Result<Vec<_>, _>>()?;
    fields::command(&fields).map(Some)
}
