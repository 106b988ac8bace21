//! One cell, second by second (`timeseries.csv`): throughput on top, p99 latency below, the
//! consumer lag at the bottom (cells with consumer groups), the warm-up and drain shaded, seconds with queue-full or failed sends marked, and fault spans
//! (a later issue injects broker faults; [`FaultMark`] is how they will be drawn).

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::scale::Scale;
use super::{
    broken_line, frame, layout, legend, legend_height, safe_name, write_png, ChartFile, ChartKind,
    DrawResult, Frame, LegendItem, Plot, Rendered, Shape, Swatch, PALETTE, WARN,
};
use crate::report::model::{CellAgg, RunModel};
use crate::rundir::read::FaultMark;
use crate::rundir::rows::TimeseriesRow;

const WARMUP_SHADE: RGBColor = RGBColor(120, 120, 120);
const DRAIN_SHADE: RGBColor = PALETTE[4];
const FAULT: RGBColor = PALETTE[3];
const LAG: RGBColor = PALETTE[5];

/// The file of one repetition of a cell: `charts/timeseries/<cell>.png` for the first (or only)
/// one, `<cell>-r<N>.png` for later ones, as the runner names their directories.
pub fn file_for(cell: &str, repeat: u32) -> PathBuf {
    let stem = safe_name(cell);
    let name = if repeat <= 1 {
        format!("{stem}.png")
    } else {
        format!("{stem}-r{repeat}.png")
    };
    PathBuf::from("charts/timeseries").join(name)
}

/// Draw one chart per cell and repetition. `faults` gives the fault marks of a (cell, repeat).
pub fn render(
    model: &RunModel,
    series: &[TimeseriesRow],
    flags_of: &dyn Fn(&str, u32) -> String,
    faults: &dyn Fn(&str, u32) -> Vec<FaultMark>,
    run_dir: &Path,
    out: &mut Rendered,
) {
    for cell in &model.cells {
        for &r in &cell.repeats {
            let mut rows: Vec<&TimeseriesRow> = series
                .iter()
                .filter(|t| t.cell == cell.id && t.repeat == r)
                .collect();
            if rows.is_empty() {
                continue;
            }
            rows.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
            let mut title = format!(
                "Cell {}: throughput and p99 latency per second",
                cell.label()
            );
            if cell.repeats.len() > 1 {
                title.push_str(&format!(" (repeat {r})"));
            }
            let chart = ChartFile {
                path: file_for(&cell.id, r),
                title: title.clone(),
                kind: ChartKind::Timeseries,
                cell: Some(cell.id.clone()),
            };
            let flags = flags_of(&cell.id, r);
            let marks = faults(&cell.id, r);
            out.add(run_dir, chart, |p| {
                draw(model, cell, &rows, &flags, &marks, &title, p)
            });
        }
    }
}

/// Consecutive seconds of the same phase as (phase, start, end). An interval runs from the
/// previous row's end (or one second earlier for the first) to its own `t_s`.
pub fn phase_spans(rows: &[&TimeseriesRow]) -> Vec<(String, f64, f64)> {
    let mut spans: Vec<(String, f64, f64)> = Vec::new();
    let mut prev_end: Option<f64> = None;
    for r in rows {
        let start = prev_end.unwrap_or((r.t_s - 1.0).max(0.0));
        prev_end = Some(r.t_s);
        match spans.last_mut() {
            Some(last) if last.0 == r.phase => last.2 = r.t_s,
            _ => spans.push((r.phase.clone(), start, r.t_s)),
        }
    }
    spans
}

/// A second kbench flags: the client queue was full, or sends failed.
pub fn troubled(r: &TimeseriesRow) -> bool {
    r.queue_full > 0 || r.failed > 0
}

fn legend_items(rows: &[&TimeseriesRow], faults: &[FaultMark], lag: bool) -> Vec<LegendItem> {
    let mut items = vec![
        LegendItem {
            label: "acked msg/s".into(),
            color: PALETTE[0],
            swatch: Swatch::Plain(false),
        },
        LegendItem {
            label: "consumed msg/s".into(),
            color: PALETTE[2],
            swatch: Swatch::Plain(false),
        },
        LegendItem {
            label: "sent msg/s".into(),
            color: PALETTE[6],
            swatch: Swatch::Plain(true),
        },
        LegendItem {
            label: "publish p99".into(),
            color: PALETTE[1],
            swatch: Swatch::Plain(false),
        },
        LegendItem {
            label: "end-to-end p99".into(),
            color: PALETTE[3],
            swatch: Swatch::Plain(false),
        },
        LegendItem {
            label: "warm-up (excluded)".into(),
            color: WARMUP_SHADE,
            swatch: Swatch::Band(0.25),
        },
        LegendItem {
            label: "drain".into(),
            color: DRAIN_SHADE,
            swatch: Swatch::Band(0.2),
        },
    ];
    if lag {
        items.push(LegendItem {
            label: "consumer lag (messages)".into(),
            color: LAG,
            swatch: Swatch::Plain(false),
        });
    }
    if rows.iter().any(|r| troubled(r)) {
        items.push(LegendItem {
            label: "queue full / failed sends".into(),
            color: WARN,
            swatch: Swatch::Mark(Shape::Triangle, true),
        });
    }
    if !faults.is_empty() {
        items.push(LegendItem {
            label: "fault".into(),
            color: FAULT,
            swatch: Swatch::Band(0.3),
        });
    }
    items
}

