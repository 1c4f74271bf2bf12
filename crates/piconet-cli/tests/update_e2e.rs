//! The whole firmware update flow as a user runs it: `piconet firmware
//! keygen`, `sign`, `update` against an in-process piconetd whose
//! simulated Pico W updates itself through embassy-boot over RAM flash:
//! upload, restart, new version; a resumed upload; a broken image rolled
//! back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use piconet_client::{Client, Map, ServerAddr, Value};
use piconet_server::{Server, ServerConfig};
use piconet_sim::sim_flash::sim_image;
use serde_json::json;

fn piconet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_piconet"))
        .args(args)
        .env_remove("PICONET_KNOWN_HOSTS")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An empty directory of this test's own (tests run in parallel).
fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("piconet-update-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `piconet firmware keygen` into `dir`: the key file and the public key
/// it printed.
fn keygen(dir: &Path) -> (PathBuf, [u8; 32]) {
    let key = dir.join("update.key");
    let out = piconet(&["firmware", "keygen", "--out", key.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let public = printed
        .lines()
        .find_map(|l| l.strip_prefix("public key: "))
        .unwrap();
    let public: [u8; 32] = (0..32)
        .map(|i| u8::from_str_radix(&public[2 * i..2 * i + 2], 16).unwrap())
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    (key, public)
}

/// piconetd with a simulated board trusting `key`, on its own runtime.
fn piconetd(key: [u8; 32]) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let server = Server::bind(ServerConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                update_key: Some(key),
                ..ServerConfig::default()
            })
            .await
            .unwrap();
            tx.send(server.local_addr().to_string()).unwrap();
            server.run(std::future::pending()).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

fn sign(dir: &Path, key: &Path, name: &str, image: &[u8], version: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, image).unwrap();
    let out = piconet(&[
        "firmware",
        "sign",
        "--key",
        key.to_str().unwrap(),
        path.to_str().unwrap(),
        "--version",
        version,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    path
}

fn update(addr: &str, image: &Path) -> Output {
    piconet(&[
        "update",
        addr,
        image.to_str().unwrap(),
        "--quiet",
        "--wait",
        "20",
    ])
}

fn cmd(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn upload_restart_new_version_resume_and_rollback_of_a_broken_image() {
    let dir = tempdir("e2e");
    let (key, public) = keygen(&dir);
    let addr = piconetd(public);
    let factory = text(&piconet(&["version", &addr]).stdout);
    assert_eq!(factory.trim(), env!("CARGO_PKG_VERSION"));

    // A good image: uploaded, swapped in at the restart, confirmed.
    let good = sign(
        &dir,
        &key,
        "good.bin",
        &sim_image("2.0.0", false, 40_000),
        "2.0.0",
    );
    let out = update(&addr, &good);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(report.contains("-> 2.0.0 (confirmed)"), "{report}");
    assert_eq!(text(&piconet(&["version", &addr]).stdout).trim(), "2.0.0");

    // An upload interrupted after two chunks resumes where the board
    // says it stopped.
    let next = sim_image("2.1.0", false, 10_000);
    let next_path = sign(&dir, &key, "next.bin", &next, "2.1.0");
    let sig: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("next.bin.sig")).unwrap()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (host, port) = addr.rsplit_once(':').unwrap();
    let client = Client::new(ServerAddr::new(host.to_string(), port.parse().unwrap()));
    rt.block_on(async {
        use base64::Engine as _;
        client
            .command(cmd(json!({
                "action": "update_begin", "size": next.len(),
                "sha256": sig["sha256"], "signature": sig["signature"], "version": "2.1.0",
            })))
            .await
            .unwrap();
        for i in 0..2 {
            let data =
                base64::engine::general_purpose::STANDARD.encode(&next[i * 1024..(i + 1) * 1024]);
            client
                .command(cmd(
                    json!({"action": "update_chunk", "offset": i * 1024, "data": data}),
                ))
                .await
                .unwrap();
        }
        let s = client
            .command(cmd(json!({"action": "update_status"})))
            .await
            .unwrap();
        assert_eq!(s.get("update").unwrap()["next_offset"], 2048);
    });
    let out = update(&addr, &next_path);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("2.0.0 -> 2.1.0"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains(&format!(
            "resuming the upload of this image at byte 2048 of {}",
            next.len()
        )),
        "{}",
        text(&out.stderr)
    );

    // A broken image crashes before serving: the bootloader rolls back,
    // and the command says so and fails.
    let broken = sign(
        &dir,
        &key,
        "broken.bin",
        &sim_image("3.0.0", true, 5_000),
        "3.0.0",
    );
    let out = update(&addr, &broken);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains("rolled back"), "{err}");
    assert!(err.contains("runs 2.1.0 again"), "{err}");
    assert_eq!(text(&piconet(&["version", &addr]).stdout).trim(), "2.1.0");

    // An image signed with another key is refused before anything is marked.
    let other = dir.join("other.key");
    piconet(&["firmware", "keygen", "--out", other.to_str().unwrap()]);
    let forged = sign(
        &dir,
        &other,
        "forged.bin",
        &sim_image("6.6.6", false, 100),
        "6.6.6",
    );
    let out = update(&addr, &forged);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("signature does not verify"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(text(&piconet(&["version", &addr]).stdout).trim(), "2.1.0");
    let _ = std::fs::remove_dir_all(&dir);
}

mod common;

/// Over the USB cable: the same signed-image flow through `--serial`, on a
/// simulated Pico W behind a pseudo-terminal (its lines of local origin).
#[test]
fn an_update_over_the_serial_port_swaps_in_the_new_image() {
    use piconet_sim::sim_flash::SimFlash;
    let dir = tempdir("serial");
    let (key, public) = keygen(&dir);
    let factory = sim_image("1.0.0", false, 0);
    let board = common::PtyBoard::with_board(
        piconet_sim::SimBoard::new().with_flash(SimFlash::new(16, &factory, public)),
    );
    let image = sign(
        &dir,
        &key,
        "new.bin",
        &sim_image("1.1.0", false, 20_000),
        "1.1.0",
    );
    let out = piconet(&[
        "update",
        "--serial",
        board.port(),
        image.to_str().unwrap(),
        "--quiet",
        "--wait",
        "20",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1.0.0 -> 1.1.0 (confirmed)"),
        "{}",
        text(&out.stdout)
    );
    let version = piconet(&["version", "--serial", board.port()]);
    assert_eq!(text(&version.stdout).trim(), "1.1.0");
    assert_eq!(board.resets(), 1);
    // TLS makes no sense over the cable: a usage error, nothing sent.
    let out = piconet(&[
        "update",
        "--serial",
        board.port(),
        image.to_str().unwrap(),
        "--tls",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Forwards connections to `upstream` and cuts the connection that carries
/// the `cut_at`-th `update_chunk` (once), as a WiFi drop would. Returns
/// the proxy's address and what it saw of the client's lines.
fn dropping_proxy(upstream: String, cut_at: usize) -> (String, std::sync::Arc<ProxyLog>) {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let log = std::sync::Arc::new(ProxyLog::default());
    let shared = log.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let mut server = TcpStream::connect(&upstream).unwrap();
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(Shutdown::Both);
            });
            let log = shared.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    let n = match client.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let text = String::from_utf8_lossy(&buf[..n]);
                    let chunks = text.matches("\"update_chunk\"").count();
                    let begins = text.matches("\"update_begin\"").count();
                    let mut seen = log.0.lock().unwrap();
                    seen.chunks += chunks;
                    seen.begins += begins;
                    if seen.drops == 0 && seen.chunks >= cut_at {
                        seen.drops += 1;
                        drop(seen);
                        let _ = client.shutdown(Shutdown::Both);
                        let _ = server.shutdown(Shutdown::Both);
                        break;
                    }
                    drop(seen);
                    if server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = server.shutdown(Shutdown::Write);
            });
        }
    });
    (addr, log)
}

