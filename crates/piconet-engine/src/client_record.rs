//! The byte layout of the client list in the board's settings flash
//! (`piconet-config` keeps it as one item, power-fail safe).
//!
//! Version byte, client count, then per client a fixed 75 bytes: name
//! length, name (zero-padded to 32), SHA-256, role (0 viewer, 1 operator,
//! 2 admin), 1 if a pin set follows, the pin set (u64, little-endian).
//! Fixed-size entries keep decoding a bounds check per field; a later
//! firmware reads this one by its version byte.

use piconet_config::MAX_CLIENTS_RECORD;

use crate::clients::{
    Client, ClientName, Clients, Fingerprint, Role, MAX_CLIENTS, MAX_CLIENT_NAME,
};

const V1: u8 = 1;
const ENTRY: usize = 1 + MAX_CLIENT_NAME + 32 + 1 + 1 + 8;

// The config crate sizes the item for this layout.
const _: () = assert!(MAX_CLIENTS_RECORD == 2 + MAX_CLIENTS * ENTRY);

/// A stored client list that is not one this firmware wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Malformed;

fn role_code(role: Role) -> u8 {
    match role {
        Role::Viewer => 0,
        Role::Operator => 1,
        Role::Admin => 2,
    }
}

fn role_from(code: u8) -> Option<Role> {
    match code {
        0 => Some(Role::Viewer),
        1 => Some(Role::Operator),
        2 => Some(Role::Admin),
        _ => None,
    }
}

/// `clients` as stored; an empty list is an empty record (the store then
/// removes the item).
pub(crate) fn encode(clients: &Clients, out: &mut [u8; MAX_CLIENTS_RECORD]) -> usize {
    let list = clients.as_slice();
    if list.is_empty() {
        return 0;
    }
    out[0] = V1;
    out[1] = list.len() as u8;
    for (c, e) in list.iter().zip(out[2..].chunks_exact_mut(ENTRY)) {
        let name = c.name.as_str().as_bytes();
        e.fill(0);
        e[0] = name.len() as u8;
        e[1..1 + name.len()].copy_from_slice(name);
        let rest = &mut e[1 + MAX_CLIENT_NAME..];
        rest[..32].copy_from_slice(&c.sha256.0);
        rest[32] = role_code(c.role);
        if let Some(pins) = c.pins {
            rest[33] = 1;
            rest[34..42].copy_from_slice(&pins.to_le_bytes());
        }
    }
    2 + list.len() * ENTRY
}

/// The list `bytes` holds, checked as `set_clients` checks one.
pub(crate) fn decode(bytes: &[u8]) -> Result<Clients, Malformed> {
    let [V1, n, entries @ ..] = bytes else {
        return Err(Malformed);
    };
    let n = usize::from(*n);
    if n == 0 || n > MAX_CLIENTS || entries.len() != n * ENTRY {
        return Err(Malformed);
    }
    let mut list: heapless::Vec<Client, MAX_CLIENTS> = heapless::Vec::new();
    for e in entries.chunks_exact(ENTRY) {
        let len = usize::from(e[0]);
        let name = e
            .get(1..1 + len)
            .filter(|_| len <= MAX_CLIENT_NAME)
            .and_then(|b| core::str::from_utf8(b).ok())
            .and_then(ClientName::new)
            .ok_or(Malformed)?;
        let rest = &e[1 + MAX_CLIENT_NAME..];
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(&rest[..32]);
        let role = role_from(rest[32]).ok_or(Malformed)?;
        let pins = match rest[33] {
            0 => None,
            1 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&rest[34..42]);
                Some(u64::from_le_bytes(b))
            }
            _ => return Err(Malformed),
        };
        let client = Client {
            name,
            sha256: Fingerprint(sha256),
            role,
            pins,
        };
        list.push(client).map_err(|_| Malformed)?;
    }
    Clients::new(list).map_err(|_| Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> Clients {
        Clients::new([
            Client::new("laptop", [1; 32], Role::Admin, None).unwrap(),
            Client::new("ha", [2; 32], Role::Operator, Some(&[2, 3, 63])).unwrap(),
            Client::new(&"v".repeat(MAX_CLIENT_NAME), [3; 32], Role::Viewer, None).unwrap(),
        ])
        .unwrap()
    }

    #[test]
    fn a_list_round_trips() {
        let mut buf = [0u8; MAX_CLIENTS_RECORD];
        let n = encode(&list(), &mut buf);
        assert_eq!(n, 2 + 3 * ENTRY);
        let back = decode(&buf[..n]).unwrap();
        assert_eq!(back.as_slice(), list().as_slice());
    }

    #[test]
    fn a_full_list_fits_the_record() {
        let full = Clients::new((0..MAX_CLIENTS as u8).map(|i| {
            let name = format!("{}{i}", "c".repeat(MAX_CLIENT_NAME - 1));
            Client::new(&name, [i; 32], Role::Admin, None).unwrap()
        }))
        .unwrap();
        let mut buf = [0u8; MAX_CLIENTS_RECORD];
        assert_eq!(encode(&full, &mut buf), MAX_CLIENTS_RECORD);
        assert_eq!(decode(&buf).unwrap().as_slice(), full.as_slice());
    }

    #[test]
    fn the_empty_list_is_no_record() {
        let mut buf = [0u8; MAX_CLIENTS_RECORD];
        assert_eq!(encode(&Clients::default(), &mut buf), 0);
    }

    #[test]
    fn garbage_is_refused() {
        let mut buf = [0u8; MAX_CLIENTS_RECORD];
        let n = encode(&list(), &mut buf);
        let good = buf[..n].to_vec();
        let bad = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut b = good.clone();
            f(&mut b);
            decode(&b)
        };
        assert_eq!(decode(&[]), Err(Malformed));
        assert_eq!(bad(&|b| b[0] = 2), Err(Malformed), "unknown version");
        assert_eq!(
            bad(&|b| b[1] = 4),
            Err(Malformed),
            "count and length disagree"
        );
        assert_eq!(bad(&|b| b.truncate(n - 1)), Err(Malformed));
        assert_eq!(bad(&|b| b[2] = 33), Err(Malformed), "name too long");
        assert_eq!(bad(&|b| b[3] = b' '), Err(Malformed), "bad name");
        assert_eq!(bad(&|b| b[2 + 33 + 32] = 3), Err(Malformed), "bad role");
        assert_eq!(bad(&|b| b[2 + 33 + 33] = 2), Err(Malformed), "bad pin flag");
        // The only admin demoted: not a list set_clients would take.
        assert_eq!(bad(&|b| b[2 + 33 + 32] = 0), Err(Malformed));
    }
}
