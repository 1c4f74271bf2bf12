//! The `piconet` binary as a shell sees it: exit codes and messages.

use std::process::Command;

fn piconet(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_piconet"))
        .args(args)
        .env_remove("PICONET_KNOWN_HOSTS")
        .output()
        .unwrap()
}

#[test]
fn help_lists_the_exit_codes() {
    let out = piconet(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    for code in [
        "0  success",
        "2  usage",
        "3  connection failed",
        "5  timeout",
    ] {
        assert!(help.contains(code), "{code} missing from:\n{help}");
    }
}

#[test]
fn a_bad_command_line_exits_2() {
    let out = piconet(&["send", "127.0.0.1", "-c", "pin"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("KEY=VALUE"));
}

#[test]
fn a_refused_connection_exits_3_and_says_what_to_check() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = piconet(&["send", &format!("127.0.0.1:{port}"), "-c", "action=ping"]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        format!(
            "piconet: connection refused at 127.0.0.1:{port}: is piconetd running, on this port?\n"
        )
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_missing_ca_file_exits_7() {
    let out = piconet(&["version", "127.0.0.1:1", "--ca", "/nonexistent/ca.pem"]);
    assert_eq!(out.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ca.pem"));
}
