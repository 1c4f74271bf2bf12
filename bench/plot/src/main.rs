//! `piconet-bench-plot RESULTS_DIR OUT.png [FONT.ttf]`: latency (p50 and p99)
//! against connections for piconetd, the original server and the bare echo,
//! from the `piconet bench --json` files `bench/run.sh` writes
//! (`{server}-plain-c{N}.json`).
//!
//! Text is drawn with ab_glyph from a TrueType file (default: DejaVu Sans from
//! Debian's fonts-dejavu-core), so no fontconfig or freetype is needed.

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

const CONNECTIONS: [u32; 4] = [1, 4, 16, 64];
const SERVERS: [(&str, &str, RGBColor); 3] = [
    ("piconetd", "piconetd", RGBColor(0, 114, 178)),
    ("original", "original (Python)", RGBColor(213, 94, 0)),
    ("echo", "bare line echo", RGBColor(0, 158, 115)),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let results = args.next().unwrap_or_else(|| "bench/results".into());
    let out = args.next().unwrap_or_else(|| "bench/latency.png".into());
    let font = args
        .next()
        .unwrap_or_else(|| "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf".into());
    let bytes = std::fs::read(&font).map_err(|e| {
        format!(
            "{}: {e} (apt-get install fonts-dejavu-core)",
            font.display()
        )
    })?;
    register_font(
        "sans-serif",
        FontStyle::Normal,
        Box::leak(bytes.into_boxed_slice()),
    )
    .map_err(|_| format!("{}: not a usable TrueType font", font.display()))?;

    // (server index, percentile name) -> points (connections, µs)
    let mut series = Vec::new();
    let mut max_us: f64 = 1.0;
    let mut min_us: f64 = f64::MAX;
    for (i, (key, _, _)) in SERVERS.iter().enumerate() {
        for pct in ["p50", "p99"] {
            let mut points = Vec::new();
            for c in CONNECTIONS {
                if let Some(us) = latency(&results, key, c, pct)? {
                    max_us = max_us.max(us);
                    min_us = min_us.min(us);
                    points.push((c, us));
                }
            }
            series.push((i, pct, points));
        }
    }
    if min_us == f64::MAX {
        return Err(format!(
            "no {{server}}-plain-c{{N}}.json results in {}",
            results.display()
        )
        .into());
    }

    let root = BitMapBackend::new(&out, (960, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "ping latency against connections (loopback, closed loop)",
            ("sans-serif", 24),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(
            (1u32..90u32)
                .log_scale()
                .with_key_points(CONNECTIONS.to_vec()),
            ((min_us / 2.0)..(max_us * 2.0)).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("connections")
        .y_desc("latency (µs, log scale)")
        .x_label_formatter(&|c| c.to_string())
        .y_label_formatter(&|us| format!("{us:.0}"))
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()?;
    for (i, pct, points) in series {
        let (_, label, color) = SERVERS[i];
        let style = if pct == "p50" {
            color.stroke_width(3)
        } else {
            color.mix(0.6).stroke_width(2)
        };
        let drawn = chart.draw_series(LineSeries::new(points.iter().copied(), style))?;
        drawn
            .label(format!("{label} {pct}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        if pct == "p50" {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
        } else {
            chart.draw_series(
                points
                    .iter()
                    .map(|&p| TriangleMarker::new(p, 5, color.mix(0.6).filled())),
            )?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    println!("wrote {}", out.display());
    Ok(())
}

fn latency(
    dir: &Path,
    server: &str,
    connections: u32,
    pct: &str,
) -> Result<Option<f64>, Box<dyn std::error::Error>> {
    let path = dir.join(format!("{server}-plain-c{connections}.json"));
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(v["latency_us"][pct].as_f64().filter(|us| *us > 0.0))
}
