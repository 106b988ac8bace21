//! find-max's report files: `findmax.csv` (one row per probe), `findmax-summary.csv` (one row
//! per cell: the highest rate meeting the SLO), `summary.md`, and `charts/findmax-<cell>.png`
//! (latency against offered rate, the SLO, pass / fail marks and the knee).

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::{Deserialize, Serialize};

use super::probe::{rate_text, ProbeMeasure, Verdict};
use super::search::{Outcome, Phase};
use super::slo::{format_measured, Slo, Stat};
use crate::metrics::cell::LatencyKind;
use crate::metrics::Percentiles;
use crate::report::chart::{write_png, Area, NEUTRAL, PALETTE};

/// One probe in `findmax.csv`. Latencies in microseconds, rates in msg/s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeRow {
    pub cell: String,
    /// The swept values, `axis=value;axis=value`.
    pub params: String,
    /// 1-based, in the order the probes ran within the cell.
    pub probe: usize,
    /// coarse, down or bisect.
    pub phase: String,
    /// Offered rate, all producers together.
    pub rate: f64,
    pub pass: bool,
    /// Every SLO held (the probe may still have failed on a flag, errors or throughput).
    pub slo_met: bool,
    /// Every broken rule, `; `-separated (empty on a pass).
    pub reason: String,
    pub measure_secs: f64,
    pub publish_p50_us: u64,
    pub publish_p90_us: u64,
    pub publish_p99_us: u64,
    pub publish_p999_us: u64,
    pub publish_p9999_us: u64,
    pub publish_max_us: u64,
    pub e2e_p50_us: u64,
    pub e2e_p90_us: u64,
    pub e2e_p99_us: u64,
    pub e2e_p999_us: u64,
    pub e2e_p9999_us: u64,
    pub e2e_max_us: u64,
    /// Acks (of any message) that arrived during the measurement window, per second.
    pub ack_rate: f64,
    /// Messages received per second per consumer group during the window (empty: no groups).
    pub consume_rate: Option<f64>,
    pub acked_mb_per_sec: f64,
    pub failed: u64,
    pub lost: u64,
    pub consumer_lag: u64,
    /// Validity flags, `;`-separated.
    pub flags: String,
    pub kbench_cpu_cores: f64,
    pub host_cpu_busy: f64,
    pub topic: String,
    /// Measured messages offered and acked in the probe, the whole fleet's.
    #[serde(default)]
    pub offered: u64,
    #[serde(default)]
    pub acked: u64,
    /// How many processes' figures the row merges: 1, or the shards of `find-max --shard`.
    #[serde(default)]
    pub shards: usize,
    /// `find-max --shard`: this shard's own offered and acked (empty in one process).
    #[serde(default)]
    pub shard_offered: Option<u64>,
    #[serde(default)]
    pub shard_acked: Option<u64>,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn params_text(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";")
}

impl ProbeRow {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cell: &str,
        params: &[(String, String)],
        probe: usize,
        phase: Phase,
        m: &ProbeMeasure,
        verdict: &Verdict,
        topic: &str,
    ) -> ProbeRow {
        let (p, e) = (&m.publish, &m.e2e);
        ProbeRow {
            cell: cell.to_string(),
            params: params_text(params),
            probe,
            phase: phase.name().to_string(),
            rate: m.rate,
            pass: verdict.pass(),
            slo_met: verdict.slo_met(),
            reason: verdict.text(m.rate),
            measure_secs: round3(m.measure_secs),
            publish_p50_us: p.p50,
            publish_p90_us: p.p90,
            publish_p99_us: p.p99,
            publish_p999_us: p.p999,
            publish_p9999_us: p.p9999,
            publish_max_us: p.max,
            e2e_p50_us: e.p50,
            e2e_p90_us: e.p90,
            e2e_p99_us: e.p99,
            e2e_p999_us: e.p999,
            e2e_p9999_us: e.p9999,
            e2e_max_us: e.max,
            ack_rate: round3(m.ack_rate),
            consume_rate: m.consume_rate.map(round3),
            acked_mb_per_sec: round3(m.acked_mb_per_sec),
            failed: m.failed,
            lost: m.lost,
            consumer_lag: m.consumer_lag,
            flags: m
                .flags
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .join(";"),
            kbench_cpu_cores: round3(m.kbench_cpu_cores),
            host_cpu_busy: round3(m.host_cpu_busy),
            topic: topic.to_string(),
            offered: m.offered,
            acked: m.acked,
            shards: m.shards,
            shard_offered: None,
            shard_acked: None,
        }
    }

    /// The percentiles of one latency kind, as recorded in the row.
    pub fn percentiles(&self, kind: LatencyKind) -> Percentiles {
        let v = match kind {
            LatencyKind::Publish => [
                self.publish_p50_us,
                self.publish_p90_us,
                self.publish_p99_us,
                self.publish_p999_us,
                self.publish_p9999_us,
                self.publish_max_us,
            ],
            LatencyKind::EndToEnd => [
                self.e2e_p50_us,
                self.e2e_p90_us,
                self.e2e_p99_us,
                self.e2e_p999_us,
                self.e2e_p9999_us,
                self.e2e_max_us,
            ],
        };
        Percentiles {
            count: u64::from(v.iter().any(|x| *x > 0)),
            p50: v[0],
            p90: v[1],
            p99: v[2],
            p999: v[3],
            p9999: v[4],
            max: v[5],
            mean: 0.0,
        }
    }
}

