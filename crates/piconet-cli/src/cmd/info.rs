//! `piconet info ADDR`: what the server reports about itself.

use std::io::Write;

use piconet_client::{Client, Value};

use crate::error::Failure;

/// The `info` object, one `key: value` line each, or as JSON.
pub async fn run(client: &Client, json: bool, out: &mut dyn Write) -> Result<(), Failure> {
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

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
