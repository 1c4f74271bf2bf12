//! `piconet bench ADDR --action event`: how long an input edge takes to
//! reach a watching connection, beside a `ping` round trip in the same run.
//!
//! Connection A sets pin 5 up as an input and watches it; connection B
//! alternates `sim_input` on it (a simulated board's input). Each round
//! times B writing its `sim_input` to A reading the event line, then B's
//! `ping` round trip: one edge or one ping in flight at a time, so neither
//! waits behind the other. Lines are prebuilt bytes and answers are parsed
//! only after the clock is read, so the client's own JSON work is outside
//! both figures (a Python client's `json.dumps`/`loads` of the longer
//! `sim_input` and event lines otherwise adds microseconds to the event
//! side alone).

use std::fmt;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use piconet_client::Client;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use super::{histogram, is_success, us, BenchConfig, BenchError, Conn, Report};

/// The watched pin (any input pin of the simulated board would do).
const PIN: u32 = 5;

const PING: &[u8] = b"{\"action\": \"ping\"}\n";

/// What an events run measured.
#[derive(Debug)]
pub struct EventsReport {
    pub addr: String,
    pub tls: bool,
    pub config: BenchConfig,
    /// Rounds measured (one edge and one ping each).
    pub rounds: u64,
    /// From B writing `sim_input` to A holding the event line, ns.
    pub event_ns: Histogram<u64>,
    /// B's `ping` round trip, ns.
    pub ping_ns: Histogram<u64>,
    /// The first wrong answer or event line, or why a connection broke.
    pub failure: Option<String>,
}

impl EventsReport {
    /// Event p50 over ping p50: the issue-15 figure (goal ≤ 1.2).
    pub fn ratio(&self) -> f64 {
        let ping = self.ping_ns.value_at_quantile(0.5);
        if ping == 0 {
            return 0.0;
        }
        let ratio = self.event_ns.value_at_quantile(0.5) as f64 / ping as f64;
        (ratio * 100.0).round() / 100.0
    }

    fn quantiles_us(h: &Histogram<u64>) -> [(&'static str, f64); 4] {
        [
            ("p50", us(h.value_at_quantile(0.50))),
            ("p90", us(h.value_at_quantile(0.90))),
            ("p99", us(h.value_at_quantile(0.99))),
            ("max", us(h.max())),
        ]
    }
}

impl Report for EventsReport {
    fn to_json(&self) -> Value {
        let obj = |h: &Histogram<u64>| -> Value {
            Self::quantiles_us(h)
                .iter()
                .map(|(k, v)| ((*k).to_owned(), json!(v)))
                .collect::<serde_json::Map<String, Value>>()
                .into()
        };
        json!({
            "addr": self.addr,
            "tls": self.tls,
            "action": "event",
            "duration_s": self.config.duration.as_secs_f64(),
            "warmup_s": self.config.warmup.as_secs_f64(),
            "rounds": self.rounds,
            "event_us": obj(&self.event_ns),
            "ping_us": obj(&self.ping_ns),
            "event_p50_over_ping_p50": self.ratio(),
            "failure": self.failure,
        })
    }
}

impl fmt::Display for EventsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "event {}{}: {} rounds (sim_input on one connection, the event line on another; then a ping), {:.1} s after {:.1} s warm-up",
            self.addr,
            if self.tls { " (TLS)" } else { "" },
            self.rounds,
            self.config.duration.as_secs_f64(),
            self.config.warmup.as_secs_f64(),
        )?;
        for (name, h) in [("event", &self.event_ns), ("ping ", &self.ping_ns)] {
            let l = Self::quantiles_us(h);
            writeln!(
                f,
                "{name} µs: p50 {} p90 {} p99 {} max {}",
                l[0].1, l[1].1, l[2].1, l[3].1
            )?;
        }
        writeln!(f, "event p50 / ping p50: {:.2}", self.ratio())?;
        if let Some(why) = &self.failure {
            writeln!(f, "failed: {why}")?;
        }
        Ok(())
    }
}

