//! mDNS/DNS-SD: the board announces `_piconet._tcp` as PROTOCOL-NEXT.md
//! ("Discovery") defines it, the same record set piconetd's mdns-sd
//! announces: instance and host `NAME.local`, the port, and TXT `api`,
//! `fw`, `id`, `tls`, `auth`.
//!
//! The records and the DNS messages come from edge-mdns (no_std, no
//! alloc), so the firmware writes no DNS encoding of its own; this module
//! chooses what is announced ([`Announcement`]) and, with the `server`
//! feature, runs the responder on an embassy-net UDP socket ([`run`]).

use core::net::{Ipv4Addr, Ipv6Addr};

use edge_mdns::domain::base::Ttl;
use edge_mdns::host::{Host, Service, ServiceAnswers};
use edge_mdns::{HostAnswersMdnsHandler, MdnsHandler, MdnsRequest, MdnsResponse};

pub use edge_mdns::MdnsError;

/// The protocol revision announced as TXT `api` (piconetd's `API_VERSION`).
pub const API_VERSION: &str = "1";

/// The DNS-SD service type's labels: `_piconet._tcp.local`.
pub const SERVICE: &str = "_piconet";
/// The DNS-SD protocol label.
pub const PROTOCOL: &str = "_tcp";

/// The mDNS port and IPv4 group (RFC 6762).
pub const MDNS_PORT: u16 = 5353;
/// The IPv4 mDNS group, 224.0.0.251.
pub const MDNS_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);
/// Its Ethernet multicast address (01:00:5e and the group's low 23 bits),
/// which the CYW43's receive filter must be given.
pub const MDNS_MAC: [u8; 6] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb];

/// Time to live of the answers (mdns-sd's default for host records).
pub const TTL_SECS: u32 = 120;

/// The largest answer: the five records and the A record with names
/// compressed fit well under this (a 64-hex `tls` and a 32-letter name
/// make about 300 bytes).
pub const ANSWER_BUF: usize = 512;

/// What the board announces.
#[derive(Clone, Copy, Debug)]
pub struct Announcement<'a> {
    /// Instance and host name (`NAME.local`): `set_name`'s, else `piconet-XXXX`.
    pub name: &'a str,
    /// The TCP port the listeners serve.
    pub port: u16,
    /// TXT `fw`: the firmware version.
    pub fw: &'a str,
    /// TXT `id`: the board id as `get_info` reports it.
    pub id: &'a str,
    /// TXT `tls`: SHA-256 of the server certificate (64 hex), or empty.
    pub tls: &'a str,
    /// TXT `auth`: `none` or `mtls`.
    pub auth: &'a str,
}

impl Announcement<'_> {
    /// The TXT key/value pairs, in piconetd's order.
    pub fn txt(&self) -> [(&str, &str); 5] {
        [
            ("api", API_VERSION),
            ("fw", self.fw),
            ("id", self.id),
            ("tls", self.tls),
            ("auth", self.auth),
        ]
    }

    /// The DNS message answering `request` for a board at `ipv4`, written
    /// into `out`: `Ok(None)` when nothing of ours was asked (or `request`
    /// is a response), else the answer's length. `request` `None` makes
    /// the unsolicited announcement of every record.
    ///
    /// `legacy`: the query came from a port other than 5353 (a one-shot
    /// resolver); the answer then repeats the question and the query id
    /// and goes back to the sender alone (RFC 6762, 6.7).
    pub fn answer(
        &self,
        ipv4: Ipv4Addr,
        request: Option<&[u8]>,
        legacy: bool,
        out: &mut [u8],
    ) -> Result<Option<usize>, MdnsError> {
        let host = Host {
            hostname: self.name,
            ipv4,
            ipv6: Ipv6Addr::UNSPECIFIED,
            ttl: Ttl::from_secs(TTL_SECS),
        };
        let txt = self.txt();
        let service = Service {
            name: self.name,
            priority: 0,
            weight: 0,
            service: SERVICE,
            protocol: PROTOCOL,
            port: self.port,
            service_subtypes: &[],
            txt_kvs: &txt,
        };
        let answers = ServiceAnswers::new(&host, &service);
        let request = match request {
            Some(data) => MdnsRequest::Request {
                legacy,
                multicast: true,
                data,
            },
            None => MdnsRequest::None,
        };
        match HostAnswersMdnsHandler::new(answers).handle(request, out)? {
            MdnsResponse::Reply { data, .. } => Ok(Some(data.len())),
            MdnsResponse::None => Ok(None),
        }
    }
}

