//! From the rows of a run directory to what the charts and the summary show: one entry per
//! cell (repetitions aggregated: median, with the min..max spread), the swept axes with their
//! values in scenario order, and the best cell per objective. Pure: no files, no drawing.

use std::collections::BTreeMap;

use crate::metrics::cell::Flag;
use crate::rundir::read::{Manifest, RunData};
use crate::rundir::rows::ResultRow;

/// A figure over a cell's repetitions. With one repetition, `min == median == max`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Stat {
    pub fn of(values: &[f64]) -> Stat {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Stat::default();
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Stat {
            median,
            min: v[0],
            max: v[n - 1],
        }
    }

    /// Repetitions disagree (worth drawing a whisker / printing a spread).
    pub fn has_spread(&self) -> bool {
        self.max > self.min
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Latency {
    pub p50: Stat,
    pub p90: Stat,
    pub p99: Stat,
    pub p999: Stat,
    pub p9999: Stat,
    pub max: Stat,
}

/// One cell of the sweep, its repetitions aggregated.
#[derive(Debug, Clone, PartialEq)]
pub struct CellAgg {
    pub id: String,
    pub index: usize,
    /// The swept (axis, value) pairs, from the `params` column.
    pub params: Vec<(String, String)>,
    /// The repeat numbers found (1-based), sorted.
    pub repeats: Vec<u32>,
    /// Every flag raised in any repetition, in the order first seen.
    pub flags: Vec<String>,
    /// How many repetitions carry at least one flag.
    pub flagged_repeats: usize,
    pub acked_per_sec: Stat,
    pub acked_mb_per_sec: Stat,
    pub consumed_per_sec: Stat,
    pub publish: Latency,
    pub e2e: Latency,
    /// Totals summed over repetitions: zero means "no data", not "zero latency".
    pub acked: u64,
    pub consumed: u64,
    pub message_size: String,
    /// Acked messages' partition skew (busiest over mean) and its coefficient of variation.
    pub acked_skew: Stat,
    pub acked_skew_cv: Stat,
    /// Measured messages acked per partition, summed over repetitions (empty: a run
    /// directory from before the column, or nothing acked anywhere).
    pub acked_per_partition: Vec<u64>,
    /// Measured messages consumed per partition, summed over repetitions and over groups.
    pub consumed_per_partition: Vec<u64>,
    /// Consumer groups (each one consumes every message).
    pub groups: usize,
    /// `[topic] create = "auto"`: what the broker made (first repetition's row).
    pub auto_created: Option<AutoCreated>,
    /// A repetition in which the cluster did not keep up with the offered rate (no kbench
    /// flag), in words.
    pub fell_behind: Option<String>,
    /// Transactional cells (`transaction_messages` > 0): their figures.
    pub transactions: Option<TxFigures>,
    /// Consumer group rebalances during the load (first repetition), when there were any.
    pub rebalances: Option<Rebalances>,
}

/// A transactional cell's figures over its repetitions.
#[derive(Debug, Clone, PartialEq)]
pub struct TxFigures {
    pub messages: u64,
    pub abort_share: f64,
    pub isolation: String,
    pub committed_per_sec: Stat,
    pub aborted_per_sec: Stat,
    /// Commit call duration, us.
    pub commit_p50_us: Stat,
    pub commit_p99_us: Stat,
    /// Summed over repetitions.
    pub failed: u64,
    pub aborted_messages: u64,
    pub aborted_seen: u64,
    pub lost: u64,
    pub duplicated: u64,
}

/// A cell's rebalances under load, from its `results.csv` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Rebalances {
    pub assignor: String,
    pub group_protocol: String,
    pub rebalances: usize,
    pub pauses: usize,
    pub pause_median_ms: Option<f64>,
    pub pause_max_ms: Option<f64>,
    pub first_assignment_max_ms: Option<f64>,
}

impl CellAgg {
    pub fn flagged(&self) -> bool {
        !self.flags.is_empty()
    }

    pub fn param(&self, axis: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == axis)
            .map(|(_, v)| v.as_str())
    }

    /// The cell id with a `!` when flagged: every chart label uses this.
    pub fn label(&self) -> String {
        if self.flagged() {
            format!("{} !", self.id)
        } else {
            self.id.clone()
        }
    }
}

