//! `summary.md` (for people and CI job pages) and the short form printed at the end of a run.
//! Pure: both are strings built from the [`RunModel`] and the list of charts written.

use std::fmt::Write as _;
use std::path::Path;

use super::chart::{ChartFile, ChartKind};
use super::model::{flag_reason, AutoCreated, CellAgg, Metric, Pct, Rebalances, RunModel, Stat};

/// The objectives a best cell is named for.
const OBJECTIVES: [(Metric, &str); 3] = [
    (Metric::AckedPerSec, "highest throughput"),
    (Metric::Publish(Pct::P99), "lowest publish p99"),
    (Metric::E2e(Pct::P99), "lowest end-to-end p99"),
];

fn ms(us: f64) -> String {
    format!("{:.2}", us / 1e3)
}

/// A figure with its spread when repetitions disagree: `4245 (4100..4300)`.
fn with_spread(s: Stat, f: impl Fn(f64) -> String) -> String {
    if s.has_spread() {
        format!("{} ({}..{})", f(s.median), f(s.min), f(s.max))
    } else {
        f(s.median)
    }
}

fn rate(v: f64) -> String {
    format!("{v:.0}")
}

/// MB/s with two decimals, three below 1 MB/s (small messages at modest rates).
fn mb(v: f64) -> String {
    if v.abs() < 1.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.2}")
    }
}

/// The value of `metric` for a cell, with its unit.
fn value_text(c: &CellAgg, m: Metric) -> String {
    match m {
        Metric::AckedPerSec => format!(
            "{} msg/s ({} MB/s)",
            with_spread(c.acked_per_sec, rate),
            with_spread(c.acked_mb_per_sec, mb)
        ),
        Metric::AckedMbPerSec => format!("{} MB/s", with_spread(c.acked_mb_per_sec, mb)),
        _ => format!("{} ms", with_spread(m.of(c), ms)),
    }
}

