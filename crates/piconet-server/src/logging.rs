//! Logging that can never delay or stop a lease revert.
//!
//! tracing-subscriber's usual writer (`std::io::stderr`) writes each event
//! synchronously from the thread that logs it, under the stderr lock, and
//! reports a failed write with `eprintln!`, which panics when stderr is a
//! broken pipe. So a stalled log reader (a paused terminal, a full pipe)
//! froze every worker and the lease thread, and a closed one killed them.
//!
//! Here every event is formatted by the thread that logs it and handed to a
//! bounded queue with `try_send`: when the queue is full the line is
//! dropped and counted, the logging thread never waits. One writer thread
//! (`piconetd-log`) drains the queue into stderr and ignores write errors
//! (a closed or broken stderr loses lines, it stops nothing); once writes
//! succeed again it says how many lines were lost. The count is also in
//! `get_info` (`log_lines_dropped`) and in the last line at shutdown.
//!
//! Why not tracing-appender's `non_blocking` (lossy mode)? Its writer side
//! is the same idea and cannot fail, but dropping its `WorkerGuard` at
//! shutdown reports a slow writer with `eprintln!`/`println!`: on a stalled
//! stderr that call blocks for ever (the daemon never exits), on a broken
//! pipe it panics. The part we need is a bounded channel and a thread, so it
//! is written here with [`flush`](LogSink::flush) bounded in time.
//!
//! A file descriptor 2 closed at start-up (`2>&-`) would be a hazard too
//! (the next socket would become "stderr"), but Rust's runtime already
//! opens `/dev/null` on closed standard descriptors before `main`.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

/// Log lines queued for the writer thread; beyond this they are dropped.
pub const QUEUE_LINES: usize = 1024;

/// How long [`LogSink::flush`] waits for queued lines to be written.
pub const FLUSH_WAIT: Duration = Duration::from_millis(500);

enum Msg {
    Line(Vec<u8>),
    /// Answer on the channel once every line before it has been written.
    Flush(SyncSender<()>),
}

#[derive(Default)]
struct Counters {
    /// Lines not written: queue full, or the write failed.
    dropped: AtomicU64,
}

/// The handle to the log queue: a `MakeWriter` for tracing-subscriber and
/// the dropped-line count.
#[derive(Clone)]
pub struct LogSink {
    tx: SyncSender<Msg>,
    counters: Arc<Counters>,
}

/// One event's writer: queues what it is given, never blocks, never fails.
pub struct LineWriter<'a>(&'a LogSink);

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // tracing-subscriber formats a whole event and writes it at once.
        if self.0.tx.try_send(Msg::Line(buf.to_vec())).is_err() {
            self.0.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogSink {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(self)
    }
}

impl LogSink {
    /// Start the writer thread, writing to `out` (stderr in piconetd).
    pub fn start<W: Write + Send + 'static>(out: W) -> std::io::Result<LogSink> {
        let (tx, rx) = sync_channel(QUEUE_LINES);
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        std::thread::Builder::new()
            .name("piconetd-log".into())
            .spawn(move || write_lines(rx, out, &c))?;
        Ok(LogSink { tx, counters })
    }

    /// Lines lost so far (queue full or write failed).
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Wait at most `wait` for the lines queued so far to be written
    /// (shutdown). Returns whether they were.
    pub fn flush(&self, wait: Duration) -> bool {
        let (done, flushed) = sync_channel(1);
        let deadline = std::time::Instant::now() + wait;
        let mut msg = Msg::Flush(done);
        // The queue may be full behind a stalled writer: retry until the
        // deadline rather than block.
        loop {
            match self.tx.try_send(msg) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(m)) => {
                    if std::time::Instant::now() >= deadline {
                        return false;
                    }
                    msg = m;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        !matches!(flushed.recv_timeout(left), Err(RecvTimeoutError::Timeout))
    }
}

