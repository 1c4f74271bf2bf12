//! `piconet bench`: a closed-loop load generator.
//!
//! Each of N connections sends a burst of K commands in one write, reads the
//! K answer lines, and sends the next burst, until the time is up. The
//! commands are prebuilt bytes and the answers are only framed and scanned
//! for an `"error"` key, so the tool costs little next to the server.
//! `--action event` is a latency run of its own ([`events`]).

pub mod events;

use std::fmt;
use std::io::Write;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use piconet_client::{now_ns, read_line, Client, Error, LineEnd, Stream};
use serde_json::{json, Value};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::task::JoinSet;

/// The Pico W's header pins, taken in turn by the connections.
pub const PINS: [u32; 26] = piconet_client::protocol::PICO_W_HEADER_PINS;

/// How long a benchmark `write_pin` holds its level: far longer than a run,
/// so no lease expires while it is measured.
const WRITE_TIMEOUT_S: u32 = 60;

/// The longest answer line accepted.
const MAX_LINE: usize = 64 * 1024;

/// The command every connection repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchAction {
    /// `ping`: no pin, the protocol's cheapest round trip.
    Ping,
    /// `read_pin` on a pin set up as an output first.
    #[value(name = "read_pin")]
    ReadPin,
    /// `write_pin` alternating 1 and 0 with a 60 s timeout, on a pin set up as an output first.
    #[value(name = "write_pin")]
    WritePin,
    /// `sim_input` on one connection → the event line on another that watches the pin, beside a `ping` (simulated board only; one edge at a time).
    Event,
}

impl BenchAction {
    fn name(self) -> &'static str {
        match self {
            BenchAction::Ping => "ping",
            BenchAction::ReadPin => "read_pin",
            BenchAction::WritePin => "write_pin",
            BenchAction::Event => "event",
        }
    }

    fn needs_pin(self) -> bool {
        self != BenchAction::Ping
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    pub connections: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub action: BenchAction,
    pub pipeline: usize,
    /// For each answer, from sending its burst.
    pub timeout: Duration,
}

/// What a run measured.
#[derive(Debug)]
pub struct BenchReport {
    pub addr: String,
    pub tls: bool,
    pub config: BenchConfig,
    /// Answers without an error, in the measured time.
    pub ok: u64,
    /// Answers with an error (or not JSON objects), in the measured time.
    pub errors: u64,
    /// Connections that broke (closed, reset, timed out) before the end.
    pub failed_connections: u64,
    /// The first error answer or connection failure, for the reader.
    pub first_error: Option<String>,
    /// From the end of the warm-up to the last answer.
    pub elapsed: Duration,
    /// Nanoseconds from sending a burst to each of its answers, successful ones only.
    pub latency_ns: Histogram<u64>,
}

impl BenchReport {
    pub fn commands_per_s(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    fn latency_us(&self) -> [(&'static str, f64); 5] {
        let h = &self.latency_ns;
        if h.is_empty() {
            return [
                ("p50", 0.0),
                ("p90", 0.0),
                ("p99", 0.0),
                ("max", 0.0),
                ("mean", 0.0),
            ];
        }
        [
            ("p50", us(h.value_at_quantile(0.50))),
            ("p90", us(h.value_at_quantile(0.90))),
            ("p99", us(h.value_at_quantile(0.99))),
            ("max", us(h.max())),
            ("mean", us(h.mean() as u64)),
        ]
    }

    /// The `--json` form, one object.
    pub fn to_json(&self) -> Value {
        let latency: serde_json::Map<String, Value> = self
            .latency_us()
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        json!({
            "addr": self.addr,
            "tls": self.tls,
            "action": self.config.action.name(),
            "connections": self.config.connections,
            "pipeline": self.config.pipeline,
            "duration_s": self.config.duration.as_secs_f64(),
            "warmup_s": self.config.warmup.as_secs_f64(),
            "elapsed_s": self.elapsed.as_secs_f64(),
            "commands": self.ok,
            "errors": self.errors,
            "failed_connections": self.failed_connections,
            "first_error": self.first_error,
            "commands_per_s": self.commands_per_s().round(),
            "latency_us": latency,
        })
    }
}

impl Report for BenchReport {
    fn to_json(&self) -> Value {
        BenchReport::to_json(self)
    }
}

/// A run's report: text, or one JSON object with `--json`.
pub trait Report: fmt::Display {
    /// The `--json` form.
    fn to_json(&self) -> Value;

    fn print(&self, json: bool, out: &mut dyn Write) -> std::io::Result<()> {
        if json {
            return writeln!(out, "{}", self.to_json());
        }
        write!(out, "{self}")
    }
}

/// Nanoseconds as microseconds to one decimal, as the reports give them.
fn us(ns: u64) -> f64 {
    (ns as f64 / 100.0).round() / 10.0
}

/// A latency histogram: 1 ns to 100 s at 3 significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "{} {}{}: {} connection{}, pipeline {}, {:.1} s measured after {:.1} s warm-up",
            c.action.name(),
            self.addr,
            if self.tls { " (TLS)" } else { "" },
            c.connections,
            if c.connections == 1 { "" } else { "s" },
            c.pipeline,
            self.elapsed.as_secs_f64(),
            c.warmup.as_secs_f64(),
        )?;
        writeln!(
            f,
            "{:.0} commands/s ({} ok, {} errors, {} failed connections)",
            self.commands_per_s(),
            self.ok,
            self.errors,
            self.failed_connections
        )?;
        let l = self.latency_us();
        writeln!(
            f,
            "latency µs: p50 {} p90 {} p99 {} max {} (mean {})",
            l[0].1, l[1].1, l[2].1, l[3].1, l[4].1
        )?;
        if let Some(e) = &self.first_error {
            writeln!(f, "first error: {e}")?;
        }
        Ok(())
    }
}

