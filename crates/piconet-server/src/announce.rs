//! mDNS/DNS-SD: each board announces itself as `_piconet._tcp`, as
//! PROTOCOL-NEXT.md ("Discovery") defines it: instance and host name from
//! the board's name, its port, and TXT `api`, `fw`, `id`, `tls`, `auth`.
//!
//! mdns-sd answers queries and re-announces from a thread of its own; one
//! responder serves every board of a fleet (one socket on port 5353,
//! shared with other responders on the machine through SO_REUSEPORT).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

/// The DNS-SD service type.
pub const SERVICE_TYPE: &str = "_piconet._tcp.local.";

/// The longest board name (PROTOCOL-NEXT.md: 1-32 of `[a-z0-9-]`).
pub const MAX_NAME: usize = piconet_protocol::provision::MAX_NAME;

/// The protocol revision announced as TXT `api`.
pub const API_VERSION: &str = "1";

/// How long stopping waits for the goodbye packets to go out.
pub const GOODBYE_WAIT: Duration = Duration::from_secs(1);

/// Registrations retried while the responder's queue is full, and the
/// pause between tries: 100 × 10 ms gives it a second to catch up.
const REGISTER_TRIES: usize = 100;
const REGISTER_PAUSE: Duration = Duration::from_millis(10);

/// A name that is not 1-32 of `[a-z0-9-]`.
#[derive(Debug, thiserror::Error)]
#[error("board name {0:?}: use 1 to 32 of a-z, 0-9 and - (it becomes NAME.local)")]
pub struct NameError(pub String);

/// Checks a board name.
pub fn check_name(name: &str) -> Result<(), NameError> {
    // The rule set_name checks on the boards, in one place.
    if piconet_protocol::provision::is_board_name(name) {
        Ok(())
    } else {
        Err(NameError(name.to_owned()))
    }
}