fn link(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// `summary.md`: what ran, the best cells, every cell's key figures, the flagged cells and why,
/// and links to the charts (paths relative to the run directory).
pub fn markdown(model: &RunModel, charts: &[ChartFile], notes: &[String]) -> String {
    let mut s = String::new();
    let i = &model.info;
    let title = if i.run_id.is_empty() {
        "kbench run".to_string()
    } else {
        format!("kbench run `{}`", i.run_id)
    };
    let _ = writeln!(s, "# {title}\n");
    let mut what = Vec::new();
    if !i.scenario.name.is_empty() {
        let path = if i.scenario.path.is_empty() {
            String::new()
        } else {
            format!(" (`{}`)", i.scenario.path)
        };
        what.push(format!("Scenario **{}**{path}", i.scenario.name));
    }
    if !i.started_at.is_empty() {
        what.push(format!("started {}", i.started_at));
    }
    let mut versions = Vec::new();
    if !i.kbench_version.is_empty() {
        versions.push(format!("kbench {}", i.kbench_version));
    }
    if !i.librdkafka_version.is_empty() {
        versions.push(format!("librdkafka {}", i.librdkafka_version));
    }
    versions.push(match &i.kafka_version {
        Some(v) => format!("Kafka {v}"),
        None => "Kafka version not recorded".into(),
    });
    what.push(versions.join(", "));
    if i.brokers > 0 {
        what.push(format!("{} brokers at `{}`", i.brokers, i.bootstrap));
    }
    if !i.host.hostname.is_empty() {
        what.push(format!(
            "host `{}` ({} CPUs, {}/{})",
            i.host.hostname, i.host.cpus, i.host.os, i.host.arch
        ));
    }
    let _ = writeln!(s, "{}.\n", what.join("; "));

    let n = model.cells.len();
    if model.axes.is_empty() {
        let _ = writeln!(s, "Nothing swept: {n} cell{}.", plural(n));
    } else {
        let axes: Vec<String> = model
            .axes
            .iter()
            .map(|a| format!("**{}** ({})", a.name, a.values.join(", ")))
            .collect();
        let _ = writeln!(s, "Swept {}: {n} cells.", axes.join(" x "));
    }
    if model.max_repeats > 1 {
        let _ = writeln!(
            s,
            "Each cell ran up to {} times: figures are medians, with the min..max spread in brackets.",
            model.max_repeats
        );
    }
    let _ = writeln!(
        s,
        "Latencies are in ms, from each message's intended send time; rates are over the \
         measurement window (warm-up excluded).\n"
    );

    best_section(&mut s, model);
    cells_section(&mut s, model, charts);
    flagged_section(&mut s, model);
    behind_section(&mut s, model);
    auto_create_section(&mut s, model);
    transactions_section(&mut s, model);
    rebalance_section(&mut s, model);
    skew_section(&mut s, model, charts);
    charts_section(&mut s, charts);
    if !notes.is_empty() {
        let _ = writeln!(s, "## Notes\n");
        for n in notes {
            let _ = writeln!(s, "- {n}");
        }
        s.push('\n');
    }
    s
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn best_section(s: &mut String, model: &RunModel) {
    let _ = writeln!(s, "## Best cells\n");
    if model.cells.is_empty() {
        let _ = writeln!(s, "No cell finished.\n");
        return;
    }
    let flagged = model.flagged().count();
    if flagged == model.cells.len() {
        let _ = writeln!(
            s,
            "**Every cell is flagged**, so no best cell is named: kbench's own limits affected \
             every figure of this run (see [Flagged cells](#flagged-cells)).\n"
        );
        return;
    }
    if flagged > 0 {
        let _ = writeln!(
            s,
            "Among the {} unflagged cells only ({flagged} flagged cell{} left out).\n",
            model.cells.len() - flagged,
            plural(flagged)
        );
    }
    let _ = writeln!(s, "| objective | cell | value |\n|---|---|---|");
    for (m, name) in OBJECTIVES {
        match model.best(m) {
            Some(c) => {
                let _ = writeln!(s, "| {name} | `{}` | {} |", c.id, value_text(c, m));
            }
            None => {
                let _ = writeln!(s, "| {name} | - | no unflagged cell has this figure |");
            }
        }
    }
    s.push('\n');
}

fn cells_section(s: &mut String, model: &RunModel, charts: &[ChartFile]) {
    if model.cells.is_empty() {
        return;
    }
    let _ = writeln!(s, "## Cells\n");
    let mut head = vec!["cell".to_string()];
    head.extend(model.axes.iter().map(|a| a.name.clone()));
    head.extend(
        [
            "acked msg/s",
            "MB/s",
            "publish p50 ms",
            "publish p99 ms",
            "publish p99.9 ms",
            "e2e p99 ms",
            "flags",
        ]
        .map(String::from),
    );
    let _ = writeln!(s, "| {} |", head.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(head.len()));
    for c in &model.cells {
        // The cell's name links to its (first) time series chart.
        let series = charts
            .iter()
            .find(|f| f.kind == ChartKind::Timeseries && f.cell.as_deref() == Some(&c.id));
        let mut row = vec![match series {
            Some(f) => format!("[`{}`]({})", c.id, link(&f.path)),
            None => format!("`{}`", c.id),
        }];
        row.extend(
            model
                .axes
                .iter()
                .map(|a| c.param(&a.name).unwrap_or("").to_string()),
        );
        let lat = |m: Metric| {
            if m.available(c) {
                with_spread(m.of(c), ms)
            } else {
                "-".into()
            }
        };
        row.push(with_spread(c.acked_per_sec, rate));
        row.push(with_spread(c.acked_mb_per_sec, mb));
        row.push(lat(Metric::Publish(Pct::P50)));
        row.push(lat(Metric::Publish(Pct::P99)));
        row.push(lat(Metric::Publish(Pct::P999)));
        row.push(lat(Metric::E2e(Pct::P99)));
        row.push(if c.flagged() {
            format!("**{}**", c.flags.join(", "))
        } else {
            String::new()
        });
        let _ = writeln!(s, "| {} |", row.join(" | "));
    }
    s.push('\n');
}

/// How evenly each cell's acks spread over its partitions (what partitioners and keys do).
fn skew_section(s: &mut String, model: &RunModel, charts: &[ChartFile]) {
    let cells: Vec<&CellAgg> = model
        .cells
        .iter()
        .filter(|c| c.acked_skew.median > 0.0)
        .collect();
    if cells.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n## Partition skew\n");
    let _ = writeln!(
        s,
        "Acked messages per partition: the busiest partition over the mean (1.00 is even; P \
         when one of P partitions takes everything) and the coefficient of variation. \
         Per-partition counts are in results.csv (`acked_per_partition`).\n"
    );
    let _ = writeln!(s, "| cell | busiest / mean | CV |\n|---|---:|---:|");
    for c in cells {
        // The cell links to its per-partition chart when there is one.
        let chart = charts
            .iter()
            .find(|f| f.kind == ChartKind::Partitions && f.cell.as_deref() == Some(&c.id));
        let name = match chart {
            Some(f) => format!("[`{}`]({})", c.id, link(&f.path)),
            None => format!("`{}`", c.id),
        };
        let _ = writeln!(
            s,
            "| {name} | {:.2} | {:.2} |",
            c.acked_skew.median, c.acked_skew_cv.median
        );
    }
}

/// `[topic] create = "auto"` cells: what the broker made, in words (the point of such a cell
/// is the shape nobody asked for).
fn auto_create_section(s: &mut String, model: &RunModel) {
    let made: Vec<(&CellAgg, &AutoCreated)> = model
        .cells
        .iter()
        .filter_map(|c| c.auto_created.as_ref().map(|a| (c, a)))
        .collect();
    if made.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n## Topic auto-creation\n");
    let _ = writeln!(
        s,
        "kbench did not create these topics: it wrote to them before they existed and the broker \
         made them (`auto.create.topics.enable`), with its own `num.partitions` and \
         `default.replication.factor`, whatever a scenario would have asked for.\n"
    );
    for (c, a) in made {
        let _ = writeln!(
            s,
            "- `{}`: the broker made a {}-partition topic with RF {}; the first write was acked \
             after {:.0} ms.",
            c.id, a.partitions, a.replication_factor, a.first_ack_ms.median
        );
    }
}

/// Transactional cells: transactions per second, commit latency, and what the consumers made
/// of aborted transactions (a read_committed group must never read one).
fn transactions_section(s: &mut String, model: &RunModel) {
    let tx: Vec<(&CellAgg, &super::model::TxFigures)> = model
        .cells
        .iter()
        .filter_map(|c| c.transactions.as_ref().map(|t| (c, t)))
        .collect();
    if tx.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n## Transactions\n");
    for (c, t) in tx {
        let seen = match (t.aborted_seen, t.isolation.as_str()) {
            (0, _) => "none read by any group".to_string(),
            (n, "read_committed") => format!("**{n} read by a read_committed group (a defect)**"),
            (n, _) => format!("{n} read ({}: expected)", t.isolation),
        };
        let _ = writeln!(
            s,
            "- `{}`: {} messages a transaction, {:.0} % aborted on purpose; {} committed/s, {} \
             aborted/s ({} failed commits); commit p50 {} ms, p99 {} ms; {} measured messages \
             aborted, {seen}; {} lost, {} duplicated ({}).",
            c.id,
            t.messages,
            t.abort_share * 100.0,
            with_spread(t.committed_per_sec, |v| format!("{v:.1}")),
            with_spread(t.aborted_per_sec, |v| format!("{v:.1}")),
            t.failed,
            with_spread(t.commit_p50_us, ms),
            with_spread(t.commit_p99_us, ms),
            t.aborted_messages,
            t.lost,
            t.duplicated,
            t.isolation,
        );
    }
}

/// Cells whose consumer groups rebalanced under load (a member left or joined).
fn rebalance_section(s: &mut String, model: &RunModel) {
    let cells: Vec<(&CellAgg, &Rebalances)> = model
        .cells
        .iter()
        .filter_map(|c| c.rebalances.as_ref().map(|r| (c, r)))
        .collect();
    if cells.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n## Consumer group rebalances\n");
    let _ = writeln!(
        s,
        "A partition's pause runs from its revocation to its next assignment (eager assignors \
         pause every partition, cooperative ones only those that move); per-cell details in \
         `cells/<id>/rebalances.json`, the lag per second in `timeseries.csv`.\n"
    );
    let opt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.0} ms"));
    for (c, r) in cells {
        let _ = writeln!(
            s,
            "- `{}` ({}, {} protocol): {} rebalance{}, {} partition pause{} (median {}, max {}); \
             first assignment within {} of a member's join.",
            c.id,
            r.assignor,
            r.group_protocol,
            r.rebalances,
            plural(r.rebalances),
            r.pauses,
            plural(r.pauses),
            opt(r.pause_median_ms),
            opt(r.pause_max_ms),
            opt(r.first_assignment_max_ms)
        );
    }
}

/// Cells where the cluster, not kbench, fell short of the offered rate.
fn behind_section(s: &mut String, model: &RunModel) {
    let behind: Vec<(&CellAgg, &String)> = model
        .cells
        .iter()
        .filter_map(|c| c.fell_behind.as_ref().map(|t| (c, t)))
        .collect();
    if behind.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n## The cluster fell behind\n");
    let _ = writeln!(
        s,
        "In these cells kbench kept its schedule (no flag) but the cluster acknowledged less than \
         {:.0} % of the offered rate: a finding about the cluster at this load.\n",
        super::model::KEPT_UP * 100.0
    );
    for (c, t) in behind {
        let _ = writeln!(s, "- `{}`: {t}", c.id);
    }
}

fn flagged_section(s: &mut String, model: &RunModel) {
    let _ = writeln!(s, "## Flagged cells\n");
    let flagged: Vec<&CellAgg> = model.flagged().collect();
    if flagged.is_empty() {
        let _ = writeln!(s, "None: every cell ran within kbench's own limits.\n");
        return;
    }
    let _ = writeln!(
        s,
        "A flagged cell's figures are not the cluster's alone: kbench itself was a limit. \
         Charts draw them hollow or dashed, with a `!` after the name.\n"
    );
    for c in flagged {
        let repeats = if c.repeats.len() > 1 {
            format!(" (in {} of {} repeats)", c.flagged_repeats, c.repeats.len())
        } else {
            String::new()
        };
        let why: Vec<String> = c
            .flags
            .iter()
            .map(|f| format!("**{f}**: {}", flag_reason(f)))
            .collect();
        let _ = writeln!(s, "- `{}`{repeats}: {}", c.id, why.join("; "));
    }
    s.push('\n');
}

fn charts_section(s: &mut String, charts: &[ChartFile]) {
    if charts.is_empty() {
        return;
    }
    let _ = writeln!(s, "## Charts\n");
    // Per-cell charts are linked from their tables (cells, partition skew), not listed here.
    let per_cell = |f: &&ChartFile| {
        f.kind == ChartKind::Timeseries || (f.kind == ChartKind::Partitions && f.cell.is_some())
    };
    for f in charts.iter().filter(|f| !per_cell(f)) {
        let _ = writeln!(s, "- [{}]({})", f.title, link(&f.path));
    }
    let series: Vec<String> = charts
        .iter()
        .filter(|f| f.kind == ChartKind::Timeseries)
        .map(|f| {
            let name = f
                .path
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("[{name}]({})", link(&f.path))
        })
        .collect();
    if !series.is_empty() {
        let _ = writeln!(s, "- Per-cell time series: {}", series.join(", "));
    }
    s.push('\n');
}

/// A few lines for the terminal at the end of a run: where the reports are, the best cells,
/// the flagged ones.
pub fn terminal(model: &RunModel, run_dir: &Path, charts: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "summary: {}; {charts} chart{} in {}",
        run_dir.join(crate::rundir::SUMMARY).display(),
        plural(charts),
        run_dir.join(crate::rundir::CHARTS).display()
    );
    let n = model.cells.len();
    let flagged: Vec<&CellAgg> = model.flagged().collect();
    if n == 0 {
        let _ = writeln!(s, "no cell finished");
        return s;
    }
    if flagged.len() == n {
        let _ = writeln!(
            s,
            "best: none named, every cell is flagged (kbench's own limits affected the figures)"
        );
    } else {
        let best: Vec<String> = OBJECTIVES
            .iter()
            .filter_map(|(m, name)| {
                model
                    .best(*m)
                    .map(|c| format!("{name}: {} {}", c.id, value_text(c, *m)))
            })
            .collect();
        let _ = writeln!(
            s,
            "best of {} unflagged cell{}: {}",
            n - flagged.len(),
            plural(n - flagged.len()),
            best.join("; ")
        );
    }
    if !flagged.is_empty() {
        let mut counts: Vec<(String, usize)> = Vec::new();
        for c in &flagged {
            for f in &c.flags {
                match counts.iter_mut().find(|(k, _)| k == f) {
                    Some((_, k)) => *k += 1,
                    None => counts.push((f.clone(), 1)),
                }
            }
        }
        let kinds: Vec<String> = counts.iter().map(|(f, k)| format!("{f} x{k}")).collect();
        let mut names: Vec<&str> = flagged.iter().take(8).map(|c| c.id.as_str()).collect();
        let more = flagged.len().saturating_sub(names.len());
        let more = if more > 0 {
            names.push("");
            format!("and {more} more")
        } else {
            String::new()
        };
        let names = names.join(", ");
        let _ = writeln!(
            s,
            "flagged: {} of {n} cells ({}): {}{more}",
            flagged.len(),
            kinds.join(", "),
            names
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_show_only_when_repeats_disagree() {
        assert_eq!(with_spread(Stat::of(&[1200.0]), rate), "1200");
        assert_eq!(
            with_spread(Stat::of(&[1100.0, 1300.0, 1200.0]), rate),
            "1200 (1100..1300)"
        );
        assert_eq!(with_spread(Stat::of(&[28_910.0]), ms), "28.91");
        assert_eq!(mb(0.0742), "0.074");
        assert_eq!(mb(12.345), "12.35");
    }

    #[test]
    fn an_empty_run_says_so() {
        let model = RunModel::from_rows(Default::default(), &[]);
        let md = markdown(&model, &[], &[]);
        assert!(md.contains("No cell finished."), "{md}");
        let t = terminal(&model, Path::new("r"), 0);
        assert!(t.contains("no cell finished"), "{t}");
    }
}
