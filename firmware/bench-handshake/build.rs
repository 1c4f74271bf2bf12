//! Build script of the handshake benchmark image:
//! - memory.x (standalone: boot2, then the program) and the linker scripts;
//! - links MbedTLS's `mbedtls_ssl_conf_authmode` through app-core's wrapper,
//!   as the firmware does, so the server checks the client certificate by
//!   the firmware's fingerprint callback;
//! - makes throwaway EC P-256 identities (server CN=pico, one client) with
//!   the openssl command, so no key is ever committed.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    fs::copy(dir.join("memory.x"), out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rustc-link-arg-bins=-Tlink-rp.x");
    println!("cargo:rustc-link-arg-bins=--wrap=mbedtls_ssl_conf_authmode");
    for name in ["server", "client"] {
        identity(&out, name);
    }
}

/// `<name>_key.der` and `<name>_cert.der` (self-signed, CN = pico for the
/// server, as the client checks that name) in `out`.
fn identity(out: &Path, name: &str) {
    let key = format!("{name}_key.der");
    let cert = format!("{name}_cert.der");
    if out.join(&cert).exists() {
        return;
    }
    let run = |args: &[&str]| {
        let st = Command::new("openssl")
            .args(args)
            .current_dir(out)
            .status()
            .expect("the openssl command is needed to make the benchmark's certificates");
        assert!(st.success(), "openssl {args:?}");
    };
    run(&[
        "ecparam",
        "-genkey",
        "-name",
        "prime256v1",
        "-noout",
        "-outform",
        "DER",
        "-out",
        &key,
    ]);
    let cn = if name == "server" {
        "pico"
    } else {
        "bench-client"
    };
    run(&[
        "req",
        "-new",
        "-x509",
        "-key",
        &key,
        "-keyform",
        "DER",
        "-subj",
        &format!("/CN={cn}"),
        "-days",
        "3650",
        "-outform",
        "DER",
        "-out",
        &cert,
    ]);
}
