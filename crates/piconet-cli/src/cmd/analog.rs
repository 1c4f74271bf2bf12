//! `piconet temp ADDR` (read_temperature) and `piconet adc ADDR PIN`
//! (read_adc, setting the pin up as "adc" first when it is not).

use std::io::Write;

use piconet_client::Client;
use serde_json::json;

use crate::error::Failure;

/// The temperature as `27.0 °C`, or `{"celsius": 27.0}`.
pub async fn temperature(client: &Client, json: bool, out: &mut dyn Write) -> Result<(), Failure> {
    let celsius = client.read_temperature().await?;
    if json {
        writeln!(out, "{}", json!({ "celsius": celsius }))?;
    } else {
        writeln!(out, "{celsius:.1} °C")?;
    }
    Ok(())
}

/// One conversion: `raw 2048  1.650 V`, or the JSON object.
pub async fn adc(
    client: &Client,
    pin: u32,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let pins = client.get_pins().await?;
    if !pins.iter().any(|p| p.pin == pin && p.mode == "adc") {
        client.setup_adc(pin).await?;
    }
    let r = client.read_adc(pin).await?;
    if json {
        writeln!(
            out,
            "{}",
            json!({"pin": pin, "raw": r.raw, "volts": r.volts})
        )?;
    } else {
        writeln!(out, "raw {}  {:.3} V", r.raw, r.volts)?;
    }
    Ok(())
}
