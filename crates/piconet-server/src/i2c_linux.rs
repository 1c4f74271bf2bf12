//! I2C buses through the kernel's i2c-dev interface (`/dev/i2c-N`), for
//! piconetd's gpiochip board.
//!
//! Which pins an adapter uses and its clock are set by the device tree
//! (on a Raspberry Pi `dtparam=i2c_arm=on`, `dtparam=i2c_arm_baudrate`),
//! so each bus is mapped on the command line
//! (`--i2c BUS=DEVICE:SDA:SCL[@HZ]`). The kernel access sits behind
//! [`I2cAdapter`] so the engine's I2C family is tested on a fake bus.

use std::io;
use std::path::PathBuf;
use std::str::FromStr;

use piconet_engine::{BoardError, I2cError, I2cLine};
use piconet_protocol::action::i2c::{
    DEFAULT_I2C_FREQUENCY, MAX_I2C_BUS, MAX_I2C_FREQUENCY, MIN_I2C_FREQUENCY,
};

/// One `--i2c BUS=DEVICE:SDA:SCL[@HZ]`: piconet's bus `bus` is the
/// kernel adapter `device`, whose data and clock lines are the GPIO
/// chip's lines `sda` and `scl`, clocked at `frequency` Hz by the device
/// tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct I2cMapping {
    /// The bus number clients name (0 or 1).
    pub bus: u8,
    /// The adapter's device, e.g. `/dev/i2c-1`.
    pub device: PathBuf,
    /// The line that is SDA.
    pub sda: u32,
    /// The line that is SCL.
    pub scl: u32,
    /// The clock the device tree gives the adapter (piconetd cannot
    /// change it): `i2c_setup` must ask for this one.
    pub frequency: u32,
}

/// A `--i2c` value that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("--i2c {value:?}: {why} (expected BUS=DEVICE:SDA:SCL[@HZ], e.g. 1=/dev/i2c-1:2:3 for a Raspberry Pi's header I2C, GPIO 2 and 3, at the default 100000 Hz)")]
pub struct I2cMappingSyntax {
    value: String,
    why: &'static str,
}

impl FromStr for I2cMapping {
    type Err = I2cMappingSyntax;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why| I2cMappingSyntax {
            value: s.to_owned(),
            why,
        };
        let (bus, rest) = s.split_once('=').ok_or(bad("no BUS="))?;
        let bus: u8 = bus
            .trim()
            .parse()
            .ok()
            .filter(|b| *b <= MAX_I2C_BUS)
            .ok_or(bad("the bus must be 0 or 1"))?;
        let (rest, frequency) = match rest.rsplit_once('@') {
            Some((rest, hz)) => (
                rest,
                hz.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|hz| (MIN_I2C_FREQUENCY..=MAX_I2C_FREQUENCY).contains(hz))
                    .ok_or(bad("the frequency must be 10000 to 1000000 Hz"))?,
            ),
            None => (rest, DEFAULT_I2C_FREQUENCY),
        };
        let mut parts = rest.rsplitn(3, ':');
        let line = |t: Option<&str>| {
            t.and_then(|t| t.trim().parse::<u32>().ok())
                .ok_or(bad("SDA and SCL must be line numbers"))
        };
        let scl = line(parts.next())?;
        let sda = line(parts.next())?;
        let device = parts
            .next()
            .filter(|d| !d.is_empty())
            .ok_or(bad("no DEVICE"))?;
        if sda == scl {
            return Err(bad("SDA and SCL must be different lines"));
        }
        Ok(I2cMapping {
            bus,
            device: PathBuf::from(device),
            sda,
            scl,
            frequency,
        })
    }
}

/// One I2C adapter.
pub(crate) trait I2cAdapter: Send {
    /// One transaction with the device at the 7-bit `address`: `write`
    /// (when not empty), then after a repeated start `read` (when not
    /// empty), one STOP at the end. The error is the kernel's errno.
    fn transfer(&mut self, address: u8, write: &[u8], read: &mut [u8]) -> io::Result<()>;
}

/// [`I2cAdapter`] on `/dev/i2c-N`, through the `i2cdev` crate's
/// `I2C_RDWR`, which keeps a write and a read in one transaction.
pub(crate) struct KernelAdapter(i2cdev::linux::LinuxI2CBus);

