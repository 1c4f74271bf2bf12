//! `piconet update ADDR firmware.bin`: send a signed image in chunks
//! (resuming where the board says an upload stopped), let it swap the
//! image in, wait for it to come back and confirm the version it runs,
//! as the original client's `update_server` waits for its server.

use std::cmp::Ordering;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use piconet_client::{Action, Client, Connection, Error, UpdateStatus};
use serde_json::{json, Value};

use super::firmware::{hex, read_signed, sig_path, FirmwareError, Signed};
use crate::exit;

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
    /// Say where a resumed upload starts, and warn of a downgrade (on stderr).
    pub notes: bool,
    /// Install an image older than the running one.
    pub allow_downgrade: bool,
}

/// Why an update did not end with the new image running.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// Talking to the board failed.
    #[error(transparent)]
    Client(#[from] Error),
    /// The image or its signature file is unusable.
    #[error(transparent)]
    Local(#[from] FirmwareError),
    /// The server has no image updates.
    #[error("the server answered without an \"update\" status: it does not support image updates")]
    NoUpdates,
    /// The image is older than the running one, and no --allow-downgrade.
    #[error("the board runs {running}, newer than the image's {image}: pass --allow-downgrade to install it anyway")]
    Downgrade {
        /// The running version.
        running: String,
        /// The image's version.
        image: String,
    },
    /// The board refused a chunk.
    #[error("the board refused the chunk at {offset}: {error}")]
    ChunkRefused {
        /// Its offset.
        offset: u64,
        /// The board's error.
        error: String,
    },
    /// After a dropped connection the board no longer holds this upload.
    #[error("the board no longer holds this upload: run piconet update again")]
    UploadLost,
    /// The board did not come back after its reset.
    #[error("the board did not come back within {:.1} s after the update: {error}", wait.as_secs_f64())]
    NotBack {
        /// How long it was given.
        wait: Duration,
        /// The last error.
        error: Error,
    },
    /// The new image did not confirm itself.
    #[error("the new image did not confirm itself and the bootloader rolled back: the board runs {version} again")]
    RolledBack {
        /// The version running again.
        version: String,
    },
    /// The board runs another version than the image's.
    #[error("the board came back running {running}, not {wanted}")]
    WrongVersion {
        /// What it runs.
        running: String,
        /// What the image said.
        wanted: String,
    },
}

impl UpdateError {
    /// The exit code: as the client error says, 7 for local files, 2 for a
    /// refused downgrade, else 1 (the board did not end up running the image).
    pub fn code(&self) -> u8 {
        match self {
            UpdateError::Client(e) => exit::code(e),
            UpdateError::Local(e) => e.code(),
            UpdateError::Downgrade { .. } => exit::USAGE,
            _ => exit::SERVER_ERROR,
        }
    }
}

/// An answer without an `update` status: the server has no image updates.
fn no_updates(e: Error) -> UpdateError {
    match e {
        Error::MissingField {
            field: "update", ..
        } => UpdateError::NoUpdates,
        e => UpdateError::Client(e),
    }
}

/// Where to (re)start sending: the board's next offset when it is
/// receiving this very image, else `None` (begin again).
fn resume_point(status: &UpdateStatus, signed: &Signed) -> Option<u64> {
    status
        .is_receiving(signed.size, &hex(&signed.sha256))
        .then_some(status.next_offset)
}

/// Dotted numeric versions compared part by part; `None` when either is
/// not one (then nothing is said about a downgrade).
fn compare_versions(a: &str, b: &str) -> Option<Ordering> {
    let parts = |v: &str| -> Option<Vec<u64>> {
        let core = v.split(['-', '+']).next()?;
        core.split('.').map(|p| p.parse().ok()).collect()
    };
    Some(parts(a)?.cmp(&parts(b)?))
}

/// What an update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateReport {
    /// The version before.
    pub from: String,
    /// The version after.
    pub to: String,
    /// How the board reports the update (`confirmed`, ...).
    pub last: String,
    /// Where the upload started: 0, or the offset an earlier upload reached.
    pub resumed_at: u64,
    /// Reconnections after dropped connections.
    pub reconnects: usize,
}

impl UpdateReport {
    /// For `--json`.
    pub fn json(&self) -> Value {
        json!({
            "from": self.from,
            "to": self.to,
            "last": self.last,
            "resumed_at": self.resumed_at,
            "reconnects": self.reconnects,
        })
    }
}