/// A topic the broker made on the first write (`topic_created = broker`).
#[derive(Debug, Clone, PartialEq)]
pub struct AutoCreated {
    pub topic: String,
    pub partitions: i32,
    pub replication_factor: i32,
    /// From the first write to its ack, ms, over the repetitions.
    pub first_ack_ms: Stat,
}

/// A swept axis and its values, in scenario order, restricted to values present in the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub name: String,
    pub values: Vec<String>,
}

/// Everything the charts and the summary draw from.
#[derive(Debug, Clone)]
pub struct RunModel {
    pub info: Manifest,
    /// Axes with at least two values present; an axis swept over one value is a constant.
    pub axes: Vec<Axis>,
    /// Cells in sweep order.
    pub cells: Vec<CellAgg>,
    /// Largest number of repetitions of any cell.
    pub max_repeats: usize,
}

/// A figure the reports rank and plot. Latencies are in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    AckedPerSec,
    AckedMbPerSec,
    Publish(Pct),
    E2e(Pct),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pct {
    P50,
    P90,
    P99,
    P999,
    P9999,
}

impl Pct {
    pub fn name(self) -> &'static str {
        match self {
            Pct::P50 => "p50",
            Pct::P90 => "p90",
            Pct::P99 => "p99",
            Pct::P999 => "p99.9",
            Pct::P9999 => "p99.99",
        }
    }

    fn of(self, l: &Latency) -> Stat {
        match self {
            Pct::P50 => l.p50,
            Pct::P90 => l.p90,
            Pct::P99 => l.p99,
            Pct::P999 => l.p999,
            Pct::P9999 => l.p9999,
        }
    }
}

impl Metric {
    pub fn of(self, c: &CellAgg) -> Stat {
        match self {
            Metric::AckedPerSec => c.acked_per_sec,
            Metric::AckedMbPerSec => c.acked_mb_per_sec,
            Metric::Publish(p) => p.of(&c.publish),
            Metric::E2e(p) => p.of(&c.e2e),
        }
    }

    /// Does the cell have this figure at all? A cell without consumers has no end-to-end
    /// latency, and one with no acks no publish latency; their zeros must not win "lowest".
    pub fn available(self, c: &CellAgg) -> bool {
        match self {
            Metric::AckedPerSec | Metric::AckedMbPerSec => true,
            Metric::Publish(_) => c.acked > 0,
            Metric::E2e(_) => c.consumed > 0,
        }
    }

    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::AckedPerSec | Metric::AckedMbPerSec)
    }

    pub fn title(self) -> String {
        match self {
            Metric::AckedPerSec => "acked throughput".into(),
            Metric::AckedMbPerSec => "acked throughput (MB/s)".into(),
            Metric::Publish(p) => format!("publish {}", p.name()),
            Metric::E2e(p) => format!("end-to-end {}", p.name()),
        }
    }
}

/// Parse `axis=value;axis=value` (the `params` column). Empty when nothing is swept.
pub fn parse_params(s: &str) -> Vec<(String, String)> {
    s.split(';')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect()
}

fn stat_of(rows: &[&ResultRow], f: impl Fn(&ResultRow) -> f64) -> Stat {
    Stat::of(&rows.iter().map(|r| f(r)).collect::<Vec<_>>())
}

fn latency_of(rows: &[&ResultRow], f: impl Fn(&ResultRow) -> [u64; 6]) -> Latency {
    let pick = |i: usize| stat_of(rows, |r| f(r)[i] as f64);
    Latency {
        p50: pick(0),
        p90: pick(1),
        p99: pick(2),
        p999: pick(3),
        p9999: pick(4),
        max: pick(5),
    }
}

/// A fixed-rate cell whose acks fell short of what was offered, with no kbench flag: a
/// finding about the cluster (it did not keep up), not about kbench. Returns the acked share
/// of the offered rate when it is below [`KEPT_UP`].
pub fn cluster_fell_behind(r: &ResultRow) -> Option<f64> {
    if r.rate == "max" || !r.flags.is_empty() || r.measure_secs <= 0.0 || r.offered == 0 {
        return None;
    }
    let offered = r.offered as f64 / r.measure_secs;
    let share = r.acked_per_sec / offered;
    (share < KEPT_UP).then_some(share)
}

