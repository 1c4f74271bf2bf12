//! Client authentication: `set_clients`, `get_clients`, the roles and what
//! each action requires of its sender ([`Requires`], declared beside every
//! action in the `actions!` table).

use super::Command;
use crate::error::{require, ProtocolError};
use crate::json::{array_items, parse_object, scalar};
use crate::key::{Fields, Key};
use crate::update::Sha256Hex;

/// The most clients a list holds. A `set_clients` line with this many
/// (names of 32 characters, pins listed) stays under the Pico W's
/// 2,048-byte line limit.
pub const MAX_CLIENTS: usize = 8;

/// The longest client name, in bytes.
pub const MAX_CLIENT_NAME: usize = 32;

/// Pins a client's `pins` may name: 0 to this, exclusive (the engine's
/// pin table has as many).
pub const PIN_LIMIT: u32 = 64;

/// What a client may do, least to most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads: `ping`, `get_*`, `list_actions`, `read_*`, `watch_pin`,
    /// `unwatch_pin`.
    Viewer,
    /// A viewer that also sets up and drives its pins.
    Operator,
    /// Everything, including `reset`, `sleep`, `update_*`, `set_clients`.
    Admin,
}

impl Role {
    /// The role's wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// The role named `name`.
    pub fn from_name(name: &str) -> Option<Role> {
        match name {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// The pins an operator action acts on, as its fields name them (at most
/// two: `sda` and `scl`). An action whose pins its fields do not name
/// (an I2C transfer names its bus) has none: only an operator allowed
/// every pin may send it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinUse {
    pins: [u32; 2],
    len: u8,
}

impl PinUse {
    /// The pins in `pins` (at most two).
    pub const fn of(pins: &[u32]) -> PinUse {
        assert!(pins.len() <= 2, "an action names at most two pins");
        let mut out = PinUse {
            pins: [0; 2],
            len: pins.len() as u8,
        };
        let mut i = 0;
        while i < pins.len() {
            out.pins[i] = pins[i];
            i += 1;
        }
        out
    }

    /// The pins named.
    pub fn pins(&self) -> &[u32] {
        &self.pins[..self.len as usize]
    }

    /// True when the action's fields name no pin.
    pub const fn unnamed(&self) -> bool {
        self.len == 0
    }
}

/// What an action requires of an authenticated client's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requires {
    /// Any client.
    Viewer,
    /// An operator (or admin) allowed these pins; a lease another client
    /// holds on one of them refuses it too, unless the sender is an admin.
    Operator(PinUse),
    /// An admin.
    Admin,
}

impl Requires {
    /// The least role that may send the action.
    pub const fn role(self) -> Role {
        match self {
            Requires::Viewer => Role::Viewer,
            Requires::Operator(_) => Role::Operator,
            Requires::Admin => Role::Admin,
        }
    }
}

/// True for a usable client name: 1 to [`MAX_CLIENT_NAME`] of
/// `[A-Za-z0-9._-]` (never needs escaping, in JSON or in a message).
pub fn valid_name(name: &str) -> bool {
    (1..=MAX_CLIENT_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A client list as `set_clients` sent it, checked when parsed: at most
/// [`MAX_CLIENTS`] well-formed entries, names and fingerprints unique.
///
/// ```
/// use piconet_protocol::action::clients::Role;
/// use piconet_protocol::{parse, Command};
/// let line = format!(
///     r#"{{"action": "set_clients", "clients": [{{"name": "ha", "sha256": "{}", "role": "operator", "pins": [2, 3]}}]}}"#,
///     "ab".repeat(32)
/// );
/// let Command::SetClients(list) = parse(line.as_bytes()).unwrap().command else { panic!() };
/// let ha = list.iter().next().unwrap();
/// assert_eq!((ha.name, ha.role, ha.pins), ("ha", Role::Operator, Some(0b1100)));
/// assert_eq!(ha.sha256, [0xab; 32]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientList<'a> {
    raw: &'a [u8],
    len: u8,
}

/// One entry of a [`ClientList`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientEntry<'a> {
    /// The client's name (see [`valid_name`]).
    pub name: &'a str,
    /// SHA-256 of its certificate's DER.
    pub sha256: [u8; 32],
    /// Its role.
    pub role: Role,
    /// Bit `p` set: it may use pin `p`; `None`: every pin (operators
    /// only have a set).
    pub pins: Option<u64>,
}

impl<'a> ClientList<'a> {
    /// The entries, in the order sent.
    pub fn iter(&self) -> impl Iterator<Item = ClientEntry<'a>> + 'a {
        // Checked when parsed, so no entry fails here.
        array_items(self.raw)
            .into_iter()
            .flatten()
            .filter_map(|raw| entry(raw).ok())
    }