/// Lowercase hex of `bytes` (`N` must be twice their length): the board
/// id as `get_info`'s `unique_id` writes it.
pub fn hex<const N: usize>(bytes: &[u8]) -> heapless::String<N> {
    use core::fmt::Write;
    let mut s = heapless::String::new();
    for b in bytes {
        // Fits when N >= 2 * bytes.len(); a short N truncates.
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// TXT `tls`: SHA-256 of the server certificate (DER), as 64 hex digits,
/// the fingerprint piconetd announces and clients pin.
pub fn tls_fingerprint(der: &[u8]) -> heapless::String<64> {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(der))
}

#[cfg(feature = "server")]
pub use responder::{run, Buffers, ResponderError};

#[cfg(feature = "server")]
mod responder {
    use super::*;
    use embassy_net::udp::{PacketMetadata, UdpSocket};
    use embassy_net::{IpAddress, IpEndpoint, Stack};

    /// Why the responder stopped.
    #[derive(Debug)]
    pub enum ResponderError {
        /// Port 5353 is taken on this stack (another socket bound it).
        Bind,
        /// The stack's multicast table is full or the group was refused:
        /// raise embassy-net's multicast group count.
        Join,
    }

    /// Buffers the responder's socket needs: one query or answer each way.
    pub struct Buffers {
        /// Receive packet metadata.
        pub rx_meta: [PacketMetadata; 2],
        /// Receive payloads.
        pub rx: [u8; ANSWER_BUF],
        /// Send packet metadata.
        pub tx_meta: [PacketMetadata; 2],
        /// Send payloads.
        pub tx: [u8; ANSWER_BUF],
        /// The answer being built.
        pub out: [u8; ANSWER_BUF],
        /// The query being read.
        pub query: [u8; ANSWER_BUF],
    }

    impl Buffers {
        /// Empty buffers (const, for a `static`).
        pub const fn new() -> Self {
            Buffers {
                rx_meta: [PacketMetadata::EMPTY; 2],
                rx: [0; ANSWER_BUF],
                tx_meta: [PacketMetadata::EMPTY; 2],
                tx: [0; ANSWER_BUF],
                out: [0; ANSWER_BUF],
                query: [0; ANSWER_BUF],
            }
        }
    }

    impl Default for Buffers {
        fn default() -> Self {
            Self::new()
        }
    }

    /// Answer mDNS queries for `ann` on `stack`: waits for an IPv4
    /// address, joins 224.0.0.251, announces once, then answers each
    /// query that names one of our records (multicast to the group, or to
    /// the sender alone for a legacy one-shot query). The address in the
    /// A record is the stack's at the time of each answer (DHCP may
    /// change it). Malformed queries are skipped.
    pub async fn run(
        stack: Stack<'_>,
        ann: &Announcement<'_>,
        bufs: &mut Buffers,
    ) -> Result<core::convert::Infallible, ResponderError> {
        stack.wait_config_up().await;
        stack
            .join_multicast_group(IpAddress::Ipv4(MDNS_GROUP))
            .map_err(|_| ResponderError::Join)?;
        let Buffers {
            rx_meta,
            rx,
            tx_meta,
            tx,
            out,
            query,
        } = bufs;
        let mut socket = UdpSocket::new(stack, rx_meta, rx, tx_meta, tx);
        socket.bind(MDNS_PORT).map_err(|_| ResponderError::Bind)?;
        let group = IpEndpoint::new(IpAddress::Ipv4(MDNS_GROUP), MDNS_PORT);
        let address = || {
            stack
                .config_v4()
                .map(|c| c.address.address())
                .unwrap_or(Ipv4Addr::UNSPECIFIED)
        };
        // The unsolicited announcement: browsers already listening see
        // the board come up without asking.
        if let Ok(Some(len)) = ann.answer(address(), None, false, out) {
            let _ = socket.send_to(&out[..len], group).await;
        }
        loop {
            let Ok((n, meta)) = socket.recv_from(query).await else {
                // Truncated (bigger than our buffer): not a query for us.
                continue;
            };
            let legacy = meta.endpoint.port != MDNS_PORT;
            let Ok(Some(len)) = ann.answer(address(), Some(&query[..n]), legacy, out) else {
                continue;
            };
            let to = if legacy { meta.endpoint } else { group };
            let _ = socket.send_to(&out[..len], to).await;
        }
    }
}
