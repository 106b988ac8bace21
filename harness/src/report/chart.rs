//! PNG charts (plotters, with an embedded DejaVu font: no system fonts needed).

use std::path::Path;

use plotters::prelude::*;
use plotters::style::register_font;

use super::csv::ResultRow;

/// Register the embedded font under the family name "sans-serif" (once per process).
pub(crate) fn ensure_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
}

/// Okabe-Ito: distinguishable with the common forms of colour blindness.
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(0, 0, 0),
];

/// Publish latency p50 / p99 / p99.9 and end-to-end p99 for every cell (log scale, ms), with
/// acked throughput in each cell's label. Flagged cells are marked with a `!`.
pub fn latency_by_cell(rows: &[ResultRow], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    ensure_font();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let n = rows.len().max(1);
    let ms = |us: u64| (us.max(1) as f64) / 1e3;
    type Pick = fn(&ResultRow) -> u64;
    let series: [(&str, Pick); 4] = [
        ("publish p50", |r| r.publish_p50_us),
        ("publish p99", |r| r.publish_p99_us),
        ("publish p99.9", |r| r.publish_p999_us),
        ("end-to-end p99", |r| r.e2e_p99_us),
    ];
    let max = rows
        .iter()
        .flat_map(|r| series.iter().map(move |(_, f)| ms(f(r))))
        .fold(1.0f64, f64::max);
    let min = rows
        .iter()
        .flat_map(|r| series.iter().map(move |(_, f)| ms(f(r))))
        .fold(max, f64::min);
    let width = (220 + 110 * n as u32).clamp(900, 4000);
    let tmp = path.with_extension("png.tmp.png");
    {
        let root = BitMapBackend::new(&tmp, (width, 640)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Latency by cell (intended send time; warm-up excluded)",
                ("sans-serif", 22),
            )
            .margin(15)
            .x_label_area_size(110)
            .y_label_area_size(70)
            .build_cartesian_2d(
                -0.5f64..(n as f64 - 0.5),
                ((min / 2.0).max(0.001)..max * 2.0).log_scale(),
            )?;
        let labels: Vec<String> = rows
            .iter()
            .map(|r| {
                let flag = if r.flags.is_empty() { "" } else { " !" };
                format!("{}{flag}\n{:.0} msg/s", r.cell, r.acked_per_sec)
            })
            .collect();
        chart
            .configure_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| {
                let i = x.round() as i64;
                if (x - i as f64).abs() < 0.01 && i >= 0 && (i as usize) < labels.len() {
                    labels[i as usize].replace('\n', " ")
                } else {
                    String::new()
                }
            })
            .x_label_style(
                ("sans-serif", 13)
                    .into_font()
                    .transform(FontTransform::Rotate90),
            )
            .y_desc("latency (ms, log scale)")
            .x_desc("cell")
            .label_style(("sans-serif", 14))
            .draw()?;
        for (k, (name, f)) in series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let pts: Vec<(f64, f64)> = rows
                .iter()
                .enumerate()
                .map(|(i, r)| (i as f64, ms(f(r))))
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                });
            chart.draw_series(pts.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
        root.present()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}