/// Why a run could not start.
#[derive(Debug)]
pub enum BenchError {
    /// Connecting (or the TLS handshake) failed.
    Client(Error),
    /// Setting up a pin was refused or not answered.
    Setup(String),
}

/// `piconet bench`: runs the benchmark, prints its report, and fails (exit 1)
/// after the report if any answer was an error or a connection broke.
pub async fn report(
    client: &Client,
    tls: bool,
    config: BenchConfig,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), crate::error::Failure> {
    use crate::error::Failure;
    if config.action == BenchAction::Event {
        let report = match events::run(client, tls, config).await {
            Ok(report) => report,
            Err(BenchError::Client(e)) => return Err(Failure::Client(e)),
            Err(BenchError::Setup(why)) => return Err(Failure::Bench(why)),
        };
        report.print(json, out)?;
        return match report.failure {
            Some(why) => Err(Failure::Bench(why)),
            None => Ok(()),
        };
    }
    let report = match run(client, tls, config).await {
        Ok(report) => report,
        Err(BenchError::Client(e)) => return Err(Failure::Client(e)),
        Err(BenchError::Setup(why)) => return Err(Failure::Bench(why)),
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

/// Connects every connection (setting up its pin), then runs them all from
/// one instant: `warmup` unrecorded, then `duration` recorded.
pub async fn run(
    client: &Client,
    tls: bool,
    config: BenchConfig,
) -> Result<BenchReport, BenchError> {
    if config.action == BenchAction::Event {
        return Err(BenchError::Setup(
            "--action event has its own run and report: bench::events::run".to_owned(),
        ));
    }
    let time_sent = now_ns().max(0) as u64;
    let mut opening = JoinSet::new();
    for i in 0..config.connections {
        let client = client.clone();
        let config = config.clone();
        opening.spawn(async move {
            let stream = client.connect_stream().await.map_err(BenchError::Client)?;
            let mut conn = Conn::new(stream);
            let pin = PINS[i % PINS.len()];
            if config.action.needs_pin() {
                conn.setup(pin, &config).await?;
            }
            Ok::<_, BenchError>((conn, pin))
        });
    }
    let mut conns = Vec::with_capacity(config.connections);
    while let Some(opened) = opening.join_next().await {
        conns.push(opened.expect("a connection task panicked")?);
    }

    let start = Instant::now();
    let measure_from = start + config.warmup;
    let until = measure_from + config.duration;
    let mut running = JoinSet::new();
    for (conn, pin) in conns {
        let config = config.clone();
        running.spawn(conn.drive(pin, time_sent, config, measure_from, until));
    }
    let mut totals = Totals::new();
    while let Some(done) = running.join_next().await {
        totals.merge(done.expect("a connection task panicked"));
    }
    let elapsed = Instant::now().saturating_duration_since(measure_from);
    Ok(BenchReport {
        addr: client.endpoint().to_string(),
        tls,
        config,
        ok: totals.ok,
        errors: totals.errors,
        failed_connections: totals.failed,
        first_error: totals.first_error,
        elapsed,
        latency_ns: totals.latency_ns,
    })
}

/// One connection's counts, merged into the report's.
struct Totals {
    ok: u64,
    errors: u64,
    failed: u64,
    first_error: Option<String>,
    latency_ns: Histogram<u64>,
}

impl Totals {
    fn new() -> Self {
        Totals {
            ok: 0,
            errors: 0,
            failed: 0,
            first_error: None,
            latency_ns: histogram(),
        }
    }

    fn merge(&mut self, other: Totals) {
        self.ok += other.ok;
        self.errors += other.errors;
        self.failed += other.failed;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        let _ = self.latency_ns.add(&other.latency_ns);
    }

    fn error(&mut self, what: String) {
        if self.first_error.is_none() {
            self.first_error = Some(what);
        }
    }
}

/// A raw framed connection: bytes out, lines in (the client's line reader).
struct Conn {
    io: BufReader<Box<dyn Stream>>,
    line: Vec<u8>,
}

/// How a line read ended.
enum Read {
    Line,
    Closed,
}

impl Conn {
    fn new(io: Box<dyn Stream>) -> Self {
        Conn {
            io: BufReader::with_capacity(16 * 1024, io),
            line: Vec::new(),
        }
    }

    /// The next line (without its `\n`) into `self.line`; `at` is when it
    /// was complete.
    async fn line(&mut self, at: &mut Instant) -> std::io::Result<Read> {
        let end = read_line(&mut self.io, &mut self.line, MAX_LINE).await?;
        *at = Instant::now();
        match end {
            LineEnd::Line => Ok(Read::Line),
            LineEnd::Closed => Ok(Read::Closed),
            LineEnd::TooLong => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("an answer line is longer than {MAX_LINE} bytes"),
            )),
        }
    }

    async fn setup(&mut self, pin: u32, config: &BenchConfig) -> Result<(), BenchError> {
        let line = format!(
            "{{\"action\": \"setup_pin\", \"pin\": {pin}, \"mode\": \"output\", \"value\": 0}}\n"
        );
        self.command(
            line.as_bytes(),
            &format!("setup_pin {pin}"),
            config.timeout,
            "",
        )
        .await
    }

    async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.io.write_all(bytes).await?;
        self.io.flush().await
    }

    /// The next line into `self.line`, `at` when it was complete; the
    /// server closing is a failure here.
    async fn next(&mut self, at: &mut Instant) -> Result<(), String> {
        match self.line(at).await {
            Ok(Read::Line) => Ok(()),
            Ok(Read::Closed) => Err("the server closed the connection".to_owned()),
            Err(e) => Err(format!("connection lost: {e}")),
        }
    }

    /// One command before the measuring (`what` names it in errors) and
    /// its successful answer; `hint` follows the answer of a refusal.
    async fn command(
        &mut self,
        bytes: &[u8],
        what: &str,
        timeout: Duration,
        hint: &str,
    ) -> Result<(), BenchError> {
        let exchange = async {
            self.send(bytes)
                .await
                .map_err(|e| format!("connection lost: {e}"))?;
            let mut at = Instant::now();
            self.next(&mut at).await
        };
        match tokio::time::timeout(timeout, exchange).await {
            Err(_) => Err(BenchError::Setup(format!("no answer to {what}"))),
            Ok(Err(why)) => Err(BenchError::Setup(format!("{what}: {why}"))),
            Ok(Ok(())) if is_success(&self.line) => Ok(()),
            Ok(Ok(())) => Err(BenchError::Setup(format!(
                "{what} refused: {}{hint}",
                String::from_utf8_lossy(&self.line)
            ))),
        }
    }

    async fn drive(
        mut self,
        pin: u32,
        time_sent: u64,
        config: BenchConfig,
        measure_from: Instant,
        until: Instant,
    ) -> Totals {
        let mut totals = Totals::new();
        // Two bursts: write_pin alternates its value burst by burst.
        let burst = |value: u8| {
            let one = command_line(config.action, pin, value, time_sent);
            one.repeat(config.pipeline).into_bytes()
        };
        let bursts = [burst(1), burst(0)];
        let mut which = 0;
        loop {
            let sent_at = Instant::now();
            if sent_at >= until {
                break;
            }
            let measured = sent_at >= measure_from;
            let exchange = self.exchange(&bursts[which], sent_at, measured, &mut totals);
            let failure = match tokio::time::timeout(config.timeout, exchange).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some(format!(
                    "no answer within {:.1} s",
                    config.timeout.as_secs_f64()
                )),
            };
            if let Some(why) = failure {
                totals.failed += 1;
                totals.error(format!("connection lost: {why}"));
                return totals;
            }
            which ^= usize::from(config.action == BenchAction::WritePin);
        }
        let _ = self.io.get_mut().shutdown().await;
        totals
    }

    /// One burst out, its answers in.
    async fn exchange(
        &mut self,
        burst: &[u8],
        sent_at: Instant,
        measured: bool,
        totals: &mut Totals,
    ) -> std::io::Result<()> {
        self.io.write_all(burst).await?;
        self.io.flush().await?;
        let mut at = sent_at;
        let mut answers = burst.iter().filter(|&&b| b == b'\n').count();
        while answers > 0 {
            match self.line(&mut at).await? {
                Read::Line => {}
                Read::Closed => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "closed by the server",
                    ))
                }
            }
            answers -= 1;
            if !measured {
                continue;
            }
            let answer = &self.line[..];
            if is_success(answer) {
                totals.ok += 1;
                let ns = at.saturating_duration_since(sent_at).as_nanos();
                totals.latency_ns.saturating_record(ns.max(1) as u64);
            } else {
                totals.errors += 1;
                if totals.first_error.is_none() {
                    totals.first_error = Some(String::from_utf8_lossy(answer).into_owned());
                }
            }
        }
        Ok(())
    }
}