impl fmt::Display for UpdateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "updated {} -> {} ({})", self.from, self.to, self.last)
    }
}

/// Run the whole update; returns the report to print.
pub async fn update(client: &Client, args: &UpdateArgs) -> Result<UpdateReport, UpdateError> {
    let image = std::fs::read(&args.image).map_err(|source| FirmwareError::Io {
        what: "read the image",
        path: args.image.clone(),
        source,
    })?;
    let sig = args.sig.clone().unwrap_or_else(|| sig_path(&args.image));
    let signed = read_signed(&sig, &image)?;

    let before = client.update_status().await.map_err(no_updates)?;
    let old_version = before
        .running_version
        .clone()
        .unwrap_or_else(|| "?".to_owned());
    if let Some(new) = &signed.version {
        if compare_versions(new, &old_version) == Some(Ordering::Less) {
            if !args.allow_downgrade {
                return Err(UpdateError::Downgrade {
                    running: old_version,
                    image: new.clone(),
                });
            }
            eprintln!(
                "warning: downgrading the board from {old_version} to {new} (--allow-downgrade)"
            );
        }
    }
    let resumed_at = match resume_point(&before, &signed) {
        Some(offset) => {
            if args.notes && offset > 0 {
                eprintln!(
                    "resuming the upload of this image at byte {offset} of {} ({:.0} %), where the board says it stopped",
                    signed.size,
                    offset as f64 * 100.0 / signed.size.max(1) as f64
                );
            }
            offset
        }
        None => {
            client
                .update_begin(
                    signed.size,
                    &signed.sha256,
                    &signed.signature,
                    signed.version.as_deref(),
                    args.allow_downgrade,
                )
                .await
                .map_err(no_updates)?;
            0
        }
    };
    let mut next = resumed_at;

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
            Err(UpdateError::Client(e)) if drops < RECONNECTS && is_transport(&e) => {
                drops += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
                let s = client.update_status().await.map_err(no_updates)?;
                next = resume_point(&s, &signed).ok_or(UpdateError::UploadLost)?;
                if args.notes {
                    bar.suspend(|| {
                        eprintln!(
                            "connection lost ({e}), resuming at byte {next} of {}",
                            signed.size
                        )
                    });
                }
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
    let last = after.last.unwrap_or_else(|| "none".to_owned());
    if last == "rolled_back" {
        return Err(UpdateError::RolledBack { version });
    }
    if let Some(want) = &signed.version {
        if *want != version {
            return Err(UpdateError::WrongVersion {
                running: version,
                wanted: want.clone(),
            });
        }
    }
    Ok(UpdateReport {
        from: old_version,
        to: version,
        last,
        resumed_at,
        reconnects: drops,
    })
}

/// Send chunks from `next` on one connection, advancing `next` with each
/// accepted chunk.
async fn send_chunks(
    client: &Client,
    image: &[u8],
    next: &mut u64,
    bar: &ProgressBar,
) -> Result<(), UpdateError> {
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
            return Err(UpdateError::ChunkRefused {
                offset: *next,
                error: e.error,
            });
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
async fn wait_for_board(client: &Client, wait: Duration) -> Result<(), UpdateError> {
    let deadline = Instant::now() + wait;
    // Give the board time to go down before the first poll.
    tokio::time::sleep(Duration::from_millis(300)).await;
    loop {
        match client.perform(Action::Ping).await {
            Ok(_) => return Ok(()),
            Err(error) if Instant::now() >= deadline => {
                return Err(UpdateError::NotBack { wait, error })
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_their_numbers() {
        assert_eq!(compare_versions("0.4.0", "0.10.0"), Some(Ordering::Less));
        assert_eq!(
            compare_versions("2.0.0", "2.0.0-rc1"),
            Some(Ordering::Equal)
        );
        assert_eq!(compare_versions("3.0", "2.9.9"), Some(Ordering::Greater));
        assert_eq!(compare_versions("dev", "1.0.0"), None);
    }

    #[test]
    fn local_problems_exit_7_and_a_downgrade_2() {
        let e = UpdateError::Local(FirmwareError::NotAKey("k".into()));
        assert_eq!(e.code(), exit::LOCAL_FILE);
        let e = UpdateError::Downgrade {
            running: "2.0.0".into(),
            image: "1.0.0".into(),
        };
        assert_eq!(e.code(), exit::USAGE);
        assert!(e.to_string().contains("--allow-downgrade"));
        assert_eq!(UpdateError::UploadLost.code(), exit::SERVER_ERROR);
    }
}
