//! The daemon's limits, each a flag with a default.

use std::time::Duration;

/// Bounds that protect the daemon and its other clients from one client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Simultaneous connections; one more is told so and closed.
    pub max_connections: usize,
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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 64,
            max_line: 64 * 1024,
            idle_timeout: Duration::from_secs(300),
            line_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}
