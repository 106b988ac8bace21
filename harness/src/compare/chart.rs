//! `compare.png`: baseline beside current for every compared cell and metric, as grouped
//! horizontal bars (one panel per metric; latency on a log scale). With many cells each panel
//! shows the worst ones first (failures, then the largest change in the bad direction), so the
//! chart stays readable at a hundred cells.

use std::error::Error;
use std::path::Path;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::model::{verdict_text, Comparison};
use super::stats::{badness, Spread};
use super::text::{delta_text, threshold_text};
use super::thresholds::{Kind, Metric, Threshold};
use crate::report::chart::{clip, write_png, Area, NEUTRAL, PALETTE, WARN};

/// Cells per panel unless told otherwise.
pub const DEFAULT_MAX_CELLS: usize = 20;

const BASE_COLOR: RGBColor = PALETTE[0];
const CUR_COLOR: RGBColor = PALETTE[1];
const BAD_COLOR: RGBColor = WARN;
const COL_W: u32 = 1200;
const TITLE_H: u32 = 96;
const ROW_PX: u32 = 44;

/// One pair of bars.
#[derive(Debug, Clone)]
pub struct Bar {
    pub cell: String,
    pub base: Spread,
    pub cur: Spread,
    pub delta_pct: f64,
    pub verdict: String,
    pub failing: bool,
}

/// One panel: a metric and the cells it shows.
#[derive(Debug, Clone)]
pub struct Facet {
    pub metric: Metric,
    pub threshold: Option<Threshold>,
    pub bars: Vec<Bar>,
    /// Cells with data for this metric (bars may show fewer).
    pub total: usize,
}

/// Choose what to draw: per metric, the cells with data on both sides; beyond `max_cells`,
/// the worst `max_cells` (failing first, then by change in the bad direction). Pure.
pub fn facets(c: &Comparison, max_cells: usize) -> Vec<Facet> {
    let max_cells = max_cells.max(1);
    c.metrics
        .iter()
        .filter_map(|&m| {
            let mut bars: Vec<Bar> = c
                .lines()
                .filter(|(_, l)| l.metric == m)
                .filter_map(|(cell, l)| {
                    let verdict = verdict_text(cell, l, c.options.allow_flagged);
                    Some(Bar {
                        cell: cell.cell.clone(),
                        base: l.baseline?,
                        cur: l.current?,
                        delta_pct: l.outcome.delta_pct?,
                        failing: l.threshold.is_some()
                            && (l.outcome.verdict.fails()
                                || (cell.flagged() && !c.options.allow_flagged)),
                        verdict,
                    })
                })
                .collect();
            if bars.is_empty() {
                return None;
            }
            let total = bars.len();
            if total > max_cells {
                bars.sort_by(|a, b| {
                    b.failing.cmp(&a.failing).then(
                        badness(m, b.delta_pct)
                            .partial_cmp(&badness(m, a.delta_pct))
                            .unwrap_or(std::cmp::Ordering::Equal),
                    )
                });
                bars.truncate(max_cells);
            }
            Some(Facet {
                metric: m,
                threshold: c.options.thresholds.iter().find(|t| t.metric == m).copied(),
                bars,
                total,
            })
        })
        .collect()
}

fn facet_height(f: &Facet) -> u32 {
    110 + ROW_PX * f.bars.len() as u32
}

