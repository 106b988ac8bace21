//! PNG charts (plotters, with an embedded DejaVu font: no system fonts needed).
//!
//! One module per chart kind, each drawing from the pure [`super::model::RunModel`]:
//! [`sweep`] (a figure against each swept axis, one line per value of another axis),
//! [`cells`] (every cell in one chart, rows not columns so 100 labels stay legible),
//! [`spectrum`] (HDR percentile spectra), [`timeseries`] (one cell, per second) and
//! [`partitions`] (messages per partition: per cell, and across a partitioner or keys sweep).
//!
//! This module is also the chart kit for every PNG kbench writes (`compare`, `find-max`'s knee
//! charts and `versus` draw through it too): the one font setup, the palette, atomic PNG
//! writing ([`write_png`]), and for the run report the plot frame, markers and legends.
//!
//! Conventions on every chart: flagged cells (kbench's own limits touched their numbers) get
//! hollow markers or dashed lines, a `!` after their name, and a note under the chart.

pub mod cells;
pub mod partitions;
pub mod scale;
pub mod spectrum;
pub mod sweep;
pub mod timeseries;

use std::path::{Path, PathBuf};

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::register_font;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use self::scale::Ticks;

/// Register the embedded font under the family name "sans-serif" (once per process), before
/// anything is drawn: see [`write_png`].
fn ensure_font() {
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

/// Vermillion from the same palette: warnings (flagged intervals, faults).
pub const WARN: RGBColor = PALETTE[5];
/// Grey for what is not a series: legend entries that stand for a kind of marker, side notes.
pub const NEUTRAL: RGBColor = RGBColor(90, 90, 90);
const INK: RGBColor = RGBColor(40, 40, 40);
const MUTED: RGBColor = RGBColor(100, 100, 100);
const GRID: RGBColor = RGBColor(225, 225, 225);

pub type DrawResult<T = ()> = Result<T, Box<dyn std::error::Error>>;
pub type Area<'b> = DrawingArea<BitMapBackend<'b>, Shift>;
pub type Plot<'a, 'b> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<TickAxis, TickAxis>>;

/// A linear f64 axis whose tick marks are exactly ours ([`Ticks`]). plotters' own f64 axis
/// picks its ticks itself, and its key-point wrapper cannot take a label formatter.
#[derive(Debug, Clone)]
pub struct TickAxis {
    range: std::ops::Range<f64>,
    ticks: Vec<f64>,
}

impl TickAxis {
    pub(crate) fn new(t: &Ticks) -> TickAxis {
        TickAxis {
            range: t.range.clone(),
            ticks: t.at.clone(),
        }
    }
}

impl Ranged for TickAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        if span.abs() < f64::EPSILON {
            return limit.0;
        }
        let frac = (value - self.range.start) / span;
        limit.0 + (frac * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        // Bold points only: the light mesh lines would be plotters' own guesses.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }
}

/// What a chart shows, for the summary's list of links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    Cells,
    Sweep,
    Spectrum,
    Timeseries,
    /// Per partition: one cell's (`cell` set) or across a sweep.
    Partitions,
}

/// The charts written so far, and the ones that could not be drawn (with why).
#[derive(Debug, Default)]
pub struct Rendered {
    pub files: Vec<ChartFile>,
    pub failed: Vec<String>,
}

impl Rendered {
    /// Draw one chart to `run_dir/rel`. A drawing failure is recorded, not returned: one bad
    /// chart must not cost the others.
    pub(crate) fn add(
        &mut self,
        run_dir: &Path,
        chart: ChartFile,
        draw: impl FnOnce(&Path) -> DrawResult,
    ) {
        match draw(&run_dir.join(&chart.path)) {
            Ok(()) => self.files.push(chart),
            Err(e) => self
                .failed
                .push(format!("{}: not drawn: {e}", chart.path.display())),
        }
    }
}

/// A chart written into the run directory.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartFile {
    /// Relative to the run directory, e.g. `charts/throughput-by-partitions.png`.
    pub path: PathBuf,
    pub title: String,
    pub kind: ChartKind,
    /// The cell a time series belongs to.
    pub cell: Option<String>,
}

/// A file-name-safe form of an axis or cell name.
pub fn safe_name(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if t.is_empty() {
        "_".into()
    } else {
        t
    }
}

