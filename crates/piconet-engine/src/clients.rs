//! Client authentication: the board's client list and the one check every
//! command passes when a list is set (role, pins, other clients' leases).
//!
//! The transport authenticates (mutual TLS: piconetd's verifier, later the
//! firmware's) and hands the engine the SHA-256 of the client
//! certificate's DER in [`crate::Peer::client`]; the engine decides what
//! that client may do. A board without a list authenticates no one and
//! allows everything, as before.

use piconet_protocol::action::clients::{valid_name, ClientEntry, PinUse, Requires, PIN_LIMIT};
pub use piconet_protocol::action::clients::{Role, MAX_CLIENTS, MAX_CLIENT_NAME};
use piconet_protocol::response::{Message, MessageWriter};
use piconet_protocol::sink::Full;
use piconet_protocol::ErrorClass;

use crate::board::Board;
use crate::engine::Engine;
use crate::pins::Slot;
use crate::settings::Origin;
use crate::time::Instant;

/// The SHA-256 of a client certificate's DER: how the list names a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint as 64 lower-case hex digits.
    pub fn hex(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        piconet_protocol::update::write_hex(&self.0, &mut out);
        out
    }
}

/// A client's name, 1 to [`MAX_CLIENT_NAME`] of `[A-Za-z0-9._-]`, kept by
/// value so errors can carry it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ClientName {
    bytes: [u8; MAX_CLIENT_NAME],
    len: u8,
}

impl ClientName {
    /// The name, if it is a valid one.
    pub fn new(name: &str) -> Option<ClientName> {
        if !valid_name(name) {
            return None;
        }
        let mut bytes = [0u8; MAX_CLIENT_NAME];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Some(ClientName {
            bytes,
            len: name.len() as u8,
        })
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // Built from a valid (ASCII) name only.
        core::str::from_utf8(&self.bytes[..self.len.into()]).unwrap_or_default()
    }
}

impl core::fmt::Debug for ClientName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// One client the board knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Client {
    /// How errors and `held_by` name it.
    pub name: ClientName,
    /// Its certificate's fingerprint.
    pub sha256: Fingerprint,
    /// What it may do.
    pub role: Role,
    /// Bit `p` set: it may set up and drive pin `p`; `None`: every pin.
    /// Operators only have a set.
    pub pins: Option<u64>,
}

/// Why a client list cannot be stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientsError {
    /// More than [`MAX_CLIENTS`].
    TooMany,
    /// A name that is not 1 to 32 of `[A-Za-z0-9._-]`.
    BadName,
    /// Two entries with the same name.
    DuplicateName(ClientName),
    /// Two entries with the same certificate.
    DuplicateCertificate(ClientName),
    /// `pins` on a viewer or an admin, an empty set, or a pin over 63.
    BadPins(ClientName),
    /// A list without an admin (only the empty list, which turns
    /// authentication off, may have none).
    NoAdmin,
}

impl core::fmt::Display for ClientsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientsError::TooMany => write!(f, "a client list holds at most {MAX_CLIENTS} clients"),
            ClientsError::BadName => {
                write!(f, "a client name is 1 to {MAX_CLIENT_NAME} of A-Z a-z 0-9 . _ -")
            }
            ClientsError::DuplicateName(n) => write!(f, "the name {} is given twice", n.as_str()),
            ClientsError::DuplicateCertificate(n) => write!(
                f,
                "{} has the same certificate as an earlier client: each certificate names one client",
                n.as_str()
            ),
            ClientsError::BadPins(n) => write!(
                f,
                "{}: pins apply to operators only, as a non-empty list of GPIO numbers 0-63",
                n.as_str()
            ),
            ClientsError::NoAdmin => f.write_str(
                "the client list must keep at least one admin (an empty list turns client authentication off)",
            ),
        }
    }
}

impl core::error::Error for ClientsError {}

impl Message for ClientsError {
    fn class(&self) -> ErrorClass {
        ErrorClass::ValueError
    }

    fn write(&self, m: &mut MessageWriter<'_>) -> Result<(), Full> {
        let mut text: heapless::String<160> = heapless::String::new();
        let _ = core::fmt::write(&mut text, format_args!("{self}"));
        m.text(&text)
    }
}

