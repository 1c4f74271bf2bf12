//! `piconet temp`, `piconet adc` and `piconet pwm` against an in-process
//! piconetd with its simulated board.

mod common;
use common::{piconet, piconetd, text};
use serde_json::Value;

fn json(args: &[&str]) -> Value {
    let out = piconet(args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn temp_and_adc_read_the_simulated_board() {
    let addr = piconetd();
    let out = piconet(&["temp", &addr]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "27.0 °C\n");
    assert_eq!(json(&["temp", &addr, "--json"])["celsius"], 27.0);
    // The pin is set up as "adc" by the first read; 0 V until sim_input.
    let v = json(&["adc", &addr, "26", "--json"]);
    assert_eq!((v["pin"].as_u64(), v["raw"].as_u64()), (Some(26), Some(0)));
    json(&[
        "send",
        &addr,
        "-c",
        "action=sim_input",
        "pin=26",
        "volts=3.3",
    ]);
    let out = piconet(&["adc", &addr, "26"]);
    assert_eq!(text(&out.stdout), "raw 4095  3.300 V\n");
    // A pin without an ADC input: the server's ValueError, a failing exit.
    let out = piconet(&["adc", &addr, "5"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("pin 5 has no ADC input"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn pwm_leases_the_duty_and_sets_the_pin_up_once() {
    let addr = piconetd();
    let out = piconet(&["pwm", &addr, "15", "0.5", "--timeout", "60"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "pin 15: duty 0.5 for 60 s, then its safe duty\n"
    );
    let v = json(&[
        "pwm",
        &addr,
        "15",
        "0.25",
        "--timeout",
        "60",
        "--frequency",
        "2000",
        "--json",
    ]);
    assert_eq!(
        (v["action"].as_str(), v["duty"].as_f64()),
        (Some("write_pwm"), Some(0.25))
    );
    let pins = json(&["pins", &addr, "--json"]);
    let p = &pins["pins"][0];
    assert_eq!(
        (
            p["pin"].as_u64(),
            p["mode"].as_str(),
            p["frequency"].as_u64()
        ),
        (Some(15), Some("pwm"), Some(2000))
    );
    assert_eq!(
        (p["duty"].as_f64(), p["safe_duty"].as_f64()),
        (Some(0.25), Some(0.0))
    );
    assert!(p["lease_ms"].as_u64().unwrap() > 50_000, "{p}");
    // Bad values are the server's errors; a missing --timeout is a usage error.
    let out = piconet(&["pwm", &addr, "15", "1.5", "--timeout", "1"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("duty must be"),
        "{}",
        text(&out.stderr)
    );
    let out = piconet(&["pwm", &addr, "15", "0.5"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("--timeout"),
        "{}",
        text(&out.stderr)
    );
}