/// Acks at this share of the offered rate or above: the cluster kept up.
pub const KEPT_UP: f64 = 0.95;

/// The finding in words: `acked 1784 of 2000 msg/s offered (89 %)`.
pub fn fell_behind_text(r: &ResultRow, share: f64) -> String {
    format!(
        "the cluster did not keep up: acked {:.0} of {:.0} msg/s offered ({:.0} %), publish p99 {:.1} ms",
        r.acked_per_sec,
        r.offered as f64 / r.measure_secs,
        share * 100.0,
        r.publish_p99_us as f64 / 1e3
    )
}

fn aggregate(rows: &[&ResultRow]) -> CellAgg {
    let first = rows[0];
    let mut flags: Vec<String> = Vec::new();
    let mut flagged_repeats = 0;
    for r in rows {
        let mine: Vec<&str> = r.flags.split(';').filter(|f| !f.is_empty()).collect();
        if !mine.is_empty() {
            flagged_repeats += 1;
        }
        for f in mine {
            if !flags.iter().any(|x| x == f) {
                flags.push(f.to_string());
            }
        }
    }
    let mut repeats: Vec<u32> = rows.iter().map(|r| r.repeat).collect();
    repeats.sort_unstable();
    repeats.dedup();
    CellAgg {
        id: first.cell.clone(),
        index: first.index,
        params: parse_params(&first.params),
        repeats,
        flags,
        flagged_repeats,
        acked_per_sec: stat_of(rows, |r| r.acked_per_sec),
        acked_mb_per_sec: stat_of(rows, |r| r.acked_mb_per_sec),
        consumed_per_sec: stat_of(rows, |r| r.consumed_per_sec),
        publish: latency_of(rows, |r| {
            [
                r.publish_p50_us,
                r.publish_p90_us,
                r.publish_p99_us,
                r.publish_p999_us,
                r.publish_p9999_us,
                r.publish_max_us,
            ]
        }),
        e2e: latency_of(rows, |r| {
            [
                r.e2e_p50_us,
                r.e2e_p90_us,
                r.e2e_p99_us,
                r.e2e_p999_us,
                r.e2e_p9999_us,
                r.e2e_max_us,
            ]
        }),
        acked: rows.iter().map(|r| r.acked).sum(),
        consumed: rows.iter().map(|r| r.consumed).sum(),
        message_size: first.message_size.clone(),
        acked_skew: stat_of(rows, |r| r.acked_skew_max_mean),
        acked_skew_cv: stat_of(rows, |r| r.acked_skew_cv),
        acked_per_partition: sum_lists(rows.iter().map(|r| r.acked_per_partition.as_str())),
        consumed_per_partition: sum_lists(rows.iter().map(|r| r.consumed_per_partition.as_str())),
        groups: first.groups,
        auto_created: (first.topic_created == "broker").then(|| AutoCreated {
            topic: first.topic.clone(),
            partitions: first.partitions,
            replication_factor: first.replication_factor,
            first_ack_ms: stat_of(rows, |r| r.auto_create_first_ack_ms.unwrap_or(0.0)),
        }),
        fell_behind: rows
            .iter()
            .find_map(|r| cluster_fell_behind(r).map(|share| fell_behind_text(r, share))),
        transactions: (first.transaction_messages > 0).then(|| TxFigures {
            messages: first.transaction_messages,
            abort_share: first.transaction_abort,
            isolation: first.isolation.clone(),
            committed_per_sec: stat_of(rows, |r| r.tx_committed_per_sec),
            aborted_per_sec: stat_of(rows, |r| r.tx_aborted_per_sec),
            commit_p50_us: stat_of(rows, |r| r.commit_p50_us as f64),
            commit_p99_us: stat_of(rows, |r| r.commit_p99_us as f64),
            failed: rows.iter().map(|r| r.tx_failed).sum(),
            aborted_messages: rows.iter().map(|r| r.aborted_messages).sum(),
            aborted_seen: rows.iter().map(|r| r.aborted_seen).sum(),
            lost: rows.iter().map(|r| r.lost).sum(),
            duplicated: rows.iter().map(|r| r.duplicated).sum(),
        }),
        rebalances: (first.rebalances > 0 || first.rebalance_pauses > 0).then(|| Rebalances {
            assignor: first.assignor.clone(),
            group_protocol: first.group_protocol.clone(),
            rebalances: first.rebalances,
            pauses: first.rebalance_pauses,
            pause_median_ms: first.rebalance_pause_median_ms,
            pause_max_ms: first.rebalance_pause_max_ms,
            first_assignment_max_ms: first.first_assignment_max_ms,
        }),
    }
}