/// One cell in `findmax-summary.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    pub cell: String,
    pub params: String,
    pub slo: String,
    /// The highest offered rate that passed (empty: none did).
    pub max_rate: Option<f64>,
    /// `exact` (bracketed within the precision), `lower-bound` (nothing above it failed:
    /// the limit was not reached), `none` (no rate passed), `interrupted`.
    pub bound: String,
    /// The lowest failing rate above `max_rate`.
    pub first_fail_rate: Option<f64>,
    /// What failed there: `slo`, `throughput`, `kbench` (the load generator's limit, not the
    /// cluster's), `errors`, `no-data`; `;`-separated when several.
    pub limited_by: String,
    /// The failure's reasons in full.
    pub fail_reason: String,
    /// The host's CPU busy fraction during that failing probe (0..1): near 1, the machine
    /// (brokers and kbench together) may have been the limit.
    pub fail_host_cpu_busy: Option<f64>,
    /// Measured at `max_rate`.
    pub publish_p50_us: Option<u64>,
    pub publish_p99_us: Option<u64>,
    pub publish_p999_us: Option<u64>,
    pub e2e_p99_us: Option<u64>,
    pub ack_rate: Option<f64>,
    pub acked_mb_per_sec: Option<f64>,
    pub probes: usize,
    /// Why the search ended: converged, max-rate, nothing-passed, max-steps, interrupted.
    pub stop: String,
}

impl SummaryRow {
    pub fn new(
        cell: &str,
        params: &[(String, String)],
        slos: &[Slo],
        outcome: &Outcome,
        probes: &[ProbeRow],
        limited_by: &str,
    ) -> SummaryRow {
        let at = |rate: Option<f64>| rate.and_then(|r| probes.iter().find(|p| p.rate == r));
        let best = at(outcome.max);
        let fail = at(outcome.first_fail);
        let stop = outcome
            .stop
            .map(|s| s.name().to_string())
            .unwrap_or_else(|| "interrupted".into());
        let bound = match (outcome.max, outcome.first_fail, outcome.stop) {
            (_, _, None) => "interrupted",
            (None, _, _) => "none",
            (Some(_), Some(_), _) => "exact",
            (Some(_), None, _) => "lower-bound",
        };
        SummaryRow {
            cell: cell.to_string(),
            params: params_text(params),
            slo: super::slo::describe(slos),
            max_rate: outcome.max,
            bound: bound.to_string(),
            first_fail_rate: outcome.first_fail,
            limited_by: limited_by.to_string(),
            fail_reason: fail.map(|p| p.reason.clone()).unwrap_or_default(),
            fail_host_cpu_busy: fail.map(|p| p.host_cpu_busy),
            publish_p50_us: best.map(|p| p.publish_p50_us),
            publish_p99_us: best.map(|p| p.publish_p99_us),
            publish_p999_us: best.map(|p| p.publish_p999_us),
            e2e_p99_us: best.map(|p| p.e2e_p99_us),
            ack_rate: best.map(|p| p.ack_rate),
            acked_mb_per_sec: best.map(|p| p.acked_mb_per_sec),
            probes: probes.len(),
            stop,
        }
    }

