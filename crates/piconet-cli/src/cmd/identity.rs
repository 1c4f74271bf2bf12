//! `piconet identity new NAME` and `piconet identity list`: this
//! computer's client certificates, which `--identity NAME` presents to a
//! board that authenticates its clients (mutual TLS).
//!
//! Each identity is an EC P-256 key (`NAME.key`, mode 0600) and a
//! self-signed certificate (`NAME.crt`) in `identities/` next to the
//! known-hosts file. A board names a client by the SHA-256 of its
//! certificate's DER: the fingerprint `identity list` prints and
//! `piconet clients ADDR allow NAME` sends.

use std::io::Write;
use std::path::{Path, PathBuf};

use piconet_client::{Fingerprint, Identity, KnownHosts};
use serde_json::json;

use crate::args::ConnectionArgs;
use crate::error::Failure;

/// An identity's name and its fingerprint (or why it cannot be read).
pub type Listed = (String, Result<Fingerprint, String>);

/// The directory of identities.
pub struct Store {
    dir: PathBuf,
}

fn valid_name(name: &str) -> bool {
    piconet_client::protocol::action::clients::valid_name(name)
}

impl Store {
    /// `identities/` beside the known-hosts file the connection options name.
    pub fn of(conn: &ConnectionArgs) -> Result<Store, Failure> {
        let known_hosts = match &conn.known_hosts {
            Some(path) => path.clone(),
            None => KnownHosts::default_path()?,
        };
        let parent = known_hosts.parent().unwrap_or(Path::new("."));
        Ok(Store {
            dir: parent.join("identities"),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn files(&self, name: &str) -> Identity {
        Identity::new(
            self.dir.join(format!("{name}.crt")),
            self.dir.join(format!("{name}.key")),
        )
    }

    /// The identity called `name`, which must exist.
    pub fn get(&self, name: &str) -> Result<Identity, Failure> {
        let id = self.files(name);
        if !valid_name(name) || !id.cert.exists() || !id.key.exists() {
            return Err(Failure::Usage(format!(
                "no identity {name:?} in {}: make it with `piconet identity new {name}` (piconet identity list shows them)",
                self.dir.display()
            )));
        }
        Ok(id)
    }

    /// Make the identity `name`: a new key (mode 0600) and its
    /// self-signed certificate. An existing one is never overwritten.
    pub fn create(&self, name: &str) -> Result<(Identity, Fingerprint), Failure> {
        if !valid_name(name) {
            return Err(Failure::Usage(format!(
                "{name:?} is not a usable identity name: 1 to 32 of A-Z a-z 0-9 . _ - (it is also the client's name on the board)"
            )));
        }
        let id = self.files(name);
        if id.cert.exists() || id.key.exists() {
            return Err(Failure::Usage(format!(
                "the identity {name:?} exists already ({}): choose another name, or delete its two files first",
                id.cert.display()
            )));
        }
        let io = |e: std::io::Error, path: &Path| {
            Failure::Usage(format!("cannot write {}: {e}", path.display()))
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| io(e, &self.dir))?;
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| Failure::Usage(format!("cannot make a key: {e}")))?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())
            .map_err(|e| Failure::Usage(format!("cannot make a certificate: {e}")))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("piconet client {name}"));
        // A board checks the fingerprint, not dates: a long validity keeps
        // TLS libraries that do check them content.
        params.not_after = rcgen::date_time_ymd(2100, 1, 1);
        let cert = params
            .self_signed(&key)
            .map_err(|e| Failure::Usage(format!("cannot sign the certificate: {e}")))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&id.key).map_err(|e| io(e, &id.key))?;
        file.write_all(key.serialize_pem().as_bytes())
            .map_err(|e| io(e, &id.key))?;
        std::fs::write(&id.cert, cert.pem()).map_err(|e| io(e, &id.cert))?;
        let fingerprint = Fingerprint::of_certificate(cert.der());
        Ok((id, fingerprint))
    }

    /// Every identity, by name: its fingerprint (or why it cannot be read).
    pub fn list(&self) -> Result<Vec<Listed>, Failure> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Failure::Usage(format!(
                    "cannot read {}: {e}",
                    self.dir.display()
                )))
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".crt").map(str::to_owned)
            })
            .collect();
        names.sort();
        Ok(names
            .into_iter()
            .map(|name| {
                let fp = self.files(&name).fingerprint().map_err(|e| e.to_string());
                (name, fp)
            })
            .collect())
    }
}

/// `piconet identity new NAME`.
pub fn new(
    conn: &ConnectionArgs,
    name: &str,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let store = Store::of(conn)?;
    let (id, fingerprint) = store.create(name)?;
    if json {
        writeln!(
            out,
            "{}",
            json!({"name": name, "sha256": fingerprint.to_string(),
                   "cert": id.cert, "key": id.key})
        )?;
    } else {
        writeln!(out, "identity {name}: sha256 {fingerprint}")?;
        writeln!(out, "certificate {}", id.cert.display())?;
        writeln!(
            out,
            "key         {} (mode 0600: keep it on this computer)",
            id.key.display()
        )?;
        writeln!(
            out,
            "let a board know it: piconet provision --allow {name} --role viewer|operator|admin (over USB), or piconet clients ADDR allow {name} --role ... (as an admin)"
        )?;
    }
    Ok(())
}

/// `piconet identity list`.
pub fn list(conn: &ConnectionArgs, json: bool, out: &mut dyn Write) -> Result<(), Failure> {
    let store = Store::of(conn)?;
    let all = store.list()?;
    if json {
        let list: Vec<_> = all
            .iter()
            .map(|(name, fp)| match fp {
                Ok(fp) => json!({"name": name, "sha256": fp.to_string()}),
                Err(e) => json!({"name": name, "error": e}),
            })
            .collect();
        writeln!(out, "{}", serde_json::Value::from(list))?;
        return Ok(());
    }
    if all.is_empty() {
        writeln!(
            out,
            "no identity in {}: make one with piconet identity new NAME",
            store.dir().display()
        )?;
    }
    for (name, fp) in all {
        match fp {
            Ok(fp) => writeln!(out, "{name:<32} sha256 {fp}")?,
            Err(e) => writeln!(out, "{name:<32} unreadable: {e}")?,
        }
    }
    Ok(())
}
