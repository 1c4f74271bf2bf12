//! Build script of the Pico W firmware:
//! - puts memory.x where the linker finds it and adds the linker scripts;
//! - turns the CYW43 NVRAM text into the blob the radio loads;
//! - reads the development configuration from the environment (never from
//!   a committed file): PICONET_PORT, PICONET_TLS_CERT / PICONET_TLS_KEY
//!   (paths to the EC P-256 certificate and key, DER or PEM). The WiFi
//!   credentials PICONET_WIFI_SSID / PICONET_WIFI_PASSWORD are read by the
//!   code itself with option_env!.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());

    // Linker scripts.
    fs::copy(dir.join("memory.x"), out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    // Only cortex-m-rt's link.x: boot2 (embassy-rp's link-rp.x) is in the
    // bootloader, the app starts at the ACTIVE slot.
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    // MbedTLS's mbedtls_ssl_conf_authmode goes through app-core's wrapper,
    // which installs the client list's verify callback (client_cert.rs).
    println!("cargo:rustc-link-arg-bins=--wrap=mbedtls_ssl_conf_authmode");

    // NVRAM: "key=value" lines, '#' comments dropped, each entry NUL
    // terminated, two NULs at the end, padded to a 4-byte multiple.
    let text = fs::read_to_string(dir.join("nvram_pico_w.txt")).unwrap();
    let mut nvram = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap().trim();
        if !line.is_empty() {
            nvram.extend_from_slice(line.as_bytes());
            nvram.push(0);
        }
    }
    nvram.extend_from_slice(&[0, 0]);
    while nvram.len() % 4 != 0 {
        nvram.push(0);
    }
    fs::write(out.join("nvram.bin"), nvram).unwrap();
    println!("cargo:rerun-if-changed=nvram_pico_w.txt");

    // Development configuration.
    for var in [
        "PICONET_PORT",
        "PICONET_TLS_CERT",
        "PICONET_TLS_KEY",
        "PICONET_WIFI_SSID",
        "PICONET_WIFI_PASSWORD",
        "PICONET_UPDATE_PUBLIC_KEY",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let port: u16 = match env::var("PICONET_PORT") {
        Ok(p) => p.parse().expect("PICONET_PORT must be a port number"),
        Err(_) => 12345,
    };
    let cert = identity_file("PICONET_TLS_CERT", &out, "tls_cert.bin");
    let key = identity_file("PICONET_TLS_KEY", &out, "tls_key.bin");
    if cert.is_some() != key.is_some() {
        panic!("set both PICONET_TLS_CERT and PICONET_TLS_KEY, or neither");
    }
    let item = |f: &Option<(String, bool)>| {
        match f {
        Some((name, pem)) => format!(
            "Some(Pem {{ bytes: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{name}\")), pem: {pem} }})"
        ),
        None => "None".into(),
    }
    };
    let update_key = match env::var("PICONET_UPDATE_PUBLIC_KEY") {
        Ok(k) if !k.trim().is_empty() => format!("Some({:?})", public_key(k.trim())),
        _ => {
            println!(
                "cargo:warning=PICONET_UPDATE_PUBLIC_KEY is not set: this firmware refuses over-the-air updates"
            );
            "None".into()
        }
    };
    let generated = format!(
        "/// TCP port to serve.\npub const PORT: u16 = {port};\n\
         /// ed25519 public key update images must be signed with.\n\
         pub const UPDATE_PUBLIC_KEY: Option<[u8; 32]> = {update_key};\n\
         /// TLS certificate, if an identity was configured at build time.\n\
         pub const TLS_CERT: Option<Pem> = {};\n\
         /// TLS private key, if an identity was configured at build time.\n\
         pub const TLS_KEY: Option<Pem> = {};\n",
        item(&cert),
        item(&key)
    );
    fs::write(out.join("build_config.rs"), generated).unwrap();
}

/// PICONET_UPDATE_PUBLIC_KEY: 64 hex digits (what `piconet firmware
/// keygen` prints), the ed25519 public key of the update images.
fn public_key(hex: &str) -> [u8; 32] {
    let bad = || -> ! {
        panic!("PICONET_UPDATE_PUBLIC_KEY must be 64 hex digits (32 bytes), as `piconet firmware keygen` prints")
    };
    if hex.len() != 64 || !hex.is_ascii() {
        bad()
    }
    let mut key = [0u8; 32];
    for (i, b) in key.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or_else(|_| bad());
    }
    key
}

/// Copy the file named by `var` into OUT_DIR; PEM gets the NUL MbedTLS
/// wants. Returns the copy's name and whether it is PEM.
fn identity_file(var: &str, out: &std::path::Path, name: &str) -> Option<(String, bool)> {
    let path = env::var_os(var).filter(|p| !p.is_empty())?;
    println!("cargo:rerun-if-changed={}", PathBuf::from(&path).display());
    let mut bytes = fs::read(&path).unwrap_or_else(|e| panic!("{var}: {e}"));
    let pem = bytes.starts_with(b"-----BEGIN");
    if pem && bytes.last() != Some(&0) {
        bytes.push(0);
    }
    fs::write(out.join(name), bytes).unwrap();
    Some((name.to_string(), pem))
}
