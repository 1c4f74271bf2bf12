//! The real piconetd binary as a process, for faults only a process has:
//! a closed stderr, a stderr nobody reads, a reader that goes away, and
//! SIGTERM (issue 12.1).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const PICONETD: &str = env!("CARGO_BIN_EXE_piconetd");

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Proc {
    child: Child,
    addr: SocketAddr,
}

impl Proc {
    /// Start piconetd with `stderr` and extra `args`; `shell_stderr` is a
    /// redirection for `sh` (e.g. `2>&-`) when std cannot express it.
    fn start(stderr: Stdio, shell_stderr: Option<&str>, log: &str, args: &[&str]) -> Proc {
        Self::start_with(stderr, shell_stderr, log, args, |_| {})
    }

    /// [`Proc::start`], calling `spawned` on the child before waiting for
    /// its port.
    fn start_with(
        stderr: Stdio,
        shell_stderr: Option<&str>,
        log: &str,
        args: &[&str],
        spawned: impl FnOnce(&mut Child),
    ) -> Proc {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut all = vec!["--listen", &listen];
        all.extend_from_slice(args);
        let mut cmd = match shell_stderr {
            Some(redirect) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("exec \"$0\" \"$@\" {redirect}"))
                    .arg(PICONETD)
                    .args(&all);
                c
            }
            None => {
                let mut c = Command::new(PICONETD);
                c.args(&all);
                c
            }
        };
        let child = cmd
            .env("RUST_LOG", log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut child = child;
        spawned(&mut child);
        let mut p = Proc {
            child,
            addr: listen.parse().unwrap(),
        };
        let until = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(p.addr).is_err() {
            if let Some(status) = p.child.try_wait().unwrap() {
                panic!("piconetd exited at start-up: {status}");
            }
            assert!(Instant::now() < until, "piconetd does not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        p
    }

    /// A connection the daemon serves, waiting (up to 30 s) while it
    /// still answers "busy": after a burst of connections from this
    /// address their slots are freed only once the daemon has seen them
    /// close, which takes longer on a loaded machine.
    fn served_conn(&self) -> Conn {
        served_conn_to(self.addr)
    }

    /// SIGTERM, then the exit status (within 10 s).
    fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < until, "piconetd did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn conn_to(addr: SocketAddr) -> Conn {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    Conn {
        reader: BufReader::new(s.try_clone().unwrap()),
        writer: s,
    }
}

