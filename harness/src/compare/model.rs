//! Matching two runs cell by cell and judging every metric. Pure: takes rows already read.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::stats::{judge, metric_values, Outcome, Spread, Verdict};
use super::thresholds::{Metric, Threshold};

/// The part of a `results.csv` row that `compare` reads. Settings columns default to empty so
/// that an older baseline with fewer columns still loads; metric columns are required.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CompareRow {
    pub cell: String,
    #[serde(default = "one")]
    pub repeat: u32,
    #[serde(default)]
    pub params: String,
    #[serde(default)]
    pub partitions: String,
    #[serde(default)]
    pub replication_factor: String,
    #[serde(default)]
    pub producers: String,
    #[serde(default)]
    pub rate: String,
    #[serde(default)]
    pub message_size: String,
    #[serde(default)]
    pub keys: String,
    #[serde(default)]
    pub partitioner: String,
    #[serde(default)]
    pub acks: String,
    #[serde(default)]
    pub compression: String,
    #[serde(default)]
    pub linger_ms: String,
    #[serde(default)]
    pub batch_size: String,
    #[serde(default)]
    pub idempotence: String,
    #[serde(default)]
    pub max_in_flight: String,
    #[serde(default)]
    pub sync: String,
    #[serde(default)]
    pub groups: String,
    #[serde(default)]
    pub members: String,
    pub acked_per_sec: f64,
    pub acked_mb_per_sec: f64,
    pub consumed_per_sec: f64,
    pub publish_p50_us: f64,
    pub publish_p90_us: f64,
    pub publish_p99_us: f64,
    pub publish_p999_us: f64,
    pub publish_p9999_us: f64,
    pub e2e_p50_us: f64,
    pub e2e_p90_us: f64,
    pub e2e_p99_us: f64,
    pub e2e_p999_us: f64,
    pub e2e_p9999_us: f64,
    #[serde(default)]
    pub flags: String,
}

fn one() -> u32 {
    1
}

impl CompareRow {
    pub fn value(&self, m: Metric) -> f64 {
        match m {
            Metric::Throughput => self.acked_per_sec,
            Metric::Mb => self.acked_mb_per_sec,
            Metric::Consumed => self.consumed_per_sec,
            Metric::P50 => self.publish_p50_us,
            Metric::P90 => self.publish_p90_us,
            Metric::P99 => self.publish_p99_us,
            Metric::P999 => self.publish_p999_us,
            Metric::P9999 => self.publish_p9999_us,
            Metric::E2eP50 => self.e2e_p50_us,
            Metric::E2eP90 => self.e2e_p90_us,
            Metric::E2eP99 => self.e2e_p99_us,
            Metric::E2eP999 => self.e2e_p999_us,
            Metric::E2eP9999 => self.e2e_p9999_us,
        }
    }

    /// The settings that should be equal for a cell to be the same experiment.
    fn settings(&self) -> [(&'static str, &str); 17] {
        [
            ("params", &self.params),
            ("partitions", &self.partitions),
            ("replication_factor", &self.replication_factor),
            ("producers", &self.producers),
            ("rate", &self.rate),
            ("message_size", &self.message_size),
            ("keys", &self.keys),
            ("partitioner", &self.partitioner),
            ("acks", &self.acks),
            ("compression", &self.compression),
            ("linger_ms", &self.linger_ms),
            ("batch_size", &self.batch_size),
            ("idempotence", &self.idempotence),
            ("max_in_flight", &self.max_in_flight),
            ("sync", &self.sync),
            ("groups", &self.groups),
            ("members", &self.members),
        ]
    }
}

/// One side of the comparison as it was read.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The directory as given.
    pub dir: String,
    pub run_id: String,
    pub scenario: String,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub thresholds: Vec<Threshold>,
    /// Also show metrics without a threshold (for information).
    pub all_metrics: bool,
    /// Compare flagged cells anyway instead of failing them.
    pub allow_flagged: bool,
}

/// One metric of one cell.
#[derive(Debug, Clone)]
pub struct Line {
    pub metric: Metric,
    pub threshold: Option<Threshold>,
    pub baseline: Option<Spread>,
    pub current: Option<Spread>,
    pub outcome: Outcome,
}

/// A cell present in both runs.
#[derive(Debug, Clone)]
pub struct CellComparison {
    pub cell: String,
    pub params: String,
    /// Flags over all repeats, per side.
    pub baseline_flags: Vec<String>,
    pub current_flags: Vec<String>,
    /// (setting, baseline, current) where the two runs ran the cell differently.
    pub settings_diff: Vec<(String, String, String)>,
    pub lines: Vec<Line>,
}

