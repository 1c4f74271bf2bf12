//! Finding boards on the local network: mDNS/DNS-SD browsing for
//! `_piconet._tcp`, as piconetd and the firmware announce themselves
//! (PROTOCOL-NEXT.md, "Discovery").

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use mdns_sd::{ServiceDaemon, ServiceEvent};
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
    /// Its addresses, sorted.
    pub addresses: Vec<IpAddr>,
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
                let txt = |k: &str| s.get_property_val_str(k).unwrap_or_default().to_owned();
                // A board's addresses may come in several answers (one per
                // interface): each resolution adds to those already seen.
                let mut addresses: Vec<IpAddr> =
                    s.addresses.iter().map(|a| a.to_ip_addr()).collect();
                if let Some(before) = found.get(&name) {
                    let before: &Found = before;
                    addresses.extend(before.addresses.iter().copied());
                }
                addresses.sort();
                addresses.dedup();
                found.insert(
                    name.clone(),
                    Found {
                        name,
                        host: s.host.clone(),
                        addresses,
                        port: s.port,
                        api: txt("api"),
                        fw: txt("fw"),
                        id: txt("id"),
                        tls: txt("tls"),
                        auth: txt("auth"),
                    },
                );
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
                // IPv6 link-local addresses need their interface to be
                // reached: only addresses a plain connect can use count.
                let mut addresses: Vec<IpAddr> = s
                    .addresses
                    .iter()
                    .map(|a| a.to_ip_addr())
                    .filter(|ip| match ip {
                        IpAddr::V4(_) => true,
                        IpAddr::V6(v6) => !v6.is_unicast_link_local(),
                    })
                    .collect();
                if s.fullname.eq_ignore_ascii_case(&wanted) && !addresses.is_empty() {
                    let txt = |k: &str| s.get_property_val_str(k).unwrap_or_default().to_owned();
                    addresses.sort();
                    return Some(Found {
                        name: name.to_owned(),
                        host: s.host.clone(),
                        addresses,
                        port: s.port,
                        api: txt("api"),
                        fw: txt("fw"),
                        id: txt("id"),
                        tls: txt("tls"),
                        auth: txt("auth"),
                    });
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
}
