//! A figure against each swept axis: x = that axis's values (evenly spaced, in scenario
//! order), one line per value of another axis, one panel per combination of the remaining
//! axes ([`SweepLayout`]). Latency charts have one column per percentile. All panels of an
//! image share the y scale so they compare at a glance; images with many panels are split
//! into pages.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::scale::{Scale, Ticks};
use super::{
    broken_line, frame, layout, legend, legend_height, marker, safe_name, style_of, write_png,
    ChartFile, ChartKind, DrawResult, Frame, LegendItem, Plot, Rendered, Shape, Swatch, NEUTRAL,
};
use crate::report::model::{CellAgg, Metric, Pct, RunModel, SweepLayout};

const PANEL_W: u32 = 500;
const PANEL_H: u32 = 380;
/// Panels per image: a 3x3 grid for throughput, three facet rows of three percentiles for
/// latency. More panels than this and they get too small to read.
const MAX_PANELS: usize = 9;

/// One family of sweep charts: a file stem, a title and the metrics shown side by side.
struct Family {
    stem: &'static str,
    title: &'static str,
    metrics: &'static [Metric],
    y_desc: &'static str,
    latency: bool,
}

const THROUGHPUT: Family = Family {
    stem: "throughput",
    title: "Acked throughput",
    metrics: &[Metric::AckedPerSec],
    y_desc: "acked messages per second",
    latency: false,
};
const THROUGHPUT_MB: Family = Family {
    stem: "throughput-mb",
    title: "Acked throughput (MB/s)",
    metrics: &[Metric::AckedMbPerSec],
    y_desc: "acked MB per second",
    latency: false,
};
const PUBLISH: Family = Family {
    stem: "publish-latency",
    title: "Publish latency",
    metrics: &[
        Metric::Publish(Pct::P50),
        Metric::Publish(Pct::P99),
        Metric::Publish(Pct::P999),
    ],
    y_desc: "ms",
    latency: true,
};
const E2E: Family = Family {
    stem: "e2e-latency",
    title: "End-to-end latency",
    metrics: &[
        Metric::E2e(Pct::P50),
        Metric::E2e(Pct::P99),
        Metric::E2e(Pct::P999),
    ],
    y_desc: "ms",
    latency: true,
};

/// Draw every sweep chart of the run into `run_dir/charts/`.
pub fn render(model: &RunModel, run_dir: &Path, out: &mut Rendered) {
    let mut families = vec![&THROUGHPUT];
    if model.sizes_vary() {
        families.push(&THROUGHPUT_MB);
    }
    if model.cells.iter().any(|c| c.acked > 0) {
        families.push(&PUBLISH);
    }
    if model.cells.iter().any(|c| c.consumed > 0) {
        families.push(&E2E);
    }
    for l in model.sweep_layouts() {
        for fam in &families {
            let per_page = (MAX_PANELS / fam.metrics.len()).max(1);
            let pages: Vec<&[Vec<(String, String)>]> = l.facets.chunks(per_page).collect();
            for (p, facets) in pages.iter().enumerate() {
                let suffix = if pages.len() > 1 {
                    format!("-p{}", p + 1)
                } else {
                    String::new()
                };
                let name = format!("{}-by-{}{suffix}.png", fam.stem, safe_name(&l.x.name));
                let mut title = format!("{} by {}", fam.title, l.x.name);
                if pages.len() > 1 {
                    title.push_str(&format!(" (page {} of {})", p + 1, pages.len()));
                }
                let chart = ChartFile {
                    path: PathBuf::from(crate::rundir::CHARTS).join(name),
                    title: title.clone(),
                    kind: ChartKind::Sweep,
                    cell: None,
                };
                out.add(run_dir, chart, |path| {
                    draw(model, &l, facets, fam, &title, path)
                });
            }
        }
    }
}

/// One point of a series: the cell at (x value, series value, facet), if it ran.
struct Point<'m> {
    x: usize,
    cell: &'m CellAgg,
}

fn series_points<'m>(
    model: &'m RunModel,
    l: &SweepLayout,
    facet: &[(String, String)],
    series_value: Option<&str>,
) -> Vec<Option<Point<'m>>> {
    l.x.values
        .iter()
        .enumerate()
        .map(|(xi, xv)| {
            let mut coords: Vec<(&str, &str)> = vec![(l.x.name.as_str(), xv.as_str())];
            if let (Some(s), Some(v)) = (&l.series, series_value) {
                coords.push((s.name.as_str(), v));
            }
            coords.extend(facet.iter().map(|(a, v)| (a.as_str(), v.as_str())));
            model.find(&coords).map(|cell| Point { x: xi, cell })
        })
        .collect()
}