/// See [`Proc::served_conn`].
fn served_conn_to(addr: SocketAddr) -> Conn {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let mut c = conn_to(addr);
        match c.try_cmd(json!({"action": "ping"})) {
            Some(r) if r.get("error").is_none() => return c,
            r => assert!(Instant::now() < until, "still not served: {r:?}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    /// The answer to `v`, or `None` when the connection ends first (a
    /// refused connection gets one "busy" line and is closed).
    fn try_cmd(&mut self, v: Value) -> Option<Value> {
        self.writer.write_all(format!("{v}\n").as_bytes()).ok()?;
        let mut line = String::new();
        self.reader.read_line(&mut line).ok()?;
        serde_json::from_str(&line).ok()
    }

    fn cmd(&mut self, v: Value) -> Value {
        self.writer.write_all(format!("{v}\n").as_bytes()).unwrap();
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .expect("no answer within 5 s");
        let r: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert!(r.get("error").is_none(), "{r}");
        r
    }
}

/// A 0.3 s lease on pin 2 reverts with no client traffic at all, then a
/// 60 s lease on pin 3 is left for shutdown.
fn lease_reverts_by_itself(p: &Proc) {
    let mut c = p.served_conn();
    for pin in [2, 3] {
        c.cmd(json!({"action": "setup_pin", "pin": pin, "mode": "output", "value": 0}));
    }
    c.cmd(json!({"action": "write_pin", "pin": 2, "value": 1, "timeout": 0.3}));
    c.cmd(json!({"action": "write_pin", "pin": 3, "value": 1, "timeout": 60}));
    std::thread::sleep(Duration::from_millis(800));
    let mut other = p.served_conn();
    let r = other.cmd(json!({"action": "read_pin", "pin": 2}));
    assert_eq!(r["value"], 0, "the lease thread reverted pin 2");
}

#[test]
fn serves_and_reverts_with_stderr_closed() {
    let mut p = Proc::start(Stdio::inherit(), Some("2>&-"), "debug", &[]);
    lease_reverts_by_itself(&p);
    let status = p.terminate();
    assert!(status.success(), "SIGTERM: {status}");
}

#[test]
fn serves_and_reverts_when_stderr_is_a_pipe_nobody_reads_from() {
    // As `piconetd 2>&1 | true`: the reader is gone before the first line.
    let mut p = Proc::start_with(Stdio::piped(), None, "debug", &[], |child| {
        drop(child.stderr.take());
    });
    lease_reverts_by_itself(&p);
    let status = p.terminate();
    assert!(status.success(), "SIGTERM: {status}");
}

#[test]
fn serves_and_reverts_when_the_log_reader_goes_away() {
    // As `piconetd 2>&1 | head -c 10`.
    let mut p = Proc::start(Stdio::piped(), None, "debug", &[]);
    let mut stderr = p.child.stderr.take().unwrap();
    let mut first = [0u8; 10];
    stderr.read_exact(&mut first).unwrap();
    drop(stderr);
    lease_reverts_by_itself(&p);
    let status = p.terminate();
    assert!(status.success(), "SIGTERM: {status}");
}

#[test]
fn a_stalled_log_reader_delays_nothing_and_the_loss_is_counted() {
    let mut p = Proc::start(Stdio::piped(), None, "debug", &[]);
    // Nobody reads stderr: fill the pipe (64 KiB) and the log queue with
    // debug lines about connections.
    for _ in 0..3000 {
        drop(TcpStream::connect(p.addr).unwrap());
    }
    // Until the server has seen them close they hold their address's
    // slots (each counts as in use for its first second): the helpers
    // wait while it still answers "busy".
    lease_reverts_by_itself(&p);
    let info = p.served_conn().cmd(json!({"action": "get_info"}))["info"].clone();
    let dropped = info["log_lines_dropped"].as_u64().unwrap();
    assert!(dropped > 0, "{info}");
    // The original firmware's memory keys, from the process and the host.
    let rss = info["mem_alloc"].as_u64().unwrap();
    assert!(rss > 1024 * 1024, "VmRSS in bytes: {info}");
    assert!(info["mem_free"].as_u64().unwrap() > 0, "{info}");

    // Now read it, then stop: the loss is reported in the log itself and
    // the shutdown still reverts the 60 s lease.
    let mut stderr = p.child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    std::thread::sleep(Duration::from_millis(500));
    let status = p.terminate();
    assert!(status.success(), "SIGTERM: {status}");
    let text = reader.join().unwrap();
    assert!(text.contains("log lines dropped"), "{text}");
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.contains("piconetd stopped") && last.contains("reverted=1"),
        "{last}"
    );
    assert!(!text.contains('\u{1b}'), "no ANSI colours into a pipe");
}

/// Run piconetd with `args` that must be refused: exit 2 (usage), the
/// message on stderr.
fn refused(args: &[&str]) -> String {
    let out = Command::new(PICONETD).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {text}");
    text
}

#[test]
fn nonsense_flags_are_refused_with_a_reason() {
    assert!(refused(&["--max-connections", "0"]).contains("at least 1"));
    assert!(refused(&["--max-line-bytes", "10"]).contains("at least 256"));
    assert!(refused(&["--idle-timeout-secs", "0"]).contains("at least 1"));
    assert!(refused(&["--led-line", "3"]).contains("needs a gpiochip board"));
    let key = "ab".repeat(32);
    let e = refused(&[
        "--board",
        "gpiochip:/dev/gpiochip0",
        "--update-public-key",
        &key,
    ]);
    assert!(e.contains("for the simulated board"), "{e}");
    let e = refused(&["--listen", "localhost"]);
    assert!(e.contains("no port") && e.contains("0.0.0.0:12345"), "{e}");
    assert!(refused(&["--count", "0"]).contains("at least 1"));
    assert!(refused(&["--count", "1001"]).contains("at most 1000"));
    let e = refused(&["--count", "2", "--board", "gpiochip:/dev/gpiochip0"]);
    assert!(e.contains("--count needs --board sim"), "{e}");
    let e = refused(&["--count", "2", "--listen", "127.0.0.1:0"]);
    assert!(e.contains("fixed --listen port"), "{e}");
    let e = refused(&["--count", "3", "--listen", "127.0.0.1:65534"]);
    assert!(e.contains("above 65535"), "{e}");
    let e = refused(&["--pwm", "18=0:0"]);
    assert!(e.contains("--pwm needs a gpiochip board"), "{e}");
    let e = refused(&["--board", "gpiochip:/dev/gpiochip0", "--pwm", "18:0"]);
    assert!(e.contains("PIN=CHIP:CHANNEL"), "{e}");
    let e = refused(&["--i2c", "1=/dev/i2c-1:2:3"]);
    assert!(e.contains("--i2c needs a gpiochip board"), "{e}");
    let e = refused(&[
        "--board",
        "gpiochip:/dev/gpiochip0",
        "--i2c",
        "2=/dev/i2c-2:2:3",
    ]);
    assert!(e.contains("the bus must be 0 or 1"), "{e}");
}

/// `n` consecutive loopback ports nobody listens on right now; the first.
fn free_ports(n: u16) -> u16 {
    for _ in 0..100 {
        let first = free_port();
        if first.checked_add(n).is_none() {
            continue;
        }
        let held: Vec<_> = (first..first + n)
            .map_while(|p| TcpListener::bind(("127.0.0.1", p)).ok())
            .collect();
        if held.len() == usize::from(n) {
            return first;
        }
    }
    panic!("no {n} consecutive free ports");
}

#[test]
fn count_serves_that_many_independent_boards_on_consecutive_ports() {
    const N: u16 = 3;
    let first = free_ports(N);
    let listen = format!("127.0.0.1:{first}");
    let child = Command::new(PICONETD)
        .args(["--listen", &listen, "--count", &N.to_string()])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut p = Proc {
        child,
        addr: listen.parse().unwrap(),
    };
    let until = Instant::now() + Duration::from_secs(20);
    let addr = |i: u16| -> SocketAddr { format!("127.0.0.1:{}", first + i).parse().unwrap() };
    for i in 0..N {
        while TcpStream::connect(addr(i)).is_err() {
            assert!(p.child.try_wait().unwrap().is_none(), "piconetd exited");
            assert!(Instant::now() < until, "board {i} does not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // Nothing beyond the last one.
    assert!(TcpStream::connect(addr(N)).is_err());
    let mut conns: Vec<Conn> = (0..N).map(|i| served_conn_to(addr(i))).collect();
    // Board i drives pin 2 to i % 2 with a long lease: each engine its own.
    for (i, c) in conns.iter_mut().enumerate() {
        c.cmd(json!({"action": "setup_pin", "pin": 2, "mode": "output", "value": 0}));
        if i % 2 == 1 {
            c.cmd(json!({"action": "write_pin", "pin": 2, "value": 1, "timeout": 60}));
        }
    }
    for (i, c) in conns.iter_mut().enumerate() {
        let r = c.cmd(json!({"action": "read_pin", "pin": 2}));
        assert_eq!(r["value"], json!(i % 2), "board {i}: {r}");
    }
    // A pin set up on board 0 only is unknown to board 2.
    conns[0].cmd(json!({"action": "setup_pin", "pin": 7, "mode": "output", "value": 1}));
    let r = conns[2]
        .try_cmd(json!({"action": "read_pin", "pin": 7}))
        .unwrap();
    assert!(r.get("error").is_some(), "{r}");
    drop(conns);
    assert!(p.terminate().success());
}

#[test]
fn listen_takes_a_host_name_and_version_says_piconetd() {
    let out = Command::new(PICONETD).arg("--version").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("piconetd "), "{text}");
    let port = free_port();
    let listen = format!("localhost:{port}");
    let mut child = Command::new(PICONETD)
        .args(["--listen", &listen])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("localhost", port)).is_err() {
        assert!(child.try_wait().unwrap().is_none(), "piconetd exited");
        assert!(Instant::now() < until, "nothing listens on {listen}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