/// Axis numbers without trailing zeros: 1000, 2.5, 0.125.
fn compact(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Write the PNG (atomically: see [`write_png`]).
pub fn render(c: &Comparison, path: &Path, max_cells: usize) -> Result<(), Box<dyn Error>> {
    let fs = facets(c, max_cells);
    let cols: u32 = if fs.len() > 2 { 2 } else { 1 };
    let rows: Vec<&[Facet]> = fs.chunks(cols as usize).collect();
    let row_h: Vec<u32> = rows
        .iter()
        .map(|r| r.iter().map(facet_height).max().unwrap_or(0))
        .collect();
    let height = TITLE_H + row_h.iter().sum::<u32>().max(120);
    write_png(path, (COL_W * cols, height), |root| {
        let (title, mut body) = root.split_vertically(TITLE_H);
        draw_title(&title, c)?;
        if fs.is_empty() {
            body.draw_text(
                "no metric has data in both runs: nothing to chart",
                &("sans-serif", 18).into_text_style(&body),
                (20, 20),
            )?;
        }
        for (r, h) in rows.iter().zip(&row_h) {
            let (row_area, rest) = body.split_vertically(*h);
            body = rest;
            let mut cell_area = row_area;
            for f in r.iter() {
                let (this, rest) = cell_area.split_horizontally(COL_W);
                cell_area = rest;
                draw_facet(&this, f)?;
            }
        }
        Ok(())
    })
}

fn draw_title(area: &Area, c: &Comparison) -> Result<(), Box<dyn Error>> {
    let big = ("sans-serif", 22).into_text_style(area);
    let small = ("sans-serif", 15).into_text_style(area);
    area.draw_text(
        &format!("kbench compare: {}", c.current.info.scenario.name),
        &big,
        (20, 10),
    )?;
    let head = c.headline();
    let color = if c.exit_code() == 0 {
        PALETTE[2]
    } else {
        BAD_COLOR
    };
    area.draw_text(&head, &small.color(&color), (20, 40))?;
    let mut x = 20;
    for (label, color) in [
        (format!("baseline {}", c.baseline.info.run_id), BASE_COLOR),
        (format!("current {}", c.current.info.run_id), CUR_COLOR),
    ] {
        area.draw(&Rectangle::new([(x, 68), (x + 18, 84)], color.filled()))?;
        area.draw_text(&label, &small, (x + 24, 67))?;
        x += 40 + 9 * label.chars().count() as i32;
    }
    area.draw_text(
        "bar = median over repeats, whisker = min..max",
        &small.color(&NEUTRAL),
        (x, 67),
    )?;
    Ok(())
}

fn draw_facet(area: &Area, f: &Facet) -> Result<(), Box<dyn Error>> {
    let m = f.metric;
    let vals: Vec<f64> = f
        .bars
        .iter()
        .flat_map(|b| [b.base.min, b.base.max, b.cur.min, b.cur.max])
        .map(|v| m.display_value(v))
        .collect();
    let hi = vals.iter().copied().fold(f64::MIN_POSITIVE, f64::max);
    let mut caption = m.label().to_string();
    if let Some(t) = &f.threshold {
        caption.push_str(&format!("  (threshold {})", threshold_text(Some(t))));
    } else {
        caption.push_str("  (no threshold)");
    }
    if f.bars.len() < f.total {
        caption.push_str(&format!("  {} worst of {} cells", f.bars.len(), f.total));
    }
    match m.kind() {
        Kind::Latency => {
            let lo = vals.iter().copied().fold(hi, f64::min).max(1e-3);
            let floor = lo / 2.0;
            // Room on the right for the value labels.
            draw_bars(
                area,
                f,
                (floor..hi * 20.0).log_scale(),
                floor,
                &caption,
                &format!("{} ({}, log scale)", m.label(), m.unit()),
            )
        }
        Kind::Rate => draw_bars(
            area,
            f,
            0.0..hi * 1.6,
            0.0,
            &caption,
            &format!("{} ({})", m.label(), m.unit()),
        ),
    }
}

fn draw_bars<X>(
    area: &Area,
    f: &Facet,
    x: X,
    floor: f64,
    caption: &str,
    x_desc: &str,
) -> Result<(), Box<dyn Error>>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let m = f.metric;
    let k = f.bars.len();
    let label_w = 370;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .margin_right(24)
        .x_label_area_size(48)
        .y_label_area_size(label_w)
        .build_cartesian_2d(x, 0f64..k as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(8)
        .x_label_formatter(&|v: &f64| compact(*v))
        .x_desc(x_desc)
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .draw()?;
    let text = ("sans-serif", 13).into_font();
    let v = |x: f64| m.display_value(x);
    for (j, b) in f.bars.iter().enumerate() {
        let yc = k as f64 - j as f64 - 0.5;
        for (s, color, y0, y1) in [
            (&b.base, BASE_COLOR, yc + 0.03, yc + 0.38),
            (&b.cur, CUR_COLOR, yc - 0.38, yc - 0.03),
        ] {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(floor, y0), (v(s.median), y1)],
                color.filled(),
            )))?;
            let ym = (y0 + y1) / 2.0;
            if s.n > 1 {
                let (lo, hi) = (v(s.min), v(s.max));
                chart.draw_series([
                    PathElement::new(vec![(lo, ym), (hi, ym)], BLACK.stroke_width(1)),
                    PathElement::new(
                        vec![(lo, y0 + 0.06), (lo, y1 - 0.06)],
                        BLACK.stroke_width(1),
                    ),
                    PathElement::new(
                        vec![(hi, y0 + 0.06), (hi, y1 - 0.06)],
                        BLACK.stroke_width(1),
                    ),
                ])?;
            }
            let end = v(s.max.max(s.median));
            let (px, py) = chart.backend_coord(&(end, ym));
            let label = if std::ptr::eq(s, &b.cur) {
                format!(
                    "{}  {}  {}",
                    m.number(s.median),
                    delta_text(Some(b.delta_pct)),
                    b.verdict
                )
            } else {
                m.number(s.median)
            };
            let color = if std::ptr::eq(s, &b.cur) && b.failing {
                BAD_COLOR
            } else {
                BLACK
            };
            let base = area.get_base_pixel();
            area.draw_text(
                &label,
                &text
                    .clone()
                    .color(&color)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
                (px - base.0 + 6, py - base.1),
            )?;
        }
        // The cell's name in the label area, right-aligned against the axis.
        let (px, py) = chart.backend_coord(&(floor, yc));
        let base = area.get_base_pixel();
        let name = clip(&b.cell, 48);
        area.draw_text(
            &name,
            &("sans-serif", 14)
                .into_font()
                .color(if b.failing { &BAD_COLOR } else { &BLACK })
                .pos(Pos::new(HPos::Right, VPos::Center)),
            (px - base.0 - 8, py - base.1),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::model::tests::{cmp, row};

    #[test]
    fn many_cells_show_the_worst_first() {
        let b: Vec<_> = (0..100)
            .map(|i| row(&format!("c{i}"), 1, 1000.0, 10.0))
            .collect();
        let c: Vec<_> = (0..100)
            .map(|i| {
                row(
                    &format!("c{i}"),
                    1,
                    1000.0 - i as f64,
                    10.0 + (i % 7) as f64,
                )
            })
            .collect();
        let x = cmp(&b, &c, false);
        let fs = facets(&x, 20);
        assert_eq!(fs.len(), 2);
        assert_eq!((fs[0].bars.len(), fs[0].total), (20, 100));
        assert_eq!(fs[0].bars[0].cell, "c99", "largest throughput drop first");
        // p99 +60% in cells with i % 7 == 6: regressions first.
        assert!(fs[1].bars[0].failing && fs[1].bars[0].cell.starts_with('c'));
        assert!(fs[1].bars.iter().take(14).all(|b| b.failing));
    }

    #[test]
    fn renders_a_png() {
        let x = cmp(
            &[row("a", 1, 1000.0, 10.0), row("b", 1, 500.0, 3.0)],
            &[row("a", 1, 800.0, 12.0), row("b", 1, 510.0, 30.0)],
            false,
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("compare.png");
        render(&x, &p, DEFAULT_MAX_CELLS).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
