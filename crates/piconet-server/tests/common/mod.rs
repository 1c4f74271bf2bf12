//! What the end-to-end tests share: a piconetd on an ephemeral loopback
//! port, and scratch directories.
#![allow(dead_code)] // each test file uses its own part

pub mod conn;

use std::net::SocketAddr;
use std::path::PathBuf;

use piconet_server::{ClientsReloader, Server, ServerConfig, ShutdownReport};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running daemon, stopped (and its leases reverted) by [`Daemon::stop`].
pub struct Daemon {
    pub addr: SocketAddr,
    /// With `--clients`: reloads the file as SIGHUP does.
    pub reloader: Option<ClientsReloader>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<ShutdownReport>,
}

impl Daemon {
    /// Bind `config` (use `127.0.0.1:0` to get a free port) and run it.
    pub async fn start(config: ServerConfig) -> Daemon {
        let server = Server::bind(config).await.unwrap();
        let addr = server.local_addr();
        let reloader = server.clients_reloader();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap()
        });
        Daemon {
            addr,
            reloader,
            stop,
            task,
        }
    }

    /// Shut down as on SIGTERM.
    pub async fn stop(self) -> ShutdownReport {
        let _ = self.stop.send(());
        self.task.await.unwrap()
    }
}

/// `127.0.0.1:0`.
pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A fresh directory under the system's temp dir.
pub fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "piconet-test-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