    /// One line for the terminal.
    pub fn line(&self) -> String {
        let max = match self.max_rate {
            Some(r) => {
                let at = format!(
                    "{} msg/s ({:.2} MB/s, publish p99 {})",
                    rate_text(r),
                    self.acked_mb_per_sec.unwrap_or(0.0),
                    format_measured(self.publish_p99_us.unwrap_or(0))
                );
                match self.bound.as_str() {
                    "lower-bound" => format!("at least {at}: no probe failed"),
                    _ => at,
                }
            }
            None => String::new(),
        };
        let fail = match self.first_fail_rate {
            Some(f) => format!(
                "; {} msg/s failed ({})",
                rate_text(f),
                if self.fail_reason.is_empty() {
                    "-"
                } else {
                    &self.fail_reason
                }
            ),
            None => String::new(),
        };
        let classes: Vec<&str> = self.limited_by.split(';').collect();
        let kbench = if classes == ["kbench"] {
            "  NOTE: only kbench's own validity flags failed there: the load generator's limit, not the cluster's"
        } else if classes.contains(&"kbench") {
            "  NOTE: kbench was flagged there too: the limit may be the load generator's"
        } else {
            ""
        };
        let host = match self.fail_host_cpu_busy {
            Some(b) if b >= crate::metrics::cpu::HOST_LIMIT => format!(
                "  NOTE: the host's CPU was {:.0}% busy during that failure: the machine may be the limit",
                b * 100.0
            ),
            _ => String::new(),
        };
        let head = if self.max_rate.is_some() {
            format!("max {max}")
        } else {
            "no rate met the SLO".to_string()
        };
        format!(
            "cell {}: {head}{fail} [{} probes, {}]{kbench}{host}",
            self.cell, self.probes, self.stop
        )
    }
}

/// `summary.md`: the SLO, one table row per cell, and the chart files.
pub fn summary_markdown(run_id: &str, slos: &[Slo], rows: &[SummaryRow]) -> String {
    let mut s = format!(
        "# find-max {run_id}\n\nSLO: {}. A probe passes when every SLO holds, no validity flag is \
         raised, nothing failed or was lost, and acks and consumption keep up with at least 95% \
         of the offered rate (see docs/find-max.md).\n\n\
         | cell | max rate (msg/s) | bound | MB/s | publish p50 | publish p99 | first failure (msg/s) | why | probes |\n\
         |---|---:|---|---:|---:|---:|---:|---|---:|\n",
        super::slo::describe(slos)
    );
    let us = |v: Option<u64>| v.map(format_measured).unwrap_or_else(|| "-".into());
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.cell,
            r.max_rate.map(rate_text).unwrap_or_else(|| "-".into()),
            r.bound,
            r.acked_mb_per_sec
                .map(|m| format!("{m:.2}"))
                .unwrap_or_else(|| "-".into()),
            us(r.publish_p50_us),
            us(r.publish_p99_us),
            r.first_fail_rate
                .map(rate_text)
                .unwrap_or_else(|| "-".into()),
            if r.fail_reason.is_empty() {
                "-".to_string()
            } else {
                r.fail_reason.replace('|', "/")
            },
            r.probes
        ));
    }
    s.push('\n');
    for r in rows {
        s.push_str(&format!(
            "![{0}](charts/{1})\n",
            r.cell,
            chart_file_name(&r.cell)
        ));
    }
    s
}

pub fn chart_file_name(cell: &str) -> String {
    format!("findmax-{cell}.png")
}

/// The series a chart shows: publish p50 and p99 always, plus whatever an SLO constrains.
fn chart_series(slos: &[Slo]) -> Vec<(LatencyKind, Stat)> {
    let mut v = vec![
        (LatencyKind::Publish, Stat::P50),
        (LatencyKind::Publish, Stat::P99),
    ];
    for s in slos {
        if !v.contains(&(s.kind, s.stat)) {
            v.push((s.kind, s.stat));
        }
    }
    v
}

/// One cell's chart: latency (log scale) against offered rate, one line per series, probes
/// marked as pass (filled circle) or fail (cross), each SLO as a dashed horizontal line in its
/// series' colour, and the knee (highest passing rate) as a dashed vertical line. The rate
/// axis is linear, or logarithmic when the probes span more than a factor of 10 (a search
/// that stepped down a long way).
pub fn knee_chart(
    cell: &str,
    probes: &[ProbeRow],
    slos: &[Slo],
    max: Option<f64>,
    path: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut sorted: Vec<&ProbeRow> = probes.iter().collect();
    sorted.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let series = chart_series(slos);
    let mut ys: Vec<f64> = sorted
        .iter()
        .flat_map(|p| series.iter().map(move |s| series_value(p, *s)))
        .filter(|v| *v > 0)
        .map(ms)
        .collect();
    ys.extend(slos.iter().map(|s| ms(s.limit_us)));
    let y_max = ys.iter().cloned().fold(1.0, f64::max);
    let y_min = ys.iter().cloned().fold(y_max, f64::min);
    let x_lo = sorted.first().map(|p| p.rate).unwrap_or(1.0).max(1.0);
    let x_hi = sorted.last().map(|p| p.rate).unwrap_or(1.0).max(1.0);
    let plot = Plot {
        title: format!(
            "find-max {cell}: latency against offered rate (SLO: {})",
            super::slo::describe(slos)
        ),
        probes: sorted,
        series,
        slos,
        max,
        // Headroom above the data for the legend (upper left: latency is lowest at low
        // rates), room below it for the knee's label.
        y: ((y_min / 3.0).max(0.001), y_max * 6.0),
    };
    write_png(path, (1000, 640), |root| {
        if x_hi / x_lo > 10.0 {
            plot.draw(
                root,
                (x_lo / 1.3..x_hi * 1.3).log_scale(),
                x_lo / 1.3,
                x_hi * 1.3,
            )
        } else {
            plot.draw(root, 0f64..x_hi * 1.1, 0.0, x_hi * 1.1)
        }
    })
}

