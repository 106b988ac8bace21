//! Every cell in one chart, one row per cell: the labels stay horizontal and legible up to a
//! hundred cells because the image grows in height instead of piling labels onto an x axis.
//! With nothing swept (one cell) these are the run's only value charts.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::scale::{fmt_num, Scale, Ticks};
use super::{
    clip, font, frame, layout, legend, legend_height, marker, style_of, write_png, DrawResult,
    Frame, LegendItem, Swatch, PALETTE,
};
use crate::report::model::{CellAgg, Metric, Pct, RunModel};

const ROW_PX: u32 = 24;
const LABEL_CHARS: usize = 64;

fn size(n: usize, extra: u32) -> (u32, u32) {
    (1200, (190 + extra + ROW_PX * n as u32).max(300))
}

/// Row labels, top to bottom in sweep order (plotted bottom-up, hence reversed ticks).
fn rows(model: &RunModel) -> Ticks {
    Ticks::categories(
        model
            .cells
            .iter()
            .rev()
            .map(|c| clip(&c.label(), LABEL_CHARS))
            .collect(),
    )
}

fn row_y(model: &RunModel, i: usize) -> f64 {
    (model.cells.len() - 1 - i) as f64
}

fn subtitle(model: &RunModel) -> String {
    let mut s = format!(
        "{}{} cells; measurement window only (warm-up excluded)",
        if model.info.run_id.is_empty() {
            String::new()
        } else {
            format!("run {}; ", model.info.run_id)
        },
        model.cells.len()
    );
    if model.max_repeats > 1 {
        s.push_str("; median of repeats, whisker = min..max");
    }
    s
}

fn flag_note(model: &RunModel, what: &str) -> String {
    if model.flagged().next().is_some() {
        format!("{what} and \"!\": flagged cell, kbench's own limits affected its figures (see summary.md)")
    } else {
        String::new()
    }
}

/// `throughput-by-cell.png`: acked msg/s per cell as horizontal bars, MB/s in the label.
pub fn throughput(model: &RunModel, path: &Path) -> DrawResult {
    let n = model.cells.len();
    write_png(path, size(n, 0), |root| {
        let body = layout(
            root,
            "Acked throughput per cell",
            &subtitle(model),
            &flag_note(model, "Hollow bars"),
        )?;
        // Room on the right for the value labels.
        let max = model
            .cells
            .iter()
            .map(|c| c.acked_per_sec.max)
            .fold(0.0, f64::max);
        let x = Scale::linear([0.0, max * 1.3], true).ticks();
        let y = rows(model);
        let mut plot = frame(
            &body,
            &Frame {
                caption: "",
                x: &x,
                y: &y,
                x_desc: "acked messages per second",
                y_desc: "",
                align_with: None,
            },
        )?;
        let color = PALETTE[0];
        for (i, c) in model.cells.iter().enumerate() {
            let yc = row_y(model, i);
            let v = c.acked_per_sec.median;
            let bar = [(0.0, yc - 0.32), (v, yc + 0.32)];
            if c.flagged() {
                plot.draw_series([Rectangle::new(bar, WHITE.filled())])?;
                plot.draw_series([Rectangle::new(bar, color.stroke_width(2))])?;
            } else {
                plot.draw_series([Rectangle::new(bar, color.filled())])?;
            }
            whisker_h(&mut plot, c.acked_per_sec.min, c.acked_per_sec.max, yc)?;
            let text = format!(
                "{} msg/s, {} MB/s",
                fmt_num(v.round()),
                fmt_num(c.acked_mb_per_sec.median)
            );
            let at = v.max(c.acked_per_sec.max);
            plot.draw_series([EmptyElement::at((at, yc))
                + Text::new(
                    text,
                    (6, 0),
                    font(12).pos(Pos::new(HPos::Left, VPos::Center)),
                )])?;
        }
        Ok(())
    })
}

/// A horizontal min..max whisker (repetitions), drawn only when they differ.
fn whisker_h(plot: &mut super::Plot, lo: f64, hi: f64, y: f64) -> DrawResult {
    if hi > lo {
        let ink = BLACK.stroke_width(1);
        plot.draw_series([PathElement::new(vec![(lo, y), (hi, y)], ink)])?;
        for x in [lo, hi] {
            plot.draw_series([PathElement::new(vec![(x, y - 0.18), (x, y + 0.18)], ink)])?;
        }
    }
    Ok(())
}

/// The latency figures drawn per cell.
const LATENCIES: [Metric; 4] = [
    Metric::Publish(Pct::P50),
    Metric::Publish(Pct::P99),
    Metric::Publish(Pct::P999),
    Metric::E2e(Pct::P99),
];

/// `latency-by-cell.png`: publish p50 / p99 / p99.9 and end-to-end p99 per cell, one row per
/// cell (log scale when they span a decade), joined by a thin line so a row reads as a unit.
pub fn latency(model: &RunModel, path: &Path) -> DrawResult {
    let n = model.cells.len();
    write_png(path, size(n, 30), |root| {
        let body = layout(
            root,
            "Latency per cell (from intended send time)",
            &subtitle(model),
            &flag_note(model, "Hollow markers"),
        )?;
        let items: Vec<LegendItem> = LATENCIES
            .iter()
            .enumerate()
            .map(|(k, m)| {
                let (color, shape) = style_of(k);
                LegendItem {
                    label: m.title(),
                    color,
                    swatch: Swatch::Mark(shape, true),
                }
            })
            .collect();
        let (w, _) = body.dim_in_pixel();
        let (top, plot_area) = body.split_vertically(legend_height(&body, &items, w));
        legend(&top, &items)?;
        let ms = |c: &CellAgg, m: Metric| m.of(c).median / 1e3;
        let values: Vec<f64> = model
            .cells
            .iter()
            .flat_map(|c| {
                LATENCIES
                    .iter()
                    .filter(|m| m.available(c))
                    .map(move |m| ms(c, *m))
            })
            .collect();
        let scale = Scale::latency(values);
        let x = scale.ticks();
        let y = rows(model);
        let x_desc = if scale.log {
            "latency, ms (log scale)"
        } else {
            "latency, ms"
        };
        let mut plot = frame(
            &plot_area,
            &Frame {
                caption: "",
                x: &x,
                y: &y,
                x_desc,
                y_desc: "",
                align_with: None,
            },
        )?;
        for (i, c) in model.cells.iter().enumerate() {
            let yc = row_y(model, i);
            let xs: Vec<f64> = LATENCIES
                .iter()
                .filter(|m| m.available(c))
                .map(|m| scale.pos(ms(c, *m)))
                .collect();
            if let (Some(lo), Some(hi)) = (
                xs.iter().copied().reduce(f64::min),
                xs.iter().copied().reduce(f64::max),
            ) {
                plot.draw_series([PathElement::new(
                    vec![(lo, yc), (hi, yc)],
                    RGBColor(170, 170, 170).stroke_width(1),
                )])?;
            }
            for (k, m) in LATENCIES.iter().enumerate() {
                if !m.available(c) {
                    continue;
                }
                let (color, shape) = style_of(k);
                marker(
                    &plot,
                    (scale.pos(ms(c, *m)), yc),
                    shape,
                    color,
                    !c.flagged(),
                )?;
            }
        }
        Ok(())
    })
}
