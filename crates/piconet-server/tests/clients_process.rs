//! The real piconetd with `--clients`: SIGHUP reloads the file (a revoked
//! client's next connection is refused, a broken file keeps the running
//! list), and `--clients` without TLS does not start.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use piconet_client::{Client, Identity, ServerAddr, TlsVerify};

mod common;
use common::tempdir;

const PICONETD: &str = env!("CARGO_BIN_EXE_piconetd");

/// The child, killed however the test ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cert(dir: &Path, name: &str) -> Identity {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let id = Identity::new(
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&id.cert, cert.pem()).unwrap();
    std::fs::write(&id.key, key.serialize_pem()).unwrap();
    id
}

fn entry(name: &str, id: &Identity, role: &str) -> String {
    format!(
        "[[clients]]\nname = \"{name}\"\nsha256 = \"{}\"\nrole = \"{role}\"\n",
        id.fingerprint().unwrap()
    )
}

#[tokio::test]
async fn sighup_reloads_the_clients_file() {
    let dir = tempdir("clients-sighup");
    let server = cert(&dir, "server");
    let (laptop, ha) = (cert(&dir, "laptop"), cert(&dir, "ha"));
    let file = dir.join("clients.toml");
    std::fs::write(
        &file,
        entry("laptop", &laptop, "admin") + &entry("ha", &ha, "operator"),
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = Command::new(PICONETD)
        .args(["--listen", &addr.to_string(), "--clients"])
        .arg(&file)
        .arg("--tls-cert")
        .arg(&server.cert)
        .arg("--tls-key")
        .arg(&server.key)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut p = Proc(child);
    let until = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        assert!(
            p.0.try_wait().unwrap().is_none(),
            "piconetd exited at start-up"
        );
        assert!(Instant::now() < until, "piconetd does not listen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let as_ = |id: &Identity| {
        Client::new(ServerAddr::new("127.0.0.1", port))
            .with_tls(TlsVerify::CaFile(server.cert.clone()))
            .with_identity(id.clone())
            .with_timeout(Duration::from_secs(5))
    };
    as_(&ha).version().await.unwrap();
    std::fs::write(&file, entry("laptop", &laptop, "admin")).unwrap();
    let hup = |pid: u32| {
        assert!(Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap()
            .success());
    };
    hup(p.0.id());
    // The reload happens on the daemon's own time: wait for it, bounded.
    let until = Instant::now() + Duration::from_secs(10);
    while as_(&ha).version().await.is_ok() {
        assert!(Instant::now() < until, "ha still let in 10 s after SIGHUP");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A broken file keeps the running list, and the daemon running.
    std::fs::write(&file, "not toml [").unwrap();
    hup(p.0.id());
    tokio::time::sleep(Duration::from_millis(200)).await;
    as_(&laptop).version().await.unwrap();
    assert!(
        p.0.try_wait().unwrap().is_none(),
        "piconetd died on a bad file"
    );
    drop(p);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn clients_without_tls_does_not_start() {
    let dir = tempdir("clients-notls");
    let file = dir.join("clients.toml");
    std::fs::write(
        &file,
        format!(
            "[[clients]]\nname = \"a\"\nsha256 = \"{}\"\nrole = \"admin\"\n",
            "ab".repeat(32)
        ),
    )
    .unwrap();
    let out = Command::new(PICONETD)
        .args(["--listen", "127.0.0.1:0", "--clients"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("--clients needs --tls-cert"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
