//! Where the messages went: per-partition counts, the picture behind the skew figures.
//!
//! - `partitions-<cell>.png`: one cell's acked and consumed messages per partition as bars,
//!   with the even share marked, so a hot partition (zipf keys) or the only partitions written
//!   (`chosen`) show at a glance.
//! - `partitions-by-<axis>.png`: across a partitioner or keys sweep, each cell's share of the
//!   acks per partition, one line per cell: shares rather than counts, so cells with different
//!   rates compare.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::scale::{fmt_num, Scale, Ticks};
use super::{
    frame, layout, legend, legend_height, marker, safe_name, style_of, write_png, ChartFile,
    ChartKind, DrawResult, Frame, LegendItem, Rendered, Swatch, NEUTRAL, PALETTE,
};
use crate::report::model::{Axis, CellAgg, RunModel};

/// Past this many partitions only every k-th partition is labelled (the bars still are all
/// drawn).
const MAX_LABELS: usize = 48;

/// The swept axes that decide placement, by their short or dotted name.
const PLACEMENT_AXES: [&str; 2] = ["partitioner", "keys"];

/// Every per-partition chart of the run: one per cell with per-partition counts, and one per
/// swept placement axis.
pub fn render(model: &RunModel, run_dir: &Path, out: &mut Rendered) {
    for c in model
        .cells
        .iter()
        .filter(|c| c.acked_per_partition.iter().any(|&n| n > 0))
    {
        let chart = ChartFile {
            path: PathBuf::from(crate::rundir::CHARTS)
                .join(format!("partitions-{}.png", safe_name(&c.id))),
            title: format!("Messages per partition, cell {}", c.id),
            kind: ChartKind::Partitions,
            cell: Some(c.id.clone()),
        };
        out.add(run_dir, chart, |p| per_cell(model, c, p));
    }
    for axis in model.axes.iter().filter(|a| is_placement(&a.name)) {
        let cells = by_axis(model, axis);
        if cells.len() < 2 {
            continue;
        }
        let chart = ChartFile {
            path: PathBuf::from(crate::rundir::CHARTS)
                .join(format!("partitions-by-{}.png", safe_name(&axis.name))),
            title: format!("Share of acks per partition, by {}", axis.name),
            kind: ChartKind::Partitions,
            cell: None,
        };
        out.add(run_dir, chart, |p| across(model, axis, &cells, p));
    }
}

fn is_placement(axis: &str) -> bool {
    PLACEMENT_AXES.contains(&axis.rsplit('.').next().unwrap_or(axis))
}

/// The cells with counts, in the axis's value order (then sweep order).
fn by_axis<'m>(model: &'m RunModel, axis: &Axis) -> Vec<&'m CellAgg> {
    let mut cells: Vec<&CellAgg> = model
        .cells
        .iter()
        .filter(|c| c.acked_per_partition.iter().any(|&n| n > 0))
        .collect();
    let rank = |c: &CellAgg| {
        c.param(&axis.name)
            .and_then(|v| axis.values.iter().position(|x| x == v))
            .unwrap_or(usize::MAX)
    };
    cells.sort_by_key(|c| (rank(c), c.index));
    cells
}

/// Partition labels `0`, `1`, ...; thinned past [`MAX_LABELS`].
fn partition_ticks(n: usize) -> Ticks {
    let every = n.div_ceil(MAX_LABELS).max(1);
    Ticks::categories(
        (0..n)
            .map(|p| {
                if p % every == 0 {
                    p.to_string()
                } else {
                    String::new()
                }
            })
            .collect(),
    )
}

/// One cell's consumed counts per group: each group reads every message, so the sum over
/// groups divided by their number is what one group got, comparable with the acks.
fn consumed_per_group(c: &CellAgg) -> Vec<f64> {
    let g = c.groups.max(1) as f64;
    c.consumed_per_partition
        .iter()
        .map(|&n| n as f64 / g)
        .collect()
}

