//! PWM, ADC, temperature and I2C through the client against piconetd on
//! the simulated board: the EEPROM read back after writes, a PWM lease
//! expiring back to its safe duty (seen in get_pins), release_on_disconnect
//! for write_pwm, and the errors as the client reads them.

use std::time::{Duration, Instant};

use piconet_client::{Action, Client, Error, ServerAddr};
use piconet_server::ServerConfig;

mod common;
use common::{loopback, Daemon};

async fn start() -> (Daemon, Client) {
    let d = Daemon::start(ServerConfig {
        listen: loopback(),
        ..ServerConfig::default()
    })
    .await;
    let c = Client::new(ServerAddr::new(d.addr.ip().to_string(), d.addr.port()));
    (d, c)
}

/// The error class and message of a refused command.
fn refused<T: std::fmt::Debug>(r: Result<T, Error>) -> (String, String) {
    match r {
        Err(Error::Server {
            error, exception, ..
        }) => (exception, error),
        other => panic!("expected a server error, got {other:?}"),
    }
}

/// pin 15's get_pins entry.
async fn pwm_entry(c: &Client) -> serde_json::Map<String, serde_json::Value> {
    let pins = c.get_pins().await.unwrap();
    pins.into_iter().find(|p| p.pin == 15).unwrap().raw
}

#[tokio::test]
async fn the_eeprom_reads_back_what_was_written() {
    let (_d, c) = start().await;
    c.i2c_setup(0, 4, 5, 400_000).await.unwrap();
    // Erased: 0xFF everywhere.
    assert_eq!(c.i2c_transfer(0, 0x50, &[0], 2).await.unwrap(), [255, 255]);
    c.i2c_write(0, 0x50, &[0x10, 1, 2, 3]).await.unwrap();
    assert_eq!(
        c.i2c_transfer(0, 0x50, &[0x10], 4).await.unwrap(),
        [1, 2, 3, 255]
    );
    // A plain read goes on from the pointer; 256 bytes wrap around.
    assert_eq!(c.i2c_read(0, 0x50, 1).await.unwrap(), [255]);
    c.i2c_write(0, 0x50, &[0]).await.unwrap();
    let all = c.i2c_read(0, 0x50, 256).await.unwrap();
    assert_eq!(&all[0x10..0x13], &[1, 2, 3]);
    // Bus 1 has its own EEPROM.
    c.i2c_setup(1, 2, 3, 100_000).await.unwrap();
    assert_eq!(c.i2c_transfer(1, 0x50, &[0x10], 1).await.unwrap(), [255]);
    let (class, msg) = refused(c.i2c_read(0, 0x51, 1).await);
    assert_eq!(
        (class.as_str(), msg.as_str()),
        ("OSError", "no device answered at address 0x51 on i2c bus 0")
    );
    let (class, msg) = refused(c.i2c_setup(0, 6, 5, 100_000).await);
    assert_eq!(class, "ValueError");
    assert!(msg.starts_with("pin 6 cannot be sda of i2c bus 0"), "{msg}");
}

#[tokio::test]
async fn a_pwm_lease_expires_back_to_its_safe_duty() {
    let (_d, c) = start().await;
    c.setup_pwm(15, 1000, 0.25).await.unwrap();
    c.write_pwm(15, 0.75, Some(2000), Duration::from_millis(300), false)
        .await
        .unwrap();
    let running = pwm_entry(&c).await;
    assert_eq!(running["duty"], 0.75);
    assert_eq!(running["frequency"], 2000);
    assert!(running.contains_key("lease_ms"), "{running:?}");
    // Bounded wait: the lease thread reverts at the deadline.
    let start = Instant::now();
    loop {
        let entry = pwm_entry(&c).await;
        if entry["duty"] == 0.25 {
            assert_eq!(entry["frequency"], 1000);
            assert_eq!(entry["safe_duty"], 0.25);
            assert!(!entry.contains_key("lease_ms"), "{entry:?}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still {entry:?} 10 s after a 0.3 s lease"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let info = c.info().await.unwrap();
    assert_eq!(info["lease_reverts"]["count"], 1);
}

#[tokio::test]
async fn write_pwm_with_release_on_disconnect_reverts_when_its_connection_ends() {
    let (_d, c) = start().await;
    c.setup_pwm(15, 1000, 0.0).await.unwrap();
    let mut holder = c.connect().await.unwrap();
    let r = holder
        .perform(
            Action::WritePwm {
                pin: 15,
                duty: 0.9,
                frequency: None,
                hold: Duration::from_secs(60),
                release_on_disconnect: true,
            },
            false,
        )
        .await
        .unwrap();
    assert!(r.get("error").is_none(), "{r:?}");
    assert_eq!(pwm_entry(&c).await["duty"], 0.9);
    drop(holder);
    let start = Instant::now();
    while pwm_entry(&c).await["duty"] != 0.0 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "pin 15 still at its leased duty 5 s after its connection closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn adc_temperature_and_errors() {
    let (_d, c) = start().await;
    c.setup_adc(26).await.unwrap();
    c.perform(Action::SimVolts {
        pin: 26,
        volts: 1.65,
    })
    .await
    .unwrap();
    let reading = c.read_adc(26).await.unwrap();
    assert_eq!(reading.raw, 2048);
    assert!((reading.volts - 1.65).abs() < 0.001, "{reading:?}");
    assert_eq!(c.read_temperature().await.unwrap(), 27.0);
    let (class, msg) = refused(c.setup_adc(5).await);
    assert_eq!(class, "ValueError");
    assert_eq!(
        msg,
        "pin 5 has no ADC input: the ADC pins on this board are 26, 27, 28"
    );
    let (class, _) = refused(c.read_adc(27).await);
    assert_eq!(class, "GPIOPinNotSetupError");
    let (class, _) = refused(
        c.write_pwm(3, 0.5, None, Duration::from_secs(1), false)
            .await,
    );
    assert_eq!(class, "GPIOPinNotSetupError");
    c.setup_pwm(14, 1000, 0.0).await.unwrap();
    let (class, msg) = refused(c.setup_pwm(15, 2000, 0.0).await);
    assert_eq!(class, "ValueError");
    assert!(
        msg.starts_with("pin 15 shares its PWM slice with pin 14"),
        "{msg}"
    );
    let actions = c.actions().await.unwrap();
    for a in ["write_pwm", "read_adc", "read_temperature", "i2c_transfer"] {
        assert!(actions.iter().any(|x| x == a), "{a} listed");
    }
}