/// Per-partition count lists (`p0;p1;...`) added element by element; a list that does not
/// parse counts as absent (the chart is then drawn from the others, or not at all).
fn sum_lists<'a>(lists: impl Iterator<Item = &'a str>) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    for l in lists.filter(|l| !l.is_empty()) {
        let Ok(counts) = l
            .split(';')
            .map(str::parse::<u64>)
            .collect::<Result<Vec<_>, _>>()
        else {
            continue;
        };
        if out.len() < counts.len() {
            out.resize(counts.len(), 0);
        }
        for (o, c) in out.iter_mut().zip(counts) {
            *o += c;
        }
    }
    out
}

impl RunModel {
    pub fn build(data: &RunData) -> RunModel {
        RunModel::from_rows(data.info.clone(), &data.results)
    }

    pub fn from_rows(info: Manifest, results: &[ResultRow]) -> RunModel {
        // Group rows by cell id, in sweep order (index, then id).
        let mut groups: BTreeMap<(usize, String), Vec<&ResultRow>> = BTreeMap::new();
        for r in results {
            groups.entry((r.index, r.cell.clone())).or_default().push(r);
        }
        let cells: Vec<CellAgg> = groups.values().map(|rows| aggregate(rows)).collect();
        let axes = axes_of(&info, &cells);
        let max_repeats = cells.iter().map(|c| c.repeats.len()).max().unwrap_or(0);
        RunModel {
            info,
            axes,
            cells,
            max_repeats,
        }
    }

    pub fn flagged(&self) -> impl Iterator<Item = &CellAgg> {
        self.cells.iter().filter(|c| c.flagged())
    }

    /// The best unflagged cell for `metric`, or `None` when every cell with that figure is
    /// flagged (the reports then say so rather than crown a suspect number).
    pub fn best(&self, metric: Metric) -> Option<&CellAgg> {
        let candidates = self
            .cells
            .iter()
            .filter(|c| !c.flagged() && metric.available(c));
        let key = |c: &&CellAgg| metric.of(c).median;
        if metric.higher_is_better() {
            candidates.max_by(|a, b| key(a).total_cmp(&key(b)))
        } else {
            candidates.min_by(|a, b| key(a).total_cmp(&key(b)))
        }
    }

    /// The message sizes differ between cells, so MB/s is not just msg/s rescaled.
    pub fn sizes_vary(&self) -> bool {
        self.cells
            .windows(2)
            .any(|w| w[0].message_size != w[1].message_size)
    }

    /// The cell with exactly these (axis, value) pairs, if it ran.
    pub fn find(&self, coords: &[(&str, &str)]) -> Option<&CellAgg> {
        self.cells
            .iter()
            .find(|c| coords.iter().all(|(a, v)| c.param(a) == Some(*v)))
    }
}

/// The swept axes: names and value order from the manifest (scenario file order), values
/// restricted to those present in results.csv (an interrupted run has fewer), plus any axis
/// seen only in `params`. Axes left with one value are constants and dropped.
fn axes_of(info: &Manifest, cells: &[CellAgg]) -> Vec<Axis> {
    let mut axes: Vec<Axis> = Vec::new();
    let present = |axis: &str, value: &str| cells.iter().any(|c| c.param(axis) == Some(value));
    for a in &info.scenario.axes {
        axes.push(Axis {
            name: a.name.clone(),
            values: a
                .values
                .iter()
                .filter(|v| present(&a.name, v))
                .cloned()
                .collect(),
        });
    }
    for c in cells {
        for (k, v) in &c.params {
            let axis = match axes.iter_mut().find(|a| &a.name == k) {
                Some(a) => a,
                None => {
                    axes.push(Axis {
                        name: k.clone(),
                        values: Vec::new(),
                    });
                    axes.last_mut().expect("just pushed")
                }
            };
            if !axis.values.contains(v) {
                axis.values.push(v.clone());
            }
        }
    }
    axes.retain(|a| a.values.len() > 1);
    axes
}