impl I2cAdapter for KernelAdapter {
    fn transfer(&mut self, address: u8, write: &[u8], read: &mut [u8]) -> io::Result<()> {
        use i2cdev::core::{I2CMessage, I2CTransfer};
        use i2cdev::linux::LinuxI2CMessage;
        let address = u16::from(address);
        let mut messages = Vec::with_capacity(2);
        if !write.is_empty() {
            messages.push(LinuxI2CMessage::write(write).with_address(address));
        }
        if !read.is_empty() {
            messages.push(LinuxI2CMessage::read(read).with_address(address));
        }
        self.0
            .transfer(&mut messages)
            .map(|_| ())
            .map_err(io::Error::from)
    }
}

/// An `--i2c` adapter could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum I2cSetupError {
    /// The device did not open.
    #[error("--i2c {bus}=...: cannot open {device}: {source} (is the adapter enabled, e.g. dtparam=i2c_arm=on on a Raspberry Pi, and may this user open it? try `ls -l /dev/i2c-*` and membership of the i2c group)", device = device.display())]
    Open {
        /// The bus of the mapping.
        bus: u8,
        /// The device.
        device: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// One bus in two mappings.
    #[error("--i2c: bus {0} is mapped twice")]
    DuplicateBus(u8),
    /// A line in two roles.
    #[error("--i2c: line {0} is in two mappings (or both SDA and SCL)")]
    SharedLine(u32),
}

struct MappedBus {
    map: I2cMapping,
    adapter: Box<dyn I2cAdapter>,
}

/// The `--i2c` buses.
pub(crate) struct LinuxI2c {
    buses: Vec<MappedBus>,
}

impl std::fmt::Debug for LinuxI2c {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.buses.iter().map(|b| &b.map))
            .finish()
    }
}

/// What the kernel's errno means for an I2C transaction (the kernel's
/// `Documentation/i2c/fault-codes.rst`): ENXIO and EREMOTEIO are a NACK,
/// the rest are bus or adapter failures.
pub(crate) fn classify(e: &io::Error) -> I2cError {
    const EIO: i32 = 5;
    const ENXIO: i32 = 6;
    const EAGAIN: i32 = 11;
    const ENODEV: i32 = 19;
    const EOPNOTSUPP: i32 = 95;
    const ETIMEDOUT: i32 = 110;
    const EREMOTEIO: i32 = 121;
    I2cError::Bus(BoardError::Io(match e.raw_os_error() {
        Some(ENXIO | EREMOTEIO) => return I2cError::NoAck,
        Some(ETIMEDOUT) => {
            "the I2C transfer timed out (ETIMEDOUT): is a device holding SDA or SCL low?"
        }
        Some(EAGAIN) => "I2C arbitration lost (EAGAIN): another controller is using the bus",
        Some(EOPNOTSUPP) => "the I2C adapter cannot do this transfer (EOPNOTSUPP)",
        Some(ENODEV) => "the I2C adapter is gone (ENODEV)",
        Some(EIO) => "I2C bus error (EIO) (see piconetd's log)",
        _ => "the I2C transfer failed (see piconetd's log)",
    }))
}

impl LinuxI2c {
    /// Open every mapping's `/dev/i2c-N`.
    pub(crate) fn open(maps: &[I2cMapping]) -> Result<Self, I2cSetupError> {
        let mut adapters = Vec::with_capacity(maps.len());
        for map in maps {
            let bus =
                i2cdev::linux::LinuxI2CBus::new(&map.device).map_err(|e| I2cSetupError::Open {
                    bus: map.bus,
                    device: map.device.clone(),
                    source: e.into(),
                })?;
            adapters.push((
                map.clone(),
                Box::new(KernelAdapter(bus)) as Box<dyn I2cAdapter>,
            ));
        }
        Self::with_adapters(adapters)
    }

    /// Buses on any adapters (tests: fakes).
    pub(crate) fn with_adapters(
        adapters: Vec<(I2cMapping, Box<dyn I2cAdapter>)>,
    ) -> Result<Self, I2cSetupError> {
        let mut buses: Vec<MappedBus> = Vec::with_capacity(adapters.len());
        for (map, adapter) in adapters {
            if buses.iter().any(|b| b.map.bus == map.bus) {
                return Err(I2cSetupError::DuplicateBus(map.bus));
            }
            for line in [map.sda, map.scl] {
                if buses.iter().any(|b| b.map.sda == line || b.map.scl == line) {
                    return Err(I2cSetupError::SharedLine(line));
                }
            }
            buses.push(MappedBus { map, adapter });
        }
        Ok(LinuxI2c { buses })
    }

    fn bus(&mut self, bus: u8) -> Result<&mut MappedBus, I2cError> {
        self.buses
            .iter_mut()
            .find(|b| b.map.bus == bus)
            .ok_or(I2cError::Bus(BoardError::Unsupported(NOT_MAPPED)))
    }

