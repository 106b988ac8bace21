//! `kbench compare BASELINE CURRENT`: match two runs' cells by id, judge each metric against a
//! threshold with the noise rule of [`stats`], print a table, write `compare.md` and
//! `compare.png`, and exit 0 (within thresholds), 1 (a regression, missing data or a flagged
//! cell) or 2 (unusable input or arguments).
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

use clap::Args;

use self::model::{CompareRow, Options, RunInfo};
use self::thresholds::{check_unique, default_thresholds, parse_threshold, Threshold};
use crate::error::UsageError;

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

Exit codes: 0 within thresholds; 1 a regression, a thresholded metric without data in the \
current run, or a flagged cell; 2 unusable input (missing or corrupt manifest.json or \
results.csv, different scenarios, no cells in common) or bad arguments.";

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Baseline run directory (reports/<scenario>-<timestamp>/, with manifest.json and
    /// results.csv).
    pub baseline: PathBuf,
    /// Current run directory, compared against the baseline.
    pub current: PathBuf,
    /// Regression threshold METRIC=±PCT% (repeatable), e.g. throughput=-10% or p99=+20%.
    #[arg(long = "threshold", value_name = "METRIC=±PCT%", value_parser = parse_threshold)]
    pub thresholds: Vec<Threshold>,
    /// Compare cells flagged in results.csv anyway (marked "(flagged)") instead of failing
    /// them as not comparable.
    #[arg(long)]
    pub allow_flagged: bool,
    /// Also show every other metric, without a verdict.
    #[arg(long)]
    pub all_metrics: bool,
    /// Where compare.md and compare.png go [default: the CURRENT run directory].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Cells per chart panel; with more, the worst are shown.
    #[arg(long, default_value_t = chart::DEFAULT_MAX_CELLS, value_name = "N")]
    pub chart_cells: usize,
}

/// A run directory as read from disk.
pub struct Run {
    pub info: RunInfo,
    pub rows: Vec<CompareRow>,
}

/// Why a run directory cannot be used; always names the file.
#[derive(Debug)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// Read `manifest.json` (run id, scenario name) and `results.csv` of a run directory. A path
/// to a `results.csv` file is taken as its directory.
pub fn load_run(path: &Path) -> Result<Run, InputError> {
    let dir = if path.is_file() {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    } else {
        path.to_path_buf()
    };
    if !dir.is_dir() {
        return Err(InputError(format!(
            "{}: no such run directory",
            dir.display()
        )));
    }
    let mpath = dir.join("manifest.json");
    let bytes = std::fs::read(&mpath)
        .map_err(|e| InputError(format!("{}: cannot read: {e}", mpath.display())))?;
    let manifest: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| InputError(format!("{}: not valid JSON: {e}", mpath.display())))?;
    let scenario = manifest["scenario"]["name"]
        .as_str()
        .ok_or_else(|| InputError(format!("{}: no scenario.name", mpath.display())))?
        .to_string();
    let run_id = manifest["run_id"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| {
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    let rpath = dir.join("results.csv");
    if !rpath.is_file() {
        return Err(InputError(format!(
            "{}: no such file (an unfinished or empty run?)",
            rpath.display()
        )));
    }
    let rows: Vec<CompareRow> = crate::report::csv::read_csv(&rpath).map_err(InputError)?;
    if rows.is_empty() {
        return Err(InputError(format!("{}: no cells", rpath.display())));
    }
    Ok(Run {
        info: RunInfo {
            dir: dir.display().to_string(),
            run_id,
            scenario,
        },
        rows,
    })
}

/// `kbench compare`. Input errors are reported on stderr and give exit code 2 here, so that
/// CI can tell "could not compare" (2) from "regressed" (1).
pub fn run_command(args: CompareArgs, out: &mut impl Write) -> anyhow::Result<i32> {
    // Bad input is a usage error (exit 2), mapped with every other command's in `crate::error`.
    compare_dirs(&args, out).map_err(|e| UsageError(format!("compare: {e}")).into())
}

fn compare_dirs(args: &CompareArgs, out: &mut impl Write) -> Result<i32, InputError> {
    let thresholds = if args.thresholds.is_empty() {
        default_thresholds()
    } else {
        args.thresholds.clone()
    };
    check_unique(&thresholds).map_err(InputError)?;
    let base = load_run(&args.baseline)?;
    let cur = load_run(&args.current)?;
    if base.info.scenario != cur.info.scenario {
        return Err(InputError(format!(
            "different scenarios: baseline {} is \"{}\", current {} is \"{}\" (scenario.name in manifest.json)",
            base.info.dir, base.info.scenario, cur.info.dir, cur.info.scenario
        )));
    }
    let c = model::compare(
        base.info,
        &base.rows,
        cur.info,
        &cur.rows,
        Options {
            thresholds,
            all_metrics: args.all_metrics,
            allow_flagged: args.allow_flagged,
        },
    );
    if c.cells.is_empty() {
        return Err(InputError(format!(
            "no cells in common: baseline {} has {}; current {} has {}",
            c.baseline.dir,
            c.only_baseline.join(", "),
            c.current.dir,
            c.only_current.join(", ")
        )));
    }
    let io = |e: std::io::Error| InputError(format!("writing the report: {e}"));
    text::print(&c, out).map_err(io)?;
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(&c.current.dir));
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
    crate::report::write_atomic(&md, markdown::render(&c, chart_name).as_bytes())
        .map_err(|e| InputError(format!("{}: {e}", md.display())))?;
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
