//! `piconet clients ADDR list | allow NAME|CERT --role R [--pins 2,3] |
//! revoke NAME`: a board's client list, changed by an admin over the
//! network; `piconet provision --allow/--revoke` makes the same changes
//! over the USB cable (the only way to give a board its first list).

use std::io::Write;
use std::path::Path;

use piconet_client::{read_certificates, Client, ClientEntry, Fingerprint, Role, MAX_CLIENTS};
use serde_json::Value;

use crate::cmd::identity::Store;
use crate::error::Failure;

/// One change to a board's list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Add a client, or replace the one with its name or certificate.
    Allow {
        /// An identity's name (`piconet identity list`), or a certificate
        /// file (PEM or DER) whose stem names the client.
        who: String,
        /// Its role.
        role: Role,
        /// The pins an operator may drive; `None`: all.
        pins: Option<Vec<u32>>,
    },
    /// Remove the client with this name.
    Revoke(String),
}

/// The client's name and its certificate's fingerprint.
fn resolve(store: &Store, who: &str) -> Result<(String, Fingerprint), Failure> {
    let path = Path::new(who);
    if path.is_file() {
        let certs = read_certificates(path)?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|n| piconet_client::protocol::action::clients::valid_name(n))
            .ok_or_else(|| {
                Failure::Usage(format!(
                    "{who}: the certificate file's name (without extension) names the client, and must be 1 to 32 of A-Z a-z 0-9 . _ -"
                ))
            })?;
        return Ok((
            name.to_owned(),
            Fingerprint::of_certificate(certs[0].as_ref()),
        ));
    }
    let id = store.get(who)?;
    Ok((who.to_owned(), id.fingerprint()?))
}

/// `list` with `change` applied: the new list to send.
pub fn changed(
    store: &Store,
    mut list: Vec<ClientEntry>,
    change: &Change,
) -> Result<Vec<ClientEntry>, Failure> {
    match change {
        Change::Allow { who, role, pins } => {
            if pins.is_some() && *role != Role::Operator {
                return Err(Failure::Usage(
                    "--pins limits an operator: a viewer drives no pin and an admin all".into(),
                ));
            }
            let (name, sha256) = resolve(store, who)?;
            list.retain(|c| c.name != name && c.sha256 != sha256);
            list.push(ClientEntry {
                name,
                sha256,
                role: *role,
                pins: pins.clone(),
            });
            if list.len() > MAX_CLIENTS {
                return Err(Failure::Usage(format!(
                    "a board's list holds at most {MAX_CLIENTS} clients: revoke one first"
                )));
            }
        }
        Change::Revoke(name) => {
            let before = list.len();
            list.retain(|c| c.name != *name);
            if list.len() == before {
                return Err(Failure::Usage(format!(
                    "the board has no client named {name:?} (piconet clients ADDR list shows them)"
                )));
            }
        }
    }
    Ok(list)
}

/// Apply `change` on the board `client` reaches; the list it stored.
pub async fn apply(
    client: &Client,
    store: &Store,
    change: &Change,
) -> Result<Vec<ClientEntry>, Failure> {
    let list = changed(store, client.get_clients().await?, change)?;
    Ok(client.set_clients(&list).await?)
}

/// The list as a table, or as the board's JSON.
pub fn print(list: &[ClientEntry], json: bool, out: &mut dyn Write) -> Result<(), Failure> {
    if json {
        let v: Vec<Value> = list.iter().map(ClientEntry::to_json).collect();
        writeln!(out, "{}", Value::from(v))?;
        return Ok(());
    }
    if list.is_empty() {
        writeln!(out, "no client list: the board authenticates no one")?;
        return Ok(());
    }
    for c in list {
        let pins = match &c.pins {
            None => "all pins".to_owned(),
            Some(p) => {
                let p: Vec<String> = p.iter().map(u32::to_string).collect();
                format!("pins {}", p.join(","))
            }
        };
        let pins = if c.role == Role::Operator {
            pins
        } else {
            String::new()
        };
        writeln!(
            out,
            "{:<32} {:<8} sha256 {} {pins}",
            c.name,
            c.role.as_str(),
            c.sha256
        )?;
    }
    Ok(())
}
