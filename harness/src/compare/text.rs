//! The table `kbench compare` prints, and the cell texts shared with `compare.md`. Pure.

use std::io::{self, Write};

use super::model::{verdict_text, Comparison};
use super::stats::Spread;
use super::thresholds::{Metric, Threshold};

/// "12.34 ms", or with repeats "12.34 ms [11.90..13.00]" (median [min..max]).
pub fn spread_text(m: Metric, s: Option<&Spread>) -> String {
    match s {
        None => "no data".into(),
        Some(s) if s.n == 1 => m.format(s.median),
        Some(s) => format!(
            "{} [{}..{}]",
            m.format(s.median),
            m.number(s.min),
            m.number(s.max)
        ),
    }
}

pub fn delta_text(d: Option<f64>) -> String {
    match d {
        None => "-".into(),
        Some(d) if d.is_infinite() => {
            if d > 0.0 {
                "+inf%".into()
            } else {
                "-inf%".into()
            }
        }
        Some(d) => format!("{d:+.1}%"),
    }
}

pub fn threshold_text(t: Option<&Threshold>) -> String {
    match t {
        None => "-".into(),
        Some(t) => {
            let s = t.to_string();
            s.split_once('=').map(|(_, v)| v.to_string()).unwrap_or(s)
        }
    }
}

/// Rows of strings for the table: cell, metric, baseline, current, delta, threshold, verdict.
pub fn table_rows(c: &Comparison) -> Vec<[String; 7]> {
    c.lines()
        .map(|(cell, l)| {
            [
                cell.cell.clone(),
                l.metric.name().to_string(),
                spread_text(l.metric, l.baseline.as_ref()),
                spread_text(l.metric, l.current.as_ref()),
                delta_text(l.outcome.delta_pct),
                threshold_text(l.threshold.as_ref()),
                verdict_text(cell, l, c.options.allow_flagged),
            ]
        })
        .collect()
}

pub const HEADER: [&str; 7] = [
    "cell",
    "metric",
    "baseline",
    "current",
    "delta",
    "threshold",
    "verdict",
];

/// One line per delivery counter that rose from zero (each fails the comparison).
pub fn delivery_lines(c: &Comparison) -> Vec<String> {
    c.cells
        .iter()
        .flat_map(|cell| {
            cell.breaches.iter().map(move |b| {
                format!(
                    "DELIVERY FAILED: cell {}: {} {} message{} (baseline 0); this fails the comparison whatever the thresholds",
                    cell.cell,
                    b.counter,
                    b.current,
                    if b.current == 1 { "" } else { "s" }
                )
            })
        })
        .collect()
}

/// The notes below the table: flagged cells, settings that differ, cells in only one run.
pub fn notes(c: &Comparison) -> Vec<String> {
    let mut v = Vec::new();
    for cell in c.cells.iter().filter(|x| x.flagged()) {
        v.push(if c.options.allow_flagged {
            format!(
                "flagged cell {} ({}): compared anyway (--allow-flagged); its numbers are the load generator's limits as much as the cluster's",
                cell.cell,
                cell.flag_text()
            )
        } else {
            format!(
                "not comparable: cell {} is flagged ({}); this fails the comparison (--allow-flagged compares it anyway)",
                cell.cell,
                cell.flag_text()
            )
        });
    }
    for cell in &c.cells {
        if !cell.settings_diff.is_empty() {
            let d: Vec<String> = cell
                .settings_diff
                .iter()
                .map(|(k, a, b)| format!("{k} {a} -> {b}"))
                .collect();
            v.push(format!(
                "settings differ in cell {}: {}",
                cell.cell,
                d.join(", ")
            ));
        }
    }
    if !c.only_baseline.is_empty() {
        v.push(format!(
            "only in baseline (not compared): {}",
            c.only_baseline.join(", ")
        ));
    }
    if !c.only_current.is_empty() {
        v.push(format!(
            "only in current (not compared): {}",
            c.only_current.join(", ")
        ));
    }
    v
}

/// The whole stdout report.
pub fn print(c: &Comparison, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "compare {}: baseline {} vs current {}",
        c.current.info.scenario.name, c.baseline.info.run_id, c.current.info.run_id
    )?;
    let rows = table_rows(c);
    let mut w = HEADER.map(str::len);
    for r in &rows {
        for (i, s) in r.iter().enumerate() {
            w[i] = w[i].max(s.chars().count());
        }
    }
    let line = |cols: [&str; 7]| -> String {
        let mut s = String::new();
        for (i, col) in cols.iter().enumerate() {
            let pad = w[i].saturating_sub(col.chars().count());
            // Text columns left-aligned, numbers right-aligned.
            if (2..=5).contains(&i) {
                s.push_str(&" ".repeat(pad));
                s.push_str(col);
            } else {
                s.push_str(col);
                if i + 1 < cols.len() {
                    s.push_str(&" ".repeat(pad));
                }
            }
            if i + 1 < cols.len() {
                s.push_str("  ");
            }
        }
        s
    };
    writeln!(out, "{}", line(HEADER))?;
    for r in &rows {
        writeln!(out, "{}", line(r.each_ref().map(String::as_str)))?;
    }
    for n in delivery_lines(c).into_iter().chain(notes(c)) {
        writeln!(out, "{n}")?;
    }
    writeln!(out, "{}", c.headline())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::model::tests::{cmp, row};

    #[test]
    fn texts() {
        let s = Spread::of(&[11_900.0, 12_340.0, 13_000.0]).unwrap();
        assert_eq!(
            spread_text(Metric::P99, Some(&s)),
            "12.34 ms [11.90..13.00]"
        );
        assert_eq!(
            spread_text(Metric::Throughput, Spread::of(&[1999.6]).as_ref()),
            "2000 msg/s"
        );
        assert_eq!(spread_text(Metric::P99, None), "no data");
        assert_eq!(delta_text(Some(-12.345)), "-12.3%");
        assert_eq!(delta_text(Some(f64::INFINITY)), "+inf%");
        assert_eq!(
            threshold_text(Some(&Threshold::new(Metric::P99, 20.0))),
            "+20%"
        );
    }

    #[test]
    fn the_table_names_the_cell_metric_and_verdict() {
        let x = cmp(
            &[row("acks-1", 1, 1000.0, 10.0)],
            &[row("acks-1", 1, 700.0, 10.0)],
            false,
        );
        let mut out = Vec::new();
        print(&x, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let line = out.lines().find(|l| l.contains("throughput")).expect(&out);
        assert!(
            line.starts_with("acks-1") && line.contains("-30.0%") && line.contains("REGRESSED"),
            "{out}"
        );
        assert!(out.contains("FAIL: 1 regressed"), "{out}");
    }
}