/// One command line as the original client writes it.
fn command_line(action: BenchAction, pin: u32, value: u8, time_sent: u64) -> String {
    match action {
        BenchAction::Ping => format!("{{\"action\": \"ping\", \"time_sent\": {time_sent}}}\n"),
        BenchAction::ReadPin => format!(
            "{{\"action\": \"read_pin\", \"pin\": {pin}, \"time_sent\": {time_sent}}}\n"
        ),
        BenchAction::WritePin => format!(
            "{{\"action\": \"write_pin\", \"pin\": {pin}, \"value\": {value}, \"timeout\": {WRITE_TIMEOUT_S}, \"time_sent\": {time_sent}}}\n"
        ),
        // `run` hands this action to `events::run` before any line is built.
        BenchAction::Event => unreachable!("--action event is timed by bench::events"),
    }
}

/// An answer counts as a success if it is a JSON object (by its first
/// byte) without an `"error"` key (a command's echoed fields never name one).
fn is_success(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.first() == Some(&b'{')
        && line.last() == Some(&b'}')
        && !line.windows(7).any(|w| w == b"\"error\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_with_an_error_key_are_not_successes() {
        assert!(is_success(br#"{"action": "ping", "time_received": 5}"#));
        assert!(!is_success(
            br#"{"action": "read_pin", "error": "pin 3 not setup", "exception": "x"}"#
        ));
        assert!(!is_success(br#"{"error":"x"}"#));
        assert!(!is_success(b"\x15\x03\x03\x00\x02"));
        assert!(!is_success(b""));
    }

    #[test]
    fn command_lines_are_the_original_clients_bytes() {
        assert_eq!(
            command_line(BenchAction::WritePin, 26, 1, 7),
            "{\"action\": \"write_pin\", \"pin\": 26, \"value\": 1, \"timeout\": 60, \"time_sent\": 7}\n"
        );
        assert_eq!(
            command_line(BenchAction::ReadPin, 3, 0, 7),
            "{\"action\": \"read_pin\", \"pin\": 3, \"time_sent\": 7}\n"
        );
        for line in [
            command_line(BenchAction::Ping, 0, 0, 1),
            command_line(BenchAction::WritePin, 28, 0, 1),
        ] {
            serde_json::from_str::<Value>(&line).unwrap();
        }
    }

    #[test]
    fn pins_are_the_pico_ws_usable_set() {
        assert_eq!(PINS.len(), 26);
        assert!(PINS.iter().all(|p| *p <= 22 || (26..=28).contains(p)));
    }
}