/// Opens A (watching) and B, then runs rounds for `warmup` unrecorded and
/// `duration` recorded.
pub async fn run(
    client: &Client,
    tls: bool,
    config: BenchConfig,
) -> Result<EventsReport, BenchError> {
    if config.connections != 1 || config.pipeline != 1 {
        return Err(BenchError::Setup(
            "--action event times one edge at a time between two connections of its own: \
             leave out --connections and --pipeline"
                .to_owned(),
        ));
    }
    let open = || async {
        let stream = client.connect_stream().await.map_err(BenchError::Client)?;
        Ok::<_, BenchError>(Conn::new(stream))
    };
    let mut a = open().await?;
    let mut b = open().await?;
    // Every server refuses sim_input but a simulated board.
    const HINT: &str = " (--action event needs a simulated board: piconetd --board sim)";
    let setup = format!(
        "{{\"action\": \"setup_pin\", \"pin\": {PIN}, \"mode\": \"input\", \"pull\": \"down\"}}\n"
    );
    let watch = format!("{{\"action\": \"watch_pin\", \"pin\": {PIN}}}\n");
    a.command(
        setup.as_bytes(),
        &format!("setup_pin {PIN}"),
        config.timeout,
        HINT,
    )
    .await?;
    a.command(
        watch.as_bytes(),
        &format!("watch_pin {PIN}"),
        config.timeout,
        HINT,
    )
    .await?;
    // A known level first: the first timed edge is a rise. (A low pin
    // set low again is no edge, so A gets no line for it.)
    b.command(
        &sim_input(0),
        &format!("sim_input {PIN}"),
        config.timeout,
        HINT,
    )
    .await?;

    let mut report = EventsReport {
        addr: client.endpoint().to_string(),
        tls,
        config: config.clone(),
        rounds: 0,
        event_ns: histogram(),
        ping_ns: histogram(),
        failure: None,
    };
    let lines = [sim_input(0), sim_input(1)];
    let start = Instant::now();
    let measure_from = start + config.warmup;
    let until = measure_from + config.duration;
    let mut level = 0u8;
    let mut seq = 0u64;
    while Instant::now() < until {
        level ^= 1;
        seq += 1;
        let round = round(&mut a, &mut b, &lines[usize::from(level)], level, seq);
        let (event, ping) = match tokio::time::timeout(config.timeout, round).await {
            Ok(Ok(times)) => times,
            Ok(Err(why)) => {
                report.failure = Some(why);
                break;
            }
            Err(_) => {
                report.failure = Some(format!(
                    "no event line or answer within {:.1} s",
                    config.timeout.as_secs_f64()
                ));
                break;
            }
        };
        if Instant::now() >= measure_from {
            report.rounds += 1;
            report.event_ns.saturating_record(ns(event));
            report.ping_ns.saturating_record(ns(ping));
        }
    }
    for conn in [&mut a, &mut b] {
        let _ = conn.io.get_mut().shutdown().await;
    }
    Ok(report)
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
}

fn sim_input(level: u8) -> Vec<u8> {
    format!("{{\"action\": \"sim_input\", \"pin\": {PIN}, \"value\": {level}}}\n").into_bytes()
}

/// One edge (B's `sim_input` → A's event line), B's answer to it, then one
/// ping. Returns the edge's and the ping's times.
async fn round(
    a: &mut Conn,
    b: &mut Conn,
    line: &[u8],
    level: u8,
    seq: u64,
) -> Result<(Duration, Duration), String> {
    let io = |e: std::io::Error| format!("connection lost: {e}");
    let sent = Instant::now();
    b.send(line).await.map_err(io)?;
    let mut at = sent;
    a.next(&mut at).await?;
    let event = at.saturating_duration_since(sent);
    check_event(&a.line, level, seq)?;
    b.next(&mut at).await?;
    if !is_success(&b.line) {
        return Err(format!(
            "sim_input refused: {}",
            String::from_utf8_lossy(&b.line)
        ));
    }
    let sent = Instant::now();
    b.send(PING).await.map_err(io)?;
    b.next(&mut at).await?;
    let ping = at.saturating_duration_since(sent);
    if !is_success(&b.line) {
        return Err(format!(
            "ping refused: {}",
            String::from_utf8_lossy(&b.line)
        ));
    }
    Ok((event, ping))
}

/// The line A read is this round's edge: any other line (an overflow, a
/// lost or repeated seq, the wrong level) fails the run.
fn check_event(line: &[u8], level: u8, seq: u64) -> Result<(), String> {
    let wrong = || {
        format!(
            "expected the edge to {level} with seq {seq}, got: {}",
            String::from_utf8_lossy(line)
        )
    };
    let v: Value = serde_json::from_slice(line).map_err(|_| wrong())?;
    let is = |k: &str, want: Value| v.get(k) == Some(&want);
    if is("event", json!("edge"))
        && is("pin", json!(PIN))
        && is("value", json!(level))
        && is("seq", json!(seq))
    {
        Ok(())
    } else {
        Err(wrong())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_rounds_edge_passes() {
        let line = br#"{"event": "edge", "pin": 5, "value": 1, "time_us": 81234567, "seq": 17}"#;
        assert!(check_event(line, 1, 17).is_ok());
        assert!(check_event(line, 0, 17).is_err());
        assert!(check_event(line, 1, 18).is_err());
        assert!(check_event(br#"{"event": "overflow", "dropped": 3, "seq": 17}"#, 1, 17).is_err());
        assert!(check_event(b"not json", 1, 17).is_err());
    }
}
