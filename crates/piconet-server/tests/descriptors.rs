//! File descriptors per connection (alone in its test binary, so no other
//! test opens sockets while it counts): a plaintext connection holds one
//! on piconetd, and a second only once an event line has come for it (the
//! duplicate through which other threads write its event lines).

use piconet_server::ServerConfig;
use serde_json::json;

mod common;
use common::conn::Conn;
use common::{loopback, Daemon};

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[tokio::test]
async fn a_connection_holds_a_second_descriptor_only_once_it_gets_events() {
    let d = Daemon::start(ServerConfig {
        listen: loopback(),
        ..ServerConfig::default()
    })
    .await;
    let mut none = Vec::new();
    let before = open_descriptors();
    let mut conns = Vec::new();
    for _ in 0..10 {
        let mut c = Conn::open(d.addr).await;
        // Answered: piconetd has accepted it and runs its session.
        c.cmd(json!({"action": "ping"}), &mut none).await;
        conns.push(c);
    }
    // Ten client ends in this process, ten server ends.
    assert_eq!(open_descriptors() - before, 20);
    // Two of them watch; a third drives the pin.
    for c in &mut conns[..2] {
        c.cmd(
            json!({"action": "setup_pin", "pin": 5, "mode": "input", "pull": "down"}),
            &mut none,
        )
        .await;
        c.cmd(json!({"action": "watch_pin", "pin": 5}), &mut none)
            .await;
    }
    assert_eq!(open_descriptors() - before, 20, "a watch alone takes none");
    for level in [1, 0, 1] {
        conns[2]
            .cmd(
                json!({"action": "sim_input", "pin": 5, "value": level}),
                &mut none,
            )
            .await;
        for c in &mut conns[..2] {
            assert_eq!(c.line().await["value"], level);
        }
    }
    assert_eq!(open_descriptors() - before, 22, "one more per watcher");
    drop(conns);
    // The server ends close once it sees the clients go.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while open_descriptors() > before && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(open_descriptors(), before, "every descriptor given back");
    d.stop().await;
}
