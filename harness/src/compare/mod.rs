//! `kbench compare BASELINE CURRENT`: match two runs' cells by id, judge each metric against a
//! threshold with the noise rule of [`stats`], print a table, write `compare.md` and
//! `compare.png`, and exit 0 (within thresholds), 1 (a regression, missing data, a flagged
//! cell, or lost / duplicated / reordered / failed messages where the baseline had none) or 2 (unusable input or arguments).
//!
//! Pure parts: [`thresholds`] (metrics, `--threshold` syntax), [`stats`] (medians, ranges,
//! verdicts), [`model`] (matching cells), [`text`] and [`markdown`] (rendering to strings).
//! This file and [`chart`] do the I/O.
pub mod chart;
pub mod markdown;
pub mod model;
pub mod stats;
pub mod text;
pub mod thresholds;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

pub use self::chart::DEFAULT_MAX_CELLS;
use self::model::Options;
use self::thresholds::{check_unique, default_thresholds, Metric};
pub use self::thresholds::{parse_threshold, Threshold};
use crate::error::UsageError;
use crate::rundir::read::{self, RunData, RunDirError};

/// Shown under `kbench compare --help`.
pub const AFTER_HELP: &str = "\
Thresholds (METRIC=±PCT%): the sign says which change is a regression: throughput=-10% fails \
a fall of more than 10%, p99=+20% a rise of more than 20%. A number without a sign takes the \
metric's bad direction. Defaults, used when no --threshold is given: throughput=-10%, p99=+20%. \
Giving any --threshold replaces the defaults.

Metrics: throughput (acked msg/s), mb (acked MB/s), consumed (consumed msg/s); publish \
latency p50, p90, p99, p999, p9999; end-to-end latency e2e_p50, e2e_p90, e2e_p99, e2e_p999, \
e2e_p9999 (p99.9 and results.csv column names are accepted too).

Noise: values are medians over a cell's repeats (kbench run --repeat N). A change beyond the \
threshold is a regression only if each run's median lies outside the other run's range \
(min..max over repeats) on the bad side; otherwise it is reported as noise. With single runs \
this is the plain threshold.

Flagged cells (behind-schedule, queue-full, drain-timeout, interrupted) in either run are not \
comparable and fail the comparison, unless --allow-flagged.

Delivery: lost, duplicated, reordered or failed messages in a cell whose baseline had none \
fail the comparison, whatever the thresholds (and --allow-flagged).

Exit codes: 0 within thresholds; 1 a regression, a thresholded metric without data in the \
current run, a flagged cell, or delivery counts rising from 0; 2 unusable input (missing or corrupt manifest.json or \
results.csv, different scenarios, no cells in common) or bad arguments.";

/// What to compare, and how.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    pub baseline: PathBuf,
    pub current: PathBuf,
    /// Empty: the defaults ([`default_thresholds`]).
    pub thresholds: Vec<Threshold>,
    pub allow_flagged: bool,
    pub all_metrics: bool,
    /// Where compare.md and compare.png go; `None`: the current run directory.
    pub out: Option<PathBuf>,
    /// Cells per chart panel.
    pub chart_cells: usize,
}

