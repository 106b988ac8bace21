//! Matching two runs cell by cell and judging every metric. Pure: takes runs already read.

use std::collections::BTreeMap;

use super::stats::{judge, Outcome, Spread, Verdict};
use super::thresholds::{Metric, Threshold};
use crate::rundir::read::RunData;
use crate::rundir::rows::ResultRow;

/// The settings that should be equal for a cell to be the same experiment, as `results.csv`
/// writes them.
fn settings(r: &ResultRow) -> [(&'static str, String); 17] {
    [
        ("params", r.params.clone()),
        ("partitions", r.partitions.to_string()),
        ("replication_factor", r.replication_factor.to_string()),
        ("producers", r.producers.to_string()),
        ("rate", r.rate.clone()),
        ("message_size", r.message_size.clone()),
        ("keys", r.keys.clone()),
        ("partitioner", r.partitioner.clone()),
        ("acks", r.acks.clone()),
        ("compression", r.compression.clone()),
        // `{:?}` keeps the ".0" that the CSV writer writes ("5.0", where `{}` gives "5").
        ("linger_ms", format!("{:?}", r.linger_ms)),
        ("batch_size", r.batch_size.to_string()),
        ("idempotence", r.idempotence.to_string()),
        ("max_in_flight", r.max_in_flight.to_string()),
        ("sync", r.sync.to_string()),
        ("groups", r.groups.to_string()),
        ("members", r.members.to_string()),
    ]
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
    /// Delivery counters that rose from zero: none in the baseline, some in the current run.
    /// Each fails the comparison whatever the thresholds and flags.
    pub breaches: Vec<Breach>,
}

/// A delivery counter of a cell that the baseline never had and the current run has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    /// The `results.csv` column: `lost`, `duplicated`, `reordered` or `failed`.
    pub counter: &'static str,
    /// Summed over the current run's repeats.
    pub current: u64,
}

/// Reads one counter of a row.
type Counter = fn(&ResultRow) -> u64;

/// The delivery counters gated at zero, by column name.
const DELIVERY: [(&str, Counter); 4] = [
    ("lost", |r| r.lost),
    ("duplicated", |r| r.duplicated),
    ("reordered", |r| r.reordered),
    ("failed", |r| r.failed),
];

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
    /// The two runs as read.
    pub baseline: RunData,
    pub current: RunData,
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
    /// Delivery counters that rose from zero ([`Breach`]), over all cells.
    pub breaches: usize,
}