    /// How many entries; 0 clears the list.
    pub fn len(&self) -> usize {
        self.len.into()
    }

    /// True for `"clients": []`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

const CLIENTS: &str = "clients";
const SHAPE: &str = "a list of at most 8 objects {\"name\", \"sha256\", \"role\"[, \"pins\"]}";
const NAME: &str = "a list of clients whose names are 1 to 32 of A-Z a-z 0-9 . _ -, each name once";
const SHA256: &str =
    "a list of clients whose sha256 is the certificate's SHA-256 as 64 hex digits, each once";
const ROLE: &str = "a list of clients whose role is \"viewer\", \"operator\" or \"admin\"";
const PINS: &str =
    "a list of clients whose pins (operators only) are a non-empty list of GPIO numbers 0-63";

fn bad(expected: &'static str) -> ProtocolError<'static> {
    ProtocolError::BadValue {
        field: CLIENTS,
        expected,
    }
}

fn entry(raw: &[u8]) -> Result<ClientEntry<'_>, ProtocolError<'static>> {
    let (mut name, mut sha256, mut role, mut pins) = (None, None, None, None);
    let mut unknown = false;
    let mut key = [0u8; 8];
    parse_object(raw, |m| match m.decoded_key(&mut key) {
        Some(b"name") => name = Some(m.value),
        Some(b"sha256") => sha256 = Some(m.value),
        Some(b"role") => role = Some(m.value),
        Some(b"pins") => pins = Some(m.value),
        _ => unknown = true,
    })
    .map_err(|_| bad(SHAPE))?;
    if unknown {
        return Err(bad(SHAPE));
    }
    let (Some(name), Some(sha256), Some(role)) = (name, sha256, role) else {
        return Err(bad(SHAPE));
    };
    let name = scalar::plain_str(name)
        .filter(|n| valid_name(n))
        .ok_or(bad(NAME))?;
    let sha256 = scalar::raw_str(sha256)
        .and_then(Sha256Hex::parse)
        .ok_or(bad(SHA256))?
        .bytes();
    let role = scalar::plain_str(role)
        .and_then(Role::from_name)
        .ok_or(bad(ROLE))?;
    let pins = match pins {
        None | Some(b"null") => None,
        Some(_) if role != Role::Operator => return Err(bad(PINS)),
        Some(raw) => Some(pin_set(raw).ok_or(bad(PINS))?),
    };
    Ok(ClientEntry {
        name,
        sha256,
        role,
        pins,
    })
}

fn pin_set(raw: &[u8]) -> Option<u64> {
    let mut set = 0u64;
    for item in array_items(raw)? {
        let pin = scalar::integer(item)
            .and_then(|p| u32::try_from(p).ok())
            .filter(|&p| p < PIN_LIMIT)?;
        set |= 1 << pin;
    }
    (set != 0).then_some(set)
}

pub(crate) fn set_clients<'a>(f: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    require(&[(Key::Clients, f.get(Key::Clients))])?;
    let raw = f.get(Key::Clients).unwrap_or_default();
    let items = array_items(raw).ok_or(bad(SHAPE))?;
    let mut seen: [Option<ClientEntry<'a>>; MAX_CLIENTS] = [None; MAX_CLIENTS];
    let mut len = 0;
    for item in items {
        let e = entry(item)?;
        let slot = seen.get_mut(len).ok_or(bad(SHAPE))?;
        *slot = Some(e);
        len += 1;
        let earlier = seen[..len - 1].iter().flatten();
        for other in earlier {
            if other.name == e.name {
                return Err(bad(NAME));
            }
            if other.sha256 == e.sha256 {
                return Err(bad(SHA256));
            }
        }
    }
    Ok(Command::SetClients(ClientList {
        raw,
        len: len as u8,
    }))
}

pub(crate) fn get_clients<'a>(_: &Fields<'a>) -> Result<Command<'a>, ProtocolError<'a>> {
    Ok(Command::GetClients)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn set(clients: &str) -> Result<ClientList<'static>, ProtocolError<'static>> {
        let line = std::format!(r#"{{"action": "set_clients", "clients": {clients}}}"#).leak();
        match parse(line.as_bytes()) {
            Ok(req) => match req.command {
                Command::SetClients(list) => Ok(list),
                other => panic!("{other:?}"),
            },
            Err(rejected) => Err(rejected.error),
        }
    }

    fn hex(b: u8) -> std::string::String {
        std::format!("{b:02x}").repeat(32)
    }

    #[test]
    fn a_list_parses_in_order() {
        let list = set(&std::format!(
            r#"[{{"name": "laptop", "sha256": "{}", "role": "admin"}}, {{"name": "ha", "sha256": "{}", "role": "operator", "pins": [2, "3", 15]}}, {{"name": "v", "sha256": "{}", "role": "viewer", "pins": null}}]"#,
            hex(1),
            hex(2),
            hex(3)
        ))
        .unwrap();
        assert_eq!(list.len(), 3);
        let all: std::vec::Vec<_> = list.iter().collect();
        assert_eq!(all[0].name, "laptop");
        assert_eq!(all[0].role, Role::Admin);
        assert_eq!(all[1].pins, Some((1 << 2) | (1 << 3) | (1 << 15)));
        assert_eq!((all[2].role, all[2].pins), (Role::Viewer, None));
        assert!(set("[]").unwrap().is_empty());
    }

    #[test]
    fn bad_lists_are_refused_with_what_is_wrong() {
        let one = |name: &str, sha: &str, role: &str, extra: &str| {
            std::format!(r#"{{"name": "{name}", "sha256": "{sha}", "role": "{role}"{extra}}}"#)
        };
        let expect = |clients: std::string::String, expected: &str| {
            assert_eq!(
                set(&clients),
                Err(ProtocolError::BadValue {
                    field: "clients",
                    expected: match expected {
                        "shape" => SHAPE,
                        "name" => NAME,
                        "sha" => SHA256,
                        "role" => ROLE,
                        _ => PINS,
                    }
                }),
                "{clients}"
            );
        };
        let a = hex(1);
        expect("{}".into(), "shape");
        expect(
            std::format!("[{}]", one("a", &a, "admin", r#", "extra": 1"#)),
            "shape",
        );
        expect(r#"[{"name": "a", "role": "admin"}]"#.into(), "shape");
        expect(std::format!("[{}]", one("", &a, "admin", "")), "name");
        expect(std::format!("[{}]", one("a b", &a, "admin", "")), "name");
        expect(
            std::format!("[{}]", one(&"n".repeat(33), &a, "admin", "")),
            "name",
        );
        expect(std::format!("[{}]", one("a", "abc", "admin", "")), "sha");
        expect(std::format!("[{}]", one("a", &a, "root", "")), "role");
        expect(
            std::format!("[{}]", one("a", &a, "admin", r#", "pins": [2]"#)),
            "pins",
        );
        expect(
            std::format!("[{}]", one("a", &a, "operator", r#", "pins": []"#)),
            "pins",
        );
        expect(
            std::format!("[{}]", one("a", &a, "operator", r#", "pins": [64]"#)),
            "pins",
        );
        expect(
            std::format!("[{}]", one("a", &a, "operator", r#", "pins": [-1]"#)),
            "pins",
        );
        let two = |n2: &str, s2: &str| {
            std::format!(
                "[{}, {}]",
                one("a", &a, "admin", ""),
                one(n2, s2, "viewer", "")
            )
        };
        expect(two("a", &hex(2)), "name");
        expect(two("b", &a), "sha");
        let nine: std::vec::Vec<_> = (0..9u8)
            .map(|i| one(&std::format!("c{i}"), &hex(i), "admin", ""))
            .collect();
        expect(std::format!("[{}]", nine.join(", ")), "shape");
        let eight = &nine[..8];
        assert_eq!(
            set(&std::format!("[{}]", eight.join(", "))).unwrap().len(),
            8
        );
    }

    #[test]
    fn every_action_declares_what_it_requires() {
        let req = |line: &[u8]| parse(line).unwrap().command.requires();
        assert_eq!(req(br#"{"action": "ping"}"#), Requires::Viewer);
        assert_eq!(
            req(br#"{"action": "read_pin", "pin": 2}"#),
            Requires::Viewer
        );
        assert_eq!(
            req(br#"{"action": "write_pin", "pin": 2, "value": 1, "timeout": 1}"#),
            Requires::Operator(PinUse::of(&[2]))
        );
        assert_eq!(req(br#"{"action": "reset"}"#), Requires::Admin);
        assert_eq!(req(br#"{"action": "get_clients"}"#), Requires::Viewer);
        assert_eq!(PinUse::of(&[4, 5]).pins(), &[4, 5]);
        assert!(PinUse::of(&[]).unnamed());
    }
}