/// Read `manifest.json` and `results.csv` of a run directory with the run-directory reader; a
/// path to a `results.csv` file is taken as its directory. On top of what that reader rejects,
/// a run without a scenario name, without cells or without a metric column cannot be compared.
fn load_run(path: &Path) -> anyhow::Result<RunData> {
    let dir = if path.is_file() {
        // The parent of a bare "results.csv" is "": the working directory.
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    } else {
        path
    };
    let mut run = read::load_results(dir)?;
    if run.info.scenario.name.is_empty() {
        let manifest = dir.join("manifest.json");
        return Err(UsageError(format!("{}: no scenario.name", manifest.display())).into());
    }
    if run.info.run_id.is_empty() {
        // The directory is named after the run; a manifest without run_id still has a name.
        run.info.run_id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    let results = dir.join("results.csv");
    if run.results.is_empty() {
        return Err(UsageError(format!("{}: no cells", results.display())).into());
    }
    // The reader fills a column an older file lacks with zeros, and a zero rate is a value: a
    // missing metric column must not pass for a throughput of 0. (Every kbench wrote them all.)
    if let Some(m) = Metric::ALL
        .into_iter()
        .find(|m| run.results_missing.contains(&m.column()))
    {
        let e = format!("{}: no column {}", results.display(), m.column());
        return Err(UsageError(e).into());
    }
    Ok(run)
}

/// `kbench compare`. Unusable input is an error that gives exit code 2 (a
/// [`RunDirError`] for a run directory that cannot be read, a [`UsageError`] for the rest,
/// both mapped in `crate::error`), so that CI can tell "could not compare" (2) from
/// "regressed" (1).
pub fn run_command(args: CompareOptions, out: &mut impl Write) -> anyhow::Result<i32> {
    compare_dirs(&args, out).context("compare")
}

fn compare_dirs(args: &CompareOptions, out: &mut impl Write) -> anyhow::Result<i32> {
    let thresholds = if args.thresholds.is_empty() {
        default_thresholds()
    } else {
        args.thresholds.clone()
    };
    check_unique(&thresholds).map_err(UsageError)?;
    let base = load_run(&args.baseline)?;
    let cur = load_run(&args.current)?;
    let (b, c) = (&base.info.scenario.name, &cur.info.scenario.name);
    if b != c {
        return Err(UsageError(format!(
            "different scenarios: baseline {} is \"{b}\", current {} is \"{c}\" (scenario.name in manifest.json)",
            base.dir.display(),
            cur.dir.display(),
        ))
        .into());
    }
    let c = model::compare(
        base,
        cur,
        Options {
            thresholds,
            all_metrics: args.all_metrics,
            allow_flagged: args.allow_flagged,
        },
    );
    if c.cells.is_empty() {
        return Err(UsageError(format!(
            "no cells in common: baseline {} has {}; current {} has {}",
            c.baseline.dir.display(),
            c.only_baseline.join(", "),
            c.current.dir.display(),
            c.only_current.join(", ")
        ))
        .into());
    }
    let io = |e: std::io::Error| UsageError(format!("writing the report: {e}"));
    text::print(&c, out).map_err(io)?;
    let out_dir = args.out.clone().unwrap_or_else(|| c.current.dir.clone());
    let png = out_dir.join("compare.png");
    let chart_name = match chart::render(&c, &png, args.chart_cells) {
        Ok(()) => Some("compare.png"),
        Err(e) => {
            // The verdict does not depend on the picture.
            eprintln!("kbench: compare: {}: chart not written: {e}", png.display());
            None
        }
    };
    let md = out_dir.join("compare.md");
    crate::rundir::write_atomic(&md, markdown::render(&c, chart_name).as_bytes()).map_err(
        |source| RunDirError::Io {
            path: md.clone(),
            source,
        },
    )?;
    writeln!(
        out,
        "wrote {}{}",
        md.display(),
        if chart_name.is_some() {
            format!(", {}", png.display())
        } else {
            String::new()
        }
    )
    .map_err(io)?;
    Ok(c.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rundir::rows::{to_csv, ResultRow};

    fn write_run(dir: &Path, manifest: &str, results: &[u8]) {
        std::fs::write(dir.join("manifest.json"), manifest).unwrap();
        std::fs::write(dir.join("results.csv"), results).unwrap();
    }

    const MANIFEST: &str = r#"{"scenario": {"name": "s"}}"#;

    #[test]
    fn a_run_needs_no_timeseries_and_is_named_after_its_directory() {
        let t = tempfile::tempdir().unwrap();
        let row = ResultRow {
            cell: "a".into(),
            ..ResultRow::default()
        };
        write_run(t.path(), MANIFEST, &to_csv(&[row]).unwrap());
        let run = load_run(&t.path().join("results.csv")).unwrap();
        assert_eq!(run.results.len(), 1);
        let name = t.path().file_name().unwrap().to_string_lossy();
        assert_eq!(run.info.run_id, name);
    }

    #[test]
    fn unusable_runs_are_bad_input_naming_the_file() {
        let t = tempfile::tempdir().unwrap();
        let fails = |needle: &str| {
            let e = load_run(t.path()).unwrap_err();
            assert_eq!(crate::error::exit_code(&e), 2, "{e:#}");
            assert!(format!("{e:#}").contains(needle), "{e:#}");
        };
        // A missing metric column is not a throughput of 0.
        write_run(t.path(), MANIFEST, b"cell,acked_per_sec\na,100\n");
        fails("results.csv: no column acked_mb_per_sec");
        write_run(t.path(), MANIFEST, b"cell\n");
        fails("results.csv: no cells");
        write_run(t.path(), "{}", b"cell\na\n");
        fails("manifest.json: no scenario.name");
        write_run(t.path(), "{", b"cell\na\n");
        fails("manifest.json: not a kbench manifest: not valid JSON");
    }
}
