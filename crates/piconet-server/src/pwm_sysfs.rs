//! PWM outputs through the kernel's PWM sysfs interface
//! (`/sys/class/pwm/pwmchipN/pwmK`), for piconetd's gpiochip board.
//!
//! The GPIO character device cannot drive PWM: which pin a PWM channel
//! reaches is the device tree's business (on a Raspberry Pi an overlay
//! such as `dtoverlay=pwm-2chan`), so the pin -> chip/channel mapping is
//! given to piconetd (`--pwm PIN=CHIP:CHANNEL`). The sysfs root is a
//! parameter so tests run on a fake tree, as `thermal` does.

use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use piconet_engine::{BoardError, PwmChannel, PwmState};

/// Where the kernel lists its PWM chips.
pub(crate) const SYSFS_PWM: &str = "/sys/class/pwm";

/// How long an exported channel's directory may take to appear (and udev
/// to make its files writable) before the export counts as failed.
pub(crate) const EXPORT_WAIT: Duration = Duration::from_secs(1);

/// Most `--pwm` mappings (the engine's pin table has 64 pins).
pub const MAX_PWM_PINS: usize = 64;

/// One `--pwm PIN=CHIP:CHANNEL`: `pin` (a line offset of the GPIO chip)
/// is driven by channel `channel` of `/sys/class/pwm/pwmchip<chip>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PwmMapping {
    /// The pin clients name (the GPIO chip's line offset).
    pub pin: u32,
    /// N of `pwmchipN`.
    pub chip: u32,
    /// The channel of that chip (`pwmK` once exported).
    pub channel: u32,
}

/// A `--pwm` value that is not `PIN=CHIP:CHANNEL`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "{0:?} is not PIN=CHIP:CHANNEL (e.g. 18=0:0: GPIO 18 is channel 0 of /sys/class/pwm/pwmchip0)"
)]
pub struct PwmMappingSyntax(String);

impl FromStr for PwmMapping {
    type Err = PwmMappingSyntax;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PwmMappingSyntax(s.to_owned());
        let (pin, rest) = s.split_once('=').ok_or_else(bad)?;
        let (chip, channel) = rest.split_once(':').ok_or_else(bad)?;
        let num = |t: &str| t.trim().parse::<u32>().map_err(|_| bad());
        Ok(PwmMapping {
            pin: num(pin)?,
            chip: num(chip)?,
            channel: num(channel)?,
        })
    }
}

/// The `--pwm` mappings cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum PwmSetupError {
    /// No such chip.
    #[error("--pwm {pin}={chip}:{channel}: {dir} does not exist (is the PWM overlay loaded, e.g. dtoverlay=pwm-2chan on a Raspberry Pi? `ls /sys/class/pwm` lists the chips)", dir = dir.display())]
    NoChip {
        /// The pin of the mapping.
        pin: u32,
        /// The chip asked for.
        chip: u32,
        /// The channel asked for.
        channel: u32,
        /// The directory that is missing.
        dir: PathBuf,
    },
    /// The chip has fewer channels.
    #[error("--pwm {pin}={chip}:{channel}: pwmchip{chip} has {npwm} channel(s), numbered from 0")]
    NoChannel {
        /// The pin of the mapping.
        pin: u32,
        /// The chip asked for.
        chip: u32,
        /// The channel asked for.
        channel: u32,
        /// The chip's `npwm`.
        npwm: u32,
    },
    /// `npwm` could not be read.
    #[error("cannot read {path} (the chip's channel count): {source}", path = path.display())]
    Npwm {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// One pin in two mappings.
    #[error("--pwm: pin {0} is mapped twice")]
    DuplicatePin(u32),
    /// More mappings than the engine has pins.
    #[error("--pwm: at most {MAX_PWM_PINS} pins")]
    TooMany,
}

/// What piconetd last wrote to a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Written {
    period_ns: u64,
    duty_ns: u64,
}

#[derive(Debug)]
struct Channel {
    map: PwmMapping,
    /// Distinct per (chip, channel): each sysfs channel has its own period.
    slice: u16,
    /// `Some` while piconetd drives it (exported and enabled).
    running: Option<Written>,
}

