//! `piconet discover [--timeout S] [--json]`: the boards that answer an
//! mDNS/DNS-SD browse for `_piconet._tcp`.

use std::io::Write;
use std::time::Duration;

use piconet_client::discover::{self, Found};

use crate::error::Failure;

/// Browse for `timeout`, then print what answered.
pub fn run(timeout: Duration, json: bool, out: &mut dyn Write) -> Result<(), Failure> {
    let found = discover::browse(timeout)?;
    if json {
        let all: Vec<_> = found.iter().map(Found::json).collect();
        writeln!(out, "{}", serde_json::Value::from(all))?;
        return Ok(());
    }
    if found.is_empty() {
        writeln!(
            out,
            "no piconet board answered within {:.1} s",
            timeout.as_secs_f64()
        )?;
        return Ok(());
    }
    for b in &found {
        writeln!(out, "{}", line(b))?;
    }
    Ok(())
}

/// One board: name, addresses:port, versions, auth, fingerprint.
pub fn line(b: &Found) -> String {
    let addresses: Vec<String> = b.addresses.iter().map(|a| a.to_string()).collect();
    let tls = if b.tls.is_empty() {
        "tls=none".to_owned()
    } else {
        format!("tls=sha256:{}", b.tls)
    };
    format!(
        "{}  {} port {}  fw={} api={} id={} auth={}  {}",
        b.name,
        if addresses.is_empty() {
            "(no address)".to_owned()
        } else {
            addresses.join(",")
        },
        b.port,
        b.fw,
        b.api,
        b.id,
        b.auth,
        tls
    )
}
