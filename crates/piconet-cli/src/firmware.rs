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

/// The `format` of signature files this version writes and reads.
pub const SIG_FORMAT: &str = "piconet-firmware-signature/1";

/// A `firmware` failure, phrased for the user.
#[derive(Debug)]
pub struct FirmwareError(pub String);

impl std::fmt::Display for FirmwareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> FirmwareError {
    FirmwareError(format!("cannot {what} {}: {e}", path.display()))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

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

/// Make a key pair, write the secret to `out` (mode 0600, never over an
/// existing file) and return the text to print about the public key.
pub fn keygen(out: &Path) -> Result<String, FirmwareError> {
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(out)
        .map_err(|e| io_error("create the key file", out, e))?;
    writeln!(file, "{}", hex(&key.to_bytes()))
        .map_err(|e| io_error("write the key file", out, e))?;
    let public = key.verifying_key().to_bytes();
    let array: Vec<String> = public.iter().map(|b| format!("0x{b:02x}")).collect();
    Ok(format!(
        "secret key written to {} (keep it private)\npublic key: {}\nfor the firmware build: pub const UPDATE_PUBLIC_KEY: [u8; 32] = [{}];\nfor piconetd --board sim: --update-public-key {}\n",
        out.display(),
        hex(&public),
        array.join(", "),
        hex(&public),
    ))
}

/// Read a key file written by [`keygen`].
pub fn read_key(path: &Path) -> Result<SigningKey, FirmwareError> {
    let text = std::fs::read_to_string(path).map_err(|e| io_error("read the key file", path, e))?;
    let seed = unhex::<32>(&text).ok_or_else(|| {
        FirmwareError(format!(
            "{} is not a piconet key file: expected 64 hex digits (make one with piconet firmware keygen)",
            path.display()
        ))
    })?;
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

/// `piconet firmware sign`: write `out` (default `IMAGE.sig`); returns
/// the line to print.
pub fn sign_file(
    key: &Path,
    image: &Path,
    version: Option<&str>,
    out: Option<PathBuf>,
) -> Result<String, FirmwareError> {
    if let Some(v) = version {
        if v.is_empty() || v.len() > MAX_VERSION_LEN || !v.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(FirmwareError(format!(
                "version {v:?} must be 1 to {MAX_VERSION_LEN} printable ASCII characters without spaces"
            )));
        }
    }
    let key = read_key(key)?;
    let bytes = std::fs::read(image).map_err(|e| io_error("read the image", image, e))?;
    let out = out.unwrap_or_else(|| sig_path(image));
    let text = format!("{:#}\n", sign(&key, &bytes, version));
    std::fs::write(&out, text).map_err(|e| io_error("write the signature", &out, e))?;
    Ok(format!(
        "signed {} ({} bytes) -> {}\n",
        image.display(),
        bytes.len(),
        out.display()
    ))
}

/// `piconet firmware keygen|sign`.
pub fn run(
    action: &crate::args::FirmwareAction,
    out: &mut dyn Write,
) -> Result<(), crate::run::Failure> {
    use crate::args::FirmwareAction;
    let text = match action {
        FirmwareAction::Keygen { out } => keygen(out),
        FirmwareAction::Sign {
            key,
            image,
            version,
            out,
        } => sign_file(key, image, version.as_deref(), out.clone()),
    }
    .map_err(|e| crate::run::Failure::Update(e.0))?;
    out.write_all(text.as_bytes())?;
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
    let bad = |what: &str| {
        FirmwareError(format!(
            "{} is not a piconet signature file ({what}); make one with piconet firmware sign",
            path.display()
        ))
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
        return Err(FirmwareError(format!(
            "{} was made for another image ({} bytes, SHA-256 {}): sign this image again",
            path.display(),
            signed.size,
            hex(&signed.sha256)
        )));
    }
    Ok(signed)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let text = keygen(&key).unwrap();
        assert!(text.contains("UPDATE_PUBLIC_KEY: [u8; 32] = [0x"), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(keygen(&key).is_err(), "never overwrites a key");
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
        assert!(e.0.contains("another image"), "{e}");
    }
}