    /// Buses numbered 0 to the highest mapped one.
    pub(crate) fn buses(&self) -> u8 {
        self.buses.iter().map(|b| b.map.bus + 1).max().unwrap_or(0)
    }

    /// What `pin` is on `bus`.
    pub(crate) fn line(&self, bus: u8, pin: u32) -> Option<I2cLine> {
        let map = &self.buses.iter().find(|b| b.map.bus == bus)?.map;
        if pin == map.sda {
            Some(I2cLine::Sda)
        } else if pin == map.scl {
            Some(I2cLine::Scl)
        } else {
            None
        }
    }

    /// The lines of every bus.
    pub(crate) fn lines(&self) -> impl Iterator<Item = u32> + '_ {
        self.buses.iter().flat_map(|b| [b.map.sda, b.map.scl])
    }

    /// `i2c_setup`: the pins are the mapped ones (the engine checked) and
    /// the clock must be the device tree's.
    pub(crate) fn check_setup(&self, bus: u8, frequency: u32) -> Result<(), BoardError> {
        let map = &self
            .buses
            .iter()
            .find(|b| b.map.bus == bus)
            .ok_or(BoardError::Unsupported(NOT_MAPPED))?
            .map;
        if frequency != map.frequency {
            tracing::warn!(
                bus,
                asked = frequency,
                runs_at = map.frequency,
                "i2c_setup asked for a clock the adapter does not run at"
            );
            return Err(BoardError::Unsupported(
                "a Linux I2C adapter runs at the clock its device tree sets (Raspberry Pi: dtparam=i2c_arm_baudrate): ask for the frequency of piconetd's --i2c BUS=DEVICE:SDA:SCL@HZ (default 100000)",
            ));
        }
        Ok(())
    }

    /// One transaction on `bus`.
    pub(crate) fn transfer(
        &mut self,
        bus: u8,
        address: u8,
        write: &[u8],
        read: &mut [u8],
    ) -> Result<(), I2cError> {
        let b = self.bus(bus)?;
        b.adapter.transfer(address, write, read).map_err(|e| {
            tracing::debug!(bus, device = %b.map.device.display(), address, error = %e, "I2C transfer failed");
            classify(&e)
        })
    }
}