#[derive(Default)]
struct ProxyLog(std::sync::Mutex<ProxySeen>);

#[derive(Default, Debug)]
struct ProxySeen {
    chunks: usize,
    begins: usize,
    drops: usize,
}

/// The connection drops in the middle of the upload (after the 5th chunk
/// was sent, before its answer): `piconet update` reconnects, asks where
/// the board stopped, resumes there without starting over, and finishes.
#[test]
fn a_connection_dropped_mid_upload_is_resumed() {
    let dir = tempdir("drop");
    let (key, public) = keygen(&dir);
    let (proxy, log) = dropping_proxy(piconetd(public), 5);
    let image = sign(
        &dir,
        &key,
        "drop.bin",
        &sim_image("4.0.0", false, 30_000),
        "4.0.0",
    );
    let out = update(&proxy, &image);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("-> 4.0.0 (confirmed)"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("resuming at byte"),
        "{}",
        text(&out.stderr)
    );
    let seen = log.0.lock().unwrap();
    assert_eq!((seen.drops, seen.begins), (1, 1), "{seen:?}");
    // 30,000 bytes are 30 chunks of 1 KiB; at most the cut one is sent twice.
    assert!(seen.chunks <= 31 + 1, "{seen:?}");
    drop(seen);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A downgrade is refused (exit 2) unless --allow-downgrade; --json gives
/// the report as JSON on keygen, sign and update; local file problems exit 7.
#[test]
fn downgrades_json_reports_and_local_files() {
    let dir = tempdir("downgrade");
    let key = dir.join("update.key");
    let out = piconet(&[
        "firmware",
        "keygen",
        "--out",
        key.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let made: Value = serde_json::from_slice(&out.stdout).unwrap();
    let public_hex = made["public_key"].as_str().unwrap().to_owned();
    assert_eq!(
        made["firmware_build"],
        format!("PICONET_UPDATE_PUBLIC_KEY={public_hex}")
    );
    // keygen onto an existing file: a local file problem.
    let again = piconet(&["firmware", "keygen", "--out", key.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(7), "{}", text(&again.stderr));
    let public: [u8; 32] = (0..32)
        .map(|i| u8::from_str_radix(&public_hex[2 * i..2 * i + 2], 16).unwrap())
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    let addr = piconetd(public);
    let factory = text(&piconet(&["version", &addr]).stdout).trim().to_owned();

    // An image older than the running one.
    let old = dir.join("old.bin");
    std::fs::write(&old, sim_image("0.0.1", false, 3_000)).unwrap();
    // sign --version must be the image's own.
    let wrong = piconet(&[
        "firmware",
        "sign",
        "--key",
        key.to_str().unwrap(),
        old.to_str().unwrap(),
        "--version",
        "9.9.9",
    ]);
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong.stderr));
    assert!(
        text(&wrong.stderr).contains("0.0.1"),
        "{}",
        text(&wrong.stderr)
    );
    let signed = piconet(&[
        "firmware",
        "sign",
        "--key",
        key.to_str().unwrap(),
        old.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(signed.status.code(), Some(0), "{}", text(&signed.stderr));
    let report: Value = serde_json::from_slice(&signed.stdout).unwrap();
    assert_eq!(report["version"], "0.0.1", "the image's own version");

    let refused = update(&addr, &old);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("--allow-downgrade"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(text(&piconet(&["version", &addr]).stdout).trim(), factory);

    let out = piconet(&[
        "update",
        &addr,
        old.to_str().unwrap(),
        "--wait",
        "20",
        "--allow-downgrade",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["from"], factory.as_str());
    assert_eq!(report["to"], "0.0.1");
    assert_eq!(report["resumed_at"], 0);

    // A missing signature file, and one made for another image: exit 7.
    let bare = dir.join("bare.bin");
    std::fs::write(&bare, sim_image("5.0.0", false, 100)).unwrap();
    let out = update(&addr, &bare);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    std::fs::copy(dir.join("old.bin.sig"), dir.join("bare.bin.sig")).unwrap();
    let out = update(&addr, &bare);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("another image"),
        "{}",
        text(&out.stderr)
    );
    let missing_key = piconet(&[
        "firmware",
        "sign",
        "--key",
        "/nonexistent/key",
        bare.to_str().unwrap(),
    ]);
    assert_eq!(missing_key.status.code(), Some(7));
    let _ = std::fs::remove_dir_all(&dir);
}