impl Client {
    /// A client from its parts; `pins` lists the GPIOs an operator may
    /// use (`None`: all).
    pub fn new(
        name: &str,
        sha256: [u8; 32],
        role: Role,
        pins: Option<&[u32]>,
    ) -> Result<Client, ClientsError> {
        let name = ClientName::new(name).ok_or(ClientsError::BadName)?;
        let pins = match pins {
            None => None,
            Some(list) => {
                let mut set = 0u64;
                for &p in list {
                    if p >= PIN_LIMIT {
                        return Err(ClientsError::BadPins(name));
                    }
                    set |= 1 << p;
                }
                Some(set)
            }
        };
        let client = Client {
            name,
            sha256: Fingerprint(sha256),
            role,
            pins,
        };
        client.check()?;
        Ok(client)
    }

    fn check(&self) -> Result<(), ClientsError> {
        match self.pins {
            Some(0) => Err(ClientsError::BadPins(self.name)),
            Some(_) if self.role != Role::Operator => Err(ClientsError::BadPins(self.name)),
            _ => Ok(()),
        }
    }

    /// The pins it may use, ascending (`None`: all).
    pub fn pin_list(&self) -> Option<impl Iterator<Item = u32>> {
        let mut bits = self.pins?;
        Some(core::iter::from_fn(move || {
            (bits != 0).then(|| {
                let p = bits.trailing_zeros();
                bits &= bits - 1;
                p
            })
        }))
    }

    fn may_use(&self, pin: u32) -> bool {
        match self.pins {
            None => true,
            Some(set) => pin < PIN_LIMIT && set & (1 << pin) != 0,
        }
    }
}

impl<'a> TryFrom<ClientEntry<'a>> for Client {
    type Error = ClientsError;

    fn try_from(e: ClientEntry<'a>) -> Result<Client, ClientsError> {
        let name = ClientName::new(e.name).ok_or(ClientsError::BadName)?;
        let client = Client {
            name,
            sha256: Fingerprint(e.sha256),
            role: e.role,
            pins: e.pins,
        };
        client.check()?;
        Ok(client)
    }
}

/// The board's client list: empty means no client authentication.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Clients {
    list: heapless::Vec<Client, MAX_CLIENTS>,
}

impl Clients {
    /// A checked list: at most [`MAX_CLIENTS`], names and certificates
    /// unique, at least one admin unless empty.
    pub fn new(clients: impl IntoIterator<Item = Client>) -> Result<Clients, ClientsError> {
        let mut list = heapless::Vec::new();
        for c in clients {
            c.check()?;
            for other in &list {
                let other: &Client = other;
                if other.name == c.name {
                    return Err(ClientsError::DuplicateName(c.name));
                }
                if other.sha256 == c.sha256 {
                    return Err(ClientsError::DuplicateCertificate(c.name));
                }
            }
            list.push(c).map_err(|_| ClientsError::TooMany)?;
        }
        if !list.is_empty() && !list.iter().any(|c| c.role == Role::Admin) {
            return Err(ClientsError::NoAdmin);
        }
        Ok(Clients { list })
    }

    /// The clients, in the order given.
    pub fn as_slice(&self) -> &[Client] {
        &self.list
    }

    /// True when no list is set (no client authentication).
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The index of the client with this certificate.
    pub fn find(&self, sha256: &Fingerprint) -> Option<usize> {
        self.list.iter().position(|c| c.sha256 == *sha256)
    }

    /// True when a client with this certificate is in the list.
    pub fn contains(&self, sha256: &Fingerprint) -> bool {
        self.find(sha256).is_some()
    }

    pub(crate) fn get(&self, index: u8) -> Option<&Client> {
        self.list.get(usize::from(index))
    }
}

/// Why a command from an authenticated board's client was refused
/// (`PermissionError`). Nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Denied {
    /// A network connection without a client certificate.
    NoCertificate,
    /// `set_clients` from the network on a board without a list.
    ListFromNetwork,
    /// A certificate no longer in the list.
    Revoked,
    /// The client's role is below what the action needs.
    Role {
        name: ClientName,
        role: Role,
        action: &'static str,
        needs: Role,
    },
    /// An operator action on a pin the client may not use.
    Pin {
        name: ClientName,
        action: &'static str,
        pin: u32,
    },
    /// An operator action whose pins its fields do not name, from an
    /// operator limited to some pins.
    AllPins {
        name: ClientName,
        action: &'static str,
    },
    /// Another client's lease runs on the pin.
    Held {
        pin: u32,
        holder: ClientName,
        remaining_ms: u64,
    },
}

impl Message for Denied {
    fn class(&self) -> ErrorClass {
        ErrorClass::PermissionError
    }

