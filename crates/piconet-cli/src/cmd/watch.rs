//! `piconet watch ADDR PIN…` (or `--serial DEVICE PIN…`): one line per
//! input event, until Ctrl-C (or `--count` lines), with a `ping` every
//! [`WATCH_KEEPALIVE`] of quiet so the server keeps the connection.

use std::io::Write;

use piconet_client::{Action, Client, Edge, Event, WATCH_KEEPALIVE};

use crate::error::Failure;

/// Watch `pins` on one connection and print each event line as it comes:
/// as text, or with `json` as the server's line.
pub async fn run(
    client: &Client,
    pins: &[u32],
    edge: Edge,
    debounce_ms: u16,
    count: Option<u64>,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let mut conn = client.connect().await?;
    for &pin in pins {
        let answer = conn
            .perform(
                Action::WatchPin {
                    pin,
                    edge,
                    debounce_ms,
                },
                false,
            )
            .await?;
        if let Some(e) = answer.server_error() {
            // Refused (not an input, not set up, a limit): say which pin.
            writeln!(out, "pin {pin}: {e}")?;
            return Err(Failure::ErrorAnswers);
        }
    }
    out.flush()?;
    let mut printed = 0u64;
    while count.is_none_or(|n| printed < n) {
        // A ping now and then: the server's idle timeout would end a
        // watch of a pin that does not change.
        let event = conn.next_event_keepalive(WATCH_KEEPALIVE).await?;
        writeln!(out, "{}", line(&event, json))?;
        // One line per event as it happens, also into a pipe.
        out.flush()?;
        printed += 1;
    }
    conn.close().await;
    Ok(())
}

/// How an event is printed.
pub fn line(event: &Event, json: bool) -> String {
    match (event, json) {
        (
            Event::Edge {
                pin,
                value,
                time_us,
                seq,
            },
            true,
        ) => serde_json::json!({"event": "edge", "pin": pin, "value": value.as_u8(), "time_us": time_us, "seq": seq}).to_string(),
        (Event::Overflow { dropped, seq }, true) => {
            serde_json::json!({"event": "overflow", "dropped": dropped, "seq": seq}).to_string()
        }
        (
            Event::Edge {
                pin,
                value,
                time_us,
                seq,
            },
            false,
        ) => format!(
            "pin {pin} {} at {time_us} us (seq {seq})",
            if value.as_u8() == 1 { "rising, now 1" } else { "falling, now 0" }
        ),
        (Event::Overflow { dropped, seq }, false) => {
            format!("overflow: {dropped} edges lost, the last was seq {seq}")
        }
    }
}
