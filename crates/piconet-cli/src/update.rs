//! `piconet update ADDR firmware.bin`: send a signed image in chunks
//! (resuming where the board says an upload stopped), let it swap the
//! image in, wait for it to come back and confirm the version it runs,
//! as the original client's `update_server` waits for its server.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use piconet_client::{Action, Client, Connection, Error, UpdateStatus};

use crate::firmware::{hex, read_signed, sig_path, Signed};

/// Bytes per `update_chunk`: the protocol's maximum.
const CHUNK: usize = piconet_client::protocol::update::MAX_CHUNK;
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

fn other(s: impl Into<String>) -> UpdateFailure {
    UpdateFailure::Other(s.into())
}

/// An answer without an `update` status: the server has no image updates.
fn no_updates(e: Error) -> UpdateFailure {
    match e {
        Error::MissingField {
            field: "update", ..
        } => other(
            "the server answered without an \"update\" status: it does not support image updates",
        ),
        e => UpdateFailure::Client(e),
    }
}

/// Where to (re)start sending: the board's next offset when it is
/// receiving this very image, else `None` (begin again).
fn resume_point(status: &UpdateStatus, signed: &Signed) -> Option<u64> {
    status
        .is_receiving(signed.size, &hex(&signed.sha256))
        .then_some(status.next_offset)
}

/// Run the whole update; returns the report to print.
pub async fn update(client: &Client, args: &UpdateArgs) -> Result<String, UpdateFailure> {
    let image = std::fs::read(&args.image)
        .map_err(|e| other(format!("cannot read {}: {e}", args.image.display())))?;
    let sig = args.sig.clone().unwrap_or_else(|| sig_path(&args.image));
    let signed = read_signed(&sig, &image).map_err(|e| other(e.0))?;

    let before = client.update_status().await.map_err(no_updates)?;
    let old_version = before
        .running_version
        .clone()
        .unwrap_or_else(|| "?".to_owned());
    let mut next = match resume_point(&before, &signed) {
        Some(offset) => offset,
        None => {
            client
                .update_begin(
                    signed.size,
                    &signed.sha256,
                    &signed.signature,
                    signed.version.as_deref(),
                )
                .await
                .map_err(no_updates)?;
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
                let s = client.update_status().await.map_err(no_updates)?;
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
    finisher.update_finish().await.map_err(no_updates)?;

    wait_for_board(client, args.wait).await?;
    let version = client.version().await?;
    let after = client.update_status().await.map_err(no_updates)?;
    let last = after.last.as_deref().unwrap_or("none");
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
            .perform(
                Action::UpdateChunk {
                    offset: *next,
                    data: &image[start..end],
                },
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
        match client.perform(Action::Ping).await {
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