impl CellComparison {
    pub fn flagged(&self) -> bool {
        !self.baseline_flags.is_empty() || !self.current_flags.is_empty()
    }

    /// "current: behind-schedule; baseline: queue-full"
    pub fn flag_text(&self) -> String {
        let mut parts = Vec::new();
        if !self.baseline_flags.is_empty() {
            parts.push(format!("baseline {}", self.baseline_flags.join("+")));
        }
        if !self.current_flags.is_empty() {
            parts.push(format!("current {}", self.current_flags.join("+")));
        }
        parts.join(", ")
    }
}

#[derive(Debug, Clone)]
pub struct Comparison {
    pub baseline: RunInfo,
    pub current: RunInfo,
    pub options: Options,
    /// Metrics shown, thresholded ones first.
    pub metrics: Vec<Metric>,
    pub cells: Vec<CellComparison>,
    pub only_baseline: Vec<String>,
    pub only_current: Vec<String>,
}

/// What a line says in the verdict column, taking the cell's flags into account.
pub fn verdict_text(cell: &CellComparison, line: &Line, allow_flagged: bool) -> String {
    if cell.flagged() && line.threshold.is_some() {
        if allow_flagged {
            format!("{} (flagged)", line.outcome.verdict.text())
        } else {
            "NOT COMPARABLE".into()
        }
    } else {
        line.outcome.verdict.text().into()
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Thresholded metric checks made.
    pub checks: usize,
    pub regressed: usize,
    pub no_data: usize,
    pub noise: usize,
    pub improved: usize,
    /// Cells not compared because of flags (only without --allow-flagged).
    pub not_comparable: usize,
}

impl Comparison {
    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for c in &self.cells {
            if c.flagged() && !self.options.allow_flagged {
                t.not_comparable += 1;
                continue;
            }
            for l in c.lines.iter().filter(|l| l.threshold.is_some()) {
                t.checks += 1;
                match l.outcome.verdict {
                    Verdict::Regressed => t.regressed += 1,
                    Verdict::NoData => t.no_data += 1,
                    Verdict::Noise => t.noise += 1,
                    Verdict::Improved => t.improved += 1,
                    _ => {}
                }
            }
        }
        t
    }

    /// 0 within thresholds, 1 on a regression, missing data or a flagged cell.
    pub fn exit_code(&self) -> i32 {
        let t = self.tally();
        if t.regressed + t.no_data + t.not_comparable > 0 {
            1
        } else {
            0
        }
    }

    /// One line for people: "PASS: ..." or "FAIL: ...".
    pub fn headline(&self) -> String {
        let t = self.tally();
        let mut why = Vec::new();
        if t.regressed > 0 {
            why.push(format!("{} regressed", t.regressed));
        }
        if t.no_data > 0 {
            why.push(format!("{} without data", t.no_data));
        }
        if t.not_comparable > 0 {
            why.push(format!(
                "{} not comparable",
                plural(t.not_comparable, "flagged cell")
            ));
        }
        let mut extra = Vec::new();
        if t.noise > 0 {
            extra.push(format!("{} beyond threshold but within noise", t.noise));
        }
        if t.improved > 0 {
            extra.push(format!("{} improved", t.improved));
        }
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(" ({})", extra.join(", "))
        };
        let checks = plural(t.checks, "check");
        let cells = plural(self.cells.len(), "cell");
        if why.is_empty() {
            format!("PASS: {checks} in {cells} within thresholds{extra}")
        } else {
            let extra = extra
                .trim_start()
                .trim_start_matches('(')
                .trim_end_matches(')');
            let sep = if extra.is_empty() { "" } else { "; " };
            format!("FAIL: {} ({checks} in {cells}{sep}{extra})", why.join(", "))
        }
    }

    /// Lines in the order of the table: every cell, every shown metric.
    pub fn lines(&self) -> impl Iterator<Item = (&CellComparison, &Line)> {
        self.cells
            .iter()
            .flat_map(|c| c.lines.iter().map(move |l| (c, l)))
    }
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Group rows by cell id, keeping the order in which cells first appear.
fn by_cell(rows: &[CompareRow]) -> (Vec<String>, BTreeMap<&str, Vec<&CompareRow>>) {
    let mut order = Vec::new();
    let mut map: BTreeMap<&str, Vec<&CompareRow>> = BTreeMap::new();
    for r in rows {
        let e = map.entry(r.cell.as_str()).or_default();
        if e.is_empty() {
            order.push(r.cell.clone());
        }
        e.push(r);
    }
    (order, map)
}

