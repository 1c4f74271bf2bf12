//! What a run ends with when it fails, and the exit code for each.

use crate::cmd::firmware::FirmwareError;
use crate::cmd::update::UpdateError;
use crate::exit;

/// A failed run; its `Display` is the message `main` prints after `piconet: `.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The client failed; its code says how.
    #[error("{0}")]
    Client(#[from] piconet_client::Error),
    /// Every command was answered, but some answers are errors (already printed).
    #[error("the server answered with an error")]
    ErrorAnswers,
    /// The command line is wrong in a way clap cannot see.
    #[error("{0}")]
    Usage(String),
    /// Stdout is gone (e.g. a closed pipe).
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
    /// A benchmark could not set up, or met error answers or broken connections.
    #[error("{0}")]
    Bench(String),
    /// A firmware key or signature could not be made or read.
    #[error(transparent)]
    Firmware(#[from] FirmwareError),
    /// An update did not end with the new image running.
    #[error(transparent)]
    Update(#[from] UpdateError),
    /// mDNS browsing could not start (`discover`).
    #[error(transparent)]
    Discover(#[from] piconet_client::discover::DiscoverError),
    /// Provisioning failed; the code says how (see `exit`).
    #[error("{1}")]
    Provision(u8, String),
}

impl Failure {
    /// The exit code (see [`exit::TABLE`]).
    pub fn code(&self) -> u8 {
        match self {
            Failure::Client(e) => exit::code(e),
            Failure::ErrorAnswers => exit::SERVER_ERROR,
            Failure::Usage(_) => exit::USAGE,
            Failure::Output(_) => exit::CONNECTION,
            Failure::Bench(_) => exit::SERVER_ERROR,
            Failure::Firmware(e) => e.code(),
            Failure::Update(e) => e.code(),
            Failure::Provision(code, _) => *code,
            Failure::Discover(_) => exit::CONNECTION,
        }
    }
}
