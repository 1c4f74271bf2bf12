//! Real pins through the Linux GPIO character device (`/dev/gpiochipN`).
//!
//! Pin numbers are the chip's line offsets; on a Raspberry Pi 4 or 5 the
//! header's GPIOs are BCM numbers on the main chip. The kernel access sits
//! behind [`Lines`] so the mapping from the engine's calls to line requests
//! is tested without hardware.
//!
//! A watched input's line is requested with edge detection (both edges:
//! the engine filters by each watch's `edge`); a reader task takes the
//! kernel's events, timestamped by the kernel, to [`crate::edges`]. The
//! edge request ends with the pin's last watch.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use piconet_engine::{
    Board, BoardError, EdgeDetection, I2c, I2cError, I2cLine, Instant, Level, Mode, PinKind, Pull,
    Pwm, PwmChannel, PwmState,
};
use piconet_protocol::response::ObjectWriter;
use piconet_protocol::sink::Full;

use crate::edges::{EdgeSender, KernelEdge, LineEdges};
use crate::i2c_linux::LinuxI2c;
use crate::pwm_sysfs::SysfsPwm;

/// Edge events the kernel buffers per line request before it drops them
/// (counted in `edges_lost` from the gaps in its seqnos). The kernel's
/// default is 16 per line; it allows up to 1024.
pub const KERNEL_EVENT_BUFFER: u32 = 256;

/// How one line is to be requested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineConfig {
    /// `Some(level)`: an output starting at `level`; `None`: an input.
    pub output: Option<bool>,
    /// The bias; `Pull::None` leaves the line's bias as it is, so chips
    /// without bias support still work.
    pub pull: Pull,
    /// An input's edges are detected and sent to the [`EdgeSender`] the
    /// lines were opened with (inputs only).
    pub edges: bool,
}

/// Access to the lines of one chip.
pub trait Lines: Send {
    /// Number of lines on the chip.
    fn num_lines(&self) -> u32;
    /// The chip's label, e.g. "pinctrl-rp1".
    fn label(&self) -> &str;
    /// Request `offset` with `cfg`, or reconfigure it if already held (so an
    /// output never glitches through a release). With `cfg.edges`, every
    /// edge the kernel reports on the line goes to the lines'
    /// [`EdgeSender`] (through [`LineEdges::deliver`]) until a request
    /// without it or a release.
    fn request(&mut self, offset: u32, cfg: LineConfig) -> Result<(), String>;
    /// Whether `offset` is held.
    fn is_requested(&self, offset: u32) -> bool;
    /// Release `offset` if held (so PWM or I2C can have the pin).
    fn release(&mut self, offset: u32);
    /// Release every held line.
    fn release_all(&mut self);
    /// Drive a held output.
    fn set(&mut self, offset: u32, high: bool) -> Result<(), String>;
    /// Read a held line.
    fn get(&mut self, offset: u32) -> Result<bool, String>;
}

/// Could not open the GPIO chip.
#[derive(Debug, thiserror::Error)]
#[error("cannot open GPIO chip {path}: {source} (does it exist, and may this user open it? try `ls -l /dev/gpiochip*` and membership of the gpio group)")]
pub struct GpioChipError {
    path: PathBuf,
    #[source]
    source: gpiocdev::Error,
}

/// [`Lines`] on a real chip, through the `gpiocdev` crate.
pub struct CdevLines {
    path: PathBuf,
    label: String,
    num_lines: u32,
    held: HashMap<u32, Held>,
    edges: EdgeSender,
}

/// One requested line.
struct Held {
    /// Shared with the line's edge reader, which reads its events.
    request: Arc<gpiocdev::Request>,
    /// The task reading the line's edge events, while detection is on.
    reader: Option<tokio::task::AbortHandle>,
}

impl Drop for Held {
    fn drop(&mut self) {
        // The reader holds the request too: the line goes back to the
        // kernel once the aborted task is dropped (at once, on the
        // runtime's next turn).
        if let Some(reader) = self.reader.take() {
            reader.abort();
        }
    }
}

impl CdevLines {
    /// Open `path` and read its line count; edges of watched lines go to
    /// `edges`.
    pub fn open(path: &Path, edges: EdgeSender) -> Result<Self, GpioChipError> {
        let err = |source| GpioChipError {
            path: path.to_owned(),
            source,
        };
        let info = gpiocdev::Chip::from_path(path)
            .and_then(|c| c.info())
            .map_err(err)?;
        Ok(CdevLines {
            path: path.to_owned(),
            label: info.label,
            num_lines: info.num_lines,
            held: HashMap::new(),
            edges,
        })
    }

    /// Start the task that reads `request`'s edge events into `line`.
    fn spawn_reader(
        request: Arc<gpiocdev::Request>,
        line: LineEdges,
    ) -> Result<tokio::task::AbortHandle, String> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "edge events need piconetd's runtime".to_owned())?;
        Ok(runtime.spawn(read_edges(request, line)).abort_handle())
    }
}

/// The request's file descriptor for tokio's reactor.
struct RequestFd(Arc<gpiocdev::Request>);

impl std::os::fd::AsRawFd for RequestFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

/// Read edge events as the kernel reports them, until aborted or the
/// request fails.
async fn read_edges(request: Arc<gpiocdev::Request>, mut line: LineEdges) {
    use tokio::io::unix::AsyncFd;
    // SAFETY: the descriptor is the request's, which `RequestFd` owns (a
    // share of it): it stays open, the same file, for as long as the
    // `AsyncFd` lives.
    let registered = unsafe {
        AsyncFd::register_with_interest(RequestFd(request), tokio::io::Interest::READABLE)
    };
    let fd = match registered {
        Ok(fd) => fd,
        Err(e) => {
            tracing::error!(error = %e, "cannot wait for GPIO edge events: this line's watch gets none");
            return;
        }
    };
    loop {
        let mut ready = match fd.readable().await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "waiting for GPIO edge events failed: this line's watch gets no more");
                return;
            }
        };
        let request = &fd.get_ref().0;
        // Read only what is there: a read of an empty request blocks.
        match request.has_edge_event() {
            Ok(true) => match request.read_edge_event() {
                Ok(e) => {
                    line.deliver(KernelEdge {
                        offset: e.offset,
                        rising: e.kind == gpiocdev::line::EdgeKind::Rising,
                        timestamp_ns: e.timestamp_ns,
                        line_seqno: e.line_seqno,
                    });
                }
                Err(e) => {
                    tracing::error!(error = %e, "reading a GPIO edge event failed: this line's watch gets no more");
                    return;
                }
            },
            Ok(false) => ready.clear_ready(),
            Err(e) => {
                tracing::error!(error = %e, "polling for GPIO edge events failed: this line's watch gets no more");
                return;
            }
        }
    }
}

