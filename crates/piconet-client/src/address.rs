//! `host[:port]` as people type it.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use crate::error::Error;

/// The port piconetcontrol has always listened on.
pub const DEFAULT_PORT: u16 = 12345;

/// A server's host and port, parsed from `host`, `host:port`, `[v6]` or `[v6]:port`.
///
/// A bare IPv6 address (`::1`) is also accepted and takes the default port.
/// Host names are kept lower-cased, so the known-hosts entry of `PICO.lan`
/// and `pico.lan` is the same one.
///
/// ```
/// use piconet_client::ServerAddr;
/// let a: ServerAddr = "[::1]:4000".parse().unwrap();
/// assert_eq!((a.host(), a.port()), ("::1", 4000));
/// assert_eq!(a.to_string(), "[::1]:4000");
/// assert_eq!("pico.lan".parse::<ServerAddr>().unwrap().port(), 12345);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerAddr {
    host: String,
    port: u16,
}

impl ServerAddr {
    /// A host name or IP literal (without brackets) and a port.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into().to_ascii_lowercase(),
            port,
        }
    }

    /// The host name or IP address, IPv6 without brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for ServerAddr {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::InvalidAddress {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let (host, port) = if let Some(rest) = input.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| bad("an opening '[' needs its ']'"))?;
            if host.parse::<Ipv6Addr>().is_err() {
                return Err(bad("only an IPv6 address goes between [ and ]"));
            }
            let port = match after {
                "" => None,
                _ => Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| bad("expected ':PORT' after ']'"))?,
                ),
            };
            (host, port)
        } else if input.parse::<Ipv6Addr>().is_ok() {
            (input, None)
        } else {
            match input.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (input, None),
            }
        };
        if host.is_empty() {
            return Err(bad("the host is empty"));
        }
        let ipv6 = host.parse::<Ipv6Addr>().is_ok();
        if !ipv6 && host.contains(|c: char| c.is_whitespace() || "/[]:".contains(c)) {
            return Err(bad("a host is a name or an IP address"));
        }
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(bad("the port must be a number from 1 to 65535")),
                Ok(p) => p,
            },
        };
        Ok(Self::new(host, port))
    }
}

/// Where a [`crate::Client`] reaches its server: the network, or a board's
/// USB serial port.
///
/// ```
/// use piconet_client::Endpoint;
/// let net = Endpoint::Tcp("pico.lan".parse().unwrap());
/// assert_eq!(net.to_string(), "pico.lan:12345");
/// let usb = Endpoint::Serial("/dev/ttyACM0".into());
/// assert_eq!(usb.to_string(), "/dev/ttyACM0");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// TCP, or TLS over TCP, to a host and port.
    Tcp(ServerAddr),
    /// A serial device such as `/dev/ttyACM0`: plaintext, one client at a time.
    Serial(std::path::PathBuf),
}

/// `host:port`, or the device path.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(addr) => addr.fmt(f),
            Endpoint::Serial(path) => path.display().fmt(f),
        }
    }
}

impl From<ServerAddr> for Endpoint {
    fn from(addr: ServerAddr) -> Self {
        Endpoint::Tcp(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<(String, u16), Error> {
        s.parse::<ServerAddr>().map(|a| (a.host, a.port))
    }

    #[test]
    fn host_alone_takes_the_default_port() {
        assert_eq!(parse("127.0.0.1").unwrap(), ("127.0.0.1".into(), 12345));
        assert_eq!(parse("Pico.LAN").unwrap(), ("pico.lan".into(), 12345));
    }

    #[test]
    fn host_and_port() {
        assert_eq!(parse("127.0.0.1:4000").unwrap(), ("127.0.0.1".into(), 4000));
        assert_eq!(parse("localhost:1").unwrap(), ("localhost".into(), 1));
    }

    #[test]
    fn ipv6_with_and_without_brackets() {
        assert_eq!(parse("[::1]:4000").unwrap(), ("::1".into(), 4000));
        assert_eq!(parse("[::1]").unwrap(), ("::1".into(), 12345));
        assert_eq!(parse("::1").unwrap(), ("::1".into(), 12345));
        assert_eq!(parse("fe80::1").unwrap(), ("fe80::1".into(), 12345));
    }

    #[test]
    fn display_round_trips() {
        for s in ["127.0.0.1:4000", "[::1]:4000", "pico.lan:12345"] {
            assert_eq!(s.parse::<ServerAddr>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn rejects_what_cannot_be_an_address() {
        for s in [
            "",
            ":4000",
            "host:",
            "host:0",
            "host:65536",
            "host:http",
            "[::1",
            "[::1]4000",
            "[pico]:4000",
            "a b:1",
            "a/b",
        ] {
            let err = parse(s).unwrap_err();
            assert!(
                matches!(err, Error::InvalidAddress { ref input, .. } if input == s),
                "{s:?} gave {err:?}"
            );
        }
    }
}