/// Draw a PNG of `size` pixels on white and move it into place only when complete (fsynced,
/// then renamed), so a failure never leaves a half-drawn chart under the final name. Every PNG
/// kbench writes goes through here: run reports, `compare`, `find-max` and `versus`.
pub fn write_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&Area) -> DrawResult,
) -> DrawResult {
    ensure_font();
    // BitMapBackend picks the encoder from the extension: the temporary name must end in .png.
    crate::rundir::replace_atomic(path, "tmp.png", |tmp| {
        let root = BitMapBackend::new(tmp, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
        Ok(())
    })
}

pub(crate) fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&INK)
}

fn text_width(area: &Area, text: &str, size: u32) -> u32 {
    area.estimate_text_size(text, &font(size))
        .map(|(w, _)| w)
        .unwrap_or((text.chars().count() as u32) * size * 6 / 10)
}

/// Shorten a label to `max` characters by cutting out its middle: long cell ids must not push
/// the plot off the image, and both ends matter (the first and the last axis, and the `!` of a
/// flagged cell).
pub(crate) fn clip(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max || max < 5 {
        return s.to_string();
    }
    let head = (max - 1) / 2;
    let tail = max - 1 - head;
    let h: String = s.chars().take(head).collect();
    let t: String = s.chars().skip(n - tail).collect();
    format!("{h}…{t}")
}

/// Split `root` into a title band, the body, and a note band; draw title, subtitle and note.
pub(crate) fn layout<'b>(
    root: &Area<'b>,
    title: &str,
    subtitle: &str,
    note: &str,
) -> DrawResult<Area<'b>> {
    let (w, h) = root.dim_in_pixel();
    let top = if subtitle.is_empty() { 40 } else { 62 };
    let bottom = if note.is_empty() { 8 } else { 30 };
    let (head, rest) = root.split_vertically(top);
    let (body, foot) = rest.split_vertically(h.saturating_sub(top + bottom));
    head.draw(&Text::new(
        title.to_string(),
        (12, 10),
        font(20).pos(Pos::new(HPos::Left, VPos::Top)),
    ))?;
    if !subtitle.is_empty() {
        head.draw(&Text::new(
            clip(subtitle, (w / 7) as usize),
            (12, 38),
            font(14).color(&MUTED).pos(Pos::new(HPos::Left, VPos::Top)),
        ))?;
    }
    if !note.is_empty() {
        foot.draw(&Text::new(
            clip(note, (w / 7) as usize),
            (12, 6),
            font(13).color(&MUTED).pos(Pos::new(HPos::Left, VPos::Top)),
        ))?;
    }
    Ok(body)
}

/// The axes of one plot: ticks, labels and descriptions.
pub(crate) struct Frame<'s> {
    pub caption: &'s str,
    pub x: &'s Ticks,
    pub y: &'s Ticks,
    pub x_desc: &'s str,
    pub y_desc: &'s str,
    /// Another plot's y ticks to leave room for, so stacked plots line up their x axes.
    pub align_with: Option<&'s Ticks>,
}

/// Build a plot in `area` with our own ticks on both axes. X labels that would overlap are
/// turned vertical.
pub(crate) fn frame<'a, 'b>(area: &'a Area<'b>, f: &Frame) -> DrawResult<Plot<'a, 'b>> {
    let (w, _) = area.dim_in_pixel();
    let y_w =
        f.y.labels
            .iter()
            .chain(f.align_with.iter().flat_map(|t| t.labels.iter()))
            .map(|l| text_width(area, l, 13))
            .max()
            .unwrap_or(20)
            + 14;
    let x_label_w =
        f.x.labels
            .iter()
            .map(|l| text_width(area, l, 13))
            .max()
            .unwrap_or(10);
    let plot_w = w.saturating_sub(y_w + 50).max(1);
    let slots = f.x.at.len().max(1) as u32;
    let rotate = (x_label_w + 10) * slots > plot_w;
    let x_area = if rotate { x_label_w + 34 } else { 46 };
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(10)
        .margin_right(18)
        .x_label_area_size(x_area)
        .y_label_area_size(y_w + 22);
    if !f.caption.is_empty() {
        builder.caption(f.caption, font(15));
    }
    let mut plot = builder.build_cartesian_2d(TickAxis::new(f.x), TickAxis::new(f.y))?;
    let xf = |v: &f64| f.x.label_at(*v);
    let yf = |v: &f64| f.y.label_at(*v);
    let mut mesh = plot.configure_mesh();
    mesh.x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .x_desc(f.x_desc)
        .y_desc(f.y_desc)
        .bold_line_style(GRID)
        .axis_desc_style(font(14))
        .label_style(font(13));
    // label_style() sets the x and the y label style: a rotated x style has to come after it.
    // (The first chart set it before, which is why its Rotate90 never showed.)
    if rotate {
        mesh.x_label_style(font(13).transform(FontTransform::Rotate90));
    }
    mesh.draw()?;
    Ok(plot)
}