fn ms(us: u64) -> f64 {
    us.max(1) as f64 / 1e3
}

fn series_value(p: &ProbeRow, (kind, stat): (LatencyKind, Stat)) -> u64 {
    stat.of(&p.percentiles(kind))
}

/// What a knee chart shows, apart from its rate axis.
struct Plot<'a> {
    title: String,
    probes: Vec<&'a ProbeRow>,
    series: Vec<(LatencyKind, Stat)>,
    slos: &'a [Slo],
    max: Option<f64>,
    /// Latency axis range, ms.
    y: (f64, f64),
}

/// How a probe is marked on the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Pass,
    SloMissed,
    /// The SLO held, but a flag, errors or a throughput shortfall failed the probe.
    OtherFailure,
}

impl Mark {
    fn of(p: &ProbeRow) -> Mark {
        match (p.pass, p.slo_met) {
            (true, _) => Mark::Pass,
            (false, false) => Mark::SloMissed,
            (false, true) => Mark::OtherFailure,
        }
    }
}

impl Plot<'_> {
    /// Draw on `root` with the rate axis `x` (linear or log) spanning `x0..x1`.
    fn draw<X>(
        &self,
        root: &Area<'_>,
        x: X,
        x0: f64,
        x1: f64,
    ) -> Result<(), Box<dyn std::error::Error>>
    where
        X: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
        X::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
    {
        let (y0, y1) = self.y;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(x, (y0..y1).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("offered rate (msg/s, all producers)")
            .y_desc("latency (ms, log scale)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y}"))
            // Log-scale light lines crowd into grey bands; the labelled lines are enough.
            .y_max_light_lines(0)
            .label_style(("sans-serif", 14))
            .draw()?;
        for (k, s) in self.series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let pts: Vec<(f64, f64, Mark)> = self
                .probes
                .iter()
                .filter(|p| series_value(p, *s) > 0)
                .map(|p| (p.rate, ms(series_value(p, *s)), Mark::of(p)))
                .collect();
            chart
                .draw_series(LineSeries::new(
                    pts.iter().map(|(x, y, _)| (*x, *y)),
                    color.stroke_width(2),
                ))?
                .label(format!("{} {}", s.0.name(), s.1.label()))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                });
            let at = |m: Mark| pts.iter().filter(move |p| p.2 == m).map(|p| (p.0, p.1));
            chart.draw_series(at(Mark::Pass).map(|p| Circle::new(p, 5, color.filled())))?;
            chart.draw_series(
                at(Mark::SloMissed).map(|p| Cross::new(p, 6, color.stroke_width(2))),
            )?;
            chart.draw_series(
                at(Mark::OtherFailure).map(|p| TriangleMarker::new(p, 7, color.stroke_width(2))),
            )?;
            for slo in self.slos.iter().filter(|o| (o.kind, o.stat) == *s) {
                let y = ms(slo.limit_us);
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(x0, y), (x1, y)],
                        8,
                        5,
                        color.stroke_width(2),
                    ))?
                    .label(format!("SLO {slo}"))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(1))
                    });
            }
        }
        // Legend entries for the marks (no points of their own).
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label("probe passed")
            .legend(move |(x, y)| Circle::new((x + 10, y), 5, NEUTRAL.filled()));
        chart
            .draw_series(std::iter::empty::<Cross<(f64, f64), i32>>())?
            .label("probe failed the SLO")
            .legend(move |(x, y)| Cross::new((x + 10, y), 6, NEUTRAL.stroke_width(2)));
        if self
            .probes
            .iter()
            .any(|p| Mark::of(p) == Mark::OtherFailure)
        {
            chart
                .draw_series(std::iter::empty::<TriangleMarker<(f64, f64), i32>>())?
                .label("probe met the SLO but failed (flag, errors or throughput)")
                .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 7, NEUTRAL.stroke_width(2)));
        }
        if let Some(knee) = self.max {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(knee, y0), (knee, y1)],
                    6,
                    6,
                    BLACK.stroke_width(2),
                ))?
                .label(format!("max meeting the SLO: {} msg/s", rate_text(knee)))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2))
                });
            // Beside the line, on whichever side has more room.
            let right_side = knee - x0 < 0.7 * (x1 - x0);
            let (text, h) = if right_side {
                (format!(" knee {} msg/s", rate_text(knee)), HPos::Left)
            } else {
                (format!("knee {} msg/s ", rate_text(knee)), HPos::Right)
            };
            let style = ("sans-serif", 15)
                .into_font()
                .into_text_style(root)
                .pos(Pos::new(h, VPos::Center));
            chart.draw_series(std::iter::once(Text::new(text, (knee, y0 * 1.3), style)))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findmax::probe::{judge, ProbeMeasure};
    use crate::findmax::search::Stop;
    use crate::findmax::slo::parse_list;

    fn row(probe: usize, rate: f64, p99_us: u64, slos: &[Slo]) -> ProbeRow {
        let lat = |p50: u64, p99: u64| Percentiles {
            count: 100,
            p50,
            p90: p99,
            p99,
            p999: p99 + 1,
            p9999: p99 + 2,
            max: p99 + 3,
            mean: 0.0,
        };
        let m = ProbeMeasure {
            rate,
            measure_secs: 2.0,
            publish: lat(p99_us / 4, p99_us),
            e2e: lat(p99_us / 3, p99_us * 2),
            ack_rate: rate,
            consume_rate: Some(rate),
            acked_mb_per_sec: rate / 1000.0,
            failed: 0,
            lost: 0,
            consumer_lag: 0,
            flags: vec![],
            kbench_cpu_cores: 0.2,
            host_cpu_busy: 0.4,
            offered: (rate * 2.0) as u64,
            acked: (rate * 2.0) as u64,
            shards: 1,
        };
        let v = judge(&m, slos);
        ProbeRow::new(
            "base",
            &[("acks".into(), "all".into())],
            probe,
            Phase::Coarse,
            &m,
            &v,
            "kbench-x",
        )
    }

    #[test]
    fn rows_round_trip_and_the_summary_reads_the_best_probe() {
        let slos = parse_list("p99<50ms").unwrap();
        let rows = vec![
            row(1, 1000.0, 10_000, &slos),
            row(2, 2000.0, 30_000, &slos),
            row(3, 4000.0, 90_000, &slos),
        ];
        assert!(rows[1].pass && !rows[2].pass);
        assert_eq!(rows[2].reason, "publish p99 90ms >= 50ms");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("findmax.csv");
        std::fs::write(&p, crate::rundir::rows::to_csv(&rows).unwrap()).unwrap();
        let back: Vec<ProbeRow> = crate::rundir::rows::read_csv(&p).unwrap();
        assert_eq!(back, rows);

        let outcome = Outcome {
            max: Some(2000.0),
            first_fail: Some(4000.0),
            stop: Some(Stop::MaxSteps),
        };
        let s = SummaryRow::new(
            "base",
            &[("acks".into(), "all".into())],
            &slos,
            &outcome,
            &rows,
            "slo",
        );
        assert_eq!(s.bound, "exact");
        assert_eq!(s.publish_p99_us, Some(30_000));
        assert_eq!(s.params, "acks=all");
        assert_eq!(
            s.line(),
            "cell base: max 2000 msg/s (2.00 MB/s, publish p99 30ms); 4000 msg/s failed (publish p99 90ms >= 50ms) [3 probes, max-steps]"
        );
        let md = summary_markdown("r1", &slos, &[s]);
        assert!(md.contains("| base | 2000 | exact |"), "{md}");

        let png = dir.path().join("charts/findmax-base.png");
        knee_chart("base", &rows, &slos, Some(2000.0), &png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
    }

    #[test]
    fn a_chart_without_a_knee_or_with_an_e2e_slo_renders() {
        let slos = parse_list("p50<1ms,e2e_p999<5ms").unwrap();
        let mut flagged = row(2, 800.0, 500, &slos);
        (flagged.pass, flagged.slo_met) = (false, true);
        let rows = vec![row(1, 500.0, 10_000, &slos), flagged];
        assert!(!rows[0].pass && !rows[0].slo_met);
        assert_eq!(Mark::of(&rows[1]), Mark::OtherFailure);
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("k.png");
        knee_chart("base", &rows, &slos, None, &png).unwrap();
        assert!(png.exists());
        assert_eq!(chart_series(&slos).len(), 3);
    }
}
