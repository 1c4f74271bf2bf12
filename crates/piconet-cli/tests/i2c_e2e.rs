//! `piconet i2c` against an in-process piconetd: its simulated board has
//! a 24C02 EEPROM at 0x50 on each bus.

mod common;
use common::{piconet, piconetd, text};
use serde_json::Value;

fn ok(args: &[&str]) -> String {
    let out = piconet(args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn scan_finds_the_eeprom_and_writes_read_back() {
    let addr = piconetd();
    let grid = ok(&["i2c", &addr, "scan"]);
    assert_eq!(grid.lines().count(), 9, "{grid}");
    assert!(
        grid.lines().nth(6).unwrap().starts_with("50: 50 --"),
        "{grid}"
    );
    assert_eq!(grid.matches("--").count(), 0x77 - 0x08, "{grid}");
    let v: Value = serde_json::from_str(&ok(&["i2c", &addr, "scan", "--json"])).unwrap();
    assert_eq!(v, serde_json::json!({"bus": 0, "addresses": [80]}));
    assert_eq!(
        ok(&["i2c", &addr, "write", "0x50", "0x10", "1", "2", "0xff"]),
        "wrote 4 bytes to 0x50\n"
    );
    assert_eq!(
        ok(&["i2c", &addr, "transfer", "80", "--count", "4", "16"]),
        "01 02 ff ff\n"
    );
    let v: Value =
        serde_json::from_str(&ok(&["i2c", &addr, "read", "0x50", "2", "--json"])).unwrap();
    assert_eq!(v["data"], serde_json::json!([255, 255]));
    // Bus 1 on other pins, and errors.
    ok(&[
        "i2c", &addr, "--bus", "1", "--sda", "2", "--scl", "3", "read", "80", "1",
    ]);
    let out = piconet(&["i2c", &addr, "read", "0x51", "1"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("no device answered at address 0x51"),
        "{}",
        text(&out.stderr)
    );
    let out = piconet(&["i2c", &addr, "read", "0x80", "1"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("7-bit address"),
        "{}",
        text(&out.stderr)
    );
}
