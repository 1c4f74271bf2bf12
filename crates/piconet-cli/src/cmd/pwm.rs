//! `piconet pwm ADDR PIN DUTY --timeout S [--frequency HZ]`: a write_pwm
//! lease, setting the pin up as "pwm" (safe duty 0.0) first when it is not.

use std::io::Write;
use std::time::Duration;

use piconet_client::{Client, Value};

use crate::error::Failure;

/// The frequency a pin is set up at when `--frequency` is not given.
pub const DEFAULT_FREQUENCY: u32 = 1000;

/// Runs the lease; prints what holds until when, or the server's answer.
pub async fn run(
    client: &Client,
    pin: u32,
    duty: f64,
    hold: Duration,
    frequency: Option<u32>,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let pins = client.get_pins().await?;
    if !pins.iter().any(|p| p.pin == pin && p.mode == "pwm") {
        client
            .setup_pwm(pin, frequency.unwrap_or(DEFAULT_FREQUENCY), 0.0)
            .await?;
    }
    let answer = client.write_pwm(pin, duty, frequency, hold, false).await?;
    if json {
        writeln!(out, "{}", Value::Object(answer.raw().clone()))?;
    } else {
        writeln!(
            out,
            "pin {pin}: duty {duty} for {} s, then its safe duty",
            hold.as_secs_f64()
        )?;
    }
    Ok(())
}
