//! A tiny in-test server: answers each line with the command echoed plus
//! `time_received`, or with whatever a test's `reply` function says.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::address::ServerAddr;

/// What the server does with one command.
pub(crate) enum Reply {
    /// The command, `time_received` and these extra fields.
    Echo(Map<String, Value>),
    /// These bytes, as they are.
    Raw(Vec<u8>),
    /// The plain echo, after a pause.
    Later(std::time::Duration),
    /// Nothing, and keep the connection open.
    Silent,
    /// Close the connection.
    Close,
}

pub(crate) type ReplyFn = fn(&Map<String, Value>) -> Reply;

pub(crate) fn echo(_: &Map<String, Value>) -> Reply {
    Reply::Echo(Map::new())
}

pub(crate) struct FakeServer {
    pub(crate) addr: SocketAddr,
    /// Every byte every connection sent, in order.
    pub(crate) received: Arc<Mutex<Vec<u8>>>,
}

impl FakeServer {
    pub(crate) async fn plain(reply: ReplyFn) -> Self {
        Self::start(None, reply).await
    }

    pub(crate) async fn tls(cert: &rcgen::CertifiedKey<rcgen::KeyPair>, reply: ReplyFn) -> Self {
        Self::tls_with(cert.cert.der().clone(), &cert.signing_key, reply).await
    }

    pub(crate) async fn tls_with(
        cert: CertificateDer<'static>,
        key: &rcgen::KeyPair,
        reply: ReplyFn,
    ) -> Self {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        Self::start(Some(TlsAcceptor::from(Arc::new(config))), reply).await
    }

    async fn start(tls: Option<TlsAcceptor>, reply: ReplyFn) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let log = log.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                serve(stream, log, reply).await;
                            }
                        }
                        None => serve(tcp, log, reply).await,
                    }
                });
            }
        });
        Self { addr, received }
    }

    pub(crate) fn server_addr(&self) -> ServerAddr {
        ServerAddr::new(self.addr.ip().to_string(), self.addr.port())
    }

    pub(crate) fn received(&self) -> Vec<u8> {
        self.received.lock().unwrap().clone()
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    log: Arc<Mutex<Vec<u8>>>,
    reply: ReplyFn,
) {
    let mut stream = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match stream.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        log.lock().unwrap().extend_from_slice(&line);
        if line == b"\n" {
            let _ = stream.shutdown().await;
            return;
        }
        let line_of = |v: Value| format!("{v}\n").into_bytes();
        let out = match serde_json::from_slice::<Map<String, Value>>(&line) {
            Err(e) => line_of(json!({"error": e.to_string(), "exception": "ValueError"})),
            Ok(command) => match reply(&command) {
                Reply::Echo(extra) => {
                    let mut answer = command.clone();
                    answer.insert("time_received".into(), json!(crate::client::now_ns()));
                    answer.extend(extra);
                    line_of(Value::Object(answer))
                }
                Reply::Raw(bytes) => bytes,
                Reply::Later(pause) => {
                    tokio::time::sleep(pause).await;
                    let mut answer = command.clone();
                    answer.insert("time_received".into(), json!(crate::client::now_ns()));
                    line_of(Value::Object(answer))
                }
                Reply::Silent => {
                    std::future::pending::<()>().await;
                    return;
                }
                Reply::Close => return,
            },
        };
        if stream.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// A board on the far end of a serial port: a pseudo-terminal whose master
/// side a thread serves line by line as [`FakeServer`] does (a blank line
/// ends a session but not the port, as on the firmware; `Close` is `Silent`).
pub(crate) struct FakeSerialBoard {
    /// The slave side's device file, what a client opens.
    pub(crate) path: std::path::PathBuf,
    received: Arc<(Mutex<Vec<u8>>, std::sync::Condvar)>,
    /// Held open so the master never reads EIO between two clients.
    _slave: std::os::fd::OwnedFd,
}

impl FakeSerialBoard {
    pub(crate) fn start(reply: ReplyFn) -> Self {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        use std::io::{BufRead, Write};

        let pty = nix::pty::openpty(None, None).unwrap();
        // No echo, no line editing: bytes pass as they are, as over USB.
        let mut termios = tcgetattr(&pty.slave).unwrap();
        cfmakeraw(&mut termios);
        tcsetattr(&pty.slave, SetArg::TCSANOW, &termios).unwrap();
        let path = nix::unistd::ttyname(&pty.slave).unwrap();
        let received = Arc::new((Mutex::new(Vec::new()), std::sync::Condvar::new()));
        let log = received.clone();
        let master = std::fs::File::from(pty.master);
        let mut writer = master.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut reader = std::io::BufReader::new(master);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                log.0.lock().unwrap().extend_from_slice(&line);
                log.1.notify_all();
                if line == b"\n" {
                    continue;
                }
                let echo = |command: &Map<String, Value>, extra: Map<String, Value>| {
                    let mut answer = command.clone();
                    answer.insert("time_received".into(), json!(crate::client::now_ns()));
                    answer.extend(extra);
                    format!("{}\n", Value::Object(answer)).into_bytes()
                };
                let out = match serde_json::from_slice::<Map<String, Value>>(&line) {
                    Err(e) => format!(
                        "{}\n",
                        json!({"error": e.to_string(), "exception": "ValueError"})
                    )
                    .into_bytes(),
                    Ok(command) => match reply(&command) {
                        Reply::Echo(extra) => echo(&command, extra),
                        Reply::Raw(bytes) => bytes,
                        Reply::Later(pause) => {
                            std::thread::sleep(pause);
                            echo(&command, Map::new())
                        }
                        Reply::Silent | Reply::Close => continue,
                    },
                };
                if writer.write_all(&out).is_err() {
                    return;
                }
            }
        });
        Self {
            path,
            received,
            _slave: pty.slave,
        }
    }

    /// What the board has read once `done` holds for it, or after a few
    /// seconds whatever it has (for the caller's assertion to show). A
    /// client's closing blank line can reach the board after the client's
    /// call has returned, so a test that checks it must wait for it.
    pub(crate) fn received_once(&self, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let (log, arrived) = &*self.received;
        let (log, _) = arrived
            .wait_timeout_while(
                log.lock().unwrap(),
                std::time::Duration::from_secs(10),
                |bytes| !done(bytes),
            )
            .unwrap();
        log.clone()
    }
}
