//! `piconet version ADDR`: the server software's version.

use std::io::Write;

use piconet_client::Client;
use serde_json::json;

use crate::error::Failure;

/// The version alone, or `{"version": ...}`.
pub async fn run(client: &Client, json: bool, out: &mut dyn Write) -> Result<(), Failure> {
    let version = client.version().await?;
    if json {
        writeln!(out, "{}", json!({ "version": version }))?;
    } else {
        writeln!(out, "{version}")?;
    }
    Ok(())
}
