//! The board's USB serial port (CDC-ACM): the same JSON lines as TCP,
//! plaintext (whoever holds the cable has the board anyway), and the only
//! way in that accepts the provisioning writes.
//!
//! Ports are listed with the `serialport` crate without libudev: on Linux it
//! reads the USB vendor and product ids from sysfs.

use std::fmt;
use std::path::{Path, PathBuf};

use tokio_serial::{ClearBuffer, ErrorKind, SerialPort, SerialPortType, SerialStream};

use crate::error::Error;

/// The USB vendor id the piconet firmware enumerates with (pid.codes' test
/// vendor), see `firmware/app/src/usb.rs`.
pub const PICONET_USB_VID: u16 = 0x1209;
/// The USB product id the piconet firmware enumerates with (pid.codes' test
/// product, shared with other test devices: the product string tells them apart).
pub const PICONET_USB_PID: u16 = 0x0001;

/// Line speed asked for. A CDC-ACM device ignores it: USB runs at its own pace.
const BAUD: u32 = 115_200;

/// A serial port that belongs to a USB device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsbSerialPort {
    /// The device file, e.g. `/dev/ttyACM0`.
    pub path: PathBuf,
    /// The USB vendor id.
    pub vid: u16,
    /// The USB product id.
    pub pid: u16,
    /// The USB serial number (the piconet firmware uses the flash chip's unique id).
    pub serial_number: Option<String>,
    /// The USB manufacturer string.
    pub manufacturer: Option<String>,
    /// The USB product string (`piconet Pico W` for the firmware).
    pub product: Option<String>,
}

impl UsbSerialPort {
    /// Whether this looks like a board running the piconet firmware: its
    /// VID:PID, and a product string naming piconet if the system reports one.
    pub fn is_piconet(&self) -> bool {
        self.vid == PICONET_USB_VID
            && self.pid == PICONET_USB_PID
            && self
                .product
                .as_deref()
                .is_none_or(|p| p.to_ascii_lowercase().contains("piconet"))
    }
}

/// `/dev/ttyACM0 (1209:0001 piconet Pico W, serial E661...)`.
impl fmt::Display for UsbSerialPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({:04x}:{:04x}",
            self.path.display(),
            self.vid,
            self.pid
        )?;
        for text in [&self.manufacturer, &self.product].into_iter().flatten() {
            write!(f, " {text}")?;
        }
        if let Some(serial) = &self.serial_number {
            write!(f, ", serial {serial}")?;
        }
        write!(f, ")")
    }
}

/// Every serial port of a USB device on this computer, in path order.
///
/// ```no_run
/// for port in piconet_client::usb_serial_ports()? {
///     let mark = if port.is_piconet() { "piconet board" } else { "other device" };
///     println!("{port}: {mark}");
/// }
/// # Ok::<(), piconet_client::Error>(())
/// ```
pub fn usb_serial_ports() -> Result<Vec<UsbSerialPort>, Error> {
    // serialport panics when Linux has no /sys/class/tty (some containers).
    #[cfg(target_os = "linux")]
    if !Path::new("/sys/class/tty").is_dir() {
        return Ok(Vec::new());
    }
    let ports = tokio_serial::available_ports().map_err(|e| Error::SerialList {
        reason: e.to_string(),
    })?;
    let mut usb: Vec<UsbSerialPort> = ports
        .into_iter()
        .filter_map(|port| match port.port_type {
            SerialPortType::UsbPort(info) => Some(UsbSerialPort {
                path: PathBuf::from(port.port_name),
                vid: info.vid,
                pid: info.pid,
                serial_number: info.serial_number,
                manufacturer: info.manufacturer,
                product: info.product,
            }),
            _ => None,
        })
        .collect();
    usb.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(usb)
}

/// Opens `path` for the line protocol: raw mode, exclusive, and nothing left
/// over from an earlier session in the input buffer.
pub(crate) fn open(path: &Path) -> Result<SerialStream, Error> {
    let fail = |reason: String| Error::SerialOpen {
        path: path.to_owned(),
        reason,
    };
    let name = path
        .to_str()
        .ok_or_else(|| fail("the path is not UTF-8".into()))?;
    let port = SerialStream::open(&tokio_serial::new(name, BAUD)).map_err(|e| fail(hint(&e)))?;
    // Best effort: a tty that cannot flush still works.
    let _ = port.clear(ClearBuffer::Input);
    Ok(port)
}

/// The error, and what to check for the usual causes.
fn hint(e: &tokio_serial::Error) -> String {
    let what = &e.description;
    match e.kind {
        ErrorKind::NoDevice => format!(
            "{what}: is the board plugged in? (piconet provision without --port lists the boards found)"
        ),
        ErrorKind::Io(std::io::ErrorKind::PermissionDenied) => format!(
            "{what}: not allowed: join the group that owns the device (ls -l it; often dialout: \
             sudo usermod -aG dialout $USER, then log in again)"
        ),
        ErrorKind::Io(std::io::ErrorKind::NotFound) => {
            format!("{what}: no such device: is the board plugged in?")
        }
        _ if what.contains("EBUSY") || what.contains("EWOULDBLOCK") || what.contains("EAGAIN") => {
            format!("{what}: another program has it open (a serial terminal, a second piconet?)")
        }
        _ => what.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(vid: u16, pid: u16, product: Option<&str>) -> UsbSerialPort {
        UsbSerialPort {
            path: "/dev/ttyACM0".into(),
            vid,
            pid,
            serial_number: Some("E6614C311B7A2F2D".into()),
            manufacturer: Some("piconet".into()),
            product: product.map(str::to_owned),
        }
    }

    #[test]
    fn a_board_is_known_by_its_ids_and_product() {
        assert!(port(0x1209, 0x0001, Some("piconet Pico W")).is_piconet());
        // The product string is not always readable; the ids then decide.
        assert!(port(0x1209, 0x0001, None).is_piconet());
        // Another test device on pid.codes' shared test pair.
        assert!(!port(0x1209, 0x0001, Some("my gadget")).is_piconet());
        // MicroPython on a Pico.
        assert!(!port(0x2e8a, 0x0005, Some("Board in FS mode")).is_piconet());
    }

    #[test]
    fn a_port_shows_its_ids_and_strings() {
        assert_eq!(
            port(0x1209, 0x0001, Some("piconet Pico W")).to_string(),
            "/dev/ttyACM0 (1209:0001 piconet piconet Pico W, serial E6614C311B7A2F2D)"
        );
    }

    #[test]
    fn opening_a_missing_device_says_what_to_check() {
        let err = open(Path::new("/dev/piconet-no-such-port")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/dev/piconet-no-such-port"), "{text}");
        assert!(text.contains("plugged in"), "{text}");
    }

    #[test]
    fn listing_ports_works_here() {
        // Whatever this machine has, listing must not fail or panic.
        for port in usb_serial_ports().unwrap() {
            assert!(port.path.starts_with("/dev"), "{port}");
        }
    }
}