const NOT_MAPPED: &str = "this I2C bus has no adapter (piconetd --i2c BUS=DEVICE:SDA:SCL maps one)";

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::{Arc, Mutex};

    /// One transaction as the fake bus saw it.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub(crate) struct Seen {
        pub(crate) address: u8,
        pub(crate) write: Vec<u8>,
        pub(crate) read: usize,
    }

    /// A fake adapter with a 24C02-like EEPROM at 0x50: a write's first
    /// byte sets the pointer, the rest are stored from it; a read returns
    /// bytes from the pointer on. Other addresses NACK (ENXIO); `fail`
    /// makes every transaction fail with that errno.
    #[derive(Clone)]
    pub(crate) struct FakeBus {
        pub(crate) seen: Arc<Mutex<Vec<Seen>>>,
        pub(crate) fail: Arc<Mutex<Option<i32>>>,
        memory: Arc<Mutex<([u8; 256], u8)>>,
    }

    impl FakeBus {
        pub(crate) fn new() -> Self {
            FakeBus {
                seen: Arc::default(),
                fail: Arc::default(),
                memory: Arc::new(Mutex::new(([0xff; 256], 0))),
            }
        }
    }

    impl I2cAdapter for FakeBus {
        fn transfer(&mut self, address: u8, write: &[u8], read: &mut [u8]) -> io::Result<()> {
            self.seen.lock().unwrap().push(Seen {
                address,
                write: write.to_vec(),
                read: read.len(),
            });
            if let Some(errno) = *self.fail.lock().unwrap() {
                return Err(io::Error::from_raw_os_error(errno));
            }
            if address != 0x50 {
                return Err(io::Error::from_raw_os_error(6));
            }
            let mut m = self.memory.lock().unwrap();
            if let Some((&first, rest)) = write.split_first() {
                m.1 = first;
                for &b in rest {
                    let at = usize::from(m.1);
                    m.0[at] = b;
                    m.1 = m.1.wrapping_add(1);
                }
            }
            for b in read.iter_mut() {
                *b = m.0[usize::from(m.1)];
                m.1 = m.1.wrapping_add(1);
            }
            Ok(())
        }
    }

    pub(crate) fn mapping(bus: u8, sda: u32, scl: u32) -> I2cMapping {
        I2cMapping {
            bus,
            device: format!("/dev/i2c-{bus}").into(),
            sda,
            scl,
            frequency: DEFAULT_I2C_FREQUENCY,
        }
    }

    #[test]
    fn mappings_parse_and_bad_ones_say_why() {
        assert_eq!("1=/dev/i2c-1:2:3".parse(), Ok(mapping(1, 2, 3)));
        let fast: I2cMapping = "0=/dev/i2c-0:0:1@400000".parse().unwrap();
        assert_eq!(
            (fast.bus, fast.sda, fast.scl, fast.frequency),
            (0, 0, 1, 400_000)
        );
        assert_eq!(fast.device, Path::new("/dev/i2c-0"));
        for (bad, why) in [
            ("/dev/i2c-1:2:3", "no BUS="),
            ("2=/dev/i2c-2:2:3", "0 or 1"),
            ("1=/dev/i2c-1:2", "line numbers"),
            ("1=/dev/i2c-1:2:x", "line numbers"),
            ("1=:2:3", "no DEVICE"),
            ("1=/dev/i2c-1:2:2", "different lines"),
            ("1=/dev/i2c-1:2:3@9999", "10000 to 1000000"),
            ("1=/dev/i2c-1:2:3@fast", "10000 to 1000000"),
        ] {
            let e = bad.parse::<I2cMapping>().unwrap_err().to_string();
            assert!(
                e.contains(why) && e.contains("BUS=DEVICE:SDA:SCL"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn a_missing_adapter_is_refused_at_start_with_advice() {
        let mut map = mapping(1, 2, 3);
        map.device = "/dev/i2c-does-not-exist".into();
        let e = LinuxI2c::open(&[map]).unwrap_err();
        assert!(matches!(e, I2cSetupError::Open { bus: 1, .. }));
        let text = e.to_string();
        assert!(
            text.contains("/dev/i2c-does-not-exist") && text.contains("dtparam=i2c_arm=on"),
            "{text}"
        );
    }

    #[test]
    fn buses_and_lines_must_not_be_mapped_twice() {
        let fake = || Box::new(FakeBus::new()) as Box<dyn I2cAdapter>;
        let e =
            LinuxI2c::with_adapters(vec![(mapping(1, 2, 3), fake()), (mapping(1, 4, 5), fake())]);
        assert!(matches!(e, Err(I2cSetupError::DuplicateBus(1))));
        let e =
            LinuxI2c::with_adapters(vec![(mapping(1, 2, 3), fake()), (mapping(0, 3, 5), fake())]);
        assert!(matches!(e, Err(I2cSetupError::SharedLine(3))));
        let i2c = LinuxI2c::with_adapters(vec![(mapping(1, 2, 3), fake())]).unwrap();
        assert_eq!(i2c.buses(), 2);
        assert_eq!(i2c.line(1, 2), Some(I2cLine::Sda));
        assert_eq!(i2c.line(1, 3), Some(I2cLine::Scl));
        assert_eq!(i2c.line(1, 4), None);
        assert_eq!(i2c.line(0, 2), None);
    }

    #[test]
    fn kernel_errnos_become_nacks_or_bus_errors() {
        let class = |errno| classify(&io::Error::from_raw_os_error(errno));
        assert_eq!(class(6), I2cError::NoAck);
        assert_eq!(class(121), I2cError::NoAck);
        let msg = |errno| match class(errno) {
            I2cError::Bus(e) => e.message(),
            I2cError::NoAck => panic!("{errno} is not a NACK"),
        };
        assert!(msg(110).contains("ETIMEDOUT"));
        assert!(msg(11).contains("arbitration"));
        assert!(msg(95).contains("EOPNOTSUPP"));
        assert!(msg(19).contains("gone"));
        assert!(msg(5).contains("EIO"));
        assert!(msg(1).contains("piconetd's log"));
    }

    #[test]
    fn the_clock_must_be_the_device_trees() {
        let i2c = LinuxI2c::with_adapters(vec![(
            mapping(1, 2, 3),
            Box::new(FakeBus::new()) as Box<dyn I2cAdapter>,
        )])
        .unwrap();
        assert_eq!(i2c.check_setup(1, 100_000), Ok(()));
        let e = i2c.check_setup(1, 400_000).unwrap_err();
        assert!(e.message().contains("dtparam=i2c_arm_baudrate"), "{e:?}");
        assert!(i2c.check_setup(0, 100_000).is_err());
    }
}
