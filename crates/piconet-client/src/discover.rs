//! Finding boards on the local network: mDNS/DNS-SD browsing for
//! `_piconet._tcp`, as piconetd and the firmware announce themselves
//! (PROTOCOL-NEXT.md, "Discovery").

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::{Duration, Instant};

use mdns_sd::{ResolvedService, ScopedIp, ServiceDaemon, ServiceEvent};
use serde_json::{json, Value};

/// The DNS-SD service type boards announce.
pub const SERVICE_TYPE: &str = "_piconet._tcp.local.";

/// The longest browse `piconet discover --timeout` accepts.
pub const MAX_BROWSE: Duration = Duration::from_secs(60);

/// One board as its announcement describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The instance name (the board's name).
    pub name: String,
    /// Its host name, `NAME.local.`.
    pub host: String,
    /// Its addresses, sorted: IPv4 first, IPv6 link-local last.
    pub addresses: Vec<IpAddr>,
    /// The interface each IPv6 link-local address was heard on: such an
    /// address is only reachable through it.
    scopes: BTreeMap<Ipv6Addr, u32>,
    /// The TCP port.
    pub port: u16,
    /// TXT `api`: the protocol revision.
    pub api: String,
    /// TXT `fw`: the firmware (or piconetd) version.
    pub fw: String,
    /// TXT `id`: the board id.
    pub id: String,
    /// TXT `tls`: SHA-256 of the server certificate (hex), empty without TLS.
    pub tls: String,
    /// TXT `auth`: `none` or `mtls`.
    pub auth: String,
}

impl Found {
    /// The board `service` describes, adding to what `before` knew of it.
    fn from_service(name: String, service: &ResolvedService, before: Option<Found>) -> Found {
        let (mut addresses, mut scopes) =
            before.map(|b| (b.addresses, b.scopes)).unwrap_or_default();
        merge(
            &mut addresses,
            &mut scopes,
            service.addresses.iter().map(|address| match address {
                ScopedIp::V6(v6) => (IpAddr::V6(*v6.addr()), Some(v6.scope_id().index)),
                other => (other.to_ip_addr(), None),
            }),
        );
        let txt = |k: &str| {
            service
                .get_property_val_str(k)
                .unwrap_or_default()
                .to_owned()
        };
        Found {
            name,
            host: service.host.clone(),
            addresses,
            scopes,
            port: service.port,
            api: txt("api"),
            fw: txt("fw"),
            id: txt("id"),
            tls: txt("tls"),
            auth: txt("auth"),
        }
    }

    /// The socket addresses to try for the board on `port`, in the order
    /// of [`Found::addresses`]; an IPv6 link-local one carries the
    /// interface it was heard on.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), piconet_client::discover::DiscoverError> {
    /// use std::time::Duration;
    /// if let Some(board) = piconet_client::discover::resolve("garden", Duration::from_secs(5)).await? {
    ///     println!("{:?}", board.socket_addrs(board.port));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn socket_addrs(&self, port: u16) -> Vec<SocketAddr> {
        self.addresses
            .iter()
            .map(|&ip| match ip {
                IpAddr::V6(v6) => match self.scopes.get(&v6) {
                    Some(&scope) => SocketAddrV6::new(v6, port, 0, scope).into(),
                    None => SocketAddr::new(ip, port),
                },
                IpAddr::V4(_) => SocketAddr::new(ip, port),
            })
            .collect()
    }

    /// The board as one JSON object (`piconet discover --json`).
    pub fn json(&self) -> Value {
        json!({
            "name": self.name,
            "host": self.host,
            "addresses": self.addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "port": self.port,
            "api": self.api,
            "fw": self.fw,
            "id": self.id,
            "tls": self.tls,
            "auth": self.auth,
        })
    }
}

