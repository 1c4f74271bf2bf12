//! `piconet firmware keygen|sign`: the signing key stays with the user,
//! its public half is built into the firmware.
//!
//! Key file: the 32-byte ed25519 secret seed as 64 hex digits and a
//! newline, mode 0600. Signature file (`IMAGE.sig`), JSON:
//! `{"format": "piconet-firmware-signature/1", "size": N, "sha256": HEX,
//! "signature": HEX, "version": V}` where `signature` is ed25519 over the
//! SHA-512 digest of the image: what embassy-boot's
//! `verify_and_mark_updated` checks on the board.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer, SigningKey};
use piconet_client::protocol::update::MAX_VERSION_LEN;
use serde_json::{json, Value};
use sha2::{Digest, Sha256, Sha512};

use crate::exit;

/// The `format` of signature files this version writes and reads.
pub const SIG_FORMAT: &str = "piconet-firmware-signature/1";

/// A `firmware` failure, phrased for the user.
#[derive(Debug, thiserror::Error)]
pub enum FirmwareError {
    /// A file could not be read, created or written.
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        /// What was being done ("read the key file").
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `keygen --out` names a file that exists: keys are never overwritten.
    #[error("{} exists already: a key is never overwritten (choose another --out, or delete it if it is no longer needed)", .0.display())]
    KeyExists(PathBuf),
    /// The key file does not hold a key.
    #[error("{} is not a piconet key file: expected 64 hex digits (make one with piconet firmware keygen)", .0.display())]
    NotAKey(PathBuf),
    /// The signature file is not one.
    #[error("{} is not a piconet signature file ({why}); make one with piconet firmware sign", path.display())]
    NotASignature {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The signature file is for another image (the image changed since).
    #[error("{} was made for another image ({size} bytes, SHA-256 {sha256}): sign this image again", path.display())]
    StaleSignature {
        /// The signature file.
        path: PathBuf,
        /// The size it names.
        size: u64,
        /// The SHA-256 it names.
        sha256: String,
    },
    /// `--version` is not a version the board accepts.
    #[error(
        "version {0:?} must be 1 to {MAX_VERSION_LEN} printable ASCII characters without spaces"
    )]
    BadVersion(String),
    /// `--version` is not the version the image carries.
    #[error("--version {given} does not match the version built into {}: {embedded} (the board would report {embedded} after the update, and piconet update would fail); sign with --version {embedded} or leave --version out", image.display())]
    VersionMismatch {
        /// The image.
        image: PathBuf,
        /// What `--version` said.
        given: String,
        /// What the image says.
        embedded: String,
    },
}

impl FirmwareError {
    /// The exit code: a bad `--version` is a usage error, the rest are local files (7).
    pub fn code(&self) -> u8 {
        match self {
            FirmwareError::BadVersion(_) | FirmwareError::VersionMismatch { .. } => exit::USAGE,
            _ => exit::LOCAL_FILE,
        }
    }
}

fn io_error(what: &'static str, path: &Path, source: std::io::Error) -> FirmwareError {
    FirmwareError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

pub use piconet_client::hex;

/// Bytes from hex digits, exactly `N` of them.
pub fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let text = text.trim();
    if text.len() != 2 * N || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

/// What `keygen` made.
#[derive(Debug)]
pub struct Keygen {
    /// The secret key file.
    pub key_file: PathBuf,
    /// The public key.
    pub public: [u8; 32],
}

impl Keygen {
    /// For `--json`.
    pub fn json(&self) -> Value {
        json!({
            "key_file": self.key_file,
            "public_key": hex(&self.public),
            "firmware_build": format!("{UPDATE_KEY_ENV}={}", hex(&self.public)),
            "piconetd": format!("--update-public-key {}", hex(&self.public)),
        })
    }
}

/// How the firmware build takes the public key (firmware/app/build.rs).
pub const UPDATE_KEY_ENV: &str = "PICONET_UPDATE_PUBLIC_KEY";

impl std::fmt::Display for Keygen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let public = hex(&self.public);
        writeln!(
            f,
            "secret key written to {} (keep it private)",
            self.key_file.display()
        )?;
        writeln!(f, "public key: {public}")?;
        writeln!(
            f,
            "for the firmware build: {UPDATE_KEY_ENV}={public} firmware/build.sh"
        )?;
        writeln!(f, "for piconetd --board sim: --update-public-key {public}")
    }
}

