//! Who sent a line: where it came from and which connection carried it.

use crate::clients::Fingerprint;
use crate::settings::Origin;

/// One connection, as the transport numbers them. The engine only compares
/// ids: a lease written with `"release_on_disconnect": true` remembers the
/// id of the connection that wrote it, and [`crate::Engine::disconnected`]
/// with that id reverts it. A transport must not reuse an id while a
/// connection that had it may still hold such a lease (a wrapping `u32`
/// counter is enough).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct ConnId(pub u32);

/// The sender of a command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Peer {
    /// Where the connection comes from (only [`Origin::Local`] may change
    /// the stored settings).
    pub origin: Origin,
    /// The connection itself.
    pub conn: ConnId,
    /// The client certificate the transport authenticated (mutual TLS),
    /// if any: the engine looks it up in its client list.
    pub client: Option<Fingerprint>,
}

impl Peer {
    /// A connection over TCP or TLS.
    pub const fn network(conn: ConnId) -> Self {
        Peer {
            origin: Origin::Network,
            conn,
            client: None,
        }
    }

    /// A TLS connection whose client presented the certificate with
    /// this fingerprint (the transport verified that it holds its key).
    pub const fn authenticated(conn: ConnId, client: Fingerprint) -> Self {
        Peer {
            origin: Origin::Network,
            conn,
            client: Some(client),
        }
    }

    /// A connection over the USB cable (or another wire only someone at
    /// the board can use).
    pub const fn local(conn: ConnId) -> Self {
        Peer {
            origin: Origin::Local,
            conn,
            client: None,
        }
    }
}
