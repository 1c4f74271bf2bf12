//! `piconet pins ADDR`: every configured pin, as `get_pins` reports it.

use std::io::Write;

use piconet_client::{Client, Level, PinState, Value};

use crate::error::Failure;

/// The fields shown in their own columns; any other goes to the last one.
const COLUMNS: [&str; 7] = [
    "pin", "mode", "level", "safe", "pull", "lease_ms", "held_by",
];

/// A table (one pin a line, in pin order), or the `pins` array as JSON.
pub async fn run(client: &Client, json: bool, out: &mut dyn Write) -> Result<(), Failure> {
    let pins = client.get_pins().await?;
    if json {
        let raw: Vec<Value> = pins.iter().map(|p| Value::Object(p.raw.clone())).collect();
        writeln!(out, "{}", serde_json::json!({ "pins": raw }))?;
        return Ok(());
    }
    write!(out, "{}", table(&pins))?;
    Ok(())
}

/// The text table: `-` where a pin has no such field.
pub fn table(pins: &[PinState]) -> String {
    if pins.is_empty() {
        return "no pin is configured\n".to_owned();
    }
    let level = |l: Option<Level>| l.map_or("-".to_owned(), |l| l.as_u8().to_string());
    let mut rows = vec![[
        "PIN".to_owned(),
        "MODE".to_owned(),
        "LEVEL".to_owned(),
        "SAFE".to_owned(),
        "PULL".to_owned(),
        "LEASE".to_owned(),
        "HELD BY".to_owned(),
        "OTHER".to_owned(),
    ]];
    for p in pins {
        let other: Vec<String> = p
            .raw
            .iter()
            .filter(|(k, _)| !COLUMNS.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        rows.push([
            p.pin.to_string(),
            p.mode.clone(),
            level(p.level),
            level(p.safe),
            p.pull.clone().unwrap_or_else(|| "-".to_owned()),
            p.lease_ms
                .map_or("-".to_owned(), |ms| format!("{:.1} s", ms as f64 / 1000.0)),
            p.held_by.clone().unwrap_or_else(|| "-".to_owned()),
            other.join(" "),
        ]);
    }
    let mut widths = [0usize; 8];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_table_has_a_row_per_pin_and_dashes_for_what_is_absent() {
        let pins: Vec<PinState> = [
            json!({"pin": 2, "mode": "output", "level": 1, "safe": 0, "lease_ms": 4200}),
            json!({"pin": 5, "mode": "input", "pull": "up", "level": 0, "watched": true}),
        ]
        .iter()
        .map(|v| PinState::from_json(v).unwrap())
        .collect();
        let text = table(&pins);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("PIN  MODE"), "{text}");
        let cells = |l: &str| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            cells(lines[1]),
            ["2", "output", "1", "0", "-", "4.2", "s", "-"]
        );
        assert_eq!(
            cells(lines[2]),
            ["5", "input", "0", "-", "up", "-", "-", "watched=true"]
        );
        assert_eq!(table(&[]), "no pin is configured\n");
    }
}
