//! `piconet watch` against an in-process piconetd with its simulated board:
//! edges driven by another connection's `sim_input` are printed as they
//! come, one line each, in seq order.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;
use common::{piconet, piconetd, text};
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