fn flags(rows: &[&CompareRow]) -> Vec<String> {
    let mut v: Vec<String> = rows
        .iter()
        .flat_map(|r| r.flags.split(';'))
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    v.sort();
    v.dedup();
    v
}

fn spread(metric: Metric, rows: &[&CompareRow]) -> Option<Spread> {
    Spread::of(&metric_values(metric, rows.iter().map(|r| r.value(metric))))
}

/// Compare the cells of two runs. Does not check that anything is in common: the caller
/// decides what an empty comparison means.
pub fn compare(
    baseline: RunInfo,
    base_rows: &[CompareRow],
    current: RunInfo,
    cur_rows: &[CompareRow],
    options: Options,
) -> Comparison {
    let mut metrics: Vec<Metric> = options.thresholds.iter().map(|t| t.metric).collect();
    if options.all_metrics {
        for m in Metric::ALL {
            if !metrics.contains(&m) {
                metrics.push(m);
            }
        }
    }
    let (base_order, base) = by_cell(base_rows);
    let (cur_order, cur) = by_cell(cur_rows);
    let only_baseline = base_order
        .iter()
        .filter(|c| !cur.contains_key(c.as_str()))
        .cloned()
        .collect();
    let mut only_current = Vec::new();
    let mut cells = Vec::new();
    for id in &cur_order {
        let Some(b) = base.get(id.as_str()) else {
            only_current.push(id.clone());
            continue;
        };
        let c = &cur[id.as_str()];
        let settings_diff = b[0]
            .settings()
            .iter()
            .zip(c[0].settings().iter())
            .filter(|((_, x), (_, y))| x != y && !x.is_empty() && !y.is_empty())
            .map(|((k, x), (_, y))| (k.to_string(), x.to_string(), y.to_string()))
            .collect();
        let lines = metrics
            .iter()
            .map(|&m| {
                let threshold = options.thresholds.iter().find(|t| t.metric == m).copied();
                let (bs, cs) = (spread(m, b), spread(m, c));
                Line {
                    metric: m,
                    threshold,
                    baseline: bs,
                    current: cs,
                    outcome: judge(bs.as_ref(), cs.as_ref(), threshold.as_ref()),
                }
            })
            .collect();
        cells.push(CellComparison {
            cell: id.clone(),
            params: c[0].params.clone(),
            baseline_flags: flags(b),
            current_flags: flags(c),
            settings_diff,
            lines,
        });
    }
    Comparison {
        baseline,
        current,
        options,
        metrics,
        cells,
        only_baseline,
        only_current,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::compare::thresholds::default_thresholds;

    pub(crate) fn row(cell: &str, repeat: u32, tput: f64, p99_ms: f64) -> CompareRow {
        CompareRow {
            cell: cell.into(),
            repeat,
            params: String::new(),
            partitions: "3".into(),
            replication_factor: "3".into(),
            producers: "1".into(),
            rate: "2000".into(),
            message_size: "200".into(),
            keys: "none".into(),
            partitioner: "sticky".into(),
            acks: "all".into(),
            compression: "none".into(),
            linger_ms: "5.0".into(),
            batch_size: "65536".into(),
            idempotence: "false".into(),
            max_in_flight: "5".into(),
            sync: "false".into(),
            groups: "1".into(),
            members: "1".into(),
            acked_per_sec: tput,
            acked_mb_per_sec: tput * 200.0 / 1e6,
            consumed_per_sec: tput,
            publish_p50_us: p99_ms * 300.0,
            publish_p90_us: p99_ms * 700.0,
            publish_p99_us: p99_ms * 1000.0,
            publish_p999_us: p99_ms * 1200.0,
            publish_p9999_us: p99_ms * 1300.0,
            e2e_p50_us: 0.0,
            e2e_p90_us: 0.0,
            e2e_p99_us: 0.0,
            e2e_p999_us: 0.0,
            e2e_p9999_us: 0.0,
            flags: String::new(),
        }
    }

    fn info(id: &str) -> RunInfo {
        RunInfo {
            dir: id.into(),
            run_id: id.into(),
            scenario: "s".into(),
        }
    }

    pub(crate) fn cmp(b: &[CompareRow], c: &[CompareRow], allow_flagged: bool) -> Comparison {
        compare(
            info("b"),
            b,
            info("c"),
            c,
            Options {
                thresholds: default_thresholds(),
                all_metrics: false,
                allow_flagged,
            },
        )
    }

    #[test]
    fn matches_cells_by_id_and_lists_the_rest() {
        let b = [row("a", 1, 1000.0, 10.0), row("old", 1, 1000.0, 10.0)];
        let c = [row("new", 1, 1000.0, 10.0), row("a", 1, 990.0, 10.5)];
        let x = cmp(&b, &c, false);
        assert_eq!(x.cells.len(), 1);
        assert_eq!(x.cells[0].cell, "a");
        assert_eq!(x.only_baseline, vec!["old"]);
        assert_eq!(x.only_current, vec!["new"]);
        assert_eq!(x.exit_code(), 0);
        assert!(
            x.headline().starts_with("PASS: 2 checks in 1 cell"),
            "{}",
            x.headline()
        );
    }

    #[test]
    fn a_throughput_drop_fails() {
        let x = cmp(
            &[row("a", 1, 1000.0, 10.0)],
            &[row("a", 1, 800.0, 10.0)],
            false,
        );
        assert_eq!(x.exit_code(), 1);
        let l = &x.cells[0].lines[0];
        assert_eq!(
            (l.metric, l.outcome.verdict),
            (Metric::Throughput, Verdict::Regressed)
        );
        assert!(
            x.headline().starts_with("FAIL: 1 regressed"),
            "{}",
            x.headline()
        );
    }

    #[test]
    fn repeats_use_medians_and_ranges() {
        let b: Vec<_> = [8.0, 10.0, 14.0]
            .iter()
            .enumerate()
            .map(|(i, p)| row("a", i as u32 + 1, 1000.0, *p))
            .collect();
        let c: Vec<_> = [12.5, 13.0, 13.5]
            .iter()
            .enumerate()
            .map(|(i, p)| row("a", i as u32 + 1, 1000.0, *p))
            .collect();
        let x = cmp(&b, &c, false);
        let l = &x.cells[0].lines[1];
        assert_eq!(l.metric, Metric::P99);
        assert_eq!(l.outcome.verdict, Verdict::Noise);
        assert_eq!(l.baseline.unwrap().n, 3);
        assert_eq!(x.exit_code(), 0);
        assert_eq!(x.tally().noise, 1);
    }

    #[test]
    fn flagged_cells_fail_unless_allowed() {
        let mut c = row("a", 1, 1000.0, 10.0);
        c.flags = "behind-schedule;queue-full".into();
        let b = [row("a", 1, 1000.0, 10.0)];
        let x = cmp(&b, std::slice::from_ref(&c), false);
        assert_eq!(x.exit_code(), 1);
        assert_eq!(x.tally().not_comparable, 1);
        assert_eq!(
            verdict_text(&x.cells[0], &x.cells[0].lines[0], false),
            "NOT COMPARABLE"
        );
        assert_eq!(x.cells[0].flag_text(), "current behind-schedule+queue-full");
        let x = cmp(&b, &[c], true);
        assert_eq!(x.exit_code(), 0);
        assert_eq!(
            verdict_text(&x.cells[0], &x.cells[0].lines[0], true),
            "ok (flagged)"
        );
        // A flagged baseline is as untrustworthy as a flagged current run.
        let mut fb = row("a", 1, 1000.0, 10.0);
        fb.flags = "drain-timeout".into();
        assert_eq!(cmp(&[fb], &b, false).exit_code(), 1);
    }

    #[test]
    fn settings_that_differ_are_listed() {
        let mut c = row("a", 1, 1000.0, 10.0);
        c.acks = "1".into();
        let x = cmp(&[row("a", 1, 1000.0, 10.0)], &[c], false);
        assert_eq!(
            x.cells[0].settings_diff,
            vec![("acks".to_string(), "all".to_string(), "1".to_string())]
        );
    }

    #[test]
    fn all_metrics_adds_unthresholded_lines() {
        let x = compare(
            info("b"),
            &[row("a", 1, 1000.0, 10.0)],
            info("c"),
            &[row("a", 1, 1000.0, 10.0)],
            Options {
                thresholds: vec![Threshold::new(Metric::P50, 10.0)],
                all_metrics: true,
                allow_flagged: false,
            },
        );
        assert_eq!(x.metrics[0], Metric::P50);
        assert_eq!(x.metrics.len(), Metric::ALL.len());
        assert_eq!(x.tally().checks, 1);
        let e2e = x.cells[0]
            .lines
            .iter()
            .find(|l| l.metric == Metric::E2eP99)
            .unwrap();
        assert_eq!(e2e.outcome.verdict, Verdict::NotApplicable);
    }
}