fn write_lines<W: Write>(rx: Receiver<Msg>, mut out: W, counters: &Counters) {
    let mut reported = 0;
    for msg in rx {
        match msg {
            Msg::Line(line) => {
                if out.write_all(&line).and_then(|()| out.flush()).is_err() {
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let dropped = counters.dropped.load(Ordering::Relaxed);
                if dropped > reported {
                    let note = format!(
                        "piconetd: {} log lines dropped: the log output was too slow or unavailable\n",
                        dropped - reported
                    );
                    if out.write_all(note.as_bytes()).is_ok() {
                        reported = dropped;
                    }
                }
            }
            Msg::Flush(done) => {
                let _ = out.flush();
                let _ = done.try_send(());
            }
        }
    }
}

/// Install the global subscriber: `RUST_LOG` (default `info`), into the
/// lossy queue, colours only when stderr is a terminal (not in journald or
/// a file), no timestamps of its own under journald.
pub fn init() -> std::io::Result<LogSink> {
    let sink = LogSink::start(std::io::stderr())?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(sink.clone());
    // Fails only when a subscriber is already set: then that one logs.
    // Under systemd (JOURNAL_STREAM set) the journal stamps each line
    // itself, so a second timestamp would only crowd `journalctl`.
    let _ = if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder.without_time().try_init()
    } else {
        builder.try_init()
    };
    let _ = SINK.set(sink.clone());
    Ok(sink)
}

/// The sink [`init`] installed, for `get_info` and the shutdown line.
static SINK: std::sync::OnceLock<LogSink> = std::sync::OnceLock::new();

/// Log lines lost so far by the installed sink (0 without one).
pub fn dropped_lines() -> u64 {
    SINK.get().map_or(0, LogSink::dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A writer that fails, blocks, or records.
    #[derive(Clone, Default)]
    struct Probe {
        written: Arc<Mutex<Vec<u8>>>,
        fail: Arc<std::sync::atomic::AtomicBool>,
        gate: Arc<Mutex<()>>,
    }

    impl Write for Probe {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _stalled = self.gate.lock().unwrap();
            if self.fail.load(Ordering::Relaxed) {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            self.written.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn log(sink: &LogSink, line: &str) {
        use tracing_subscriber::fmt::MakeWriter;
        sink.make_writer().write_all(line.as_bytes()).unwrap();
    }

    #[test]
    fn a_stalled_writer_drops_and_counts_then_reports() {
        let probe = Probe::default();
        let sink = LogSink::start(probe.clone()).unwrap();
        let stall = probe.gate.lock().unwrap();
        let started = std::time::Instant::now();
        for i in 0..QUEUE_LINES * 3 {
            log(&sink, &format!("line {i}\n"));
        }
        // Never waited on the stalled writer.
        assert!(started.elapsed() < Duration::from_secs(2));
        let dropped = sink.dropped();
        assert!(dropped >= QUEUE_LINES as u64, "dropped {dropped}");
        assert!(!sink.flush(Duration::from_millis(50)), "writer is stalled");
        drop(stall);
        // The queue drains once the writer moves again; then lines fit.
        assert!(sink.flush(Duration::from_secs(5)));
        log(&sink, "after\n");
        assert!(sink.flush(Duration::from_secs(5)));
        let text = String::from_utf8(probe.written.lock().unwrap().clone()).unwrap();
        assert!(text.contains("line 0\n"), "{text}");
        assert!(text.contains(" log lines dropped"), "{text}");
        assert!(text.ends_with("after\n"), "{text}");
    }

    #[test]
    fn a_failing_writer_loses_lines_and_stops_nothing() {
        let probe = Probe::default();
        probe.fail.store(true, Ordering::Relaxed);
        let sink = LogSink::start(probe.clone()).unwrap();
        for _ in 0..10 {
            log(&sink, "lost\n");
        }
        assert!(sink.flush(Duration::from_secs(5)));
        assert_eq!(sink.dropped(), 10);
        probe.fail.store(false, Ordering::Relaxed);
        log(&sink, "back\n");
        assert!(sink.flush(Duration::from_secs(5)));
        let text = String::from_utf8(probe.written.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "back\npiconetd: 10 log lines dropped: the log output was too slow or unavailable\n"
        );
    }
}