fn shade(plot: &mut Plot, x0: f64, x1: f64, color: RGBColor, alpha: f64) -> DrawResult {
    let (y0, y1) = {
        let r = plot.y_range();
        (r.start, r.end)
    };
    plot.draw_series([Rectangle::new(
        [(x0, y0), (x1, y1)],
        color.mix(alpha).filled(),
    )])?;
    Ok(())
}

fn backdrop(
    plot: &mut Plot,
    rows: &[&TimeseriesRow],
    faults: &[FaultMark],
    label_faults: bool,
) -> DrawResult {
    for (phase, a, b) in phase_spans(rows) {
        match phase.as_str() {
            "warmup" => shade(plot, a, b, WARMUP_SHADE, 0.25)?,
            "drain" => shade(plot, a, b, DRAIN_SHADE, 0.2)?,
            _ => {}
        }
    }
    let y1 = plot.y_range().end;
    let y0 = plot.y_range().start;
    for f in faults {
        match f.end_s {
            Some(end) => shade(plot, f.start_s, end, FAULT, 0.3)?,
            None => {
                plot.draw_series([PathElement::new(
                    vec![(f.start_s, y0), (f.start_s, y1)],
                    FAULT.stroke_width(2),
                )])?;
            }
        }
        if label_faults {
            plot.draw_series([EmptyElement::at((f.start_s, y1))
                + Text::new(
                    f.label.clone(),
                    (4, 4),
                    super::font(12)
                        .color(&FAULT)
                        .pos(Pos::new(HPos::Left, VPos::Top)),
                )])?;
        }
    }
    for r in rows.iter().filter(|r| troubled(r)) {
        plot.draw_series([PathElement::new(
            vec![(r.t_s, y0), (r.t_s, y1)],
            WARN.mix(0.5).stroke_width(1),
        )])?;
    }
    Ok(())
}

