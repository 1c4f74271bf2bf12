//! The CPU temperature from the kernel's thermal zones, for
//! `read_temperature` on piconetd's Linux board.

use std::path::{Path, PathBuf};

use piconet_engine::{BoardError, Thermometer};

/// Where the kernel lists its thermal zones.
pub(crate) const SYSFS_THERMAL: &str = "/sys/class/thermal";

/// Zone types that are the CPU (Raspberry Pi: `cpu-thermal`; x86:
/// `x86_pkg_temp`; many SoCs: `soc_thermal`).
const CPU_TYPES: [&str; 3] = ["cpu", "x86_pkg", "soc"];

/// One zone's `temp` file (millidegrees Celsius).
#[derive(Debug)]
pub(crate) struct ThermalZone {
    temp: PathBuf,
}

impl ThermalZone {
    /// The CPU's zone under `root` (normally [`SYSFS_THERMAL`]): the
    /// lowest-numbered `thermal_zoneN` whose `type` names the CPU, else
    /// the lowest-numbered zone with a `temp` file; `None` when there is
    /// none (then `read_temperature` answers `OSError` and is not listed).
    pub(crate) fn find(root: &Path) -> Option<Self> {
        let mut zones: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
            .ok()?
            .filter_map(|e| {
                let e = e.ok()?;
                let name = e.file_name().into_string().ok()?;
                let n: u32 = name.strip_prefix("thermal_zone")?.parse().ok()?;
                e.path().join("temp").is_file().then(|| (n, e.path()))
            })
            .collect();
        zones.sort();
        let is_cpu = |dir: &Path| {
            std::fs::read_to_string(dir.join("type"))
                .map(|t| CPU_TYPES.iter().any(|c| t.trim().contains(c)))
                .unwrap_or(false)
        };
        let dir = zones
            .iter()
            .find(|(_, d)| is_cpu(d))
            .or(zones.first())
            .map(|(_, d)| d.clone())?;
        Some(ThermalZone {
            temp: dir.join("temp"),
        })
    }
}

impl Thermometer for ThermalZone {
    fn celsius(&mut self) -> Result<f32, BoardError> {
        let text = std::fs::read_to_string(&self.temp).map_err(|_| {
            BoardError::Io(
                "cannot read the CPU thermal zone (/sys/class/thermal/thermal_zoneN/temp)",
            )
        })?;
        let milli: i64 = text.trim().parse().map_err(|_| {
            BoardError::Io("the CPU thermal zone's temp is not a number of millidegrees")
        })?;
        Ok(milli as f32 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(root: &Path, n: u32, kind: &str, temp: &str) {
        let dir = root.join(format!("thermal_zone{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("type"), format!("{kind}\n")).unwrap();
        std::fs::write(dir.join("temp"), format!("{temp}\n")).unwrap();
    }

    #[test]
    fn the_cpu_zone_is_read_in_degrees() {
        let root = tempfile::tempdir().unwrap();
        // Not a zone, and zones in a non-numeric order.
        std::fs::create_dir_all(root.path().join("cooling_device0")).unwrap();
        zone(root.path(), 10, "acpitz", "30000");
        zone(root.path(), 2, "x86_pkg_temp", "45500");
        zone(root.path(), 1, "iwlwifi_1", "38000");
        let mut z = ThermalZone::find(root.path()).unwrap();
        assert_eq!(z.celsius(), Ok(45.5));
        // Below zero, as the kernel writes it.
        zone(root.path(), 2, "x86_pkg_temp", "-1250");
        assert_eq!(z.celsius(), Ok(-1.25));
        zone(root.path(), 2, "x86_pkg_temp", "hot");
        assert!(matches!(z.celsius(), Err(BoardError::Io(m)) if m.contains("not a number")));
        std::fs::remove_file(root.path().join("thermal_zone2/temp")).unwrap();
        assert!(matches!(z.celsius(), Err(BoardError::Io(m)) if m.contains("cannot read")));
    }

    #[test]
    fn without_a_cpu_zone_the_lowest_is_taken_and_without_zones_none() {
        let root = tempfile::tempdir().unwrap();
        assert!(ThermalZone::find(root.path()).is_none());
        assert!(ThermalZone::find(&root.path().join("missing")).is_none());
        zone(root.path(), 3, "acpitz", "31000");
        zone(root.path(), 1, "pch", "29000");
        assert_eq!(ThermalZone::find(root.path()).unwrap().celsius(), Ok(29.0));
    }
}