impl Comparison {
    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for c in &self.cells {
            t.breaches += c.breaches.len();
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

    /// 0 within thresholds, 1 on a regression, missing data, a flagged cell, or a delivery
    /// counter that rose from zero.
    pub fn exit_code(&self) -> i32 {
        let t = self.tally();
        if t.regressed + t.no_data + t.not_comparable + t.breaches > 0 {
            1
        } else {
            0
        }
    }

    /// One line for people: "PASS: ..." or "FAIL: ...".
    pub fn headline(&self) -> String {
        let t = self.tally();
        let mut why = Vec::new();
        for (counter, _) in DELIVERY {
            let n = self
                .cells
                .iter()
                .filter(|c| c.breaches.iter().any(|b| b.counter == counter))
                .count();
            if n > 0 {
                why.push(format!(
                    "messages {counter} in {} (baseline 0)",
                    plural(n, "cell")
                ));
            }
        }
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
fn by_cell(rows: &[ResultRow]) -> (Vec<String>, BTreeMap<&str, Vec<&ResultRow>>) {
    let mut order = Vec::new();
    let mut map: BTreeMap<&str, Vec<&ResultRow>> = BTreeMap::new();
    for r in rows {
        let e = map.entry(r.cell.as_str()).or_default();
        if e.is_empty() {
            order.push(r.cell.clone());
        }
        e.push(r);
    }
    (order, map)
}

fn flags(rows: &[&ResultRow]) -> Vec<String> {
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

fn spread(metric: Metric, rows: &[&ResultRow]) -> Option<Spread> {
    let values: Vec<f64> = rows.iter().filter_map(|r| metric.value(r)).collect();
    Spread::of(&values)
}

/// Compare the cells of two runs. Does not check that anything is in common: the caller
/// decides what an empty comparison means.
pub fn compare(baseline: RunData, current: RunData, options: Options) -> Comparison {
    let mut metrics: Vec<Metric> = options.thresholds.iter().map(|t| t.metric).collect();
    if options.all_metrics {
        for m in Metric::ALL {
            if !metrics.contains(&m) {
                metrics.push(m);
            }
        }
    }
    // A setting that one run's file has no column for (an older kbench) is unknown: it was
    // read as a default, which says nothing about how that run was set up.
    let unknown =
        |k: &str| baseline.results_missing.contains(&k) || current.results_missing.contains(&k);
    let (base_order, base) = by_cell(&baseline.results);
    let (cur_order, cur) = by_cell(&current.results);
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
        let settings_diff = settings(b[0])
            .iter()
            .zip(settings(c[0]).iter())
            .filter(|((k, x), (_, y))| x != y && !unknown(k))
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
        // A column the baseline's file lacks (an older kbench) is unknown, not zero.
        let breaches = DELIVERY
            .iter()
            .filter(|(k, _)| !baseline.results_missing.contains(k))
            .filter(|(_, get)| b.iter().all(|r| get(r) == 0))
            .map(|&(counter, get)| Breach {
                counter,
                current: c.iter().map(|r| get(r)).sum(),
            })
            .filter(|x| x.current > 0)
            .collect();
        cells.push(CellComparison {
            cell: id.clone(),
            params: c[0].params.clone(),
            baseline_flags: flags(b),
            current_flags: flags(c),
            settings_diff,
            lines,
            breaches,
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
    use crate::rundir::read::{Manifest, ScenarioInfo};

    pub(crate) fn row(cell: &str, repeat: u32, tput: f64, p99_ms: f64) -> ResultRow {
        let us = |f: f64| (p99_ms * f).round() as u64;
        ResultRow {
            cell: cell.into(),
            repeat,
            partitions: 3,
            replication_factor: 3,
            producers: 1,
            rate: "2000".into(),
            message_size: "200".into(),
            keys: "none".into(),
            partitioner: "sticky".into(),
            acks: "all".into(),
            compression: "none".into(),
            linger_ms: 5.0,
            batch_size: 65536,
            idempotence: false,
            max_in_flight: 5,
            sync: false,
            groups: 1,
            members: 1,
            acked_per_sec: tput,
            acked_mb_per_sec: tput * 200.0 / 1e6,
            consumed_per_sec: tput,
            publish_p50_us: us(300.0),
            publish_p90_us: us(700.0),
            publish_p99_us: us(1000.0),
            publish_p999_us: us(1200.0),
            publish_p9999_us: us(1300.0),
            // e2e latencies 0: no consumers, no data.
            ..ResultRow::default()
        }
    }

    fn run(id: &str, rows: &[ResultRow]) -> RunData {
        RunData {
            dir: id.into(),
            info: Manifest {
                run_id: id.into(),
                scenario: ScenarioInfo {
                    name: "s".into(),
                    ..ScenarioInfo::default()
                },
                ..Manifest::default()
            },
            results: rows.to_vec(),
            timeseries: Vec::new(),
            results_missing: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub(crate) fn cmp(b: &[ResultRow], c: &[ResultRow], allow_flagged: bool) -> Comparison {
        compare(
            run("b", b),
            run("c", c),
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
    fn a_delivery_counter_rising_from_zero_fails_whatever_the_thresholds() {
        let b = [row("a", 1, 1000.0, 10.0)];
        let mut c = row("a", 1, 1000.0, 10.0);
        c.lost = 1;
        let x = cmp(&b, std::slice::from_ref(&c), false);
        let want = Breach {
            counter: "lost",
            current: 1,
        };
        assert_eq!(x.cells[0].breaches, vec![want]);
        assert_eq!((x.tally().regressed, x.tally().breaches), (0, 1));
        assert_eq!(x.exit_code(), 1);
        assert!(
            x.headline()
                .starts_with("FAIL: messages lost in 1 cell (baseline 0)"),
            "{}",
            x.headline()
        );
        // Flagged and compared anyway: still a breach.
        c.flags = "queue-full".into();
        assert_eq!(cmp(&b, std::slice::from_ref(&c), true).exit_code(), 1);
        // Not from zero: the baseline lost too (a failover scenario), so the thresholds judge.
        let mut lossy = row("a", 1, 1000.0, 10.0);
        lossy.lost = 5;
        lossy.failed = 2;
        c.flags.clear();
        assert_eq!(cmp(&[lossy], &[c.clone()], false).exit_code(), 0);
        // A baseline written before the column existed is unknown, not zero.
        let mut old = run("b", &b);
        old.results_missing = vec!["lost"];
        let x = compare(old, run("c", &[c]), x.options);
        assert!(x.cells[0].breaches.is_empty());
        // Every counter is gated.
        let mut all = row("a", 1, 1000.0, 10.0);
        (all.duplicated, all.reordered, all.failed) = (1, 2, 3);
        let x = cmp(&b, &[all], false);
        let names: Vec<_> = x.cells[0].breaches.iter().map(|b| b.counter).collect();
        assert_eq!(names, ["duplicated", "reordered", "failed"]);
    }

    #[test]
    fn settings_that_differ_are_listed() {
        let mut c = row("a", 1, 1000.0, 10.0);
        c.acks = "1".into();
        c.linger_ms = 0.0;
        let x = cmp(&[row("a", 1, 1000.0, 10.0)], &[c], false);
        let diff = |k: &str, a: &str, b: &str| (k.to_string(), a.to_string(), b.to_string());
        assert_eq!(
            x.cells[0].settings_diff,
            vec![diff("acks", "all", "1"), diff("linger_ms", "5.0", "0.0")]
        );
        // A column that one run's file lacked is unknown, not a difference.
        let mut old = run("b", &[row("a", 1, 1000.0, 10.0)]);
        old.results[0].max_in_flight = 0;
        old.results_missing = vec!["max_in_flight"];
        let x = compare(old, run("c", &[row("a", 1, 1000.0, 10.0)]), x.options);
        assert!(x.cells[0].settings_diff.is_empty(), "{:?}", x.cells[0]);
    }

    #[test]
    fn all_metrics_adds_unthresholded_lines() {
        let x = compare(
            run("b", &[row("a", 1, 1000.0, 10.0)]),
            run("c", &[row("a", 1, 1000.0, 10.0)]),
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
