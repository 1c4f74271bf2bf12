//! Choosing the board from the command line.

use std::path::PathBuf;
use std::str::FromStr;

use piconet_engine::{Board, SimBoard};

use crate::clock::Clock;
use crate::gpiochip::{GpioChipBoard, GpioChipError};

/// Which board the daemon drives.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum BoardSpec {
    /// A simulated Pico W in memory.
    #[default]
    Sim,
    /// A Linux GPIO chip, e.g. `/dev/gpiochip0` (pin numbers are line
    /// offsets: on a Raspberry Pi 4/5 these are the BCM GPIO numbers).
    GpioChip(PathBuf),
}

/// A `--board` value that is neither `sim` nor `gpiochip:PATH`.
#[derive(Debug, thiserror::Error)]
#[error("unknown board {0:?}: use \"sim\" or \"gpiochip:/dev/gpiochipN\"")]
pub struct BoardSpecError(String);

impl FromStr for BoardSpec {
    type Err = BoardSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            None if s == "sim" => Ok(BoardSpec::Sim),
            Some(("gpiochip", path)) if !path.is_empty() => {
                Ok(BoardSpec::GpioChip(PathBuf::from(path)))
            }
            _ => Err(BoardSpecError(s.to_owned())),
        }
    }
}

impl BoardSpec {
    pub(crate) fn open(
        &self,
        clock: Clock,
        led: Option<u32>,
    ) -> Result<Box<dyn Board + Send>, GpioChipError> {
        Ok(match self {
            BoardSpec::Sim => {
                Box::new(SimBoard::with_clock(move || clock.now()).with_epoch_ns(clock.epoch_ns()))
            }
            BoardSpec::GpioChip(path) => {
                Box::new(GpioChipBoard::open(path, led, clock.epoch_ns())?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_board_specs() {
        assert_eq!("sim".parse::<BoardSpec>().unwrap(), BoardSpec::Sim);
        assert_eq!(
            "gpiochip:/dev/gpiochip4".parse::<BoardSpec>().unwrap(),
            BoardSpec::GpioChip("/dev/gpiochip4".into())
        );
        for bad in ["", "simulated", "gpiochip:", "gpio:/dev/x"] {
            let e = bad.parse::<BoardSpec>().unwrap_err().to_string();
            assert!(e.contains("gpiochip:/dev/gpiochipN"), "{bad}: {e}");
        }
    }
}