fn per_cell(model: &RunModel, c: &CellAgg, path: &Path) -> DrawResult {
    let n = c.acked_per_partition.len();
    let acked: Vec<f64> = c.acked_per_partition.iter().map(|&v| v as f64).collect();
    let consumed = if c.groups > 0 {
        consumed_per_group(c)
    } else {
        Vec::new()
    };
    let total: f64 = acked.iter().sum();
    let mean = total / n.max(1) as f64;
    let width = (200 + 26 * n as u32).clamp(900, 2400);
    let repeats = if c.repeats.len() > 1 {
        format!(", summed over {} repeats", c.repeats.len())
    } else {
        String::new()
    };
    let subtitle = format!(
        "{}{} acked over {n} partition{}; busiest / mean {:.2}, CV {:.2}; measurement window only{repeats}",
        if model.info.run_id.is_empty() {
            String::new()
        } else {
            format!("run {}; ", model.info.run_id)
        },
        fmt_num(total),
        if n == 1 { "" } else { "s" },
        c.acked_skew.median,
        c.acked_skew_cv.median,
    );
    let note = if c.flagged() {
        "Hollow bars: flagged cell, kbench's own limits affected its figures (see summary.md)"
    } else {
        ""
    };
    write_png(path, (width, 560), |root| {
        let body = layout(
            root,
            &format!("Messages per partition: {}", c.label()),
            &subtitle,
            note,
        )?;
        let mut items = vec![LegendItem {
            label: "acked".into(),
            color: PALETTE[0],
            swatch: Swatch::Band(1.0),
        }];
        if !consumed.is_empty() {
            items.push(LegendItem {
                label: if c.groups > 1 {
                    format!("consumed, per group (mean of {})", c.groups)
                } else {
                    "consumed".into()
                },
                color: PALETTE[1],
                swatch: Swatch::Band(1.0),
            });
        }
        items.push(LegendItem {
            label: "even share of the acks".into(),
            color: NEUTRAL,
            swatch: Swatch::Plain(true),
        });
        let (w, _) = body.dim_in_pixel();
        let (top, plot_area) = body.split_vertically(legend_height(&body, &items, w));
        legend(&top, &items)?;
        let y = Scale::linear(acked.iter().chain(&consumed).copied(), true).ticks();
        let x = partition_ticks(n);
        let mut plot = frame(
            &plot_area,
            &Frame {
                caption: "",
                x: &x,
                y: &y,
                x_desc: "partition",
                y_desc: "messages",
                align_with: None,
            },
        )?;
        // Two bars per partition when there are consumers, side by side in its slot.
        let (bar_w, offsets) = if consumed.is_empty() {
            (0.7, vec![0.0])
        } else {
            (0.38, vec![-0.2, 0.2])
        };
        for (k, series) in [&acked, &consumed].into_iter().enumerate() {
            let Some(&off) = offsets.get(k) else { break };
            let color = PALETTE[k];
            for (p, &v) in series.iter().enumerate() {
                let xc = p as f64 + off;
                let bar = [(xc - bar_w / 2.0, 0.0), (xc + bar_w / 2.0, v)];
                if c.flagged() {
                    plot.draw_series([Rectangle::new(bar, WHITE.filled())])?;
                    plot.draw_series([Rectangle::new(bar, color.stroke_width(2))])?;
                } else {
                    plot.draw_series([Rectangle::new(bar, color.filled())])?;
                }
            }
        }
        plot.draw_series(DashedLineSeries::new(
            [(-0.5, mean), (n as f64 - 0.5, mean)],
            8,
            5,
            NEUTRAL.stroke_width(2),
        ))?;
        Ok(())
    })
}