/// PWM pins on sysfs PWM channels.
#[derive(Debug)]
pub(crate) struct SysfsPwm {
    root: PathBuf,
    channels: Vec<Channel>,
    export_wait: Duration,
}

/// The period in nanoseconds of `frequency` Hz (10 Hz–1 MHz: 100 ms–1 µs).
fn period_ns(frequency: u32) -> u64 {
    let f = u64::from(frequency.max(1));
    (1_000_000_000 + f / 2) / f
}

/// The high time in nanoseconds of `duty` (0.0–1.0) of `period`.
fn duty_ns(duty: f32, period: u64) -> u64 {
    let d = f64::from(duty.clamp(0.0, 1.0));
    ((d * period as f64).round() as u64).min(period)
}

/// The client's message for a failed sysfs write: what the kernel's
/// errno means here (the path and errno go to piconetd's log).
pub(crate) fn kernel_refusal(e: &io::Error) -> BoardError {
    // Linux errno values; sysfs reports the driver's refusal through them.
    const EPERM: i32 = 1;
    const ENOENT: i32 = 2;
    const EBUSY: i32 = 16;
    const EACCES: i32 = 13;
    const ENODEV: i32 = 19;
    const EINVAL: i32 = 22;
    const EOPNOTSUPP: i32 = 95;
    BoardError::Io(match e.raw_os_error() {
        Some(EBUSY) => "the kernel says this PWM channel is busy (EBUSY): another driver or process holds it",
        Some(EINVAL) => "the kernel refused this PWM period or duty (EINVAL): outside what the PWM chip can do",
        Some(EACCES | EPERM) => "permission denied writing /sys/class/pwm (run piconetd as root, or give its user the PWM files with a udev rule)",
        Some(ENOENT | ENODEV) => "this pin's PWM channel is gone from /sys/class/pwm (chip removed or channel unexported by someone else)",
        Some(EOPNOTSUPP) => "the PWM chip does not support this (EOPNOTSUPP)",
        _ => "writing the PWM channel's sysfs files failed (see piconetd's log)",
    })
}

impl SysfsPwm {
    /// Check every mapping against `root` (normally [`SYSFS_PWM`]): the
    /// chip exists and has the channel. Channels are exported only when a
    /// client sets a pin up as PWM.
    pub(crate) fn open(root: &Path, maps: &[PwmMapping]) -> Result<Self, PwmSetupError> {
        if maps.len() > MAX_PWM_PINS {
            return Err(PwmSetupError::TooMany);
        }
        let mut channels: Vec<Channel> = Vec::with_capacity(maps.len());
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for &map in maps {
            if channels.iter().any(|c| c.map.pin == map.pin) {
                return Err(PwmSetupError::DuplicatePin(map.pin));
            }
            let dir = root.join(format!("pwmchip{}", map.chip));
            if !dir.is_dir() {
                return Err(PwmSetupError::NoChip {
                    pin: map.pin,
                    chip: map.chip,
                    channel: map.channel,
                    dir,
                });
            }
            let path = dir.join("npwm");
            let npwm = std::fs::read_to_string(&path)
                .and_then(|t| {
                    t.trim()
                        .parse::<u32>()
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
                })
                .map_err(|source| PwmSetupError::Npwm { path, source })?;
            if map.channel >= npwm {
                return Err(PwmSetupError::NoChannel {
                    pin: map.pin,
                    chip: map.chip,
                    channel: map.channel,
                    npwm,
                });
            }
            let pair = (map.chip, map.channel);
            let slice = match pairs.iter().position(|p| *p == pair) {
                Some(i) => i,
                None => {
                    pairs.push(pair);
                    pairs.len() - 1
                }
            };
            channels.push(Channel {
                map,
                // At most MAX_PWM_PINS distinct pairs.
                slice: slice as u16,
                running: None,
            });
        }
        Ok(SysfsPwm {
            root: root.to_owned(),
            channels,
            export_wait: EXPORT_WAIT,
        })
    }

    /// With another bound on an export's directory appearing (tests).
    #[cfg(test)]
    fn with_export_wait(mut self, wait: Duration) -> Self {
        self.export_wait = wait;
        self
    }

