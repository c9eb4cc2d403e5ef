//! The demo's charts, drawn with plotters: clearing price and volume per interval against the
//! two tariffs, and the community's PV and load over the day.

use crate::{Sim, FEED_IN, RETAIL};
use anyhow::{anyhow, Context};
use plotters::prelude::*;
use serde_json::Value;
use std::path::Path;

/// Where Debian's fonts-dejavu-core puts its sans font; plotters needs a font for labels.
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing a chart: {e}")
}

fn register_font() -> anyhow::Result<()> {
    let bytes = std::fs::read(FONT)
        .with_context(|| format!("charts need the font {FONT} (Debian: fonts-dejavu-core)"))?;
    // plotters keeps fonts for the life of the program.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| anyhow!("{FONT} is not a usable font"))
}

const ZONE_COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

/// Draws `prices.png` and `community.png` into `out`.
pub fn draw(r: &Value, sim: &Sim, out: &Path) -> anyhow::Result<()> {
    register_font()?;
    prices(r, sim, &out.join("prices.png"))?;
    community(sim, &out.join("community.png"))
}

fn hour_of(sim: &Sim, start_ms: u64) -> f64 {
    (start_ms - sim.start_ms) as f64 / 3_600_000.0
}

/// One zone's `key` per interval, divided by `unit`, at the middle of each interval (hours).
fn zone_points(rows: &[Value], zone: &str, sim: &Sim, key: &str, unit: f64) -> Vec<(f64, f64)> {
    rows.iter()
        .filter(|x| x["zone"] == zone)
        .filter_map(|x| {
            Some((
                hour_of(sim, x["start_ms"].as_u64()?) + 0.125,
                x[key].as_u64()? as f64 / unit,
            ))
        })
        .collect()
}

fn prices(r: &Value, sim: &Sim, path: &Path) -> anyhow::Result<()> {
    let rows = r["interval_rows"].as_array().cloned().unwrap_or_default();
    let mut zones: Vec<String> = rows
        .iter()
        .filter_map(|x| x["zone"].as_str().map(str::to_owned))
        .collect();
    zones.dedup();
    let hours = sim.community.intervals as f64 / 4.0;
    let root = BitMapBackend::new(path, (1100, 760)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (top, bottom) = root.split_vertically(430);
    let mut chart = ChartBuilder::on(&top)
        .caption(
            "Clearing price per interval against the grid's tariffs",
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..hours, 0f64..(RETAIL as f64 / 1e6 * 1.15))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("hour of the day")
        .y_desc("token per kWh")
        .draw()
        .map_err(err)?;
    for (tariff, name, color) in [(RETAIL, "retail", RED), (FEED_IN, "feed-in", BLACK)] {
        let y = tariff as f64 / 1e6;
        chart
            .draw_series(LineSeries::new(
                vec![(0.0, y), (hours, y)],
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    for (z, zone) in zones.iter().enumerate() {
        let color = ZONE_COLORS[z % ZONE_COLORS.len()];
        let points = zone_points(&rows, zone, sim, "price", 1e6);
        chart
            .draw_series(PointSeries::of_element(
                points,
                3,
                color.filled(),
                &|c, s, st| Circle::new(c, s, st),
            ))
            .map_err(err)?
            .label(format!("{zone} clearing price"))
            .legend(move |(x, y)| Circle::new((x + 10, y), 3, color.filled()));
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .draw()
        .map_err(err)?;
    let max_kwh = rows
        .iter()
        .filter_map(|x| x["volume_wh"].as_u64())
        .max()
        .unwrap_or(1) as f64
        / 1000.0;
    let mut vol = ChartBuilder::on(&bottom)
        .caption(
            "Energy traded between neighbours per interval",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..hours, 0f64..(max_kwh * 1.1).max(1.0))
        .map_err(err)?;
    vol.configure_mesh()
        .x_desc("hour of the day")
        .y_desc("kWh matched")
        .draw()
        .map_err(err)?;
    for (z, zone) in zones.iter().enumerate() {
        let color = ZONE_COLORS[z % ZONE_COLORS.len()];
        let points = zone_points(&rows, zone, sim, "volume_wh", 1000.0);
        vol.draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(err)?
            .label(zone.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    vol.configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}

fn community(sim: &Sim, path: &Path) -> anyhow::Result<()> {
    let to_kw = |wh: u64| wh as f64 / 1000.0 * 4.0;
    let series = |v: &[u64]| -> Vec<(f64, f64)> {
        v.iter()
            .enumerate()
            .map(|(i, wh)| (i as f64 / 4.0 + 0.125, to_kw(*wh)))
            .collect()
    };
    let (pv, load) = (series(&sim.community.pv_wh), series(&sim.community.load_wh));
    let max = pv.iter().chain(&load).map(|p| p.1).fold(1.0f64, f64::max);
    let hours = sim.community.intervals as f64 / 4.0;
    let root = BitMapBackend::new(path, (1100, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("The community's PV generation and load", ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..hours, 0f64..max * 1.1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("hour of the day")
        .y_desc("kW (interval average)")
        .draw()
        .map_err(err)?;
    let pv_color = RGBColor(230, 160, 0);
    chart
        .draw_series(LineSeries::new(pv, pv_color.stroke_width(3)))
        .map_err(err)?
        .label("PV")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], pv_color));
    let load_color = RGBColor(31, 119, 180);
    chart
        .draw_series(LineSeries::new(load, load_color.stroke_width(3)))
        .map_err(err)?
        .label("load (households and EVs)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], load_color));
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .draw()
        .map_err(err)?;
    root.present().map_err(err)
}