/// Make a key pair and write the secret to `out` (mode 0600, never over an
/// existing file).
pub fn keygen(out: &Path) -> Result<Keygen, FirmwareError> {
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(out).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => FirmwareError::KeyExists(out.to_owned()),
        _ => io_error("create the key file", out, e),
    })?;
    writeln!(file, "{}", hex(&key.to_bytes()))
        .map_err(|e| io_error("write the key file", out, e))?;
    Ok(Keygen {
        key_file: out.to_owned(),
        public: key.verifying_key().to_bytes(),
    })
}

/// Read a key file written by [`keygen`].
pub fn read_key(path: &Path) -> Result<SigningKey, FirmwareError> {
    let text = std::fs::read_to_string(path).map_err(|e| io_error("read the key file", path, e))?;
    let seed = unhex::<32>(&text).ok_or_else(|| FirmwareError::NotAKey(path.to_owned()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// What a signature file says about its image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// Image size in bytes.
    pub size: u64,
    /// SHA-256 of the image.
    pub sha256: [u8; 32],
    /// ed25519 signature of the image's SHA-512 digest.
    pub signature: [u8; 64],
    /// The version the signer gave, if any.
    pub version: Option<String>,
}

/// Sign `image` with `key`: the signature file's JSON.
pub fn sign(key: &SigningKey, image: &[u8], version: Option<&str>) -> Value {
    let signature = key.sign(&Sha512::digest(image)).to_bytes();
    json!({
        "format": SIG_FORMAT,
        "size": image.len(),
        "sha256": hex(&Sha256::digest(image)),
        "signature": hex(&signature),
        "version": version,
    })
}

/// The version an image carries: a simulated image's header, or the
/// `piconet-firmware X.Y.Z` string the firmware builds in (its board name).
/// There only the numeric `X.Y.Z` is read: string literals sit back to back
/// in a binary, so what follows it may be the next string's letters.
pub fn embedded_version(image: &[u8]) -> Option<String> {
    if let Some(rest) = image.strip_prefix(SIM_IMAGE_MAGIC.as_slice()) {
        let (&len, rest) = rest.get(1..)?.split_first()?;
        return std::str::from_utf8(rest.get(..len.into())?)
            .ok()
            .map(str::to_owned);
    }
    let at = image
        .windows(FIRMWARE_MARK.len())
        .position(|w| w == FIRMWARE_MARK)?;
    let rest = &image[at + FIRMWARE_MARK.len()..];
    let len = rest
        .iter()
        .take_while(|b| b.is_ascii_digit() || **b == b'.')
        .count();
    let version = std::str::from_utf8(&rest[..len])
        .ok()?
        .trim_end_matches('.');
    version
        .starts_with(|c: char| c.is_ascii_digit())
        .then(|| version.to_owned())
}

/// Whether `given` is `embedded`, allowing a pre-release or build suffix
/// (`0.4.0-rc1` on an image whose numeric version reads `0.4.0`).
fn same_version(given: &str, embedded: &str) -> bool {
    given == embedded
        || given
            .strip_prefix(embedded)
            .is_some_and(|rest| rest.starts_with(['-', '+']))
}

/// First bytes of a simulated image (piconet_sim::sim_flash::SIM_IMAGE_MAGIC).
const SIM_IMAGE_MAGIC: &[u8; 8] = b"PNSIMG1\0";
/// What the firmware's board name starts with (firmware/app/src/board.rs).
const FIRMWARE_MARK: &[u8] = b"piconet-firmware ";

/// What `sign_file` wrote.
#[derive(Debug)]
pub struct SignReport {
    /// The image.
    pub image: PathBuf,
    /// Its size.
    pub size: usize,
    /// The signature file.
    pub signature: PathBuf,
    /// The version recorded.
    pub version: Option<String>,
}

impl SignReport {
    /// For `--json`.
    pub fn json(&self) -> Value {
        json!({
            "image": self.image,
            "size": self.size,
            "signature_file": self.signature,
            "version": self.version,
        })
    }
}

impl std::fmt::Display for SignReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "signed {} ({} bytes", self.image.display(), self.size)?;
        if let Some(v) = &self.version {
            write!(f, ", version {v}")?;
        }
        writeln!(f, ") -> {}", self.signature.display())
    }
}

