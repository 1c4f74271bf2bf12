//! Many simulated boards in one process (`--board sim --count N`), so a
//! fleet (a bridge, a Home Assistant setup) can be tried on one machine:
//! board `i` listens on the first port + `i`, each with its own engine,
//! leases, limits and lease thread, exactly as N daemons would.

use std::future::Future;
use std::net::SocketAddr;

use tokio::sync::watch;
use tokio::task::{JoinError, JoinSet};

use crate::boards::BoardSpec;
use crate::server::{Server, ServerConfig, ServerError, ShutdownReport};

/// The most boards one process serves. Each has two idle threads (the
/// lease timer and its log) and a listening socket: 1,000 stay far below
/// the usual thread and file limits.
pub const MAX_FLEET: usize = 1000;

/// Why a fleet cannot be set up as asked.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// `count` out of range.
    #[error("--count {0}: must be 1 to {MAX_FLEET}")]
    Count(usize),
    /// More than one board needs the simulated board.
    #[error("--count {0} needs --board sim: a GPIO chip is one board")]
    NotSim(usize),
    /// Port 0 gives every board some port: not consecutive ones.
    #[error("--count {0} needs a fixed --listen port: board i listens on that port + i")]
    AnyPort(usize),
    /// The last board's port would pass 65535.
    #[error(
        "--count {count} from port {first}: the last board would need port {last}, above 65535"
    )]
    PortRange {
        /// How many boards.
        count: usize,
        /// The first port.
        first: u16,
        /// The port the last one would need.
        last: usize,
    },
    /// The one board (`count` 1) could not start: as [`Server::bind`] says.
    #[error(transparent)]
    Single(ServerError),
    /// One board of several could not start.
    #[error("board {index} of {count}: {source}")]
    Board {
        /// Which (from 0).
        index: usize,
        /// How many.
        count: usize,
        /// Why.
        source: ServerError,
    },
}

/// `count` bound servers, on consecutive ports.
pub struct Fleet {
    servers: Vec<Server>,
}

impl Fleet {
    /// Bind `count` boards as `config` describes, board `i` on
    /// `config.listen`'s port + `i`. With `count` 1 this is [`Server::bind`].
    pub async fn bind(config: ServerConfig, count: usize) -> Result<Fleet, FleetError> {
        if !(1..=MAX_FLEET).contains(&count) {
            return Err(FleetError::Count(count));
        }
        let first = config.listen.port();
        if count > 1 {
            if config.board != BoardSpec::Sim {
                return Err(FleetError::NotSim(count));
            }
            if first == 0 {
                return Err(FleetError::AnyPort(count));
            }
            let last = usize::from(first) + count - 1;
            if last > usize::from(u16::MAX) {
                return Err(FleetError::PortRange { count, first, last });
            }
        }
        let mut servers = Vec::with_capacity(count);
        for index in 0..count {
            let listen = SocketAddr::new(config.listen.ip(), first + index as u16);
            // With --count, board i of the fleet named NAME is NAME-i.
            let name = match (&config.name, count) {
                (Some(n), 1) => Some(n.clone()),
                (Some(n), _) => Some(format!("{n}-{index}")),
                (None, _) => None,
            };
            let server = Server::bind(ServerConfig {
                listen,
                name,
                ..config.clone()
            })
            .await
            .map_err(|source| match count {
                1 => FleetError::Single(source),
                _ => FleetError::Board {
                    index,
                    count,
                    source,
                },
            })?;
            servers.push(server);
        }
        Ok(Fleet { servers })
    }

    /// Each board's reloader of the clients file (`--clients`): one SIGHUP
    /// reloads every board's list.
    pub fn clients_reloaders(&self) -> Vec<crate::clients::ClientsReloader> {
        self.servers
            .iter()
            .filter_map(Server::clients_reloader)
            .collect()
    }

    /// Each board's bound address, in order.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.servers.iter().map(Server::local_addr).collect()
    }

    /// Each board's bound address, name and id, in order: what mDNS
    /// announces.
    pub fn boards(&self) -> Vec<(SocketAddr, String, String)> {
        self.servers
            .iter()
            .map(|s| (s.local_addr(), s.name().to_owned(), s.board_id().to_owned()))
            .collect()
    }

    /// Serve every board until `shutdown` completes, then stop each as
    /// [`Server::run`] does (leased pins back to their safe levels). The
    /// reports are in board order; the first error is returned, after
    /// every board has stopped.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<Vec<ShutdownReport>, ServerError> {
        let (stop, stopped) = watch::channel(false);
        let count = self.servers.len();
        // A task each: every board's accept loop runs on any worker thread,
        // as N daemons' would, rather than all being polled by one task.
        let mut boards = JoinSet::new();
        for (index, server) in self.servers.into_iter().enumerate() {
            let mut stopped = stopped.clone();
            boards.spawn(async move {
                let result = server
                    .run(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    })
                    .await;
                (index, result)
            });
        }
        let mut reports = vec![None; count];
        let mut first_error = None;
        let mut record = |done: Result<(usize, Result<ShutdownReport, ServerError>), JoinError>| {
            match done {
                Ok((index, Ok(report))) => reports[index] = Some(report),
                Ok((_, Err(e))) => {
                    first_error.get_or_insert(e);
                }
                // A board's task panicked: the panic goes on here.
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        };
        tokio::pin!(shutdown);
        tokio::select! {
            () = &mut shutdown => {}
            // A board that stops by itself (its lease thread could not
            // start) stops the fleet: no daemon serving only some boards.
            Some(done) = boards.join_next() => record(done),
        }
        let _ = stop.send(true);
        while let Some(done) = boards.join_next().await {
            record(done);
        }
        match first_error {
            None => Ok(reports.into_iter().flatten().collect()),
            Some(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Binds a fleet of `count` on consecutive loopback ports, retrying
    /// where another process holds one of them.
    async fn bind(name: Option<&str>, count: usize) -> Fleet {
        for _ in 0..50 {
            let first = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            if usize::from(first) + count > usize::from(u16::MAX) {
                continue;
            }
            let config = ServerConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], first)),
                name: name.map(str::to_owned),
                ..ServerConfig::default()
            };
            if let Ok(fleet) = Fleet::bind(config, count).await {
                return fleet;
            }
        }
        panic!("no {count} consecutive free ports");
    }

    #[tokio::test]
    async fn a_named_fleet_numbers_its_boards_and_an_unnamed_one_names_each_by_its_id() {
        let named = bind(Some("bed"), 3).await;
        let names: Vec<String> = named.boards().into_iter().map(|b| b.1).collect();
        assert_eq!(names, ["bed-0", "bed-1", "bed-2"]);

        let unnamed = bind(None, 2).await;
        for (addr, name, id) in unnamed.boards() {
            assert_eq!(id, crate::announce::board_id("sim", addr.port()));
            assert_eq!(name, crate::announce::default_name(&id));
        }
    }
}
