//! `piconet actions ADDR`: the actions the server knows.

use std::io::Write;

use piconet_client::Client;
use serde_json::json;

use crate::error::Failure;

/// One action a line, or `{"actions": [...]}`.
pub async fn run(client: &Client, json: bool, out: &mut dyn Write) -> Result<(), Failure> {
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
