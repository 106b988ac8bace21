//! `compare.md`: the comparison for people and for a CI job summary. Pure.

use std::fmt::Write;

use super::model::Comparison;
use super::text::{delivery_lines, notes, table_rows, HEADER};
use super::thresholds::Metric;

/// How verdicts are reached; also in docs/nightly-ci.md.
pub const RULES: &str = "\
- Cells are matched by id (the `cell` column of `results.csv`). Each value is the **median** \
over the cell's repeats (`kbench run --repeat N`); `[min..max]` is their range.
- **delta** is the change of the current median against the baseline median, in percent of the \
baseline. A threshold's sign says which change is bad: `throughput=-10%` fails a fall of more \
than 10%, `p99=+20%` a rise of more than 20%.
- **Noise rule**: a delta beyond its threshold is `REGRESSED` only when each run's median lies \
outside the other run's range on the bad side: the current median is worse than every baseline \
repeat, and the baseline median better than every current repeat. Otherwise the runs vary by \
that much on their own and the verdict is `noise` (does not fail). With a single run on both \
sides the ranges are points, so this is the plain threshold test.
- `improved`: beyond the threshold in the good direction, and apart in that direction (never \
fails).
- A cell flagged in `results.csv` (behind-schedule, queue-full, drain-timeout, interrupted) in \
either run measured the load generator's limits as much as the cluster: it is `NOT \
COMPARABLE` and fails the comparison, unless `--allow-flagged` (then it is compared and marked \
`(flagged)`).
- A latency of 0 means no samples: `n/a` if the baseline has none, `NO DATA` (fails) if only \
the current run has none.
- Lost, duplicated, reordered or failed messages in a cell whose baseline had none fail the \
comparison, whatever the thresholds and flags.
";

fn esc(s: &str) -> String {
    s.replace('|', "\\|")
}

fn table(out: &mut String, rows: &[[String; 7]]) {
    let _ = writeln!(out, "| {} |", HEADER.join(" | "));
    let _ = writeln!(out, "|---|---|--:|--:|--:|--:|---|");
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let s = esc(s);
                match i {
                    0 => format!("`{s}`"),
                    6 if s == "REGRESSED" || s == "NOT COMPARABLE" || s == "NO DATA" => {
                        format!("**{s}**")
                    }
                    _ => s,
                }
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

/// The Markdown report. `chart` is the PNG's file name relative to compare.md, if one was
/// written.
pub fn render(c: &Comparison, chart: Option<&str>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# kbench compare: {}\n",
        esc(&c.current.info.scenario.name)
    );
    let head = c.headline();
    let _ = writeln!(s, "**{}**\n", head);
    let _ = writeln!(s, "| | run | directory |\n|---|---|---|");
    let _ = writeln!(
        s,
        "| baseline | `{}` | `{}` |",
        esc(&c.baseline.info.run_id),
        esc(&c.baseline.dir.display().to_string())
    );
    let _ = writeln!(
        s,
        "| current | `{}` | `{}` |\n",
        esc(&c.current.info.run_id),
        esc(&c.current.dir.display().to_string())
    );
    let th: Vec<String> = c
        .options
        .thresholds
        .iter()
        .map(|t| format!("`{t}` ({})", t.metric.label()))
        .collect();
    let _ = writeln!(s, "Thresholds: {}.\n", th.join(", "));

    let rows = table_rows(c);
    let failing: Vec<[String; 7]> = c
        .lines()
        .zip(rows.iter())
        .filter(|((cell, l), _)| {
            l.threshold.is_some()
                && (l.outcome.verdict.fails() || (cell.flagged() && !c.options.allow_flagged))
        })
        .map(|(_, r)| r.clone())
        .collect();
    let delivery = delivery_lines(c);
    if !delivery.is_empty() {
        let _ = writeln!(s, "## Delivery\n");
        for d in delivery {
            let _ = writeln!(s, "- **{}**", esc(&d));
        }
        s.push('\n');
    }
    if !failing.is_empty() {
        let _ = writeln!(s, "## Failures\n");
        table(&mut s, &failing);
        s.push('\n');
    }
    let _ = writeln!(s, "## All cells\n");
    table(&mut s, &rows);
    s.push('\n');
    let notes = notes(c);
    if !notes.is_empty() {
        let _ = writeln!(s, "## Notes\n");
        for n in notes {
            let _ = writeln!(s, "- {}", esc(&n));
        }
        s.push('\n');
    }
    if let Some(chart) = chart {
        let _ = writeln!(
            s,
            "Chart: [{chart}]({chart}) (baseline beside current per cell and metric; \
             whiskers span the repeats).\n"
        );
    }
    let _ = writeln!(s, "## How the verdicts are reached\n\n{RULES}");
    let units: Vec<String> = c
        .metrics
        .iter()
        .map(|m: &Metric| format!("`{}` = {} ({})", m.name(), m.label(), m.unit()))
        .collect();
    let _ = writeln!(s, "Metrics: {}.", units.join(", "));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::model::tests::{cmp, row};

    #[test]
    fn failures_come_first_and_the_rule_is_explained() {
        let b = [row("a", 1, 1000.0, 10.0), row("b|c", 1, 1000.0, 10.0)];
        let c = [row("a", 1, 1000.0, 15.0), row("b|c", 1, 1000.0, 10.0)];
        let md = render(&cmp(&b, &c, false), Some("compare.png"));
        assert!(md.contains("**FAIL: 1 regressed"), "{md}");
        let failures = md.find("## Failures").unwrap();
        let all = md.find("## All cells").unwrap();
        assert!(failures < all);
        assert!(md[failures..all].contains("| `a` | p99 |"), "{md}");
        assert!(md[failures..all].contains("**REGRESSED**"), "{md}");
        assert!(md.contains("`b\\|c`"), "{md}");
        assert!(md.contains("Noise rule"));
        assert!(md.contains("[compare.png](compare.png)"));
    }
}
