//! `piconet send --release-on-disconnect` and `piconet pins` against an
//! in-process piconetd with its simulated board.

mod common;
use common::{piconet, piconetd, text};
use serde_json::Value;

fn read_pin(addr: &str, pin: u32) -> Value {
    let out = piconet(&["send", addr, "-c", "action=read_pin", &format!("pin={pin}")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    answer["value"].clone()
}

#[test]
fn release_on_disconnect_puts_the_pin_back_when_the_send_ends() {
    let addr = piconetd();
    let write = |pin: &str, release: bool| {
        let mut args = vec![
            "send",
            &addr,
            "-c",
            "action=setup_pin",
            pin,
            "mode=output",
            "value=0",
            "-c",
            "action=write_pin",
            pin,
            "value=1",
            "timeout=60",
        ];
        if release {
            args.push("--release-on-disconnect");
        }
        let out = piconet(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let answers: Vec<Value> = text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        answers[1].clone()
    };

    // Without the flag the 60 s lease outlives the connection.
    let held = write("pin=3", false);
    assert!(held.get("release_on_disconnect").is_none(), "{held}");
    assert_eq!(read_pin(&addr, 3), 1);

    // With it, the pin is back at its safe 0 once the send's connection ended.
    let released = write("pin=2", true);
    assert_eq!(released["release_on_disconnect"], true, "{released}");
    let mut level = read_pin(&addr, 2);
    for _ in 0..50 {
        if level == 0 {
            break;
        }
        // The daemon notices the closed connection asynchronously.
        std::thread::sleep(std::time::Duration::from_millis(20));
        level = read_pin(&addr, 2);
    }
    assert_eq!(level, 0, "released when the connection ended");
    assert_eq!(read_pin(&addr, 3), 1, "the other lease still holds");
}

#[test]
fn pins_shows_every_configured_pin_as_a_table_or_json() {
    let addr = piconetd();
    let out = piconet(&["pins", &addr]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "no pin is configured\n");

    let setup = piconet(&[
        "send",
        &addr,
        "-c",
        "action=setup_pin",
        "pin=5",
        "mode=input",
        "pull=up",
        "-c",
        "action=setup_pin",
        "pin=2",
        "mode=output",
        "value=0",
        "-c",
        "action=write_pin",
        "pin=2",
        "value=1",
        "timeout=60",
    ]);
    assert_eq!(setup.status.code(), Some(0), "{}", text(&setup.stderr));

    let out = piconet(&["pins", &addr]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert_eq!(rows[0][..3], ["PIN", "MODE", "LEVEL"], "{table}");
    // In pin order: 2 before 5, whatever order they were set up in.
    assert_eq!(rows[1][..5], ["2", "output", "1", "0", "-"], "{table}");
    let lease: f64 = rows[1][5].parse().unwrap();
    assert!(lease > 50.0 && lease <= 60.0, "{table}");
    assert_eq!(rows[2][0..2], ["5", "input"], "{table}");
    assert_eq!(rows[2][3..5], ["-", "up"], "{table}");

    let out = piconet(&["pins", &addr, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pins = json["pins"].as_array().unwrap();
    assert_eq!(pins.len(), 2);
    assert_eq!(pins[0]["pin"], 2);
    assert_eq!(pins[0]["safe"], 0);
    assert!(pins[0]["lease_ms"].as_u64().unwrap() <= 60_000);
    assert_eq!(pins[1]["pull"], "up");
    assert!(pins[1].get("lease_ms").is_none());
}
