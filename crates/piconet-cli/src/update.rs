//! `piconet update ADDR firmware.bin`: send a signed image in chunks
//! (resuming where the board says an upload stopped), let it swap the
//! image in, wait for it to come back and confirm the version it runs,
//! as the original client's `update_server` waits for its server.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use indicatif::{ProgressBar, ProgressStyle};
use piconet_client::{Client, Connection, Error, Map, Response, Value};
use serde_json::json;

use crate::firmware::{hex, read_signed, sig_path, Signed};

/// Bytes per `update_chunk`: the protocol's maximum.
const CHUNK: usize = 1024;
/// Reconnections tried when the connection drops mid-upload.
const RECONNECTS: usize = 5;
/// Per-command timeout for `update_finish`: the board hashes the whole
/// image from flash before it answers.
const FINISH_TIMEOUT: Duration = Duration::from_secs(60);

/// What `piconet update` was asked to do.
#[derive(Debug, Clone)]
pub struct UpdateArgs {
    /// The image.
    pub image: PathBuf,
    /// Its signature file (default `IMAGE.sig`).
    pub sig: Option<PathBuf>,
    /// How long to wait for the board after its reset.
    pub wait: Duration,
    /// Draw a progress bar (on stderr).
    pub progress: bool,
}

/// Why an update did not end with the new image running.
#[derive(Debug)]
pub enum UpdateFailure {
    /// Talking to the board failed.
    Client(Error),
    /// Anything else, phrased for the user.
    Other(String),
}

impl From<Error> for UpdateFailure {
    fn from(e: Error) -> Self {
        UpdateFailure::Client(e)
    }
}

fn cmd(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn other(s: impl Into<String>) -> UpdateFailure {
    UpdateFailure::Other(s.into())
}

/// The `update` object of an update action's answer.
fn status_of(r: &Response) -> Result<Map<String, Value>, UpdateFailure> {
    match r.get("update") {
        Some(Value::Object(m)) => Ok(m.clone()),
        _ => Err(other(
            "the server answered without an \"update\" status: it does not support image updates",
        )),
    }
}

async fn status(client: &Client) -> Result<Map<String, Value>, UpdateFailure> {
    let r = client
        .command(cmd(json!({"action": "update_status"})))
        .await?;
    status_of(&r)
}

/// Where to (re)start sending: the board's next offset when it is
/// receiving this very image, else `None` (begin again).
fn resume_point(status: &Map<String, Value>, signed: &Signed) -> Option<u64> {
    let same = status.get("state") == Some(&json!("receiving"))
        && status.get("sha256") == Some(&json!(hex(&signed.sha256)))
        && status.get("size") == Some(&json!(signed.size));
    same.then(|| status.get("next_offset").and_then(Value::as_u64))
        .flatten()
}

/// Run the whole update; returns the report to print.
pub async fn update(client: &Client, args: &UpdateArgs) -> Result<String, UpdateFailure> {
    let image = std::fs::read(&args.image)
        .map_err(|e| other(format!("cannot read {}: {e}", args.image.display())))?;
    let sig = args.sig.clone().unwrap_or_else(|| sig_path(&args.image));
    let signed = read_signed(&sig, &image).map_err(|e| other(e.0))?;

    let before = status(client).await?;
    let old_version = before
        .get("running_version")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned();
    let mut next = match resume_point(&before, &signed) {
        Some(offset) => offset,
        None => {
            let r = client
                .command(cmd(json!({
                    "action": "update_begin",
                    "size": signed.size,
                    "sha256": hex(&signed.sha256),
                    "signature": hex(&signed.signature),
                    "version": signed.version,
                })))
                .await?;
            status_of(&r)?;
            0
        }
    };

    let bar = if args.progress {
        ProgressBar::new(signed.size)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(next);
    let mut drops = 0;
    while next < signed.size {
        match send_chunks(client, &image, &mut next, &bar).await {
            Ok(()) => {}
            Err(UpdateFailure::Client(e)) if drops < RECONNECTS && is_transport(&e) => {
                drops += 1;
                bar.println(format!("connection lost ({e}), resuming"));
                tokio::time::sleep(Duration::from_millis(500)).await;
                let s = status(client).await?;
                next = resume_point(&s, &signed).ok_or_else(|| {
                    other("the board no longer holds this upload: run piconet update again")
                })?;
                bar.set_position(next);
            }
            Err(e) => return Err(e),
        }
    }
    bar.finish_and_clear();

    let finisher = client.clone().with_timeout(FINISH_TIMEOUT);
    let r = finisher
        .command(cmd(json!({"action": "update_finish"})))
        .await?;
    status_of(&r)?;

    wait_for_board(client, args.wait).await?;
    let version = client.version().await?;
    let after = status(client).await?;
    let last = after.get("last").and_then(Value::as_str).unwrap_or("none");
    if last == "rolled_back" {
        return Err(other(format!(
            "the new image did not confirm itself and the bootloader rolled back: the board runs {version} again"
        )));
    }
    if let Some(want) = &signed.version {
        if *want != version {
            return Err(other(format!(
                "the board came back running {version}, not {want}"
            )));
        }
    }
    Ok(format!("updated {old_version} -> {version} ({last})\n"))
}

/// Send chunks from `next` on one connection, advancing `next` with each
/// accepted chunk.
async fn send_chunks(
    client: &Client,
    image: &[u8],
    next: &mut u64,
    bar: &ProgressBar,
) -> Result<(), UpdateFailure> {
    let mut conn: Connection = client.connect().await?;
    while (*next as usize) < image.len() {
        let start = *next as usize;
        let end = (start + CHUNK).min(image.len());
        let r = conn
            .request(
                cmd(json!({
                    "action": "update_chunk",
                    "offset": start,
                    "data": base64::engine::general_purpose::STANDARD.encode(&image[start..end]),
                })),
                false,
            )
            .await?;
        if let Some(e) = r.server_error() {
            return Err(other(format!(
                "the board refused the chunk at {start}: {}",
                e.error
            )));
        }
        *next = end as u64;
        bar.set_position(*next);
    }
    conn.close().await;
    Ok(())
}

fn is_transport(e: &Error) -> bool {
    !matches!(e, Error::Server { .. })
}

/// Poll `ping` until the board answers again after its reset.
async fn wait_for_board(client: &Client, wait: Duration) -> Result<(), UpdateFailure> {
    let deadline = Instant::now() + wait;
    // Give the board time to go down before the first poll.
    tokio::time::sleep(Duration::from_millis(300)).await;
    loop {
        match client.command(cmd(json!({"action": "ping"}))).await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() >= deadline => {
                return Err(other(format!(
                    "the board did not come back within {} s after the update: {e}",
                    wait.as_secs()
                )))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}