fn draw(
    model: &RunModel,
    l: &SweepLayout,
    facets: &[Vec<(String, String)>],
    fam: &Family,
    title: &str,
    path: &Path,
) -> DrawResult {
    let series_values: Vec<Option<&str>> = match &l.series {
        Some(s) => s.values.iter().map(|v| Some(v.as_str())).collect(),
        None => vec![None],
    };
    // Every cell this image shows, for the shared y scale and the flagged note.
    let shown: Vec<&CellAgg> = model
        .cells
        .iter()
        .filter(|c| {
            facets
                .iter()
                .any(|f| f.iter().all(|(a, v)| c.param(a) == Some(v.as_str())))
        })
        .collect();
    // Latency is stored in µs and drawn in ms.
    let unit = |v: f64| if fam.latency { v / 1e3 } else { v };
    let values = shown.iter().flat_map(|c| {
        fam.metrics
            .iter()
            .filter(|m| m.available(c))
            .flat_map(move |m| {
                let s = m.of(c);
                [unit(s.min), unit(s.max)]
            })
    });
    let scale = if fam.latency {
        Scale::latency(values)
    } else {
        Scale::linear(values, true)
    };
    let y = scale.ticks();
    let x = Ticks::categories(l.x.values.clone());
    let y_desc = if scale.log {
        format!("{} (log scale)", fam.y_desc)
    } else {
        fam.y_desc.to_string()
    };

    let cols = if fam.metrics.len() > 1 {
        fam.metrics.len()
    } else {
        facets.len().clamp(1, 3)
    };
    let panels = facets.len() * fam.metrics.len();
    let rows = panels.div_ceil(cols);
    let legend_items = legend_items(l, shown.iter().any(|c| c.flagged()));
    // A lone panel gets more room: the legend and the note need the width.
    let width = (cols as u32 * PANEL_W + 20).max(760);
    let height = 62 + 30 + 28 * (1 + legend_items.len() as u32 / 5) + rows as u32 * PANEL_H;

    let mut subtitle = match &l.series {
        Some(s) => format!("one line per {}", s.name),
        None => "all cells".to_string(),
    };
    if facets.len() > 1 || facets.first().is_some_and(|f| !f.is_empty()) {
        let names: Vec<&str> = facets[0].iter().map(|(a, _)| a.as_str()).collect();
        subtitle.push_str(&format!("; one panel per {}", names.join(" x ")));
    }
    if !model.info.run_id.is_empty() {
        subtitle.push_str(&format!("; run {}", model.info.run_id));
    }
    if model.max_repeats > 1 {
        subtitle.push_str("; median of repeats, whiskers = min..max");
    }
    let note = if shown.iter().any(|c| c.flagged()) {
        "Hollow markers: flagged cells, kbench's own limits affected them (see summary.md)"
    } else {
        ""
    };

    write_png(path, (width, height), |root| {
        let body = layout(root, title, &subtitle, note)?;
        let (w, _) = body.dim_in_pixel();
        let (top, grid) = body.split_vertically(legend_height(&body, &legend_items, w));
        legend(&top, &legend_items)?;
        let areas = grid.split_evenly((rows, cols));
        let mut k = 0;
        for facet in facets {
            for m in fam.metrics {
                let area = &areas[k];
                k += 1;
                let mut caption: Vec<String> =
                    facet.iter().map(|(a, v)| format!("{a}={v}")).collect();
                if fam.metrics.len() > 1 {
                    caption.push(m.title());
                }
                let caption = caption.join(", ");
                let mut plot = frame(
                    area,
                    &Frame {
                        caption: &caption,
                        x: &x,
                        y: &y,
                        x_desc: &l.x.name,
                        y_desc: &y_desc,
                        align_with: None,
                    },
                )?;
                let n_series = series_values.len();
                for (si, sv) in series_values.iter().enumerate() {
                    let (color, shape) = style_of(si);
                    // Spread the series a little sideways so equal values do not hide each
                    // other.
                    let dodge = if n_series > 1 {
                        (si as f64 - (n_series - 1) as f64 / 2.0) * (0.3 / n_series as f64)
                    } else {
                        0.0
                    };
                    let pts = series_points(model, l, facet, *sv);
                    let at = |p: &Point| {
                        let s = m.of(p.cell);
                        (p.x as f64 + dodge, scale.pos(unit(s.median)))
                    };
                    let line: Vec<Option<(f64, f64)>> = pts
                        .iter()
                        .map(|p| p.as_ref().filter(|p| m.available(p.cell)).map(at))
                        .collect();
                    broken_line(&mut plot, &line, color.stroke_width(2), false)?;
                    for p in pts.iter().flatten().filter(|p| m.available(p.cell)) {
                        let s = m.of(p.cell);
                        whisker_v(
                            &mut plot,
                            p.x as f64 + dodge,
                            scale.pos(unit(s.min)),
                            scale.pos(unit(s.max)),
                            color,
                        )?;
                        marker(&plot, at(p), shape, color, !p.cell.flagged())?;
                    }
                }
            }
        }
        Ok(())
    })
}

fn whisker_v(plot: &mut Plot, x: f64, lo: f64, hi: f64, color: RGBColor) -> DrawResult {
    if hi > lo {
        let ink = color.stroke_width(1);
        plot.draw_series([PathElement::new(vec![(x, lo), (x, hi)], ink)])?;
        for y in [lo, hi] {
            plot.draw_series([PathElement::new(vec![(x - 0.05, y), (x + 0.05, y)], ink)])?;
        }
    }
    Ok(())
}

fn legend_items(l: &SweepLayout, any_flagged: bool) -> Vec<LegendItem> {
    let mut items: Vec<LegendItem> = match &l.series {
        Some(s) => s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let (color, shape) = style_of(i);
                LegendItem {
                    label: format!("{}={v}", s.name),
                    color,
                    swatch: Swatch::Line(shape, true),
                }
            })
            .collect(),
        None => Vec::new(),
    };
    if any_flagged {
        items.push(LegendItem {
            label: "flagged cell".into(),
            color: NEUTRAL,
            swatch: Swatch::Mark(Shape::Circle, false),
        });
    }
    items
}
