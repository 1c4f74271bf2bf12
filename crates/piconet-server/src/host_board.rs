//! The board as piconetd serves it: the chosen board plus what only the
//! host process knows for `get_info` (memory, lost log lines).

use piconet_engine::{
    Board, BoardError, Instant, Level, Mode, PinKind, Pull, SettingsStore, UpdateSlot,
};
use piconet_protocol::response::ObjectWriter;
use piconet_protocol::sink::Full;

/// Wraps the sim or gpiochip board and adds to `get_info`:
///
/// - `mem_alloc`: the daemon's resident memory (VmRSS) in bytes. The
///   original firmware reports MicroPython's `gc.mem_alloc()`, the bytes
///   its heap has in use; the RSS is the nearest honest figure for a
///   process.
/// - `mem_free`: the memory the system can still give (MemAvailable of
///   `/proc/meminfo`) in bytes; the original's `gc.mem_free()` is what its
///   heap can still give.
/// - `name`: the board's name, as the firmware reports its own (the name
///   announced as `NAME.local`, also with `--no-mdns`).
/// - `log_lines_dropped`: log lines lost because the log output was slow,
///   closed or broken (logging never waits; see `logging`).
///
/// A figure the host cannot read (no `/proc`) is left out rather than
/// reported as 0.
///
/// Where the board has no thermometer of its own (the GPIO chip), the
/// host's CPU thermal zone answers `read_temperature`.
pub(crate) struct HostBoard<B> {
    inner: B,
    name: String,
    thermal: Option<crate::thermal::ThermalZone>,
}

impl<B> HostBoard<B> {
    pub(crate) fn new(inner: B, name: &str) -> Self {
        HostBoard {
            inner,
            name: name.to_owned(),
            thermal: None,
        }
    }

    /// With the host's thermal zone for boards without a thermometer.
    pub(crate) fn with_thermal(mut self, zone: Option<crate::thermal::ThermalZone>) -> Self {
        self.thermal = zone;
        self
    }
}

/// The first number after `key` in a `/proc` file like `status` or
/// `meminfo` ("VmRSS:   1234 kB"), in bytes.
fn proc_kib(path: &str, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kib: u64 = line[key.len()..].split_whitespace().next()?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The daemon's resident memory in bytes.
pub(crate) fn rss_bytes() -> Option<u64> {
    proc_kib("/proc/self/status", "VmRSS:")
}

impl<B: Board> Board for HostBoard<B> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn pin_kind(&self, pin: u32) -> PinKind {
        self.inner.pin_kind(pin)
    }
    fn configure(
        &mut self,
        pin: u32,
        mode: Mode,
        pull: Pull,
        initial: Option<Level>,
    ) -> Result<(), BoardError> {
        self.inner.configure(pin, mode, pull, initial)
    }
    fn write(&mut self, pin: u32, level: Level) -> Result<(), BoardError> {
        self.inner.write(pin, level)
    }
    fn read(&mut self, pin: u32) -> Result<Level, BoardError> {
        self.inner.read(pin)
    }
    fn set_status_led(&mut self, on: bool) {
        self.inner.set_status_led(on)
    }
    fn reset(&mut self) {
        self.inner.reset()
    }
    fn sleep(&mut self, ms: u32, deep: bool) {
        self.inner.sleep(ms, deep)
    }
    fn timestamp_ns(&self, now: Instant) -> u64 {
        self.inner.timestamp_ns(now)
    }
    fn write_info(&mut self, now: Instant, info: &mut ObjectWriter<'_>) -> Result<(), Full> {
        self.inner.write_info(now, info)?;
        info.str("name", &self.name)?;
        if let Some(free) = proc_kib("/proc/meminfo", "MemAvailable:") {
            info.uint("mem_free", free)?;
        }
        if let Some(rss) = rss_bytes() {
            info.uint("mem_alloc", rss)?;
        }
        info.uint("log_lines_dropped", crate::logging::dropped_lines())
    }
    fn update_slot(&mut self) -> Option<&mut dyn UpdateSlot> {
        self.inner.update_slot()
    }
    fn settings(&mut self) -> Option<&mut dyn SettingsStore> {
        self.inner.settings()
    }
    fn simulated_inputs(&mut self) -> Option<&mut dyn piconet_engine::SimulatedInputs> {
        self.inner.simulated_inputs()
    }
    fn pwm(&mut self) -> Option<&mut dyn piconet_engine::Pwm> {
        self.inner.pwm()
    }
    fn adc(&mut self) -> Option<&mut dyn piconet_engine::Adc> {
        self.inner.adc()
    }
    fn thermometer(&mut self) -> Option<&mut dyn piconet_engine::Thermometer> {
        if self.inner.thermometer().is_some() {
            return self.inner.thermometer();
        }
        self.thermal
            .as_mut()
            .map(|t| t as &mut dyn piconet_engine::Thermometer)
    }
    fn i2c(&mut self) -> Option<&mut dyn piconet_engine::I2c> {
        self.inner.i2c()
    }
    fn edge_detection(&mut self) -> Option<&mut dyn piconet_engine::EdgeDetection> {
        self.inner.edge_detection()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_figures_in_bytes() {
        let rss = rss_bytes().expect("Linux has /proc/self/status");
        assert!(rss > 1024 * 1024 && rss % 1024 == 0, "{rss}");
        assert!(proc_kib("/proc/meminfo", "MemAvailable:").unwrap() > 0);
        assert_eq!(proc_kib("/proc/meminfo", "NoSuchKey:"), None);
        assert_eq!(proc_kib("/no/such/file", "VmRSS:"), None);
    }
}
