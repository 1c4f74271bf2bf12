//! Choosing the board from the command line.

use std::path::PathBuf;
use std::str::FromStr;

use piconet_engine::Board;
use piconet_sim::sim_flash::{sim_image, SimFlash};
use piconet_sim::SimBoard;

use crate::clock::Clock;
use crate::edges::EdgeReceiver;
use crate::gpiochip::{GpioChipBoard, GpioChipError, MappedPinError};
use crate::host_board::HostBoard;
use crate::i2c_linux::{I2cMapping, I2cSetupError, LinuxI2c};
use crate::pwm_sysfs::{PwmMapping, PwmSetupError, SysfsPwm};

/// ACTIVE partition of the simulated flash: 256 KiB, 4 KiB pages.
const SIM_FLASH_PAGES: usize = 64;

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

/// The board could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum BoardOpenError {
    /// The GPIO chip.
    #[error(transparent)]
    Chip(#[from] GpioChipError),
    /// A `--pwm` chip or channel.
    #[error(transparent)]
    Pwm(#[from] PwmSetupError),
    /// An `--i2c` adapter.
    #[error(transparent)]
    I2c(#[from] I2cSetupError),
    /// A `--pwm` or `--i2c` pin.
    #[error(transparent)]
    MappedPin(#[from] MappedPinError),
}

/// What a gpiochip board serves besides its lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Peripherals {
    /// `--pwm`: pins driven by sysfs PWM channels.
    pub pwm: Vec<PwmMapping>,
    /// `--i2c`: buses on `/dev/i2c-N` adapters.
    pub i2c: Vec<I2cMapping>,
}

impl BoardSpec {
    /// The board kind as its id hashes it (`sim`, `gpiochip:PATH`): two
    /// kinds of board on one port are two boards.
    pub fn id_kind(&self) -> String {
        match self {
            BoardSpec::Sim => "sim".to_owned(),
            BoardSpec::GpioChip(path) => format!("gpiochip:{}", path.display()),
        }
    }

    /// `update`: the public key the sim board's images must be signed
    /// with and the version of its factory image. With the board comes
    /// the end of its edge queue for [`crate::edges::pump`] (`None` for the
    /// simulated board, whose edges come from `sim_input`).
    pub(crate) fn open(
        &self,
        clock: Clock,
        led: Option<u32>,
        update: Option<([u8; 32], &str)>,
        peripherals: &Peripherals,
        name: &str,
    ) -> Result<(Box<dyn Board + Send>, Option<EdgeReceiver>), BoardOpenError> {
        // The simulated board has its own thermometer; the GPIO chip's
        // host answers with its CPU thermal zone.
        let thermal = match self {
            BoardSpec::Sim => None,
            BoardSpec::GpioChip(_) => crate::thermal::ThermalZone::find(std::path::Path::new(
                crate::thermal::SYSFS_THERMAL,
            )),
        };
        let mut edges = None;
        let board: Box<dyn Board + Send> = match self {
            BoardSpec::Sim => {
                let epoch = clock.epoch_ns();
                let board = SimBoard::with_clock(move || clock.now()).with_epoch_ns(epoch);
                Box::new(match update {
                    Some((key, version)) => {
                        let factory = sim_image(version, false, 0);
                        board.with_flash(SimFlash::new(SIM_FLASH_PAGES, &factory, key))
                    }
                    None => board,
                })
            }
            BoardSpec::GpioChip(path) => {
                let (sender, receiver) = crate::edges::channel(clock);
                edges = Some(receiver);
                let mut board = GpioChipBoard::open(path, led, clock.epoch_ns(), sender)?;
                if !peripherals.pwm.is_empty() {
                    let root = std::path::Path::new(crate::pwm_sysfs::SYSFS_PWM);
                    board = board.with_pwm(SysfsPwm::open(root, &peripherals.pwm)?)?;
                }
                if !peripherals.i2c.is_empty() {
                    board = board.with_i2c(LinuxI2c::open(&peripherals.i2c)?)?;
                }
                Box::new(board)
            }
        };
        Ok((
            Box::new(HostBoard::new(board, name).with_thermal(thermal)),
            edges,
        ))
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