fn draw(
    model: &RunModel,
    cell: &CellAgg,
    rows: &[&TimeseriesRow],
    flags: &str,
    faults: &[FaultMark],
    title: &str,
    path: &Path,
) -> DrawResult {
    let t_max = rows.iter().map(|r| r.t_s).fold(1.0, f64::max);
    let x = Scale::linear([0.0, t_max], true).ticks();
    let thr = Scale::linear(
        rows.iter()
            .flat_map(|r| [r.acked_per_sec, r.consumed_per_sec, r.sent_per_sec]),
        true,
    );
    let ms = |us: u64| us as f64 / 1e3;
    let lat = Scale::latency(
        rows.iter()
            .flat_map(|r| [ms(r.publish_p99_us), ms(r.e2e_p99_us)]),
    );
    let mut subtitle: Vec<String> = cell
        .params
        .iter()
        .map(|(a, v)| format!("{a}={v}"))
        .collect();
    if !model.info.run_id.is_empty() {
        subtitle.push(format!("run {}", model.info.run_id));
    }
    subtitle.push("intervals of 1 s, plotted at their end".into());
    let note = if flags.is_empty() {
        String::new()
    } else {
        format!(
            "FLAGGED: {} (see summary.md)",
            flags.split(';').collect::<Vec<_>>().join(", ")
        )
    };
    // Lag is a count, not a rate: a panel of its own, for cells that have consumers.
    let show_lag = cell.groups > 0;
    let items = legend_items(rows, faults, show_lag);
    let height = if show_lag { 940 } else { 760 };
    write_png(path, (1100, height), |root| {
        let body = layout(root, title, &subtitle.join("; "), &note)?;
        let (w, h) = body.dim_in_pixel();
        let (top, rest) = body.split_vertically(legend_height(&body, &items, w));
        legend(&top, &items)?;
        let panels = h - legend_height(&body, &items, w);
        let (upper, lower) =
            rest.split_vertically(if show_lag { panels * 2 / 5 } else { panels / 2 });
        let (lower, lag_area) = if show_lag {
            let (l, g) = lower.split_vertically(panels * 7 / 20);
            (l, Some(g))
        } else {
            (lower, None)
        };

        let y = thr.ticks();
        let y_lat = lat.ticks();
        let mut plot = frame(
            &upper,
            &Frame {
                caption: "",
                x: &x,
                y: &y,
                x_desc: "",
                y_desc: "messages per second",
                align_with: Some(&y_lat),
            },
        )?;
        backdrop(&mut plot, rows, faults, true)?;
        let line = |f: &dyn Fn(&TimeseriesRow) -> f64| -> Vec<Option<(f64, f64)>> {
            rows.iter().map(|r| Some((r.t_s, f(r)))).collect()
        };
        // Widest first: when the three agree (the usual case) each still shows.
        broken_line(
            &mut plot,
            &line(&|r| r.acked_per_sec),
            PALETTE[0].stroke_width(4),
            false,
        )?;
        broken_line(
            &mut plot,
            &line(&|r| r.consumed_per_sec),
            PALETTE[2].stroke_width(2),
            false,
        )?;
        broken_line(
            &mut plot,
            &line(&|r| r.sent_per_sec),
            PALETTE[6].stroke_width(1),
            true,
        )?;
        let top_y = y.range.end;
        for r in rows.iter().filter(|r| troubled(r)) {
            super::marker(&plot, (r.t_s, top_y), Shape::Triangle, WARN, true)?;
        }

        let y = y_lat;
        let y_desc = if lat.log {
            "p99 latency, ms (log scale)"
        } else {
            "p99 latency, ms"
        };
        let mut plot = frame(
            &lower,
            &Frame {
                caption: "",
                x: &x,
                y: &y,
                x_desc: if show_lag {
                    ""
                } else {
                    "seconds since the producers started"
                },
                y_desc,
                align_with: Some(&thr.ticks()),
            },
        )?;
        backdrop(&mut plot, rows, faults, false)?;
        // A second without acks has no latency: a gap, not a zero.
        let lat_line = |f: &dyn Fn(&TimeseriesRow) -> u64| -> Vec<Option<(f64, f64)>> {
            rows.iter()
                .map(|r| {
                    let v = f(r);
                    (v > 0).then(|| (r.t_s, lat.pos(ms(v))))
                })
                .collect()
        };
        broken_line(
            &mut plot,
            &lat_line(&|r| r.publish_p99_us),
            PALETTE[1].stroke_width(2),
            false,
        )?;
        broken_line(
            &mut plot,
            &lat_line(&|r| r.e2e_p99_us),
            PALETTE[3].stroke_width(2),
            false,
        )?;
        if let Some(area) = lag_area {
            let lag = Scale::linear(rows.iter().map(|r| r.consumer_lag as f64), true).ticks();
            let mut plot = frame(
                &area,
                &Frame {
                    caption: "",
                    x: &x,
                    y: &lag,
                    x_desc: "seconds since the producers started",
                    y_desc: "lag, messages",
                    align_with: Some(&thr.ticks()),
                },
            )?;
            backdrop(&mut plot, rows, faults, false)?;
            let points: Vec<Option<(f64, f64)>> = rows
                .iter()
                .map(|r| Some((r.t_s, r.consumer_lag as f64)))
                .collect();
            broken_line(&mut plot, &points, LAG.stroke_width(2), false)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows through the CSV reader, so the test does not list every column.
    fn rows(spec: &[(f64, &str, u64)]) -> Vec<TimeseriesRow> {
        let mut text = String::from("cell,repeat,t_s,phase,queue_full\n");
        for (t, phase, qf) in spec {
            text.push_str(&format!("c,1,{t},{phase},{qf}\n"));
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("timeseries.csv");
        std::fs::write(&p, text).unwrap();
        crate::rundir::read::read_table(&p, "", &mut Vec::new()).unwrap()
    }

    #[test]
    fn phases_merge_into_spans() {
        let rows = rows(&[
            (1.0, "warmup", 0),
            (2.0, "warmup", 0),
            (3.0, "measure", 1),
            (4.5, "drain", 0),
        ]);
        let refs: Vec<&TimeseriesRow> = rows.iter().collect();
        assert_eq!(
            phase_spans(&refs),
            vec![
                ("warmup".into(), 0.0, 2.0),
                ("measure".into(), 2.0, 3.0),
                ("drain".into(), 3.0, 4.5)
            ]
        );
        assert!(troubled(&rows[2]) && !troubled(&rows[0]));
        assert_eq!(
            file_for("a/b", 1),
            PathBuf::from("charts/timeseries/a-b.png")
        );
        assert_eq!(
            file_for("x", 3),
            PathBuf::from("charts/timeseries/x-r3.png")
        );
    }
}
