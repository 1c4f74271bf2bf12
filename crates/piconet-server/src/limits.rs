//! The daemon's limits, each a flag with a default.

use std::time::Duration;

/// Bounds that protect the daemon and its other clients from one client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Simultaneous connections. When all are taken, the one idle the
    /// longest (at least `evictable_after`) is closed for a newcomer;
    /// if none is, the newcomer is told so and closed.
    pub max_connections: usize,
    /// Connections one address (an IPv6 /64) may hold; over it, its own
    /// longest-idle one makes way, or the newcomer is refused.
    pub max_connections_per_address: usize,
    /// TLS handshakes in progress at once. A connection takes a slot
    /// only once its handshake is done; when this is full the oldest
    /// pending handshake (at least `evictable_after` old) is dropped.
    pub max_handshakes: usize,
    /// TLS handshakes in progress from one address; more are closed
    /// at once, before any handshake work.
    pub max_handshakes_per_address: usize,
    /// A connection idle (or a handshake pending) this long may be
    /// closed to make room for a newcomer.
    pub evictable_after: Duration,
    /// Longest command line in bytes; a longer one gets one error and is
    /// skipped, the connection stays usable.
    pub max_line: usize,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// A command line must be complete this long after its first byte
    /// arrived, so a client trickling bytes (slowloris) cannot hold a
    /// connection slot for ever.
    pub line_timeout: Duration,
    /// A TLS handshake that takes longer than this is abandoned.
    pub handshake_timeout: Duration,
    /// A connection whose client accepts none of its waiting replies for
    /// this long is closed (a client that sends and never reads).
    pub write_timeout: Duration,
    /// Reply bytes that may wait unsent per connection; over it no more
    /// commands are read from that connection until its client reads.
    pub max_output: usize,
}

impl Limits {
    /// The limits each connection's session enforces.
    pub(crate) fn session(&self) -> piconet_engine::session::Limits {
        piconet_engine::session::Limits {
            idle_timeout: self.idle_timeout,
            line_timeout: self.line_timeout,
            write_timeout: self.write_timeout,
            max_output: self.max_output,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 64,
            max_connections_per_address: 32,
            max_handshakes: 128,
            max_handshakes_per_address: 64,
            evictable_after: Duration::from_secs(1),
            max_line: 64 * 1024,
            idle_timeout: Duration::from_secs(300),
            line_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(30),
            max_output: 64 * 1024,
        }
    }
}