/// `piconet firmware sign`: write `out` (default `IMAGE.sig`). The version
/// recorded is `version`, which must be the one built into the image when
/// the image says; without `version`, the image's own.
pub fn sign_file(
    key: &Path,
    image: &Path,
    version: Option<&str>,
    out: Option<PathBuf>,
) -> Result<SignReport, FirmwareError> {
    if let Some(v) = version {
        if v.is_empty() || v.len() > MAX_VERSION_LEN || !v.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(FirmwareError::BadVersion(v.to_owned()));
        }
    }
    let key = read_key(key)?;
    let bytes = std::fs::read(image).map_err(|e| io_error("read the image", image, e))?;
    let embedded = embedded_version(&bytes);
    let version = match (version, embedded) {
        (Some(given), Some(embedded)) if !same_version(given, &embedded) => {
            return Err(FirmwareError::VersionMismatch {
                image: image.to_owned(),
                given: given.to_owned(),
                embedded,
            })
        }
        (Some(given), _) => Some(given.to_owned()),
        // Exact only in a simulated image's header.
        (None, embedded) if bytes.starts_with(SIM_IMAGE_MAGIC) => embedded,
        (None, _) => None,
    };
    let out = out.unwrap_or_else(|| sig_path(image));
    let text = format!("{:#}\n", sign(&key, &bytes, version.as_deref()));
    std::fs::write(&out, text).map_err(|e| io_error("write the signature", &out, e))?;
    Ok(SignReport {
        image: image.to_owned(),
        size: bytes.len(),
        signature: out,
        version,
    })
}

/// `piconet firmware keygen|sign`.
pub fn run(
    action: &crate::args::FirmwareAction,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), crate::error::Failure> {
    use crate::args::FirmwareAction;
    match action {
        FirmwareAction::Keygen { out: file } => {
            let made = keygen(file)?;
            if json {
                writeln!(out, "{}", made.json())?;
            } else {
                write!(out, "{made}")?;
            }
        }
        FirmwareAction::Sign {
            key,
            image,
            version,
            out: file,
        } => {
            let report = sign_file(key, image, version.as_deref(), file.clone())?;
            if json {
                writeln!(out, "{}", report.json())?;
            } else {
                write!(out, "{report}")?;
            }
        }
    }
    Ok(())
}

