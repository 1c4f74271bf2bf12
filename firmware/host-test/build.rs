//! Link the tests as the firmware is linked: MbedTLS's
//! `mbedtls_ssl_conf_authmode` through app-core's wrapper, which installs
//! the client list's verify callback (app-core's `client_cert.rs`).

fn main() {
    println!("cargo:rustc-link-arg=-Wl,--wrap=mbedtls_ssl_conf_authmode");
}