/// Browsing could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot browse mDNS: {0} (is multicast possible on this machine's network?)")]
pub struct DiscoverError(#[from] mdns_sd::Error);

/// Browses for `timeout` and returns every board that answered, by name.
/// Blocking (mdns-sd runs its own thread; this one waits on it).
pub fn browse(timeout: Duration) -> Result<Vec<Found>, DiscoverError> {
    let daemon = ServiceDaemon::new()?;
    let events = daemon.browse(SERVICE_TYPE)?;
    let until = Instant::now() + timeout;
    let mut found = BTreeMap::new();
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match events.recv_timeout(left) {
            Ok(ServiceEvent::ServiceResolved(s)) => {
                let name = s
                    .fullname
                    .strip_suffix(&format!(".{SERVICE_TYPE}"))
                    .unwrap_or(&s.fullname)
                    .to_owned();
                // A board's addresses may come in several answers (one per
                // interface): each resolution adds to those already seen.
                let board = Found::from_service(name.clone(), &s, found.remove(&name));
                found.insert(name, board);
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let _ = daemon.stop_browse(SERVICE_TYPE);
    if let Ok(done) = daemon.shutdown() {
        let _ = done.recv_timeout(Duration::from_secs(1));
    }
    Ok(found.into_values().collect())
}

/// Finds the board announced as `name` (an instance name, without
/// `.local`), browsing up to `timeout`; `None` if it did not answer.
pub async fn resolve(name: &str, timeout: Duration) -> Result<Option<Found>, DiscoverError> {
    let daemon = ServiceDaemon::new()?;
    let events = daemon.browse(SERVICE_TYPE)?;
    let wanted = format!("{name}.{SERVICE_TYPE}");
    let wait = async {
        while let Ok(event) = events.recv_async().await {
            if let ServiceEvent::ServiceResolved(s) = event {
                // The first answer may carry only an IPv6 link-local
                // address (one answer per interface, and a responder
                // repeats itself at most once a second): it is reachable
                // with its interface, so it is enough.
                if s.fullname.eq_ignore_ascii_case(&wanted) && !s.addresses.is_empty() {
                    return Some(Found::from_service(name.to_owned(), &s, None));
                }
            }
        }
        None
    };
    let found = tokio::time::timeout(timeout, wait).await.ok().flatten();
    let _ = daemon.stop_browse(SERVICE_TYPE);
    let _ = daemon.shutdown();
    Ok(found)
}

/// Adds `heard` (each address with the interface it came on, if any) to
/// `addresses`, kept sorted and without repeats, IPv4 first and IPv6
/// link-local last; remembers the interface of each link-local one.
fn merge(
    addresses: &mut Vec<IpAddr>,
    scopes: &mut BTreeMap<Ipv6Addr, u32>,
    heard: impl IntoIterator<Item = (IpAddr, Option<u32>)>,
) {
    for (ip, scope) in heard {
        addresses.push(ip);
        if let (IpAddr::V6(v6), Some(scope)) = (ip, scope) {
            if v6.is_unicast_link_local() {
                scopes.insert(v6, scope);
            }
        }
    }
    addresses.sort_by_key(|ip| (link_local(ip), *ip));
    addresses.dedup();
}

/// Whether `ip` is IPv6 link-local (tried last: it needs its interface).
fn link_local(ip: &IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.is_unicast_link_local())
}

/// The board name `host` stands for over mDNS: `NAME.local` always; a bare
/// `NAME` (no dot, not an IP) only as a fallback when the system resolver
/// does not know it (`tried_dns`).
pub fn mdns_name(host: &str, tried_dns: bool) -> Option<&str> {
    if host.parse::<IpAddr>().is_ok() {
        return None;
    }
    if let Some(name) = host.strip_suffix(".local") {
        return (!name.is_empty() && !name.contains('.')).then_some(name);
    }
    (tried_dns && !host.contains('.')).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_hosts_are_board_names() {
        assert_eq!(mdns_name("garden.local", false), Some("garden"));
        assert_eq!(mdns_name("garden", false), None);
        assert_eq!(mdns_name("garden", true), Some("garden"));
        assert_eq!(mdns_name("pico.lan", true), None);
        assert_eq!(mdns_name("a.b.local", false), None);
        assert_eq!(mdns_name("127.0.0.1", true), None);
        assert_eq!(mdns_name("::1", true), None);
        assert_eq!(mdns_name(".local", true), None);
    }

    #[test]
    fn link_local_addresses_keep_their_interface_and_come_last() {
        let (mut addresses, mut scopes) = (Vec::new(), BTreeMap::new());
        let link: IpAddr = "fe80::8c12:f8ff:febf:1397".parse().unwrap();
        // One answer per interface: a link-local one first, then IPv4.
        merge(&mut addresses, &mut scopes, [(link, Some(66))]);
        merge(
            &mut addresses,
            &mut scopes,
            [
                ("10.231.17.1".parse().unwrap(), None),
                (link, Some(66)),
                ("2001:db8::1".parse().unwrap(), Some(66)),
            ],
        );
        let board = Found {
            name: "board-a".into(),
            host: "board-a.local.".into(),
            addresses,
            scopes,
            port: 12345,
            api: "1".into(),
            fw: String::new(),
            id: String::new(),
            tls: String::new(),
            auth: "none".into(),
        };
        let to: Vec<String> = board
            .socket_addrs(4242)
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(
            to,
            [
                "10.231.17.1:4242",
                "[2001:db8::1]:4242",
                "[fe80::8c12:f8ff:febf:1397%66]:4242"
            ]
        );
        assert_eq!(board.json()["addresses"][2], "fe80::8c12:f8ff:febf:1397");
    }
}