/// `IMAGE.sig` next to `IMAGE`.
pub fn sig_path(image: &Path) -> PathBuf {
    let mut name = image.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// Read a signature file and check it against `image`.
pub fn read_signed(path: &Path, image: &[u8]) -> Result<Signed, FirmwareError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| io_error("read the signature", path, e))?;
    let bad = |why: &'static str| FirmwareError::NotASignature {
        path: path.to_owned(),
        why,
    };
    let v: Value = serde_json::from_str(&text).map_err(|_| bad("not JSON"))?;
    if v["format"] != SIG_FORMAT {
        return Err(bad("unknown format"));
    }
    let signed = Signed {
        size: v["size"].as_u64().ok_or_else(|| bad("no size"))?,
        sha256: v["sha256"]
            .as_str()
            .and_then(unhex)
            .ok_or_else(|| bad("no sha256"))?,
        signature: v["signature"]
            .as_str()
            .and_then(unhex)
            .ok_or_else(|| bad("no signature"))?,
        version: v["version"].as_str().map(str::to_owned),
    };
    let sha: [u8; 32] = Sha256::digest(image).into();
    if signed.size != image.len() as u64 || signed.sha256 != sha {
        return Err(FirmwareError::StaleSignature {
            path: path.to_owned(),
            size: signed.size,
            sha256: hex(&signed.sha256),
        });
    }
    Ok(signed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_built_into_an_image_is_found_and_a_different_one_refused() {
        let mut sim = SIM_IMAGE_MAGIC.to_vec();
        sim.extend([0, 5]);
        sim.extend(b"0.4.0 payload");
        assert_eq!(embedded_version(&sim).as_deref(), Some("0.4.0"));
        let firmware = b"\x00\x01code piconet-firmware 0.4.0invalid pin".to_vec();
        assert_eq!(embedded_version(&firmware).as_deref(), Some("0.4.0"));
        assert!(same_version("0.4.0-rc1", "0.4.0"));
        assert!(!same_version("0.4.01", "0.4.0"));
        assert_eq!(embedded_version(b"no marker here"), None);

        let dir = temp("version");
        let key = dir.join("key");
        keygen(&key).unwrap();
        let image = dir.join("fw.bin");
        std::fs::write(&image, &firmware).unwrap();
        let e = sign_file(&key, &image, Some("9.9.9"), None).unwrap_err();
        assert!(matches!(e, FirmwareError::VersionMismatch { .. }), "{e}");
        assert!(e.to_string().contains("0.4.0"), "{e}");
        assert_eq!(e.code(), exit::USAGE);
        assert!(!sig_path(&image).exists(), "nothing written");
        let report = sign_file(&key, &image, Some("0.4.0"), None).unwrap();
        assert_eq!(report.version.as_deref(), Some("0.4.0"));
        // Without --version a simulated image's own is recorded.
        let sim_path = dir.join("sim.bin");
        std::fs::write(&sim_path, &sim).unwrap();
        sign_file(&key, &sim_path, None, None).unwrap();
        let signed = read_signed(&sig_path(&sim_path), &sim).unwrap();
        assert_eq!(signed.version.as_deref(), Some("0.4.0"));
    }

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("piconet-fw-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn keygen_sign_and_read_back() {
        let dir = temp("sign");
        let key = dir.join("key");
        let made = keygen(&key).unwrap();
        // What firmware/app/build.rs reads, ready to paste.
        let text = made.to_string();
        let line = format!("PICONET_UPDATE_PUBLIC_KEY={}", hex(&made.public));
        assert!(text.contains(&line), "{text}");
        assert_eq!(made.json()["firmware_build"], line.as_str());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = keygen(&key).unwrap_err();
        assert!(
            matches!(again, FirmwareError::KeyExists(_)),
            "never overwrites a key"
        );
        assert_eq!(again.code(), exit::LOCAL_FILE);
        let image = dir.join("fw.bin");
        std::fs::write(&image, b"firmware bytes").unwrap();
        sign_file(&key, &image, Some("1.2.3"), None).unwrap();
        let signed = read_signed(&sig_path(&image), b"firmware bytes").unwrap();
        assert_eq!(signed.version.as_deref(), Some("1.2.3"));
        // The signature is over the SHA-512 digest, with the key's public half.
        let public = read_key(&key).unwrap().verifying_key();
        let sig = ed25519_dalek::Signature::from_bytes(&signed.signature);
        public
            .verify_strict(&Sha512::digest(b"firmware bytes"), &sig)
            .unwrap();
        let e = read_signed(&sig_path(&image), b"other bytes").unwrap_err();
        assert!(e.to_string().contains("another image"), "{e}");
        assert_eq!(e.code(), exit::LOCAL_FILE);
    }
}