    fn write(&self, m: &mut MessageWriter<'_>) -> Result<(), Full> {
        match *self {
            Denied::NoCertificate => m.text(
                "this board has a client list: connect over TLS with a client certificate it knows (piconet --identity NAME)",
            ),
            Denied::ListFromNetwork => m.text(
                "a board without a client list takes one only over the USB cable: run `piconet provision --allow NAME --role admin` on a computer connected to it",
            ),
            Denied::Revoked => m.text(
                "this connection's client certificate is no longer in the board's client list: ask an admin to allow it again",
            ),
            Denied::Role {
                name,
                role,
                action,
                needs,
            } => {
                m.text(name.as_str())?;
                m.text(" is ")?;
                m.text(if role == Role::Viewer { "a " } else { "an " })?;
                m.text(role.as_str())?;
                m.text(": ")?;
                m.text(action)?;
                m.text(" needs the ")?;
                m.text(needs.as_str())?;
                m.text(" role")
            }
            Denied::Pin { name, action, pin } => {
                m.text(name.as_str())?;
                m.text(" may not use pin ")?;
                m.uint(pin.into())?;
                m.text(" (")?;
                m.text(action)?;
                m.text("): ask an admin to add it to its pins")
            }
            Denied::AllPins { name, action } => {
                m.text(name.as_str())?;
                m.text(" is limited to some pins, and ")?;
                m.text(action)?;
                m.text(" needs an operator allowed every pin")
            }
            Denied::Held {
                pin,
                holder,
                remaining_ms,
            } => {
                // Tenths of a second, rounded up so a running lease never
                // reads as 0.0.
                let tenths = remaining_ms.div_ceil(100);
                m.text("pin ")?;
                m.uint(pin.into())?;
                m.text(" is held by ")?;
                m.text(holder.as_str())?;
                m.text(" for ")?;
                m.uint(tenths / 10)?;
                m.text(".")?;
                m.uint(tenths % 10)?;
                m.text(" s more")
            }
        }
    }
}

impl<B: Board> Engine<B> {
    /// The client list (empty: no client authentication).
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// Replace the client list (piconetd's `--clients` file, a firmware's
    /// stored list). A running lease keeps its owner if the new list
    /// still has that client's certificate; one whose owner left is
    /// nobody's. The list is checked by [`Clients::new`].
    pub fn set_clients(&mut self, clients: Clients) {
        let old = core::mem::replace(&mut self.clients, clients);
        let new = &self.clients;
        self.pins.remap_owners(|index| {
            let sha = old.get(index)?.sha256;
            new.find(&sha).map(|i| i as u8)
        });
        self.client = None;
    }

    /// The check every command passes while a list is set: a line from
    /// the USB cable may do anything, a network line needs a listed
    /// certificate whose role (and pins) allow the action, and no other
    /// client's lease on the pins it acts on (unless it is an admin).
    /// Notes the sender as the owner of the leases the command writes.
    #[inline(never)]
    pub(crate) fn authorize(
        &mut self,
        now: Instant,
        requires: Requires,
        action: &'static str,
    ) -> Result<(), Denied> {
        self.client = None;
        if self.peer.origin == Origin::Local {
            return Ok(());
        }
        let fingerprint = self.peer.client.ok_or(Denied::NoCertificate)?;
        let index = self.clients.find(&fingerprint).ok_or(Denied::Revoked)? as u8;
        let me = *self.clients.get(index).ok_or(Denied::Revoked)?;
        let needs = requires.role();
        if me.role < needs {
            return Err(Denied::Role {
                name: me.name,
                role: me.role,
                action,
                needs,
            });
        }
        self.client = Some(index);
        if let Requires::Operator(pins) = requires {
            if me.role != Role::Admin {
                self.check_pins(now, &me, index, pins, action)?;
            }
        }
        Ok(())
    }

    fn check_pins(
        &self,
        now: Instant,
        me: &Client,
        index: u8,
        pins: PinUse,
        action: &'static str,
    ) -> Result<(), Denied> {
        if pins.unnamed() && me.pins.is_some() {
            return Err(Denied::AllPins {
                name: me.name,
                action,
            });
        }
        for &pin in pins.pins() {
            if !me.may_use(pin) {
                return Err(Denied::Pin {
                    name: me.name,
                    action,
                    pin,
                });
            }
            if pin as usize >= crate::MAX_PINS {
                continue;
            }
            if let Slot::Output { lease: Some(l), .. } | Slot::Pwm { lease: Some(l), .. } =
                self.pins.get(pin)
            {
                let holder = l.owner.filter(|&o| o != index);
                if let Some(holder) = holder.and_then(|o| self.clients.get(o)) {
                    return Err(Denied::Held {
                        pin,
                        holder: holder.name,
                        remaining_ms: crate::action::remaining_ms(l.deadline, now),
                    });
                }
            }
        }
        Ok(())
    }
}