#[cfg(test)]
mod tests {
    #[test]
    fn clip_keeps_both_ends() {
        assert_eq!(super::clip("short", 10), "short");
        assert_eq!(
            super::clip("acks-all_partitions-12_linger-100 !", 15),
            "acks-al…r-100 !"
        );
        assert_eq!(
            super::clip("acks-all_partitions-12_linger-100 !", 15)
                .chars()
                .count(),
            15
        );
        // A sweep id as compare.png shows it beside its bars.
        assert_eq!(
            super::clip("acks-all_partitions-96_partitioner-consistent_x1", 21),
            "acks-all_p…sistent_x1"
        );
    }

    #[test]
    fn names_are_file_safe() {
        assert_eq!(super::safe_name("producer.linger.ms"), "producer-linger-ms");
        assert_eq!(super::safe_name(""), "_");
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Circle,
    Triangle,
    Square,
    Diamond,
}

/// Series `i` gets colour `i % 7` and shape `i % 4`: neighbours differ in both, so series stay
/// distinguishable without relying on colour alone, and the pair repeats only after 28.
pub(crate) fn style_of(i: usize) -> (RGBColor, Shape) {
    let shapes = [
        Shape::Circle,
        Shape::Triangle,
        Shape::Square,
        Shape::Diamond,
    ];
    (PALETTE[i % PALETTE.len()], shapes[i % shapes.len()])
}

fn shape_points(shape: Shape, r: i32) -> Vec<(i32, i32)> {
    match shape {
        Shape::Circle => Vec::new(),
        Shape::Triangle => vec![(0, -r - 1), (r + 1, r), (-r - 1, r)],
        Shape::Square => vec![(-r, -r), (r, -r), (r, r), (-r, r)],
        Shape::Diamond => vec![(0, -r - 2), (r + 2, 0), (0, r + 2), (-r - 2, 0)],
    }
}

/// A marker at a plot coordinate: filled for a valid cell, hollow (white inside) for a flagged
/// one.
pub(crate) fn marker(
    plot: &Plot,
    at: (f64, f64),
    shape: Shape,
    color: RGBColor,
    filled: bool,
) -> DrawResult {
    let area = plot.plotting_area();
    let inside = if filled {
        color.filled()
    } else {
        WHITE.filled()
    };
    let edge = color.stroke_width(2);
    let r = 5;
    match shape {
        Shape::Circle => {
            area.draw(&(EmptyElement::at(at) + Circle::new((0, 0), r, inside)))?;
            area.draw(&(EmptyElement::at(at) + Circle::new((0, 0), r, edge)))?;
        }
        _ => {
            let pts = shape_points(shape, r);
            let mut closed = pts.clone();
            closed.push(pts[0]);
            area.draw(&(EmptyElement::at(at) + Polygon::new(pts, inside)))?;
            area.draw(&(EmptyElement::at(at) + PathElement::new(closed, edge)))?;
        }
    }
    Ok(())
}

/// The same marker, in pixels on a plain area (legends).
fn marker_px(
    area: &Area,
    at: (i32, i32),
    shape: Shape,
    color: RGBColor,
    filled: bool,
) -> DrawResult {
    let inside = if filled {
        color.filled()
    } else {
        WHITE.filled()
    };
    let edge = color.stroke_width(2);
    match shape {
        Shape::Circle => {
            area.draw(&Circle::new(at, 5, inside))?;
            area.draw(&Circle::new(at, 5, edge))?;
        }
        _ => {
            let pts: Vec<(i32, i32)> = shape_points(shape, 5)
                .into_iter()
                .map(|(x, y)| (x + at.0, y + at.1))
                .collect();
            let mut closed = pts.clone();
            closed.push(pts[0]);
            area.draw(&Polygon::new(pts, inside))?;
            area.draw(&PathElement::new(closed, edge))?;
        }
    }
    Ok(())
}

/// How a legend entry shows its series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Swatch {
    /// A line with a marker on it.
    Line(Shape, bool),
    /// A line without marker; `true` = dashed.
    Plain(bool),
    /// A marker alone; `true` = filled.
    Mark(Shape, bool),
    /// A shaded band of this opacity.
    Band(f64),
}

