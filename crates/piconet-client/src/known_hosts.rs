//! Trust on first use, as SSH's `known_hosts`: one `host:port sha256-hex` line
//! per server whose certificate was accepted once.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::error::Error;

/// Overrides the default known-hosts path (tests, several identities, CI).
pub const KNOWN_HOSTS_ENV: &str = "PICONET_KNOWN_HOSTS";

/// The SHA-256 of a certificate's DER bytes, the same number
/// `openssl x509 -noout -fingerprint -sha256` prints.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_certificate(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// 64 lower-case hex digits.
impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// 64 hex digits; `:` separators (as openssl prints them) are ignored.
impl FromStr for Fingerprint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let digits: Vec<u8> = s.bytes().filter(|&b| b != b':').collect();
        if digits.len() != 64 {
            return Err(format!(
                "a SHA-256 fingerprint has 64 hex digits, not {}",
                digits.len()
            ));
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(digits.chunks(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| "not hex".to_owned())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| format!("{pair:?} is not hex"))?;
        }
        Ok(Self(out))
    }
}

/// A pinned fingerprint and where it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownHost {
    /// The pinned fingerprint.
    pub fingerprint: Fingerprint,
    /// Its 1-based line in the file, to name in "delete this line".
    pub line: usize,
}

/// A known-hosts file. It need not exist yet: the first pin creates it.
///
/// ```no_run
/// use piconet_client::{Fingerprint, KnownHosts};
/// let store = KnownHosts::new(KnownHosts::default_path()?);
/// if let Some(known) = store.lookup("pico.lan:12345")? {
///     println!("pinned on line {}: {}", known.line, known.fingerprint);
/// }
/// # Ok::<(), piconet_client::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownHosts {
    path: PathBuf,
}

impl KnownHosts {
    /// The store in `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// `$PICONET_KNOWN_HOSTS` if set, else `known_hosts` in the user's
    /// configuration directory (`~/.config/piconet/known_hosts` on Linux).
    pub fn default_path() -> Result<PathBuf, Error> {
        if let Some(path) = std::env::var_os(KNOWN_HOSTS_ENV).filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(path));
        }
        directories::ProjectDirs::from("", "", "piconet")
            .map(|dirs| dirs.config_dir().join("known_hosts"))
            .ok_or(Error::NoConfigDir)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The first pin for `host` (as `host:port`, the form [`crate::ServerAddr`]
    /// displays). A line naming a host without a port pins it on the default
    /// port, 12345.
    ///
    /// Every line is checked, not only the host's: a damaged file must not
    /// quietly turn a pinned server back into a first use.
    pub fn lookup(&self, host: &str) -> Result<Option<KnownHost>, Error> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(self.io_error(source)),
        };
        let mut found = None;
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let syntax = |reason: String| Error::KnownHostsSyntax {
                path: self.path.clone(),
                line: line_no,
                reason,
            };
            let mut words = line.split_whitespace();
            let (Some(name), Some(hex), None) = (words.next(), words.next(), words.next()) else {
                return Err(syntax("expected two words".into()));
            };
            let fingerprint = hex.parse::<Fingerprint>().map_err(syntax)?;
            // A hand-written `HOST` without a port means the default port,
            // as on the command line; it must not be skipped and a second
            // pin appended.
            let name = name
                .parse::<crate::ServerAddr>()
                .map_err(|e| syntax(format!("{name:?} is not HOST[:PORT] ({e})")))?;
            if found.is_none() && name.to_string().eq_ignore_ascii_case(host) {
                found = Some(KnownHost {
                    fingerprint,
                    line: line_no,
                });
            }
        }
        Ok(found)
    }

    /// Appends a pin, creating the file and its directory if needed.
    pub fn add(&self, host: &str, fingerprint: &Fingerprint) -> Result<(), Error> {
        self.append(format!("{host} {fingerprint}\n"))
            .map_err(|source| self.io_error(source))
    }

    fn append(&self, line: String) -> io::Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        // A hand-edited file may lack its last newline; never glue two entries together.
        let needs_newline = match fs::read(&self.path) {
            Ok(bytes) => bytes.last().is_some_and(|&b| b != b'\n'),
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(e),
        };
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        if needs_newline {
            file.write_all(b"\n")?;
        }
        file.write_all(line.as_bytes())
    }

    fn io_error(&self, source: io::Error) -> Error {
        Error::KnownHostsIo {
            path: self.path.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(byte: u8) -> Fingerprint {
        Fingerprint([byte; 32])
    }

    #[test]
    fn fingerprint_text_round_trips_and_accepts_openssl_colons() {
        let f = Fingerprint::of_certificate(b"not really a certificate");
        assert_eq!(f.to_string().len(), 64);
        assert_eq!(f.to_string().parse::<Fingerprint>().unwrap(), f);
        let colons = f
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(colons.parse::<Fingerprint>().unwrap(), f);
        assert!("abcd".parse::<Fingerprint>().is_err());
        assert!("zz".repeat(32).parse::<Fingerprint>().is_err());
    }

    #[test]
    fn pins_are_added_then_found_on_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let store = KnownHosts::new(dir.path().join("sub/dir/known_hosts"));
        assert_eq!(store.lookup("a:1").unwrap(), None);
        store.add("a:1", &fp(1)).unwrap();
        store.add("[::1]:2", &fp(2)).unwrap();
        assert_eq!(
            store.lookup("a:1").unwrap(),
            Some(KnownHost {
                fingerprint: fp(1),
                line: 1
            })
        );
        assert_eq!(
            store.lookup("[::1]:2").unwrap(),
            Some(KnownHost {
                fingerprint: fp(2),
                line: 2
            })
        );
        assert_eq!(store.lookup("a:2").unwrap(), None);
    }

    #[test]
    fn a_line_without_a_port_pins_the_default_port() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        fs::write(&path, format!("pico.lan {}\n[fe80::1] {}\n", fp(3), fp(4))).unwrap();
        let store = KnownHosts::new(&path);
        assert_eq!(store.lookup("pico.lan:12345").unwrap().unwrap().line, 1);
        assert_eq!(store.lookup("[fe80::1]:12345").unwrap().unwrap().line, 2);
        assert_eq!(store.lookup("pico.lan:80").unwrap(), None);
        fs::write(&path, format!("pico.lan:notaport {}\n", fp(3))).unwrap();
        let e = store.lookup("pico.lan:12345").unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("HOST[:PORT]"), "{e}");
    }

    #[test]
    fn comments_blank_lines_and_a_missing_final_newline_are_handled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        fs::write(&path, format!("# mine\n\nx:1 {}", fp(7))).unwrap();
        let store = KnownHosts::new(&path);
        store.add("y:1", &fp(8)).unwrap();
        assert_eq!(store.lookup("x:1").unwrap().unwrap().line, 3);
        assert_eq!(store.lookup("y:1").unwrap().unwrap().line, 4);
    }

    #[test]
    fn a_damaged_line_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        fs::write(&path, format!("x:1 {}\ny:1 nothex\n", fp(7))).unwrap();
        let err = KnownHosts::new(&path).lookup("x:1").unwrap_err();
        assert!(
            matches!(err, Error::KnownHostsSyntax { line: 2, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
