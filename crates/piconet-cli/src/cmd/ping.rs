//! `piconet ping ADDR`: round trips over one connection.

use std::io::Write;

use piconet_client::{Client, PingStats, Spread};
use serde_json::json;

use crate::error::Failure;

/// `count` pings, then their statistics as text or JSON.
pub async fn run(
    client: &Client,
    count: u32,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let stats = client.ping(count as usize).await?;
    print(client, &stats, json, out)
}

fn print(
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
