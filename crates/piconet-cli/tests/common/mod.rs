//! A simulated Pico W behind a pseudo-terminal: the slave side stands in
//! for the board's USB serial port (`/dev/ttyACM0`), and lines from it have
//! the engine's local origin, as the firmware's USB port gives them.
#![allow(dead_code)] // Each test binary uses its part.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant as StdInstant;

use piconet_engine::{After, Board, Config, ConnId, Engine, Instant, Peer};
use piconet_sim::SimBoard;
use serde_json::Value;

pub type Shared = Arc<Mutex<Engine<SimBoard>>>;

/// The engine behind a pseudo-terminal; `path` is the "board's" serial port.
pub struct PtyBoard {
    path: PathBuf,
    pub engine: Shared,
    /// Every line the board received, to look for secrets in what the CLI sent.
    received: Arc<Mutex<Vec<u8>>>,
    /// Held open, so the master side never reads EIO between two runs.
    _slave: OwnedFd,
}

impl PtyBoard {
    /// The simulated Pico W with its settings store.
    pub fn start() -> Self {
        Self::with_board(SimBoard::new().with_settings())
    }

    /// `board` behind the pseudo-terminal, its lines of local origin.
    pub fn with_board(board: SimBoard) -> Self {
        let engine: Shared = Arc::new(Mutex::new(Engine::new(board, Config::default())));
        let shared = engine.clone();
        let start = StdInstant::now();
        Self::serve(engine, move |line, out| {
            let now = Instant::from_nanos(start.elapsed().as_nanos() as u64);
            shared
                .lock()
                .unwrap()
                .handle_from(now, line, Peer::local(ConnId(0)), out)
        })
    }

