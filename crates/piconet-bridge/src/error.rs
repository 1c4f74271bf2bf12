//! What stops a board's bridge from starting.

use std::path::PathBuf;

/// A board cannot be served with these settings.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// `[broker] ca` cannot be read.
    #[error("cannot read the broker CA file {path}: {source}")]
    BrokerCa {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The board's address or TLS settings are unusable.
    #[error("board {board}: {source}")]
    Board {
        /// The board's name.
        board: String,
        /// Why.
        source: Box<piconet_client::Error>,
    },
}
