//! `piconet watch` against an in-process piconetd with its simulated board:
//! edges driven by another connection's `sim_input` are printed as they
//! come, one line each, in seq order.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::{piconet, piconetd, text, PtyBoard};
use serde_json::Value;

fn send(addr: &str, fields: &[&str]) -> Value {
    let mut args = vec!["send", addr, "-c"];
    args.extend_from_slice(fields);
    let out = piconet(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn watch_prints_each_edge_as_it_comes() {
    let addr = piconetd();
    send(&addr, &["action=setup_pin", "pin=5", "mode=input"]);
    let mut watch = Command::new(env!("CARGO_BIN_EXE_piconet"))
        .args(["watch", &addr, "5", "--count", "3", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the watch is in place.
    let mut watched = false;
    for _ in 0..200 {
        let pins = send(&addr, &["action=get_pins"]);
        if pins["pins"][0]["watched"] == true {
            watched = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(watched, "piconet watch did not watch pin 5");
    for value in ["value=1", "value=0", "value=1"] {
        send(&addr, &["action=sim_input", "pin=5", value]);
    }
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let mut seqs = Vec::new();
    for _ in 0..3 {
        let line = lines.next().unwrap().unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event"], "edge", "{line}");
        assert_eq!(v["pin"], 5);
        seqs.push(v["seq"].as_u64().unwrap());
    }
    assert_eq!(seqs, [1, 2, 3]);
    let status = watch.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn watching_a_pin_that_is_not_an_input_says_why() {
    let addr = piconetd();
    let out = piconet(&["watch", &addr, "6", "--count", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("pin 6: ") && text(&out.stdout).contains("not setup"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn watch_over_the_serial_port_prints_the_edges() {
    let board = PtyBoard::with_events();
    let setup = board.other_connection(r#"{"action": "setup_pin", "pin": 5, "mode": "input"}"#);
    assert!(setup.get("error").is_none(), "{setup}");
    let mut watch = Command::new(env!("CARGO_BIN_EXE_piconet"))
        .args([
            "watch",
            "--serial",
            board.port(),
            "5",
            "--count",
            "2",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut watched = false;
    for _ in 0..500 {
        let pins = board.other_connection(r#"{"action": "get_pins"}"#);
        if pins["pins"][0]["watched"] == true {
            watched = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if !watched {
        let _ = watch.kill();
        let _ = watch.wait();
        panic!("piconet watch --serial did not watch pin 5");
    }
    for value in [1, 0] {
        let line = format!(r#"{{"action": "sim_input", "pin": 5, "value": {value}}}"#);
        assert!(board.other_connection(&line).get("error").is_none());
    }
    // Never wait forever for a broken watch: killed after 20 s.
    let mut status = None;
    for _ in 0..1000 {
        status = watch.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let Some(status) = status else {
        let _ = watch.kill();
        let _ = watch.wait();
        panic!("piconet watch --serial did not end after its 2 events");
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    use std::io::Read as _;
    watch
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    watch
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["value"], 1);
    assert_eq!(lines[1]["value"], 0);
    assert_eq!(lines[1]["seq"], 2);
}

#[test]
fn watch_without_pins_or_with_a_bad_pin_is_a_usage_error() {
    let out = piconet(&["watch", "127.0.0.1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("give the pins"),
        "{}",
        text(&out.stderr)
    );
    let out = piconet(&["watch", "--serial", "/dev/null", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("'x' is not a pin number"),
        "{}",
        text(&out.stderr)
    );
}