fn across(model: &RunModel, axis: &Axis, cells: &[&CellAgg], path: &Path) -> DrawResult {
    let n = cells
        .iter()
        .map(|c| c.acked_per_partition.len())
        .max()
        .unwrap_or(0);
    // A cell's label: its value on this axis when nothing else varies, else its id.
    let others_vary = model.axes.len() > 1;
    let label = |c: &CellAgg| {
        let base = if others_vary {
            c.id.clone()
        } else {
            c.param(&axis.name).unwrap_or(&c.id).to_string()
        };
        let flag = if c.flagged() { " !" } else { "" };
        format!("{base}{flag} (busiest/mean {:.2})", c.acked_skew.median)
    };
    let shares: Vec<Vec<f64>> = cells
        .iter()
        .map(|c| {
            let total: u64 = c.acked_per_partition.iter().sum();
            c.acked_per_partition
                .iter()
                .map(|&v| 100.0 * v as f64 / total.max(1) as f64)
                .collect()
        })
        .collect();
    let same_n = cells.iter().all(|c| c.acked_per_partition.len() == n);
    let width = (300 + 22 * n as u32).clamp(1000, 2400);
    let subtitle = format!(
        "{}{} cells; share of each cell's acked messages, measurement window only",
        if model.info.run_id.is_empty() {
            String::new()
        } else {
            format!("run {}; ", model.info.run_id)
        },
        cells.len()
    );
    let note = if cells.iter().any(|c| c.flagged()) {
        "Hollow markers and \"!\": flagged cell, kbench's own limits affected its figures (see summary.md)"
    } else {
        ""
    };
    write_png(path, (width, 620), |root| {
        let body = layout(
            root,
            &format!("Share of acks per partition, by {}", axis.name),
            &subtitle,
            note,
        )?;
        let mut items: Vec<LegendItem> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (color, shape) = style_of(i);
                LegendItem {
                    label: label(c),
                    color,
                    swatch: Swatch::Line(shape, !c.flagged()),
                }
            })
            .collect();
        if same_n && n > 0 {
            items.push(LegendItem {
                label: format!("even share ({:.1} %)", 100.0 / n as f64),
                color: NEUTRAL,
                swatch: Swatch::Plain(true),
            });
        }
        let (w, _) = body.dim_in_pixel();
        let (top, plot_area) = body.split_vertically(legend_height(&body, &items, w));
        legend(&top, &items)?;
        let y = Scale::linear(shares.iter().flatten().copied(), true).ticks();
        let x = partition_ticks(n);
        let mut plot = frame(
            &plot_area,
            &Frame {
                caption: "",
                x: &x,
                y: &y,
                x_desc: "partition",
                y_desc: "share of acked messages, %",
                align_with: None,
            },
        )?;
        if same_n && n > 0 {
            let even = 100.0 / n as f64;
            plot.draw_series(DashedLineSeries::new(
                [(-0.5, even), (n as f64 - 0.5, even)],
                8,
                5,
                NEUTRAL.stroke_width(1),
            ))?;
        }
        for (i, (c, s)) in cells.iter().zip(&shares).enumerate() {
            let (color, shape) = style_of(i);
            let points: Vec<(f64, f64)> =
                s.iter().enumerate().map(|(p, &v)| (p as f64, v)).collect();
            plot.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?;
            for at in points {
                marker(&plot, at, shape, color, !c.flagged())?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_axes_by_short_or_dotted_name() {
        assert!(is_placement("partitioner"));
        assert!(is_placement("producers.partitioner"));
        assert!(is_placement("keys"));
        assert!(!is_placement("partitions"));
        assert!(!is_placement("acks"));
    }

    #[test]
    fn partition_labels_thin_out_past_the_limit() {
        let t = partition_ticks(6);
        assert_eq!(t.labels, ["0", "1", "2", "3", "4", "5"]);
        let t = partition_ticks(100);
        assert_eq!(t.at.len(), 100);
        assert_eq!(t.labels.iter().filter(|l| !l.is_empty()).count(), 34);
        assert_eq!(t.labels[3], "3");
        assert_eq!(t.labels[4], "");
    }
}