    /// Answers each line with `answer(line, out)`; once the answer is out,
    /// the engine carries out what it returns (a reset), as the board does.
    pub fn serve<F>(engine: Shared, mut answer: F) -> Self
    where
        F: FnMut(&[u8], &mut Vec<u8>) -> After + Send + 'static,
    {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let pty = nix::pty::openpty(None, None).unwrap();
        // No echo, no line editing: bytes pass as they are, as over USB.
        let mut termios = tcgetattr(&pty.slave).unwrap();
        cfmakeraw(&mut termios);
        tcsetattr(&pty.slave, SetArg::TCSANOW, &termios).unwrap();
        let path = nix::unistd::ttyname(&pty.slave).unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let master = std::fs::File::from(pty.master);
        let mut writer = master.try_clone().unwrap();
        let (log, shared) = (received.clone(), engine.clone());
        std::thread::spawn(move || {
            let mut reader = BufReader::new(master);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                log.lock().unwrap().extend_from_slice(&line);
                while matches!(line.last(), Some(b'\n' | b'\r')) {
                    line.pop();
                }
                // A blank line ends a session; the port serves the next one.
                if line.is_empty() {
                    continue;
                }
                let mut out = Vec::new();
                let after = answer(&line, &mut out);
                if writer.write_all(&out).is_err() {
                    return;
                }
                shared.lock().unwrap().after_reply(after);
            }
        });
        Self {
            path,
            engine,
            received,
            _slave: pty.slave,
        }
    }

    /// The simulated board behind the pseudo-terminal, writing the event
    /// lines the engine queues for the port's connection between its
    /// answers, as the firmware's USB port does (checked every 2 ms).
    pub fn with_events() -> Self {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let engine: Shared = Arc::new(Mutex::new(Engine::new(SimBoard::new(), Config::default())));
        let pty = nix::pty::openpty(None, None).unwrap();
        let mut termios = tcgetattr(&pty.slave).unwrap();
        cfmakeraw(&mut termios);
        tcsetattr(&pty.slave, SetArg::TCSANOW, &termios).unwrap();
        let path = nix::unistd::ttyname(&pty.slave).unwrap();
        let master = std::fs::File::from(pty.master);
        // One writer for answers and events, so lines never interleave.
        let writer = Arc::new(Mutex::new(master.try_clone().unwrap()));
        let start = StdInstant::now();
        let now = move || Instant::from_nanos(start.elapsed().as_nanos() as u64);
        let (shared, out) = (engine.clone(), writer.clone());
        std::thread::spawn(move || {
            let mut reader = BufReader::new(master);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                while matches!(line.last(), Some(b'\n' | b'\r')) {
                    line.pop();
                }
                if line.is_empty() {
                    continue;
                }
                let mut answer = Vec::new();
                let mut w = out.lock().unwrap();
                shared.lock().unwrap().handle_from(
                    now(),
                    &line,
                    Peer::local(ConnId(0)),
                    &mut answer,
                );
                if w.write_all(&answer).is_err() {
                    return;
                }
            }
        });
        let (shared, out) = (engine.clone(), writer);
        std::thread::spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_millis(2));
            let mut events = Vec::new();
            let mut w = out.lock().unwrap();
            while shared
                .lock()
                .unwrap()
                .write_event(ConnId(0), &mut events)
                .unwrap()
            {}
            if w.write_all(&events).is_err() {
                return;
            }
        });
        Self {
            path,
            engine,
            received: Arc::new(Mutex::new(Vec::new())),
            _slave: pty.slave,
        }
    }

    /// Send `line` to the engine as another connection (not the port's).
    pub fn other_connection(&self, line: &str) -> Value {
        let mut out = Vec::new();
        let now = Instant::from_nanos(0);
        self.engine.lock().unwrap().handle_from(
            now,
            line.as_bytes(),
            Peer::local(ConnId(9)),
            &mut out,
        );
        serde_json::from_slice(&out).unwrap()
    }

    /// A board whose firmware predates provisioning (`knows`: false), or
    /// one that lists the actions but refuses them all: every other action
    /// is an error that echoes the command whole, secrets included.
    pub fn unredacting(knows: bool) -> Self {
        let engine: Shared = Arc::new(Mutex::new(Engine::new(SimBoard::new(), Config::default())));
        Self::serve(engine, move |line, out| {
            let mut answer: serde_json::Map<String, Value> = serde_json::from_slice(line).unwrap();
            match answer["action"].as_str() {
                Some("list_actions") => {
                    let actions = match knows {
                        true => serde_json::json!(["ping", "set_wifi", "get_config"]),
                        false => serde_json::json!(["ping", "read_pin"]),
                    };
                    answer.insert("actions".into(), actions);
                }
                Some("get_config") if knows => {
                    answer.insert(
                        "config".into(),
                        serde_json::json!({"ssid": null, "password_set": false, "port": 12345,
                            "tls_fingerprint": null, "restart_needed": false}),
                    );
                }
                _ => {
                    answer.insert("error".into(), "unknown action".into());
                    answer.insert("exception".into(), "ValueError".into());
                }
            }
            out.extend_from_slice(format!("{}\n", Value::Object(answer)).as_bytes());
            After::Nothing
        })
    }

    pub fn port(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// The certificate the board stored, from its settings store.
    pub fn stored_cert(&self) -> Option<Vec<u8>> {
        let mut engine = self.engine.lock().unwrap();
        let settings = engine.board_mut().settings().unwrap().load().unwrap();
        settings.tls.map(|tls| tls.cert.to_vec())
    }

    pub fn resets(&self) -> u32 {
        self.engine.lock().unwrap().board().resets()
    }

    pub fn received(&self) -> String {
        String::from_utf8_lossy(&self.received.lock().unwrap()).into_owned()
    }
}

/// Runs the `piconet` binary with `args`, known_hosts from the default place.
pub fn piconet(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_piconet"))
        .args(args)
        .env_remove("PICONET_KNOWN_HOSTS")
        .output()
        .unwrap()
}

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// piconetd (plaintext, simulated board) on a loopback port, in a thread of
/// its own until the test process ends; its address.
pub fn piconetd() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let server = piconet_server::Server::bind(piconet_server::ServerConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                ..piconet_server::ServerConfig::default()
            })
            .await
            .unwrap();
            tx.send(server.local_addr()).unwrap();
            server.run(std::future::pending::<()>()).await.unwrap();
        });
    });
    rx.recv().unwrap().to_string()
}