/// Every value a flag name can take, with its explanation (from [`Flag`]).
pub fn flag_reason(name: &str) -> &'static str {
    [
        Flag::Schedule,
        Flag::QueueFull,
        Flag::DrainTimeout,
        Flag::Interrupted,
        Flag::KbenchCpu,
        Flag::HostStarved,
        Flag::HostSaturated,
        Flag::ShardLost,
        Flag::ClockBound,
    ]
    .iter()
    .find(|f| f.name() == name)
    .map(|f| f.why())
    .unwrap_or("(a flag this version of kbench does not know)")
}

/// How to lay out "metric against axis X": one series per value of another axis, and one
/// panel (facet) per combination of the remaining axes, so a chart never has more lines than
/// one axis has values.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepLayout {
    pub x: Axis,
    pub series: Option<Axis>,
    /// One entry per panel: the fixed (axis, value) pairs of the remaining axes.
    pub facets: Vec<Vec<(String, String)>>,
}

impl RunModel {
    /// One layout per swept axis. The series axis is the other axis with the fewest values
    /// (fewest lines per panel); ties go to the earlier axis in the scenario.
    pub fn sweep_layouts(&self) -> Vec<SweepLayout> {
        let mut out = Vec::new();
        for (xi, x) in self.axes.iter().enumerate() {
            let others: Vec<&Axis> = self
                .axes
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != xi)
                .map(|(_, a)| a)
                .collect();
            let series = others.iter().min_by_key(|a| a.values.len()).copied();
            let rest: Vec<&Axis> = others
                .iter()
                .filter(|a| Some(a.name.as_str()) != series.map(|s| s.name.as_str()))
                .copied()
                .collect();
            let mut facets: Vec<Vec<(String, String)>> = vec![Vec::new()];
            for a in rest {
                facets = facets
                    .into_iter()
                    .flat_map(|f| {
                        a.values.iter().map(move |v| {
                            let mut g = f.clone();
                            g.push((a.name.clone(), v.clone()));
                            g
                        })
                    })
                    .collect();
            }
            // Panels where no cell ran (interrupted run) would be empty: leave them out.
            facets.retain(|f| {
                self.cells
                    .iter()
                    .any(|c| f.iter().all(|(a, v)| c.param(a) == Some(v.as_str())))
            });
            out.push(SweepLayout {
                x: x.clone(),
                series: series.cloned(),
                facets,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_short_of_the_offered_rate_is_a_finding_unless_kbench_was_flagged() {
        let row = |rate: &str, acked_per_sec: f64, flags: &str| ResultRow {
            rate: rate.into(),
            offered: 20_000,
            measure_secs: 10.0,
            acked_per_sec,
            publish_p99_us: 2_800_000,
            flags: flags.into(),
            ..ResultRow::default()
        };
        let behind = row("2000", 1784.0, "");
        let share = cluster_fell_behind(&behind).expect("behind");
        assert!((share - 0.892).abs() < 1e-9);
        let text = fell_behind_text(&behind, share);
        assert!(
            text.contains("acked 1784 of 2000 msg/s offered (89 %)"),
            "{text}"
        );
        assert_eq!(cluster_fell_behind(&row("2000", 1950.0, "")), None);
        assert_eq!(
            cluster_fell_behind(&row("2000", 1000.0, "behind-schedule")),
            None
        );
        assert_eq!(cluster_fell_behind(&row("max", 1000.0, "")), None);
    }

    #[test]
    fn median_and_spread() {
        let s = Stat::of(&[3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        let s = Stat::of(&[4.0, 1.0, 2.0, 3.0]);
        assert_eq!(s.median, 2.5);
        assert!(s.has_spread());
        assert!(!Stat::of(&[5.0]).has_spread());
        assert_eq!(Stat::of(&[]), Stat::default());
    }

    #[test]
    fn params_parse() {
        assert_eq!(
            parse_params("acks=all;partitions=6"),
            vec![
                ("acks".into(), "all".into()),
                ("partitions".into(), "6".into())
            ]
        );
        assert!(parse_params("").is_empty());
    }

    fn cell(id: &str, params: &[(&str, &str)]) -> CellAgg {
        CellAgg {
            id: id.into(),
            index: 0,
            params: params
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            repeats: vec![1],
            flags: vec![],
            flagged_repeats: 0,
            acked_per_sec: Stat::default(),
            acked_mb_per_sec: Stat::default(),
            consumed_per_sec: Stat::default(),
            publish: Latency::default(),
            e2e: Latency::default(),
            acked: 1,
            consumed: 1,
            message_size: "100".into(),
            acked_skew: Stat::default(),
            acked_skew_cv: Stat::default(),
            acked_per_partition: vec![],
            consumed_per_partition: vec![],
            groups: 1,
            auto_created: None,
            fell_behind: None,
            transactions: None,
            rebalances: None,
        }
    }

    #[test]
    fn three_axes_facet_over_the_third_and_series_is_the_smallest_axis() {
        let mut cells = Vec::new();
        for a in ["0", "1", "all"] {
            for p in ["1", "6", "24"] {
                for s in ["sticky", "random"] {
                    cells.push(cell(
                        "x",
                        &[("acks", a), ("partitions", p), ("partitioner", s)],
                    ));
                }
            }
        }
        let axes = axes_of(&Manifest::default(), &cells);
        assert_eq!(axes.len(), 3);
        let m = RunModel {
            info: Manifest::default(),
            axes,
            cells,
            max_repeats: 1,
        };
        let l = m.sweep_layouts();
        assert_eq!(l[0].x.name, "acks");
        assert_eq!(l[0].series.as_ref().unwrap().name, "partitioner");
        assert_eq!(l[0].facets.len(), 3);
        assert_eq!(l[0].facets[0], vec![("partitions".into(), "1".into())]);
        assert_eq!(l[2].x.name, "partitioner");
        assert_eq!(l[2].series.as_ref().unwrap().name, "acks");
    }

    #[test]
    fn manifest_order_wins_and_single_valued_axes_are_constants() {
        let mut info = Manifest::default();
        info.scenario.axes = vec![
            crate::rundir::read::AxisInfo {
                name: "partitions".into(),
                values: vec!["24".into(), "1".into(), "6".into()],
            },
            crate::rundir::read::AxisInfo {
                name: "acks".into(),
                values: vec!["all".into()],
            },
        ];
        let cells: Vec<CellAgg> = ["1", "6", "24"]
            .iter()
            .map(|p| cell("x", &[("partitions", p), ("acks", "all")]))
            .collect();
        let axes = axes_of(&info, &cells);
        assert_eq!(
            axes,
            vec![Axis {
                name: "partitions".into(),
                values: vec!["24".into(), "1".into(), "6".into()]
            }]
        );
    }

    #[test]
    fn best_skips_flagged_cells_and_missing_figures() {
        let mut a = cell("a", &[]);
        a.acked_per_sec = Stat::of(&[100.0]);
        a.e2e.p99 = Stat::of(&[0.0]);
        a.consumed = 0;
        let mut b = cell("b", &[]);
        b.acked_per_sec = Stat::of(&[500.0]);
        b.flags = vec!["queue-full".into()];
        let mut c = cell("c", &[]);
        c.acked_per_sec = Stat::of(&[200.0]);
        c.e2e.p99 = Stat::of(&[9000.0]);
        let m = RunModel {
            info: Manifest::default(),
            axes: vec![],
            cells: vec![a, b, c],
            max_repeats: 1,
        };
        assert_eq!(m.best(Metric::AckedPerSec).unwrap().id, "c");
        assert_eq!(m.best(Metric::E2e(Pct::P99)).unwrap().id, "c");
        assert!(flag_reason("queue-full").contains("queue"));
    }
}
