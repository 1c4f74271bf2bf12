//! `piconet i2c ADDR scan|read|write|transfer`: I2C devices on a board,
//! the bus set up first when the board has it on no pins yet.

use std::io::Write;

use piconet_client::{Client, Error};
use serde_json::json;

use crate::args::I2cAction;
use crate::error::Failure;

/// The first and last address `scan` probes ([`piconet_client::I2C_SCAN`]).
pub const SCAN_FIRST: u8 = *piconet_client::I2C_SCAN.start();
/// See [`SCAN_FIRST`].
pub const SCAN_LAST: u8 = *piconet_client::I2C_SCAN.end();

/// The bus and, should it need setting up, its pins and clock.
pub struct BusPins {
    /// 0 or 1.
    pub bus: u8,
    /// Data pin (default: GPIO 4 on bus 0, 6 on bus 1).
    pub sda: Option<u32>,
    /// Clock pin (default: GPIO 5 on bus 0, 7 on bus 1).
    pub scl: Option<u32>,
    /// Hz.
    pub frequency: u32,
}

/// Sets the bus up if needed, then does `action`.
pub async fn run(
    client: &Client,
    bus: &BusPins,
    action: I2cAction,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let b = bus.bus;
    let set_up =
        client.get_pins().await?.iter().any(|p| {
            p.mode == "i2c" && p.raw.get("bus").and_then(|v| v.as_u64()) == Some(b.into())
        });
    if !set_up || bus.sda.is_some() || bus.scl.is_some() {
        let (sda, scl) = (4 + 2 * u32::from(b), 5 + 2 * u32::from(b));
        client
            .i2c_setup(
                b,
                bus.sda.unwrap_or(sda),
                bus.scl.unwrap_or(scl),
                bus.frequency,
            )
            .await?;
    }
    match action {
        I2cAction::Scan => {
            let mut found = Vec::new();
            for address in SCAN_FIRST..=SCAN_LAST {
                match client.i2c_read(b, address, 1).await {
                    Ok(_) => found.push(address),
                    Err(Error::Server { exception, .. }) if exception == "OSError" => {}
                    Err(e) => return Err(e.into()),
                }
            }
            if json {
                writeln!(out, "{}", json!({"bus": b, "addresses": found}))?;
            } else {
                write!(out, "{}", grid(&found))?;
            }
        }
        I2cAction::Read { address, count } => {
            let data = client.i2c_read(b, address, count).await?;
            print_data(&data, json, out)?;
        }
        I2cAction::Write { address, bytes } => {
            let answer = client.i2c_write(b, address, &bytes).await?;
            if json {
                writeln!(out, "{}", serde_json::Value::Object(answer.raw().clone()))?;
            } else {
                writeln!(out, "wrote {} bytes to {address:#04x}", bytes.len())?;
            }
        }
        I2cAction::Transfer {
            address,
            count,
            bytes,
        } => {
            let data = client.i2c_transfer(b, address, &bytes, count).await?;
            print_data(&data, json, out)?;
        }
    }
    Ok(())
}

fn print_data(data: &[u8], json: bool, out: &mut dyn Write) -> Result<(), Failure> {
    if json {
        writeln!(out, "{}", json!({ "data": data }))?;
    } else {
        let hex: Vec<String> = data.iter().map(|b| format!("{b:02x}")).collect();
        writeln!(out, "{}", hex.join(" "))?;
    }
    Ok(())
}

/// i2cdetect's table: a row per 16 addresses, `--` where none answered,
/// blank outside the probed range.
pub fn grid(found: &[u8]) -> String {
    let mut text = String::from("     0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f\n");
    for row in 0..8u8 {
        text.push_str(&format!("{:02x}:", row * 16));
        for col in 0..16u8 {
            let a = row * 16 + col;
            if !(SCAN_FIRST..=SCAN_LAST).contains(&a) {
                text.push_str("   ");
            } else if found.contains(&a) {
                text.push_str(&format!(" {a:02x}"));
            } else {
                text.push_str(" --");
            }
        }
        text.push('\n');
    }
    text
}
