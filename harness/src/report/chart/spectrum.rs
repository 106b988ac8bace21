//! HDR percentile spectra: latency against percentile on the "nines" scale (x = -log10(1 - q):
//! 0 = 0 %, 1 = 90 %, 2 = 99 %, 3 = 99.9 %, ...), one curve per cell, from the cells' interval
//! logs. At most [`MAX_CURVES`] curves per image: with more cells, `spectrum-<kind>.png` shows
//! a spread of them (best, median, worst by p99 and evenly between) and
//! `spectrum/<kind>-NN.png` pages show every cell.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use plotters::prelude::*;

use super::scale::{Scale, Ticks};
use super::{
    broken_line, frame, layout, legend_column, write_png, ChartFile, ChartKind, DrawResult, Frame,
    LegendItem, Rendered, Swatch, PALETTE,
};
use crate::metrics::cell::LatencyKind;
use crate::report::model::RunModel;

/// One curve per palette colour: beyond seven, curves are no longer told apart reliably.
pub const MAX_CURVES: usize = PALETTE.len();
/// The spectrum stops at 99.9999 %: past that, few runs have the samples to say anything.
const MAX_NINES: f64 = 6.0;
const STEP: f64 = 0.025;

/// One cell's latency distribution, reduced to what the chart draws.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrum {
    pub cell: String,
    pub label: String,
    pub flagged: bool,
    pub count: u64,
    /// 99th percentile in µs, for picking which cells to show.
    pub p99_us: u64,
    /// (nines, latency in ms), up to the resolution the sample count supports.
    pub points: Vec<(f64, f64)>,
}

/// The nines a distribution of `count` samples can resolve: the top percentile shown is the one
/// with about one sample above it.
fn nines_for(count: u64) -> f64 {
    (count.max(1) as f64).log10().clamp(1.0, MAX_NINES)
}

/// Sample the histogram (µs) along the nines scale.
pub fn spectrum_of(cell: &str, label: &str, flagged: bool, h: &Histogram<u64>) -> Spectrum {
    let top = nines_for(h.len());
    let steps = (top / STEP).round() as usize;
    let points = if h.is_empty() {
        Vec::new()
    } else {
        (0..=steps)
            .map(|i| {
                let x = (i as f64 * STEP).min(top);
                let q = 1.0 - 10f64.powf(-x);
                (x, h.value_at_quantile(q) as f64 / 1e3)
            })
            .collect()
    };
    Spectrum {
        cell: cell.to_string(),
        label: label.to_string(),
        flagged,
        count: h.len(),
        p99_us: if h.is_empty() {
            0
        } else {
            h.value_at_quantile(0.99)
        },
        points,
    }
}

/// Ticks at 0 %, 50 %, 90 %, 99 %, ... up to `top` nines.
pub fn nines_ticks(top: f64) -> Ticks {
    let mut at = vec![0.0, 2f64.log10()];
    let mut labels = vec!["0%".to_string(), "50%".to_string()];
    let mut n = 1;
    while n as f64 <= top + 1e-9 {
        at.push(n as f64);
        let pct = 100.0 * (1.0 - 10f64.powi(-n));
        labels.push(format!("{}%", super::scale::fmt_num(pct)));
        n += 1;
    }
    Ticks {
        range: 0.0..top.max(1.0),
        at,
        labels,
    }
}

/// At most `k` of `curves`, spread over the p99 ranking: the best, the worst, the median and
/// evenly between. Each label says where it stands.
pub fn pick_spread(curves: &[Spectrum], k: usize) -> Vec<Spectrum> {
    let mut order: Vec<&Spectrum> = curves.iter().collect();
    order.sort_by_key(|s| s.p99_us);
    let n = order.len();
    if n <= k {
        return order.into_iter().cloned().collect();
    }
    let mut ranks: Vec<usize> = (0..k)
        .map(|i| ((i as f64) * (n - 1) as f64 / (k - 1) as f64).round() as usize)
        .collect();
    let median = (n - 1) / 2;
    // Make sure the median is one of them (replace the nearest pick).
    if !ranks.contains(&median) {
        if let Some(nearest) = ranks.iter_mut().min_by_key(|r| r.abs_diff(median)) {
            *nearest = median;
        }
    }
    ranks.sort_unstable();
    ranks.dedup();
    ranks
        .into_iter()
        .map(|r| {
            let mut s = order[r].clone();
            let why = if r == 0 {
                "best p99".to_string()
            } else if r == n - 1 {
                "worst p99".to_string()
            } else if r == median {
                "median p99".to_string()
            } else {
                format!("p99 rank {} of {n}", r + 1)
            };
            s.label = format!("{} ({why})", s.label);
            s
        })
        .collect()
}

fn kind_title(kind: LatencyKind) -> &'static str {
    match kind {
        LatencyKind::Publish => "Publish latency",
        LatencyKind::EndToEnd => "End-to-end latency",
    }
}

