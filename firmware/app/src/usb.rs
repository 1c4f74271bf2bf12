//! The USB CDC-ACM serial port: the same line protocol as TCP, plaintext
//! (whoever holds the cable has physical access anyway), served by
//! app-core's connection loop against the one shared engine, so a pin set
//! up over USB is the same pin over WiFi.
//!
//! Its lines have the engine's local origin: the provisioning actions
//! (`set_wifi`, `set_port`, `set_tls`, `clear_tls`, `clear_config`) are
//! accepted here and refused over the network.
//!
//! It serves as soon as the host has configured the device: it does not
//! wait for DTR (a terminal program may never set it, nor does the
//! rp2040js host model). It depends on nothing of the radio, so it keeps
//! serving when the WiFi chip does not answer.
//!
//! A "session" over USB ends like a TCP one (blank line, idle, line or
//! write timeout, a zero-length packet read as end of stream, a USB reset);
//! its `release_on_disconnect` pins then revert and the port simply serves
//! the next line in a new session. DTR is not watched (see firmware/README),
//! so closing the port on the host ends the session only at a timeout. USB does not count as a client for the status LED, which
//! shows the network's state.

use core::fmt::Write as _;

use embassy_executor::Spawner;
use embassy_rp::bind_interrupts;
use embassy_rp::peripherals::USB;
use embassy_rp::usb::{Driver, InterruptHandler};
use embassy_rp::Peri;
use embassy_usb::class::cdc_acm::{BufferedReceiver, CdcAcmClass, CdcAcmError, Sender, State};
use embassy_usb::{Builder, Config, UsbDevice};
use embedded_io_async::{ErrorType, Read, Write};
use piconet_app_core::conn::{serve, Limits};
use piconet_app_core::listener::sizes::{CHUNK, LINE_BUF, OUT_BUF};
use piconet_engine::Origin;
use static_cell::StaticCell;

use crate::SHARED;

bind_interrupts!(struct UsbIrqs {
    USBCTRL_IRQ => InterruptHandler<USB>;
});

type UsbDriver = Driver<'static, USB>;

/// pid.codes' test VID/PID: fine for development and CI, to be replaced by
/// an allocated pair before boards are distributed. Hosts find the board
/// by its product string.
const VID: u16 = 0x1209;
const PID: u16 = 0x0001;
/// The product string the host tools look for.
pub const PRODUCT: &str = "piconet Pico W";
/// Full-speed bulk endpoints.
const MAX_PACKET: u16 = 64;

/// Set up the USB device and spawn its two tasks: the device (enumeration,
/// control requests) and the serial port. `unique_id` becomes the USB
/// serial number (hex), so several boards on one host are told apart.
pub fn start(spawner: Spawner, usb: Peri<'static, USB>, unique_id: [u8; 8]) {
    static SERIAL: StaticCell<heapless::String<16>> = StaticCell::new();
    let serial = SERIAL.init(heapless::String::new());
    for b in unique_id {
        let _ = write!(serial, "{b:02X}");
    }

    let mut config = Config::new(VID, PID);
    config.manufacturer = Some("piconet");
    config.product = Some(PRODUCT);
    config.serial_number = Some(serial.as_str());
    config.max_power = 100;
    config.max_packet_size_0 = 64;

    static CONFIG_DESC: StaticCell<[u8; 256]> = StaticCell::new();
    static BOS_DESC: StaticCell<[u8; 64]> = StaticCell::new();
    static CONTROL_BUF: StaticCell<[u8; 64]> = StaticCell::new();
    static CDC_STATE: StaticCell<State<'static>> = StaticCell::new();
    let mut builder = Builder::new(
        Driver::new(usb, UsbIrqs),
        config,
        CONFIG_DESC.init([0; 256]),
        BOS_DESC.init([0; 64]),
        &mut [],
        CONTROL_BUF.init([0; 64]),
    );
    let class = CdcAcmClass::new(&mut builder, CDC_STATE.init(State::new()), MAX_PACKET);
    let device = builder.build();

    static RX_PACKET: StaticCell<[u8; MAX_PACKET as usize]> = StaticCell::new();
    let (tx, rx) = class.split();
    let port = Port {
        tx,
        rx: rx.into_buffered(RX_PACKET.init([0; MAX_PACKET as usize])),
        last_full: false,
    };
    spawner.spawn(device_task(device).unwrap());
    spawner.spawn(serial_task(port).unwrap());
}

#[embassy_executor::task]
async fn device_task(mut device: UsbDevice<'static, UsbDriver>) -> ! {
    device.run().await
}

/// Serve the protocol on the serial port for as long as the firmware runs.
#[embassy_executor::task]
async fn serial_task(mut port: Port) -> ! {
    let shared = SHARED.get();
    loop {
        // The host configured the device (endpoints enabled); no DTR wait.
        port.rx.wait_connection().await;
        port.last_full = false;
        // Ok: the peer ended a session (blank line, idle, zero-length
        // packet); serve the next one. Err: unplugged or reset by the
        // host; wait for it to configure the device again.
        // A local origin: whoever holds the cable may change the settings.
        let _ = serve::<_, _, _, LINE_BUF, OUT_BUF, CHUNK>(
            shared,
            &mut port,
            Origin::Local,
            Limits::default(),
        )
        .await;
    }
}

/// The CDC-ACM data endpoints as one byte stream.
struct Port {
    tx: Sender<'static, UsbDriver>,
    rx: BufferedReceiver<'static, UsbDriver>,
    /// The last packet sent was full-sized: the host only sees the end of
    /// the transfer after a short (here: zero-length) packet.
    last_full: bool,
}

impl ErrorType for Port {
    type Error = CdcAcmError;
}

impl Read for Port {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, CdcAcmError> {
        self.rx.read(buf).await
    }
}

impl Write for Port {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, CdcAcmError> {
        // One packet per call (at most 64 bytes); write_all loops.
        let n = self.tx.write(buf).await?;
        self.last_full = n == usize::from(MAX_PACKET);
        Ok(n)
    }

    async fn flush(&mut self) -> Result<(), CdcAcmError> {
        if self.last_full {
            self.last_full = false;
            self.tx.write(&[]).await?;
        }
        Ok(())
    }
}