fn value(high: bool) -> gpiocdev::line::Value {
    if high {
        gpiocdev::line::Value::Active
    } else {
        gpiocdev::line::Value::Inactive
    }
}

impl Lines for CdevLines {
    fn num_lines(&self) -> u32 {
        self.num_lines
    }

    fn label(&self) -> &str {
        &self.label
    }

    fn request(&mut self, offset: u32, cfg: LineConfig) -> Result<(), String> {
        let mut b = gpiocdev::Request::builder();
        b.on_chip(&self.path)
            .with_consumer("piconetd")
            .with_kernel_event_buffer_size(KERNEL_EVENT_BUFFER)
            .with_line(offset);
        match cfg.output {
            Some(high) => b.as_output(value(high)),
            None => b.as_input(),
        };
        match cfg.pull {
            Pull::Up => b.with_bias(gpiocdev::line::Bias::PullUp),
            Pull::Down => b.with_bias(gpiocdev::line::Bias::PullDown),
            Pull::None => &mut b,
        };
        let edges = cfg.edges && cfg.output.is_none();
        if edges {
            // Kernel timestamps on CLOCK_MONOTONIC, the clock `edges` puts
            // on the engine's.
            b.with_edge_detection(gpiocdev::line::EdgeDetection::BothEdges)
                .with_event_clock(gpiocdev::line::EventClock::Monotonic);
        }
        let request = match self.held.get(&offset) {
            Some(held) => {
                held.request
                    .reconfigure(&b.config())
                    .map_err(|e| e.to_string())?;
                held.request.clone()
            }
            None => {
                let request = Arc::new(b.request().map_err(|e| e.to_string())?);
                self.held.insert(
                    offset,
                    Held {
                        request: request.clone(),
                        reader: None,
                    },
                );
                request
            }
        };
        let Some(held) = self.held.get_mut(&offset) else {
            unreachable!("held above");
        };
        match (edges, held.reader.is_some()) {
            (true, false) => {
                let reader = Self::spawn_reader(request, self.edges.line(offset))?;
                held.reader = Some(reader);
            }
            (false, true) => {
                if let Some(reader) = held.reader.take() {
                    reader.abort();
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn is_requested(&self, offset: u32) -> bool {
        self.held.contains_key(&offset)
    }

    fn release(&mut self, offset: u32) {
        self.held.remove(&offset);
    }

    fn release_all(&mut self) {
        self.held.clear();
    }

    fn set(&mut self, offset: u32, high: bool) -> Result<(), String> {
        let req = &self.held.get(&offset).ok_or("line not requested")?.request;
        req.set_value(offset, value(high))
            .map_err(|e| e.to_string())
    }

    fn get(&mut self, offset: u32) -> Result<bool, String> {
        let req = &self.held.get(&offset).ok_or("line not requested")?.request;
        req.value(offset)
            .map(|v| v == gpiocdev::line::Value::Active)
            .map_err(|e| e.to_string())
    }
}

/// A [`Board`] over the lines of one GPIO chip.
pub struct GpioChipBoard<L = CdevLines> {
    lines: L,
    name: String,
    chip: String,
    led: Option<u32>,
    epoch_ns: u64,
    /// The `--pwm` pins' sysfs channels; `None` without any.
    pwm: Option<SysfsPwm>,
    /// The `--i2c` buses; `None` without any.
    i2c: Option<LinuxI2c>,
    /// The pull of each line set up as an input (re-requested with it when
    /// its edge detection starts or stops).
    inputs: HashMap<u32, Pull>,
    /// Lines whose edges are detected (some connection watches them).
    detecting: std::collections::HashSet<u32>,
    /// Where the lines' edges go, for `edges_lost`.
    edges: EdgeSender,
}

impl GpioChipBoard<CdevLines> {
    /// Open the chip at `path`; `led`, if given, is a line driven as the
    /// status LED and kept from clients; watched lines' edges go to
    /// `edges`.
    pub fn open(
        path: &Path,
        led: Option<u32>,
        epoch_ns: u64,
        edges: EdgeSender,
    ) -> Result<Self, GpioChipError> {
        let lines = CdevLines::open(path, edges.clone())?;
        Ok(Self::with_lines(
            lines,
            path.display().to_string(),
            led,
            epoch_ns,
            edges,
        ))
    }
}

impl<L: Lines> GpioChipBoard<L> {
    /// A board over any [`Lines`] (sending their edges to `edges`);
    /// `time_received` is `epoch_ns` plus the engine's clock.
    pub fn with_lines(
        lines: L,
        chip: String,
        led: Option<u32>,
        epoch_ns: u64,
        edges: EdgeSender,
    ) -> Self {
        let name = format!("Linux GPIO chip {} ({chip})", lines.label());
        let mut board = GpioChipBoard {
            lines,
            name,
            chip,
            led,
            epoch_ns,
            pwm: None,
            i2c: None,
            inputs: HashMap::new(),
            detecting: std::collections::HashSet::new(),
            edges,
        };
        board.claim_led();
        board
    }

    /// Drive the pins of `pwm` through its sysfs channels. Each pin must
    /// be one of the chip's lines, and not the status LED.
    pub(crate) fn with_pwm(mut self, pwm: SysfsPwm) -> Result<Self, MappedPinError> {
        self.check_mapped("--pwm", pwm.pins())?;
        self.pwm = Some(pwm);
        Ok(self)
    }

    /// Serve the buses of `i2c`. Their lines must be lines of the chip,
    /// and not the status LED.
    pub(crate) fn with_i2c(mut self, i2c: LinuxI2c) -> Result<Self, MappedPinError> {
        self.check_mapped("--i2c", i2c.lines())?;
        self.i2c = Some(i2c);
        Ok(self)
    }

    fn check_mapped(
        &self,
        flag: &'static str,
        pins: impl Iterator<Item = u32>,
    ) -> Result<(), MappedPinError> {
        for pin in pins {
            if Some(pin) == self.led {
                return Err(MappedPinError::Led { flag, pin });
            }
            if pin >= self.lines.num_lines() {
                return Err(MappedPinError::NoLine {
                    flag,
                    pin,
                    lines: self.lines.num_lines(),
                    chip: self.chip.clone(),
                });
            }
        }
        Ok(())
    }

    /// `pin` is about to be something else than PWM: its channel is
    /// stopped and handed back to the kernel.
    fn leave_pwm(&mut self, pin: u32) -> Result<(), BoardError> {
        match self.pwm.as_mut() {
            Some(pwm) => pwm.stop(pin),
            None => Ok(()),
        }
    }

    fn claim_led(&mut self) {
        if let Some(led) = self.led {
            let cfg = LineConfig {
                output: Some(false),
                pull: Pull::None,
                edges: false,
            };
            if let Err(e) = self.lines.request(led, cfg) {
                tracing::warn!(line = led, error = %e, "cannot claim the status LED line");
            }
        }
    }

    /// Give `pin`'s line back to the kernel (PWM or I2C takes the pin).
    /// No longer a line, it has no edge detection for the engine to stop
    /// when it ends the pin's watches.
    fn release_line(&mut self, pin: u32) {
        self.lines.release(pin);
        self.inputs.remove(&pin);
        self.detecting.remove(&pin);
    }

    fn io(&self, what: &'static str, pin: u32, e: String) -> BoardError {
        tracing::error!(chip = %self.chip, line = pin, error = %e, "{what}");
        BoardError::Io(what)
    }
}

impl<L: Lines> Board for GpioChipBoard<L> {
    fn name(&self) -> &str {
        &self.name
    }

    fn pin_kind(&self, pin: u32) -> PinKind {
        if Some(pin) == self.led {
            PinKind::Reserved("it is piconetd's status LED (--led-line)")
        } else if pin < self.lines.num_lines() {
            PinKind::Usable
        } else {
            PinKind::Absent
        }
    }

    fn configure(
        &mut self,
        pin: u32,
        mode: Mode,
        pull: Pull,
        initial: Option<Level>,
    ) -> Result<(), BoardError> {
        let output = match mode {
            Mode::Input => None,
            Mode::Output => Some(match initial {
                Some(level) => level == Level::High,
                // Re-setup keeps the level being driven; a fresh output
                // starts low, as on the RP2040.
                None if self.lines.is_requested(pin) => self
                    .lines
                    .get(pin)
                    .map_err(|e| self.io("reading the GPIO line failed", pin, e))?,
                None => false,
            }),
        };
        self.leave_pwm(pin)?;
        // An input keeps its edge detection through a new pull; an
        // output has none (the engine ends its watches).
        let edges = output.is_none() && self.detecting.contains(&pin);
        self.lines
            .request(pin, LineConfig { output, pull, edges })
            .map_err(|e| self.io("requesting the GPIO line failed (see piconetd's log; a pull needs kernel bias support)", pin, e))?;
        match output {
            None => {
                self.inputs.insert(pin, pull);
            }
            Some(_) => {
                self.inputs.remove(&pin);
                self.detecting.remove(&pin);
            }
        }
        Ok(())
    }

    fn write(&mut self, pin: u32, level: Level) -> Result<(), BoardError> {
        self.lines
            .set(pin, level == Level::High)
            .map_err(|e| self.io("setting the GPIO line failed", pin, e))
    }

    fn read(&mut self, pin: u32) -> Result<Level, BoardError> {
        self.lines
            .get(pin)
            .map(Level::from_bool)
            .map_err(|e| self.io("reading the GPIO line failed", pin, e))
    }

    fn set_status_led(&mut self, on: bool) {
        if let Some(led) = self.led {
            if let Err(e) = self.lines.set(led, on) {
                tracing::debug!(line = led, error = %e, "status LED write failed");
            }
        }
    }

    /// A Linux host is not reset by a client: the lines are released to
    /// the kernel (inputs, as at boot) and the engine forgets them.
    fn reset(&mut self) {
        if let Some(pwm) = self.pwm.as_mut() {
            pwm.stop_all();
        }
        self.lines.release_all();
        self.inputs.clear();
        self.detecting.clear();
        self.claim_led();
        tracing::info!(chip = %self.chip, "reset: every GPIO line and PWM channel released");
    }

    /// The host keeps running: a deep sleep ends like a reset (as on the
    /// Pico W, which restarts after it); a light sleep changes nothing.
    fn sleep(&mut self, ms: u32, deep: bool) {
        tracing::info!(ms, deep, "sleep requested: a Linux host does not sleep");
        if deep {
            self.reset();
        }
    }

    fn timestamp_ns(&self, now: Instant) -> u64 {
        self.epoch_ns.saturating_add(now.as_nanos())
    }

    fn write_info(&mut self, now: Instant, info: &mut ObjectWriter<'_>) -> Result<(), Full> {
        info.str("chip", &self.chip)?;
        info.str("chip_label", self.lines.label())?;
        info.uint("lines", self.lines.num_lines().into())?;
        info.uint("edges_lost", self.edges.lost())?;
        info.uint("uptime_ms", now.as_nanos() / 1_000_000)
    }

    fn update_slot(&mut self) -> Option<&mut dyn piconet_engine::UpdateSlot> {
        None
    }

    fn settings(&mut self) -> Option<&mut dyn piconet_engine::SettingsStore> {
        None
    }
    fn simulated_inputs(&mut self) -> Option<&mut dyn piconet_engine::SimulatedInputs> {
        None
    }
    // PWM is the kernel's sysfs PWM (`--pwm`); the thermal zone is added
    // by HostBoard, as it does not touch pins.
    fn pwm(&mut self) -> Option<&mut dyn piconet_engine::Pwm> {
        match self.pwm {
            Some(_) => Some(self),
            None => None,
        }
    }
    fn adc(&mut self) -> Option<&mut dyn piconet_engine::Adc> {
        None
    }
    fn thermometer(&mut self) -> Option<&mut dyn piconet_engine::Thermometer> {
        None
    }
    fn i2c(&mut self) -> Option<&mut dyn piconet_engine::I2c> {
        match self.i2c {
            Some(_) => Some(self),
            None => None,
        }
    }
    fn edge_detection(&mut self) -> Option<&mut dyn EdgeDetection> {
        Some(self)
    }
}

/// A `--pwm` or `--i2c` pin the GPIO chip cannot give away.
#[derive(Debug, thiserror::Error)]
pub enum MappedPinError {
    /// Not a line of the chip.
    #[error("{flag}: pin {pin}: {chip} has lines 0 to {last} only", last = lines.saturating_sub(1))]
    NoLine {
        /// The flag that maps it.
        flag: &'static str,
        /// The pin.
        pin: u32,
        /// The chip's line count.
        lines: u32,
        /// The chip's path.
        chip: String,
    },
    /// The status LED line.
    #[error("{flag}: line {pin} is the status LED (--led-line)")]
    Led {
        /// The flag that maps it.
        flag: &'static str,
        /// The pin.
        pin: u32,
    },
}

/// I2C through `/dev/i2c-N`; the lines are given up by PWM and the GPIO
/// requests first (a line request would keep the pin a GPIO).
impl<L: Lines> I2c for GpioChipBoard<L> {
    fn i2c_buses(&self) -> u8 {
        self.i2c.as_ref().map_or(0, LinuxI2c::buses)
    }

    fn i2c_line(&self, bus: u8, pin: u32) -> Option<I2cLine> {
        self.i2c.as_ref()?.line(bus, pin)
    }

    fn configure_i2c(
        &mut self,
        bus: u8,
        sda: u32,
        scl: u32,
        frequency: u32,
    ) -> Result<(), BoardError> {
        self.i2c
            .as_ref()
            .ok_or(BoardError::Unsupported(NO_I2C))?
            .check_setup(bus, frequency)?;
        for pin in [sda, scl] {
            self.leave_pwm(pin)?;
            self.release_line(pin);
        }
        Ok(())
    }

    fn i2c_write(&mut self, bus: u8, address: u8, data: &[u8]) -> Result<(), I2cError> {
        self.bus()?.transfer(bus, address, data, &mut [])
    }

    fn i2c_read(&mut self, bus: u8, address: u8, buf: &mut [u8]) -> Result<(), I2cError> {
        self.bus()?.transfer(bus, address, &[], buf)
    }

    fn i2c_transfer(
        &mut self,
        bus: u8,
        address: u8,
        data: &[u8],
        buf: &mut [u8],
    ) -> Result<(), I2cError> {
        self.bus()?.transfer(bus, address, data, buf)
    }
}

impl<L> GpioChipBoard<L> {
    fn bus(&mut self) -> Result<&mut LinuxI2c, I2cError> {
        self.i2c
            .as_mut()
            .ok_or(I2cError::Bus(BoardError::Unsupported(NO_I2C)))
    }
}

const NO_I2C: &str = "this board has no I2C adapter (piconetd --i2c BUS=DEVICE:SDA:SCL maps one)";

/// PWM through the sysfs channels; a pin that was a GPIO line is released
/// to the kernel first (its line request would keep the pin a GPIO).
impl<L: Lines> Pwm for GpioChipBoard<L> {
    fn pwm_channel(&self, pin: u32) -> Option<PwmChannel> {
        self.pwm.as_ref()?.pwm_channel(pin)
    }

    fn start_pwm(&mut self, pin: u32, state: PwmState) -> Result<(), BoardError> {
        let pwm = self.pwm.as_ref().ok_or(BoardError::Unsupported(NO_PWM))?;
        if !pwm.has_pin(pin) {
            return Err(BoardError::Unsupported(NO_PWM));
        }
        self.release_line(pin);
        self.pwm
            .as_mut()
            .ok_or(BoardError::Unsupported(NO_PWM))?
            .start_pwm(pin, state)
    }

    fn set_pwm(&mut self, pin: u32, state: PwmState) -> Result<(), BoardError> {
        self.pwm
            .as_mut()
            .ok_or(BoardError::Unsupported(NO_PWM))?
            .set_pwm(pin, state)
    }
}

const NO_PWM: &str = "this pin has no PWM channel (piconetd --pwm PIN=CHIP:CHANNEL maps one)";
impl<L: Lines> EdgeDetection for GpioChipBoard<L> {
    /// The line is requested again as the input it is, with or without
    /// edge detection.
    fn detect_edges(&mut self, pin: u32, on: bool) -> Result<(), BoardError> {
        let Some(&pull) = self.inputs.get(&pin) else {
            // The engine asks for inputs only; an output has no detection
            // to stop.
            return match on {
                true => Err(BoardError::Unsupported(
                    "only an input's edges are detected",
                )),
                false => Ok(()),
            };
        };
        let cfg = LineConfig {
            output: None,
            pull,
            edges: on,
        };
        let what = match on {
            true => "requesting edge detection on the GPIO line failed (see piconetd's log; the chip may not have interrupts on that line)",
            false => "ending edge detection on the GPIO line failed",
        };
        self.lines
            .request(pin, cfg)
            .map_err(|e| self.io(what, pin, e))?;
        match on {
            true => self.detecting.insert(pin),
            false => self.detecting.remove(&pin),
        };
        tracing::debug!(chip = %self.chip, line = pin, on, "edge detection");
        Ok(())
    }
}

/// A fake chip for tests: what was requested, and a stand-in for the
/// kernel's edge events.
#[cfg(test)]
pub(crate) mod fake_lines;

#[cfg(test)]
mod tests {
    use super::fake_lines::FakeLines;
    use super::*;

    fn board(led: Option<u32>) -> GpioChipBoard<FakeLines> {
        let (edges, _) = crate::edges::channel(crate::clock::Clock::start());
        let lines = FakeLines::with_edges(edges.clone(), Default::default());
        GpioChipBoard::with_lines(lines, "/dev/gpiochip0".into(), led, 0, edges)
    }

    #[test]
    fn pins_map_to_line_offsets() {
        let b = board(Some(3));
        assert_eq!(b.pin_kind(0), PinKind::Usable);
        assert_eq!(b.pin_kind(27), PinKind::Usable);
        assert_eq!(b.pin_kind(28), PinKind::Absent);
        assert!(matches!(b.pin_kind(3), PinKind::Reserved(_)));
        assert!(b.name().contains("fake"));
    }

    #[test]
    fn configure_requests_with_direction_value_and_bias() {
        let mut b = board(None);
        b.configure(17, Mode::Output, Pull::None, Some(Level::High))
            .unwrap();
        b.configure(4, Mode::Input, Pull::Down, None).unwrap();
        assert_eq!(
            b.lines.requests,
            [
                (
                    17,
                    LineConfig {
                        output: Some(true),
                        pull: Pull::None,
                        edges: false,
                    },
                    false
                ),
                (
                    4,
                    LineConfig {
                        output: None,
                        pull: Pull::Down,
                        edges: false,
                    },
                    false
                ),
            ]
        );
        assert_eq!(b.read(17), Ok(Level::High));
        b.write(17, Level::Low).unwrap();
        assert_eq!(b.read(17), Ok(Level::Low));
    }

    #[test]
    fn re_setup_reconfigures_and_keeps_the_driven_level() {
        let mut b = board(None);
        b.configure(5, Mode::Output, Pull::None, Some(Level::High))
            .unwrap();
        b.configure(5, Mode::Output, Pull::None, None).unwrap();
        let last = b.lines.requests.last().unwrap();
        assert_eq!(
            *last,
            (
                5,
                LineConfig {
                    output: Some(true),
                    pull: Pull::None,
                    edges: false,
                },
                true
            )
        );
        // A fresh output without a value starts low.
        b.configure(6, Mode::Output, Pull::None, None).unwrap();
        assert_eq!(b.read(6), Ok(Level::Low));
    }

    #[test]
    fn kernel_errors_become_board_errors_with_advice() {
        let mut b = board(None);
        b.lines.fail = true;
        let e = b.configure(5, Mode::Input, Pull::Up, None).unwrap_err();
        assert!(e.message().contains("bias"), "{e:?}");
        assert!(b.write(9, Level::High).is_err());
        assert!(b.read(9).is_err());
    }

    #[test]
    fn reset_releases_lines_but_keeps_the_led() {
        let mut b = board(Some(3));
        b.configure(5, Mode::Output, Pull::None, Some(Level::High))
            .unwrap();
        b.set_status_led(true);
        assert_eq!(b.lines.get(3), Ok(true));
        b.reset();
        assert!(!b.lines.is_requested(5));
        assert!(b.lines.is_requested(3));
        b.sleep(10, true);
        assert!(b.lines.is_requested(3));
    }

    #[test]
    fn reset_drives_leased_lines_to_their_safe_level_before_releasing_them() {
        use piconet_engine::session::Session;
        use piconet_engine::{After, Config, ConnId, Engine, Peer};
        use piconet_protocol::framing::LineDecoder;
        let mut engine = Engine::new(board(None), Config::default());
        let t0 = Instant::ZERO;
        let mut out = Vec::new();
        for line in [
            r#"{"action": "setup_pin", "pin": 5, "mode": "output", "value": 0}"#,
            r#"{"action": "write_pin", "pin": 5, "value": 1, "timeout": 60}"#,
            r#"{"action": "setup_pin", "pin": 6, "mode": "output", "value": 1}"#,
            r#"{"action": "write_pin", "pin": 6, "value": 0, "timeout": 60}"#,
        ] {
            engine.handle(t0, line.as_bytes(), &mut out);
        }
        assert!(!String::from_utf8_lossy(&out).contains("error"));
        // As a connection carries it out: the reset's reply sent first.
        let limits = crate::limits::Limits::default().session();
        let mut session = Session::new(
            t0,
            Peer::network(ConnId(0)),
            limits,
            LineDecoder::new(Vec::new(), 1024),
            Vec::new(),
        );
        let mut input = &b"{\"action\": \"reset\"}\n"[..];
        assert!(session.step(t0, &mut input, &mut engine));
        let sent = session.output().len();
        session.written(t0, sent);
        let mut reverted = Vec::new();
        let after = session.carry_out(t0, &mut engine, |r| reverted.push(r.pin));
        assert_eq!(after, Some(After::Reset));
        reverted.sort();
        assert_eq!(reverted, [5, 6]);
        let events = &engine.board().lines.events;
        let released = |pin| {
            events
                .iter()
                .position(|e| *e == ("released", pin, pin == 6))
        };
        let safe = |pin| events.iter().rposition(|e| *e == ("set", pin, pin == 6));
        for pin in [5, 6] {
            let (s, r) = (safe(pin), released(pin));
            assert!(s.is_some() && r.is_some() && s < r, "pin {pin}: {events:?}");
        }
        assert_eq!(engine.leases(), 0);
        assert!(!engine.board().lines.is_requested(5));
    }

    /// An engine on fake lines with `--pwm 18=0:0 19=0:1` on a fake sysfs.
    fn pwm_engine(root: &Path) -> piconet_engine::Engine<GpioChipBoard<FakeLines>> {
        use crate::pwm_sysfs::{tests as sysfs, PwmMapping};
        sysfs::chip(root, 0, 2);
        sysfs::exported(root, 0, 0);
        sysfs::exported(root, 0, 1);
        let maps = [
            PwmMapping {
                pin: 18,
                chip: 0,
                channel: 0,
            },
            PwmMapping {
                pin: 19,
                chip: 0,
                channel: 1,
            },
            // The same channel as 18 (GPIO 12 and 18 on a Pi 4 are both
            // PWM0 channel 0).
            PwmMapping {
                pin: 12,
                chip: 0,
                channel: 0,
            },
        ];
        let board = board(None)
            .with_pwm(SysfsPwm::open(root, &maps).unwrap())
            .unwrap();
        piconet_engine::Engine::new(board, piconet_engine::Config::default())
    }

    fn ask<B: Board>(e: &mut piconet_engine::Engine<B>, ms: u64, line: &str) -> serde_json::Value {
        let mut out = Vec::new();
        e.handle(Instant::from_millis(ms), line.as_bytes(), &mut out);
        serde_json::from_slice(&out).unwrap()
    }

    fn listed<B: Board>(e: &mut piconet_engine::Engine<B>, action: &str) -> bool {
        let v = ask(e, 0, r#"{"action": "list_actions"}"#);
        v["actions"].as_array().unwrap().iter().any(|a| a == action)
    }

    #[test]
    fn pwm_pins_run_on_sysfs_and_a_lease_ends_at_the_safe_duty() {
        use crate::pwm_sysfs::tests::read;
        let root = tempfile::tempdir().unwrap();
        let mut e = pwm_engine(root.path());
        let ch0 = root.path().join("pwmchip0/pwm0");
        assert!(listed(&mut e, "write_pwm"));
        // A GPIO output first: PWM takes the pin from its line request.
        let v = ask(
            &mut e,
            0,
            r#"{"action": "setup_pin", "pin": 18, "mode": "output", "value": 1}"#,
        );
        assert!(v.get("error").is_none(), "{v}");
        let v = ask(
            &mut e,
            0,
            r#"{"action": "setup_pin", "pin": 18, "mode": "pwm", "frequency": 1000, "duty": 0.1}"#,
        );
        assert!(v.get("error").is_none(), "{v}");
        assert!(e.board().lines.events.contains(&("released", 18, true)));
        assert!(!e.board().lines.is_requested(18));
        assert_eq!(
            (
                read(&ch0, "period"),
                read(&ch0, "duty_cycle"),
                read(&ch0, "enable")
            ),
            ("1000000".into(), "100000".into(), "1".into())
        );
        let v = ask(
            &mut e,
            10,
            r#"{"action": "write_pwm", "pin": 18, "duty": 0.75, "frequency": 2000, "timeout": 1}"#,
        );
        assert!(v.get("error").is_none(), "{v}");
        assert_eq!(
            (read(&ch0, "period"), read(&ch0, "duty_cycle")),
            ("500000".into(), "375000".into())
        );
        let v = ask(&mut e, 20, r#"{"action": "get_pins"}"#);
        assert_eq!(v["pins"][0]["duty"], 0.75, "{v}");
        // The lease runs out: back to the safe duty and frequency.
        assert_eq!(e.poll(Instant::from_millis(500)), 0);
        assert_eq!(e.poll(Instant::from_millis(1_011)), 1);
        assert_eq!(
            (read(&ch0, "period"), read(&ch0, "duty_cycle")),
            ("1000000".into(), "100000".into())
        );
        assert_eq!(read(&ch0, "enable"), "1");
        // Back to a GPIO: the channel is stopped and unexported first.
        let v = ask(
            &mut e,
            1_100,
            r#"{"action": "setup_pin", "pin": 18, "mode": "input"}"#,
        );
        assert!(v.get("error").is_none(), "{v}");
        assert_eq!(read(&ch0, "enable"), "0");
        assert_eq!(read(&root.path().join("pwmchip0"), "unexport"), "0");
        assert!(e.board().lines.is_requested(18));
        assert!(!e.board().pwm.as_ref().unwrap().is_running(18));
    }

    #[test]
    fn pwm_errors_are_clear_and_reset_stops_every_channel() {
        use crate::pwm_sysfs::tests::read;
        let root = tempfile::tempdir().unwrap();
        let mut e = pwm_engine(root.path());
        let v = ask(
            &mut e,
            0,
            r#"{"action": "setup_pin", "pin": 5, "mode": "pwm", "frequency": 1000}"#,
        );
        assert_eq!(v["exception"], "ValueError", "{v}");
        assert!(
            v["error"].as_str().unwrap().contains("no PWM channel"),
            "{v}"
        );
        let v = ask(
            &mut e,
            0,
            r#"{"action": "setup_pin", "pin": 19, "mode": "pwm", "frequency": 50}"#,
        );
        assert!(v.get("error").is_none(), "{v}");
        ask(
            &mut e,
            0,
            r#"{"action": "setup_pin", "pin": 18, "mode": "pwm", "frequency": 50}"#,
        );
        let v = ask(
            &mut e,
            0,
            r#"{"action": "setup_pin", "pin": 12, "mode": "pwm", "frequency": 50}"#,
        );
        assert_eq!(v["exception"], "ValueError", "{v}");
        assert!(v["error"].as_str().unwrap().contains("18"), "{v}");
        // The kernel refuses the next duty: an OSError, the lease not taken.
        let ch1 = root.path().join("pwmchip0/pwm1");
        std::fs::remove_file(ch1.join("duty_cycle")).unwrap();
        std::fs::create_dir(ch1.join("duty_cycle")).unwrap();
        let v = ask(
            &mut e,
            0,
            r#"{"action": "write_pwm", "pin": 19, "duty": 0.5, "timeout": 5}"#,
        );
        assert_eq!(v["exception"], "OSError", "{v}");
        assert!(v["error"].as_str().unwrap().contains("sysfs"), "{v}");
        assert_eq!(e.leases(), 0);
        std::fs::remove_dir(ch1.join("duty_cycle")).unwrap();
        std::fs::write(ch1.join("duty_cycle"), "0\n").unwrap();
        let v = ask(
            &mut e,
            0,
            r#"{"action": "write_pwm", "pin": 19, "duty": 0.5, "timeout": 5}"#,
        );
        assert!(v.get("error").is_none(), "{v}");
        assert_eq!(read(&ch1, "duty_cycle"), "10000000");
        e.board_mut().reset();
        assert_eq!(read(&ch1, "enable"), "0");
        assert_eq!(read(&root.path().join("pwmchip0"), "unexport"), "1");
    }

    #[test]
    fn without_pwm_pins_the_board_lists_no_pwm_and_bad_maps_are_refused() {
        use crate::pwm_sysfs::{tests as sysfs, PwmMapping};
        let mut e = piconet_engine::Engine::new(board(None), piconet_engine::Config::default());
        assert!(!listed(&mut e, "write_pwm"));
        let v = ask(
            &mut e,
            0,
            r#"{"action": "setup_pin", "pin": 18, "mode": "pwm", "frequency": 1000}"#,
        );
        assert_eq!(v["exception"], "OSError", "{v}");
        let root = tempfile::tempdir().unwrap();
        sysfs::chip(root.path(), 0, 2);
        let pwm = |pin| {
            SysfsPwm::open(
                root.path(),
                &[PwmMapping {
                    pin,
                    chip: 0,
                    channel: 0,
                }],
            )
            .unwrap()
        };
        let err = board(Some(3)).with_pwm(pwm(3)).err().unwrap();
        assert!(err.to_string().contains("status LED"), "{err}");
        let err = board(None).with_pwm(pwm(28)).err().unwrap();
        assert!(err.to_string().contains("lines 0 to 27"), "{err}");
    }

    /// An engine on fake lines with `--i2c 1=/dev/i2c-1:2:3` on a fake
    /// bus (an EEPROM at 0x50).
    fn i2c_engine() -> (
        piconet_engine::Engine<GpioChipBoard<FakeLines>>,
        crate::i2c_linux::tests::FakeBus,
    ) {
        use crate::i2c_linux::{tests as fake, I2cAdapter};
        let bus = fake::FakeBus::new();
        let adapter: Box<dyn I2cAdapter> = Box::new(bus.clone());
        let i2c = LinuxI2c::with_adapters(vec![(fake::mapping(1, 2, 3), adapter)]).unwrap();
        let board = board(None).with_i2c(i2c).unwrap();
        let engine = piconet_engine::Engine::new(board, piconet_engine::Config::default());
        (engine, bus)
    }

    fn error_of(v: &serde_json::Value) -> (&str, &str) {
        (
            v["exception"].as_str().unwrap_or_else(|| panic!("{v}")),
            v["error"].as_str().unwrap(),
        )
    }

    #[test]
    fn i2c_runs_on_the_adapter_as_the_engine_defines_it() {
        use crate::i2c_linux::tests::Seen;
        let (mut e, bus) = i2c_engine();
        // Line 2 was an output: the I2C adapter gets the pin.
        ask(
            &mut e,
            0,
            r#"{"action": "setup_pin", "pin": 2, "mode": "output", "value": 1}"#,
        );
        let v = ask(
            &mut e,
            0,
            r#"{"action": "i2c_setup", "bus": 1, "sda": 2, "scl": 3}"#,
        );
        assert!(v.get("error").is_none(), "{v}");
        assert!(!e.board().lines.is_requested(2));
        let v = ask(&mut e, 0, r#"{"action": "get_pins"}"#);
        assert_eq!(v["pins"][0]["mode"], "i2c", "{v}");
        let v = ask(
            &mut e,
            0,
            r#"{"action": "i2c_write", "bus": 1, "address": 80, "data": [16, 1, 2, 3]}"#,
        );
        assert!(v.get("error").is_none(), "{v}");
        let v = ask(
            &mut e,
            0,
            r#"{"action": "i2c_transfer", "bus": 1, "address": 80, "write": [16], "count": 3}"#,
        );
        assert_eq!(v["data"], serde_json::json!([1, 2, 3]), "{v}");
        let v = ask(
            &mut e,
            0,
            r#"{"action": "i2c_read", "bus": 1, "address": 80, "count": 2}"#,
        );
        assert_eq!(v["data"], serde_json::json!([255, 255]), "{v}");
        // Each action is one transaction: the write and the read of a
        // transfer are not split (a repeated start, one STOP).
        assert_eq!(
            bus.seen.lock().unwrap()[..],
            [
                Seen {
                    address: 0x50,
                    write: vec![16, 1, 2, 3],
                    read: 0
                },
                Seen {
                    address: 0x50,
                    write: vec![16],
                    read: 3
                },
                Seen {
                    address: 0x50,
                    write: vec![],
                    read: 2
                },
            ]
        );
        // `piconet i2c ADDR scan`: a one-byte read at each address.
        let answering: Vec<u64> = (0x08..=0x77)
            .filter(|a| {
                let line =
                    format!(r#"{{"action": "i2c_read", "bus": 1, "address": {a}, "count": 1}}"#);
                ask(&mut e, 0, &line).get("error").is_none()
            })
            .collect();
        assert_eq!(answering, [0x50]);
    }

    #[test]
    fn i2c_errors_are_the_contracts_classes_and_change_nothing() {
        let (mut e, bus) = i2c_engine();
        let v = ask(
            &mut e,
            0,
            r#"{"action": "i2c_read", "bus": 1, "address": 80, "count": 1}"#,
        );
        assert_eq!(
            error_of(&v),
            (
                "ValueError",
                "i2c bus 1 is not set up: send i2c_setup first"
            )
        );
        let v = ask(
            &mut e,
            0,
            r#"{"action": "i2c_setup", "bus": 1, "sda": 4, "scl": 3}"#,
        );
        assert_eq!(
            error_of(&v),
            (
                "ValueError",
                "pin 4 cannot be sda of i2c bus 1: it must be one of pins 2"
            )
        );
        let v = ask(
            &mut e,
            0,
            r#"{"action": "i2c_setup", "bus": 0, "sda": 2, "scl": 3}"#,
        );
        let (class, msg) = error_of(&v);
        assert_eq!(class, "ValueError");
        assert!(msg.contains("has no pins on this board"), "{msg}");
        let v = ask(
            &mut e,
            0,
            r#"{"action": "i2c_setup", "bus": 1, "sda": 2, "scl": 3, "frequency": 400000}"#,
        );
        let (class, msg) = error_of(&v);
        assert_eq!(class, "OSError");
        assert!(msg.contains("dtparam=i2c_arm_baudrate"), "{msg}");
        let v = ask(
            &mut e,
            0,
            r#"{"action": "i2c_setup", "bus": 1, "sda": 2, "scl": 3}"#,
        );
        assert!(v.get("error").is_none(), "{v}");
        let v = ask(
            &mut e,
            0,
            r#"{"action": "i2c_read", "bus": 1, "address": 81, "count": 1}"#,
        );
        assert_eq!(
            error_of(&v),
            ("OSError", "no device answered at address 0x51 on i2c bus 1")
        );
        for bad in [
            r#"{"action": "i2c_read", "bus": 1, "address": 128, "count": 1}"#,
            r#"{"action": "i2c_read", "bus": 1, "address": -1, "count": 1}"#,
            r#"{"action": "i2c_read", "bus": 1, "address": 80, "count": 257}"#,
            r#"{"action": "i2c_read", "bus": 1, "address": 80, "count": 0}"#,
            r#"{"action": "i2c_write", "bus": 1, "address": 80, "data": [256]}"#,
            r#"{"action": "i2c_write", "bus": 1, "address": 80, "data": []}"#,
        ] {
            let v = ask(&mut e, 0, bad);
            assert_eq!(error_of(&v).0, "ValueError", "{bad}: {v}");
        }
        let seen = bus.seen.lock().unwrap().len();
        assert_eq!(seen, 1, "refused requests never reach the bus");
        *bus.fail.lock().unwrap() = Some(110);
        let v = ask(
            &mut e,
            0,
            r#"{"action": "i2c_write", "bus": 1, "address": 80, "data": [0, 9]}"#,
        );
        let (class, msg) = error_of(&v);
        assert_eq!(class, "OSError");
        assert!(
            msg.starts_with("i2c bus 1, address 0x50: ") && msg.contains("ETIMEDOUT"),
            "{msg}"
        );
        *bus.fail.lock().unwrap() = Some(121);
        let v = ask(
            &mut e,
            0,
            r#"{"action": "i2c_read", "bus": 1, "address": 80, "count": 1}"#,
        );
        assert_eq!(
            error_of(&v),
            ("OSError", "no device answered at address 0x50 on i2c bus 1")
        );
    }

    #[test]
    fn the_board_lists_what_it_was_given() {
        let root = tempfile::tempdir().unwrap();
        let mut both = pwm_engine(root.path());
        let (mut i2c_only, _) = i2c_engine();
        let mut plain = piconet_engine::Engine::new(board(None), piconet_engine::Config::default());
        for action in ["i2c_setup", "i2c_write", "i2c_read", "i2c_transfer"] {
            assert!(listed(&mut i2c_only, action), "{action}");
            assert!(!listed(&mut plain, action), "{action}");
        }
        assert!(!listed(&mut i2c_only, "write_pwm"));
        assert!(listed(&mut both, "write_pwm"));
        assert!(!listed(&mut both, "i2c_read"));
        assert!(!listed(&mut plain, "read_adc"));
        for always in ["setup_pin", "write_pin", "read_pin"] {
            assert!(listed(&mut plain, always), "{always}");
        }
        let fake = crate::i2c_linux::tests::FakeBus::new();
        let i2c = LinuxI2c::with_adapters(vec![(
            crate::i2c_linux::tests::mapping(1, 3, 40),
            Box::new(fake) as Box<dyn crate::i2c_linux::I2cAdapter>,
        )])
        .unwrap();
        let err = board(None).with_i2c(i2c).err().unwrap();
        assert!(err.to_string().contains("--i2c: pin 40"), "{err}");
    }

    #[test]
    fn edge_detection_follows_the_input_through_a_new_pull_and_ends_as_output() {
        let mut b = board(None);
        let cfg = |output, pull, edges| LineConfig {
            output,
            pull,
            edges,
        };
        assert!(b.detect_edges(5, true).is_err(), "not an input yet");
        assert!(b.detect_edges(5, false).is_ok(), "nothing to stop");
        b.configure(5, Mode::Input, Pull::Up, None).unwrap();
        b.detect_edges(5, true).unwrap();
        assert_eq!(
            b.lines.requests.last(),
            Some(&(5, cfg(None, Pull::Up, true), true))
        );
        b.configure(5, Mode::Input, Pull::Down, None).unwrap();
        assert_eq!(
            b.lines.requests.last(),
            Some(&(5, cfg(None, Pull::Down, true), true))
        );
        b.detect_edges(5, false).unwrap();
        assert_eq!(
            b.lines.requests.last(),
            Some(&(5, cfg(None, Pull::Down, false), true))
        );
        b.detect_edges(5, true).unwrap();
        b.configure(5, Mode::Output, Pull::None, Some(Level::Low))
            .unwrap();
        assert_eq!(
            b.lines.requests.last(),
            Some(&(5, cfg(Some(false), Pull::None, false), true))
        );
        // Input again: no detection until a watch asks.
        b.configure(5, Mode::Input, Pull::None, None).unwrap();
        assert!(!b.lines.requests.last().unwrap().1.edges);
        b.detect_edges(5, true).unwrap();
        b.reset();
        b.configure(5, Mode::Input, Pull::None, None).unwrap();
        assert!(!b.lines.requests.last().unwrap().1.edges);
        b.lines.fail = true;
        let e = b.detect_edges(5, true).unwrap_err();
        assert!(e.message().contains("interrupts"), "{e:?}");
    }

    #[test]
    fn missing_chip_gives_an_actionable_error() {
        let (edges, _) = crate::edges::channel(crate::clock::Clock::start());
        let e = CdevLines::open(Path::new("/dev/gpiochip-does-not-exist"), edges)
            .err()
            .unwrap();
        assert!(e.to_string().contains("gpio group"), "{e}");
    }
}