    fn index(&self, pin: u32) -> Option<usize> {
        self.channels.iter().position(|c| c.map.pin == pin)
    }

    fn chip_dir(&self, map: PwmMapping) -> PathBuf {
        self.root.join(format!("pwmchip{}", map.chip))
    }

    fn channel_dir(&self, map: PwmMapping) -> PathBuf {
        self.chip_dir(map).join(format!("pwm{}", map.channel))
    }

    fn write(&self, map: PwmMapping, path: &Path, value: &str) -> Result<(), BoardError> {
        std::fs::write(path, value).map_err(|e| {
            tracing::error!(pin = map.pin, path = %path.display(), value, error = %e, "PWM sysfs write failed");
            kernel_refusal(&e)
        })
    }

    /// Export the channel unless its directory is there already (exported
    /// before: by an earlier piconetd, or the kernel refuses with EBUSY),
    /// then wait, bounded, for its files to become writable: udev may
    /// still be giving them to the PWM group just after the export.
    fn export(&self, map: PwmMapping) -> Result<PathBuf, BoardError> {
        let dir = self.channel_dir(map);
        if dir.is_dir() {
            return Ok(dir);
        }
        let export = self.chip_dir(map).join("export");
        self.write(map, &export, &map.channel.to_string())?;
        let start = Instant::now();
        loop {
            let writable = std::fs::OpenOptions::new()
                .write(true)
                .open(dir.join("enable"))
                .is_ok();
            if writable {
                return Ok(dir);
            }
            if start.elapsed() >= self.export_wait {
                tracing::error!(pin = map.pin, dir = %dir.display(), wait = ?self.export_wait, "exported PWM channel did not appear");
                return Err(BoardError::Io(
                    "the PWM channel was exported but its sysfs files did not appear (or stayed unwritable) within 1 s",
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The channel's period and duty as the kernel has them now, for a
    /// channel piconetd has not written yet (0 when unreadable: a fresh
    /// export starts at 0).
    fn current(dir: &Path) -> Written {
        let read = |f: &str| {
            std::fs::read_to_string(dir.join(f))
                .ok()
                .and_then(|t| t.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        Written {
            period_ns: read("period"),
            duty_ns: read("duty_cycle"),
        }
    }

    /// Write `state` to the channel of `index` and enable it.
    fn apply(&mut self, index: usize, state: PwmState) -> Result<(), BoardError> {
        let map = self.channels[index].map;
        let dir = match self.channels[index].running {
            Some(_) => self.channel_dir(map),
            None => self.export(map)?,
        };
        let old = self.channels[index]
            .running
            .unwrap_or_else(|| Self::current(&dir));
        let period = period_ns(state.frequency);
        let next = Written {
            period_ns: period,
            duty_ns: duty_ns(state.duty, period),
        };
        // The kernel refuses a duty longer than the period at every
        // step, so a shorter period goes after the (shorter) new duty.
        let period_first = next.period_ns >= old.duty_ns;
        let period_text = next.period_ns.to_string();
        let duty_text = next.duty_ns.to_string();
        let mut steps = [
            ("period", period_text.as_str()),
            ("duty_cycle", duty_text.as_str()),
        ];
        if !period_first {
            steps.swap(0, 1);
        }
        for (file, value) in steps {
            if (file == "period" && old.period_ns == next.period_ns)
                || (file == "duty_cycle" && old.duty_ns == next.duty_ns)
            {
                continue;
            }
            if let Err(e) = self.write(map, &dir.join(file), value) {
                // What the kernel now holds is unknown: read it next time.
                self.channels[index].running = None;
                return Err(e);
            }
        }
        if self.channels[index].running.is_none() {
            self.write(map, &dir.join("enable"), "1")?;
        }
        self.channels[index].running = Some(next);
        Ok(())
    }

    /// Whether piconetd drives `pin` as PWM now.
    #[cfg(test)]
    pub(crate) fn is_running(&self, pin: u32) -> bool {
        self.index(pin)
            .is_some_and(|i| self.channels[i].running.is_some())
    }

    /// Stop `pin`'s channel and hand it back to the kernel (disable,
    /// unexport), so the pin can be a GPIO line again.
    pub(crate) fn stop(&mut self, pin: u32) -> Result<(), BoardError> {
        let Some(i) = self.index(pin) else {
            return Ok(());
        };
        if self.channels[i].running.take().is_none() {
            return Ok(());
        }
        let map = self.channels[i].map;
        let dir = self.channel_dir(map);
        self.write(map, &dir.join("enable"), "0")?;
        self.write(
            map,
            &self.chip_dir(map).join("unexport"),
            &map.channel.to_string(),
        )
    }

    /// Stop every running channel (reset): a failure is logged, the rest
    /// are still stopped.
    pub(crate) fn stop_all(&mut self) {
        let pins: Vec<u32> = self.channels.iter().map(|c| c.map.pin).collect();
        for pin in pins {
            if let Err(e) = self.stop(pin) {
                tracing::warn!(pin, error = e.message(), "PWM channel not stopped at reset");
            }
        }
    }

    /// Whether `pin` has a mapping.
    pub(crate) fn has_pin(&self, pin: u32) -> bool {
        self.index(pin).is_some()
    }

    /// The mapped pins.
    pub(crate) fn pins(&self) -> impl Iterator<Item = u32> + '_ {
        self.channels.iter().map(|c| c.map.pin)
    }
}

impl piconet_engine::Pwm for SysfsPwm {
    fn pwm_channel(&self, pin: u32) -> Option<PwmChannel> {
        self.index(pin).map(|i| PwmChannel {
            slice: self.channels[i].slice,
            output: 0,
        })
    }

    fn start_pwm(&mut self, pin: u32, state: PwmState) -> Result<(), BoardError> {
        let i = self.index(pin).ok_or(BoardError::Unsupported(
            "this pin has no PWM channel (piconetd --pwm PIN=CHIP:CHANNEL maps one)",
        ))?;
        self.apply(i, state)
    }

    fn set_pwm(&mut self, pin: u32, state: PwmState) -> Result<(), BoardError> {
        let i = self.index(pin).ok_or(BoardError::Unsupported(
            "this pin has no PWM channel (piconetd --pwm PIN=CHIP:CHANNEL maps one)",
        ))?;
        self.apply(i, state)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use piconet_engine::Pwm;

    /// A fake `/sys/class/pwm` with `pwmchip<chip>` of `npwm` channels.
    pub(crate) fn chip(root: &Path, chip: u32, npwm: u32) {
        let dir = root.join(format!("pwmchip{chip}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("npwm"), format!("{npwm}\n")).unwrap();
        std::fs::write(dir.join("export"), "").unwrap();
        std::fs::write(dir.join("unexport"), "").unwrap();
    }

    /// What the kernel does at an export: the channel's directory with
    /// its files at 0.
    pub(crate) fn exported(root: &Path, chip: u32, channel: u32) -> PathBuf {
        let dir = root.join(format!("pwmchip{chip}/pwm{channel}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["period", "duty_cycle", "enable"] {
            std::fs::write(dir.join(f), "0\n").unwrap();
        }
        dir
    }

    pub(crate) fn read(dir: &Path, file: &str) -> String {
        std::fs::read_to_string(dir.join(file))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn map(pin: u32, chip: u32, channel: u32) -> PwmMapping {
        PwmMapping { pin, chip, channel }
    }

    const HALF_KHZ: PwmState = PwmState {
        duty: 0.5,
        frequency: 1000,
    };

    #[test]
    fn mappings_parse_and_bad_ones_say_the_form() {
        assert_eq!("18=0:1".parse(), Ok(map(18, 0, 1)));
        assert_eq!(" 12 = 2 : 3".parse(), Ok(map(12, 2, 3)));
        for bad in ["", "18", "18=0", "18:0:1", "a=0:1", "18=0:-1", "18=0:1:2"] {
            let e = bad.parse::<PwmMapping>().unwrap_err().to_string();
            assert!(e.contains("PIN=CHIP:CHANNEL"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_missing_chip_or_channel_is_refused_at_start_with_advice() {
        let root = tempfile::tempdir().unwrap();
        chip(root.path(), 0, 2);
        let e = SysfsPwm::open(root.path(), &[map(18, 1, 0)]).unwrap_err();
        assert!(matches!(e, PwmSetupError::NoChip { chip: 1, .. }));
        assert!(e.to_string().contains("dtoverlay=pwm-2chan"), "{e}");
        let e = SysfsPwm::open(root.path(), &[map(18, 0, 2)]).unwrap_err();
        assert!(matches!(e, PwmSetupError::NoChannel { npwm: 2, .. }));
        assert!(e.to_string().contains("has 2 channel(s)"), "{e}");
        let e = SysfsPwm::open(root.path(), &[map(18, 0, 0), map(18, 0, 1)]).unwrap_err();
        assert!(matches!(e, PwmSetupError::DuplicatePin(18)), "{e}");
        std::fs::write(root.path().join("pwmchip0/npwm"), "two").unwrap();
        let e = SysfsPwm::open(root.path(), &[map(18, 0, 0)]).unwrap_err();
        assert!(e.to_string().contains("npwm"), "{e}");
        let many: Vec<_> = (0..=MAX_PWM_PINS as u32).map(|p| map(p, 0, 0)).collect();
        assert!(matches!(
            SysfsPwm::open(root.path(), &many),
            Err(PwmSetupError::TooMany)
        ));
    }

    #[test]
    fn channels_are_slices_of_their_own_and_unmapped_pins_have_none() {
        let root = tempfile::tempdir().unwrap();
        chip(root.path(), 0, 2);
        chip(root.path(), 2, 4);
        let pwm = SysfsPwm::open(
            root.path(),
            &[map(18, 0, 0), map(19, 0, 1), map(12, 2, 0), map(13, 0, 0)],
        )
        .unwrap();
        let ch = |pin| pwm.pwm_channel(pin).map(|c| (c.slice, c.output));
        assert_eq!(ch(18), Some((0, 0)));
        assert_eq!(ch(19), Some((1, 0)));
        assert_eq!(ch(12), Some((2, 0)));
        // The same sysfs channel: the same output (the engine refuses it
        // on a second pin).
        assert_eq!(ch(13), ch(18));
        assert_eq!(ch(5), None);
    }

    #[test]
    fn set_change_and_stop_write_the_sysfs_files_in_a_valid_order() {
        let root = tempfile::tempdir().unwrap();
        chip(root.path(), 0, 2);
        let dir = exported(root.path(), 0, 1);
        let mut pwm = SysfsPwm::open(root.path(), &[map(19, 0, 1)]).unwrap();
        pwm.start_pwm(19, HALF_KHZ).unwrap();
        // Already exported: not exported again (the kernel says EBUSY).
        assert_eq!(read(&root.path().join("pwmchip0"), "export"), "");
        assert_eq!(read(&dir, "period"), "1000000");
        assert_eq!(read(&dir, "duty_cycle"), "500000");
        assert_eq!(read(&dir, "enable"), "1");
        assert!(pwm.is_running(19));
        // A shorter period (the order of the writes is checked in the
        // next test).
        pwm.set_pwm(
            19,
            PwmState {
                duty: 0.25,
                frequency: 100_000,
            },
        )
        .unwrap();
        assert_eq!(read(&dir, "period"), "10000");
        assert_eq!(read(&dir, "duty_cycle"), "2500");
        pwm.set_pwm(
            19,
            PwmState {
                duty: 1.0,
                frequency: 10,
            },
        )
        .unwrap();
        assert_eq!(read(&dir, "period"), "100000000");
        assert_eq!(read(&dir, "duty_cycle"), "100000000");
        pwm.stop(19).unwrap();
        assert_eq!(read(&dir, "enable"), "0");
        assert_eq!(read(&root.path().join("pwmchip0"), "unexport"), "1");
        assert!(!pwm.is_running(19));
        // Stopping what does not run does nothing.
        std::fs::write(root.path().join("pwmchip0/unexport"), "").unwrap();
        pwm.stop(19).unwrap();
        pwm.stop(5).unwrap();
        assert_eq!(read(&root.path().join("pwmchip0"), "unexport"), "");
    }

    #[test]
    fn the_duty_never_exceeds_the_period_between_writes() {
        // A fake kernel check: after each write the pair must be valid.
        // The period is shortened below the running duty: the duty must
        // be written first.
        let root = tempfile::tempdir().unwrap();
        chip(root.path(), 0, 1);
        let dir = exported(root.path(), 0, 0);
        let mut pwm = SysfsPwm::open(root.path(), &[map(18, 0, 0)]).unwrap();
        pwm.start_pwm(
            18,
            PwmState {
                duty: 0.9,
                frequency: 10,
            },
        )
        .unwrap();
        // Make a wrong order visible: with `period` a directory the
        // write fails, so the duty must already be the new one.
        std::fs::remove_file(dir.join("period")).unwrap();
        std::fs::create_dir(dir.join("period")).unwrap();
        let e = pwm
            .set_pwm(
                18,
                PwmState {
                    duty: 0.5,
                    frequency: 1000,
                },
            )
            .unwrap_err();
        assert_eq!(read(&dir, "duty_cycle"), "500000");
        assert!(e.message().contains("see piconetd's log"), "{e:?}");
        // After a failure what the kernel holds is read again.
        std::fs::remove_dir(dir.join("period")).unwrap();
        std::fs::write(dir.join("period"), "100000000\n").unwrap();
        pwm.set_pwm(18, HALF_KHZ).unwrap();
        assert_eq!(read(&dir, "period"), "1000000");
        assert_eq!(read(&dir, "duty_cycle"), "500000");
    }

    #[test]
    fn a_fresh_channel_is_exported_and_waited_for() {
        let root = tempfile::tempdir().unwrap();
        chip(root.path(), 0, 2);
        let mut pwm = SysfsPwm::open(root.path(), &[map(18, 0, 1)])
            .unwrap()
            .with_export_wait(Duration::from_secs(5));
        // The fake kernel: makes pwm1/ once "1" is written to export.
        let kernel = {
            let root = root.path().to_owned();
            std::thread::spawn(move || {
                let start = Instant::now();
                while start.elapsed() < Duration::from_secs(5) {
                    if read(&root.join("pwmchip0"), "export") == "1" {
                        exported(&root, 0, 1);
                        return true;
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                false
            })
        };
        pwm.start_pwm(18, HALF_KHZ).unwrap();
        assert!(kernel.join().unwrap());
        let dir = root.path().join("pwmchip0/pwm1");
        assert_eq!(read(&dir, "enable"), "1");
        assert_eq!(read(&dir, "duty_cycle"), "500000");
    }

    #[test]
    fn an_export_that_never_appears_is_a_clear_error() {
        let root = tempfile::tempdir().unwrap();
        chip(root.path(), 0, 2);
        let mut pwm = SysfsPwm::open(root.path(), &[map(18, 0, 0)])
            .unwrap()
            .with_export_wait(Duration::from_millis(20));
        let e = pwm.start_pwm(18, HALF_KHZ).unwrap_err();
        assert!(e.message().contains("did not appear"), "{e:?}");
        assert!(!pwm.is_running(18));
        assert!(pwm.start_pwm(5, HALF_KHZ).is_err());
    }

    #[test]
    fn kernel_errnos_become_messages_that_say_what_to_do() {
        let msg = |errno| kernel_refusal(&io::Error::from_raw_os_error(errno)).message();
        assert!(msg(16).contains("EBUSY"), "{}", msg(16));
        assert!(msg(22).contains("EINVAL"));
        assert!(msg(13).contains("udev rule"));
        assert!(msg(1).contains("udev rule"));
        assert!(msg(2).contains("gone"));
        assert!(msg(95).contains("EOPNOTSUPP"));
        assert!(msg(5).contains("piconetd's log"));
    }

    #[test]
    fn periods_and_duties_in_nanoseconds() {
        assert_eq!(period_ns(10), 100_000_000);
        assert_eq!(period_ns(1_000_000), 1000);
        assert_eq!(period_ns(3), 333_333_333);
        assert_eq!(period_ns(7), 142_857_143);
        assert_eq!(duty_ns(0.0, 1000), 0);
        assert_eq!(duty_ns(1.0, 1000), 1000);
        assert_eq!(duty_ns(0.3333, 1000), 333);
    }
}