/// Draw the spectra of one latency kind. `curves` are in sweep order; cells without samples
/// are left out by the caller.
pub fn render(
    model: &RunModel,
    kind: LatencyKind,
    curves: &[Spectrum],
    run_dir: &Path,
    out: &mut Rendered,
) {
    if curves.is_empty() {
        return;
    }
    let name = kind.name();
    let title = kind_title(kind);
    let n = curves.len();
    let main = if n <= MAX_CURVES {
        curves.to_vec()
    } else {
        pick_spread(curves, MAX_CURVES)
    };
    let main_title = if n <= MAX_CURVES {
        format!("{title} spectrum")
    } else {
        format!(
            "{title} spectrum: {} of {n} cells, spread over p99",
            main.len()
        )
    };
    let chart = ChartFile {
        path: PathBuf::from(format!("charts/spectrum-{name}.png")),
        title: main_title.clone(),
        kind: ChartKind::Spectrum,
        cell: None,
    };
    out.add(run_dir, chart, |p| draw(model, &main, &main_title, p));
    if n > MAX_CURVES {
        let pages: Vec<&[Spectrum]> = curves.chunks(MAX_CURVES).collect();
        for (i, page) in pages.iter().enumerate() {
            let first = i * MAX_CURVES + 1;
            let t = format!(
                "{title} spectrum: cells {first}-{} of {n}",
                first + page.len() - 1
            );
            let chart = ChartFile {
                path: PathBuf::from(format!("charts/spectrum/{name}-{:02}.png", i + 1)),
                title: t.clone(),
                kind: ChartKind::Spectrum,
                cell: None,
            };
            out.add(run_dir, chart, |p| draw(model, page, &t, p));
        }
    }
}

fn draw(model: &RunModel, curves: &[Spectrum], title: &str, path: &Path) -> DrawResult {
    let top = curves
        .iter()
        .map(|c| nines_for(c.count))
        .fold(1.0, f64::max);
    let x = nines_ticks(top);
    let scale = Scale::latency(curves.iter().flat_map(|c| c.points.iter().map(|p| p.1)));
    let y = scale.ticks();
    let longest = curves
        .iter()
        .map(|c| c.label.chars().count())
        .max()
        .unwrap_or(10);
    let legend_w = (longest as u32 * 7 + 70).clamp(200, 560);
    let mut subtitle =
        String::from("measured messages only (warm-up excluded); latency from intended send time");
    if !model.info.run_id.is_empty() {
        subtitle = format!("run {}; {subtitle}", model.info.run_id);
    }
    let note = if curves.iter().any(|c| c.flagged) {
        "Dashed, \"!\": flagged cell (kbench's own limits affected it; see summary.md)"
    } else {
        ""
    };
    write_png(path, (1100 + legend_w, 680), |root| {
        let body = layout(root, title, &subtitle, note)?;
        let (w, _) = body.dim_in_pixel();
        let (plot_area, legend_area) = body.split_horizontally(w - legend_w);
        let y_desc = if scale.log {
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
                x_desc: "percentile",
                y_desc,
                align_with: None,
            },
        )?;
        let mut items = Vec::new();
        for (i, c) in curves.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let pts: Vec<Option<(f64, f64)>> = c
                .points
                .iter()
                .map(|(x, v)| Some((*x, scale.pos(*v))))
                .collect();
            broken_line(&mut plot, &pts, color.stroke_width(2), c.flagged)?;
            items.push(LegendItem {
                label: c.label.clone(),
                color,
                swatch: Swatch::Plain(c.flagged),
            });
        }
        legend_column(&legend_area, &items, (legend_w as usize - 50) / 7)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut h = crate::metrics::new_histogram();
        for v in values {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn the_spectrum_follows_the_distribution() {
        let s = spectrum_of("c", "c", false, &hist(1..=10_000));
        assert_eq!(s.count, 10_000);
        assert!((s.p99_us as f64 - 9_900.0).abs() < 20.0);
        let (x0, v0) = s.points[0];
        assert_eq!(x0, 0.0);
        assert!(v0 <= 0.002);
        let (xl, vl) = *s.points.last().unwrap();
        assert!((xl - 4.0).abs() < 1e-9, "10k samples resolve 4 nines: {xl}");
        assert!((vl - 10.0).abs() < 0.05, "{vl}");
        // At 2 nines (99 %), ~9.9 ms.
        let p = s
            .points
            .iter()
            .find(|(x, _)| (x - 2.0).abs() < 1e-9)
            .unwrap();
        assert!((p.1 - 9.9).abs() < 0.02, "{p:?}");
    }

    #[test]
    fn nines_ticks_label_percentiles() {
        let t = nines_ticks(4.0);
        assert_eq!(t.labels, vec!["0%", "50%", "90%", "99%", "99.9%", "99.99%"]);
        assert_eq!(t.range, 0.0..4.0);
    }

    #[test]
    fn spread_keeps_best_median_and_worst() {
        let curves: Vec<Spectrum> = (0..20u64)
            .map(|i| Spectrum {
                cell: format!("c{i}"),
                label: format!("c{i}"),
                flagged: false,
                count: 1,
                p99_us: 1000 - i * 10,
                points: vec![],
            })
            .collect();
        let picked = pick_spread(&curves, 7);
        assert!(picked.len() <= 7);
        assert_eq!(picked[0].label, "c19 (best p99)");
        assert_eq!(picked.last().unwrap().label, "c0 (worst p99)");
        assert!(picked.iter().any(|s| s.label.contains("median p99")));
        assert_eq!(pick_spread(&curves[..3], 7).len(), 3);
    }
}