/// piconetd's board id: 16 hex digits, stable for this machine, network
/// namespace, board kind and port (a host has no RP2040 unique id): the
/// first 8 bytes of SHA-256 over `/etc/machine-id` (else the host name),
/// the network namespace (`/proc/self/ns/net`: two daemons on one port in
/// two namespaces are two boards), the board and the port, so every board
/// of a `--count` fleet has its own.
pub fn board_id(board: &str, port: u16) -> String {
    let machine = std::fs::read_to_string("/etc/machine-id")
        .or_else(|_| std::fs::read_to_string("/proc/sys/kernel/hostname"))
        .unwrap_or_default();
    let netns = std::fs::read_link("/proc/self/ns/net").unwrap_or_default();
    let digest = Sha256::new()
        .chain_update(machine.trim().as_bytes())
        .chain_update([0])
        .chain_update(netns.as_os_str().as_encoded_bytes())
        .chain_update([0])
        .chain_update(board.as_bytes())
        .chain_update(port.to_be_bytes())
        .finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The default name: `piconet-` and the id's last four hex digits.
pub fn default_name(id: &str) -> String {
    format!("piconet-{}", &id[id.len().saturating_sub(4)..])
}

/// What one board announces.
#[derive(Clone, Debug)]
pub struct Announcement {
    /// Instance and host name (`NAME.local`).
    pub name: String,
    /// The TCP port.
    pub port: u16,
    /// The address it listens on: an unspecified one announces every
    /// interface's addresses (and follows them as they change).
    pub ip: IpAddr,
    /// TXT `fw`.
    pub fw: String,
    /// TXT `id`.
    pub id: String,
    /// TXT `tls`: SHA-256 of the server certificate (64 hex), or empty.
    pub tls: String,
    /// TXT `auth`: `none` or `mtls`.
    pub auth: &'static str,
}

/// The responder could not start or take a service.
#[derive(Debug, thiserror::Error)]
pub enum AnnounceError {
    /// The mDNS socket or thread.
    #[error("cannot start the mDNS responder: {0} (run with --no-mdns to serve without it)")]
    Start(mdns_sd::Error),
    /// A service record.
    #[error("cannot announce {name}: {source}")]
    Register {
        /// The board name.
        name: String,
        /// Why.
        source: mdns_sd::Error,
    },
}

/// The running responder; [`Announcer::stop`] says goodbye (TTL 0).
pub struct Announcer {
    daemon: ServiceDaemon,
    names: Vec<String>,
}

impl Announcer {
    /// Starts the responder and announces `boards`.
    pub fn start(boards: &[Announcement]) -> Result<Announcer, AnnounceError> {
        let daemon = ServiceDaemon::new().map_err(AnnounceError::Start)?;
        // Boards listening on 0.0.0.0 are not reachable on IPv6: announcing
        // those addresses would send clients to a refused connection.
        if boards
            .iter()
            .all(|b| b.ip == IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        {
            daemon
                .disable_interface(IfKind::IPv6)
                .map_err(AnnounceError::Start)?;
        }
        let mut names = Vec::new();
        for b in boards {
            let txt = [
                ("api", API_VERSION),
                ("fw", b.fw.as_str()),
                ("id", b.id.as_str()),
                ("tls", b.tls.as_str()),
                ("auth", b.auth),
            ];
            let host = format!("{}.local.", b.name);
            let register = |info: ServiceInfo| {
                let fullname = info.get_fullname().to_owned();
                // The responder's command queue is bounded: a fleet's
                // registrations at once fill it ("try again").
                for _ in 0..REGISTER_TRIES {
                    match daemon.register(info.clone()) {
                        Err(mdns_sd::Error::Again) => std::thread::sleep(REGISTER_PAUSE),
                        other => return other.map(|()| fullname),
                    }
                }
                daemon.register(info).map(|()| fullname)
            };
            let info = if b.ip.is_unspecified() {
                ServiceInfo::new(SERVICE_TYPE, &b.name, &host, "", b.port, &txt[..])
                    .map(ServiceInfo::enable_addr_auto)
            } else {
                ServiceInfo::new(SERVICE_TYPE, &b.name, &host, b.ip, b.port, &txt[..])
            };
            let fullname = info
                .and_then(register)
                .map_err(|source| AnnounceError::Register {
                    name: b.name.clone(),
                    source,
                })?;
            info!(name = %b.name, port = b.port, id = %b.id, "announced over mDNS as {fullname}");
            names.push(fullname);
        }
        Ok(Announcer { daemon, names })
    }

    /// Withdraws every announcement and stops the responder, waiting at
    /// most `wait` in all for the goodbye packets.
    pub fn stop(self, wait: Duration) {
        let until = std::time::Instant::now() + wait;
        let pending: Vec<_> = self
            .names
            .iter()
            .filter_map(|name| match self.daemon.unregister(name) {
                Ok(done) => Some(done),
                Err(e) => {
                    warn!("mDNS: withdrawing {name}: {e}");
                    None
                }
            })
            .collect();
        let left = || until.saturating_duration_since(std::time::Instant::now());
        for done in pending {
            let _ = done.recv_timeout(left());
        }
        if let Ok(done) = self.daemon.shutdown() {
            let _ = done.recv_timeout(left());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids() {
        for good in ["a", "piconet-1f2e", "garden-valve-2", &"x".repeat(32)] {
            check_name(good).unwrap();
        }
        for bad in ["", "Garden", "a_b", "a.local", &"x".repeat(33), "ü"] {
            let e = check_name(bad).unwrap_err().to_string();
            assert!(e.contains("1 to 32 of a-z, 0-9 and -"), "{e}");
        }
        let id = board_id("sim", 12345);
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(id, board_id("sim", 12345), "stable");
        assert_ne!(id, board_id("sim", 12346), "each port its own");
        let name = default_name(&id);
        assert_eq!(name, format!("piconet-{}", &id[12..]));
        check_name(&name).unwrap();
    }
}