pub(crate) struct LegendItem {
    pub label: String,
    pub color: RGBColor,
    pub swatch: Swatch,
}

const SWATCH_W: i32 = 28;
const LEGEND_ROW: u32 = 22;

/// Place legend items left to right, wrapping at `width`: (row, x) per item.
fn legend_flow(area: &Area, items: &[LegendItem], width: u32) -> Vec<(u32, i32)> {
    let mut out = Vec::new();
    let (mut row, mut x) = (0u32, 12i32);
    for it in items {
        let w = SWATCH_W + 6 + text_width(area, &it.label, 13) as i32 + 18;
        if x + w > width as i32 && x > 12 {
            row += 1;
            x = 12;
        }
        out.push((row, x));
        x += w;
    }
    out
}

/// Height a horizontal legend of `items` needs in an area `width` pixels wide.
pub(crate) fn legend_height(area: &Area, items: &[LegendItem], width: u32) -> u32 {
    if items.is_empty() {
        return 0;
    }
    let rows = legend_flow(area, items, width)
        .last()
        .map(|(r, _)| r + 1)
        .unwrap_or(1);
    rows * LEGEND_ROW + 6
}

fn swatch(area: &Area, it: &LegendItem, x: i32, y: i32) -> DrawResult {
    let line = |dashed: bool| -> DrawResult {
        if dashed {
            for k in 0..3 {
                let x0 = x + k * 10;
                area.draw(&PathElement::new(
                    vec![(x0, y), (x0 + 6, y)],
                    it.color.stroke_width(2),
                ))?;
            }
        } else {
            area.draw(&PathElement::new(
                vec![(x, y), (x + SWATCH_W, y)],
                it.color.stroke_width(2),
            ))?;
        }
        Ok(())
    };
    match it.swatch {
        Swatch::Line(shape, filled) => {
            line(false)?;
            marker_px(area, (x + SWATCH_W / 2, y), shape, it.color, filled)?;
        }
        Swatch::Plain(dashed) => line(dashed)?,
        Swatch::Mark(shape, filled) => {
            marker_px(area, (x + SWATCH_W / 2, y), shape, it.color, filled)?
        }
        Swatch::Band(alpha) => {
            area.draw(&Rectangle::new(
                [(x, y - 7), (x + SWATCH_W, y + 7)],
                it.color.mix(alpha).filled(),
            ))?;
        }
    }
    Ok(())
}

/// A horizontal legend (wrapping) across the top of `area`.
pub(crate) fn legend(area: &Area, items: &[LegendItem]) -> DrawResult {
    let (w, _) = area.dim_in_pixel();
    for (it, (row, x)) in items.iter().zip(legend_flow(area, items, w)) {
        let y = (row * LEGEND_ROW + LEGEND_ROW / 2 + 3) as i32;
        swatch(area, it, x, y)?;
        area.draw(&Text::new(
            it.label.clone(),
            (x + SWATCH_W + 6, y),
            font(13).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(())
}

/// A vertical legend (one item per row) in `area`, for long labels beside a plot.
pub(crate) fn legend_column(area: &Area, items: &[LegendItem], max_chars: usize) -> DrawResult {
    for (i, it) in items.iter().enumerate() {
        let y = 30 + (i as i32) * LEGEND_ROW as i32;
        swatch(area, it, 8, y)?;
        area.draw(&Text::new(
            clip(&it.label, max_chars),
            (8 + SWATCH_W + 6, y),
            font(13).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(())
}

/// A polyline through the points, broken where a point is missing (`None`): a gap in the data
/// must not be drawn as a straight line across it.
pub(crate) fn broken_line(
    plot: &mut Plot,
    points: &[Option<(f64, f64)>],
    style: ShapeStyle,
    dashed: bool,
) -> DrawResult {
    for run in points.split(|p| p.is_none()) {
        let run: Vec<(f64, f64)> = run.iter().flatten().copied().collect();
        if run.len() < 2 {
            continue;
        }
        if dashed {
            plot.draw_series(DashedLineSeries::new(run, 8, 5, style))?;
        } else {
            plot.draw_series(LineSeries::new(run, style))?;
        }
    }
    Ok(())
}
