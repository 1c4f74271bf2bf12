use super::*;

const SPEC_EXAMPLE: &str = r#"
[broker]
url = "mqtt://127.0.0.1:1883"      # mqtts:// for TLS; username/password optional
prefix = "piconet"                 # default
[[boards]]
name = "garden"                    # [a-z0-9-]
address = "127.0.0.1:12345"        # or a NAME.local; TLS/identity options as the CLI's
outputs = [{ pin = 2, name = "valve", safe = 0, lease_s = 10 }]
inputs = [{ pin = 5, name = "button", pull = "up" }]
"#;

fn parse(text: &str) -> Result<BridgeConfig, ConfigError> {
    BridgeConfig::parse(text, Path::new("bridge.toml"))
}

fn invalid(text: &str) -> (String, String) {
    match parse(text).unwrap_err() {
        ConfigError::Invalid { field, reason, .. } => (field, reason),
        e => panic!("not Invalid: {e}"),
    }
}

#[test]
fn the_protocol_example_parses() {
    let c = parse(SPEC_EXAMPLE).unwrap();
    assert_eq!(
        c.broker_url(),
        BrokerUrl {
            host: "127.0.0.1".into(),
            port: 1883,
            tls: false
        }
    );
    assert_eq!(c.broker.prefix, "piconet");
    let b = &c.boards[0];
    assert_eq!(b.name, "garden");
    assert_eq!(b.outputs[0].pin, 2);
    assert_eq!(b.outputs[0].safe_level(), Level::Low);
    assert_eq!(b.outputs[0].lease(), Duration::from_secs(10));
    assert_eq!(b.inputs[0].pull, PullSetting::Up);
    assert_eq!(b.inputs[0].debounce_ms, 0);
    assert!(b.client().is_ok());
}

#[test]
fn prefix_defaults_and_urls_parse() {
    let c = parse(&SPEC_EXAMPLE.replace("prefix = \"piconet\"", "")).unwrap();
    assert_eq!(c.broker.prefix, DEFAULT_PREFIX);
    let url = |u: &str| BrokerUrl::parse(u);
    assert_eq!(url("mqtts://broker.lan").unwrap().port, MQTTS_PORT);
    assert!(url("mqtts://broker.lan").unwrap().tls);
    assert_eq!(url("mqtt://h").unwrap().port, MQTT_PORT);
    assert_eq!(url("mqtt://[::1]:1884").unwrap().host, "::1");
    assert!(url("http://h").unwrap_err().contains("mqtt://host"));
    assert!(url("mqtt://u:p@h")
        .unwrap_err()
        .contains("username/password"));
    assert!(url("mqtt://h:0").unwrap_err().contains("1..=65535"));
    assert!(url("mqtt://:1883").unwrap_err().contains("no host"));
}

#[test]
fn bad_values_name_their_field() {
    let (f, r) = invalid(&SPEC_EXAMPLE.replace("\"garden\"", "\"Garden_1\""));
    assert_eq!(f, "boards[0].name");
    assert!(r.contains("a-z, 0-9 and -"), "{r}");
    let (f, _) = invalid(&SPEC_EXAMPLE.replace("lease_s = 10", "lease_s = 1"));
    assert_eq!(f, "boards[0].outputs[0].lease_s");
    let (f, _) = invalid(&SPEC_EXAMPLE.replace("safe = 0", "safe = 2"));
    assert_eq!(f, "boards[0].outputs[0].safe");
    let (f, r) = invalid(&SPEC_EXAMPLE.replace("pin = 5", "pin = 2"));
    assert_eq!(f, "boards[0].inputs[0].pin");
    assert!(r.contains("twice"));
    let debounced = |ms: u16| {
        SPEC_EXAMPLE.replace(
            "pull = \"up\"",
            &format!("pull = \"up\", debounce_ms = {ms}"),
        )
    };
    assert_eq!(
        parse(&debounced(1000)).unwrap().boards[0].inputs[0].debounce_ms,
        1000
    );
    let nine: Vec<String> = (10..19)
        .map(|pin| format!("{{ pin = {pin}, name = \"in{pin}\" }}"))
        .collect();
    let many = |n: usize| {
        SPEC_EXAMPLE.replace(
            "inputs = [{ pin = 5, name = \"button\", pull = \"up\" }]",
            &format!("inputs = [{}]", nine[..n].join(", ")),
        )
    };
    assert_eq!(parse(&many(MAX_INPUTS)).unwrap().boards[0].inputs.len(), 8);
    let (f, r) = invalid(&many(MAX_INPUTS + 1));
    assert_eq!(f, "boards[0].inputs");
    assert!(r.contains("at most 8"), "{r}");
    let (f, r) = invalid(&debounced(1001));
    assert_eq!(f, "boards[0].inputs[0].debounce_ms");
    assert!(r.contains("0..=1000"), "{r}");
    let (f, _) = invalid(&SPEC_EXAMPLE.replace("mqtt://127.0.0.1:1883", "tcp://x"));
    assert_eq!(f, "broker.url");
    let (f, _) = invalid(&SPEC_EXAMPLE.replace("127.0.0.1:12345", "host:notaport"));
    assert_eq!(f, "boards[0].address");
    let (f, _) = invalid(&SPEC_EXAMPLE.replace("prefix = \"piconet\"", "prefix = \"a/#\""));
    assert_eq!(f, "broker.prefix");
    let (f, _) = invalid(&SPEC_EXAMPLE.replace("prefix = \"piconet\"", "password = \"x\""));
    assert_eq!(f, "broker.password");
    let twice = format!("{SPEC_EXAMPLE}\n[[boards]]\nname = \"garden\"\naddress = \"h:1\"\n");
    let (f, r) = invalid(&twice);
    assert_eq!(f, "boards[1].name");
    assert!(r.contains("twice"));
}

#[test]
fn unknown_or_missing_fields_and_bad_toml_say_where() {
    let e = parse(&SPEC_EXAMPLE.replace("lease_s = 10", "lease = 10")).unwrap_err();
    assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
    assert!(e.to_string().contains("lease"), "{e}");
    let e = parse("[broker\nurl = 1").unwrap_err();
    assert!(e.to_string().starts_with("bridge.toml:"), "{e}");
    let e = BridgeConfig::load(Path::new("/nonexistent/bridge.toml")).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }), "{e}");
    let (f, _) = invalid("boards = []\n[broker]\nurl = \"mqtt://h\"\n");
    assert_eq!(f, "boards");
}
