//! Report files: the only code that writes into a run directory. Every file is written
//! atomically (a temporary file renamed into place), so a crash or a `kill -9` never leaves a
//! half-written CSV; results are rewritten after each cell, so finished cells are on disk
//! before the next one starts.
pub mod chart;
pub mod model;
pub mod summary;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::rundir::read;
pub use crate::rundir::read::RunDirError;

/// What [`render_run`] wrote.
#[derive(Debug)]
pub struct RenderOutcome {
    /// `RUN_DIR/summary.md`.
    pub summary: PathBuf,
    /// Every chart written, paths relative to the run directory.
    pub charts: Vec<chart::ChartFile>,
    /// Charts that could not be drawn, and notes about the input (e.g. columns an older
    /// kbench did not write). Not fatal: everything else was written.
    pub warnings: Vec<String>,
    /// A few lines for the end of `kbench run`: where the reports are, best and flagged cells.
    pub terminal: String,
}

/// Render every chart (`RUN_DIR/charts/`) and `summary.md` from a run directory's files alone:
/// `kbench report`, and the end of `kbench run`. A missing or corrupt input file is an error
/// naming it; a chart that fails to draw is a warning and the rest are still written.
pub fn render_run(run_dir: &Path) -> Result<RenderOutcome, RunDirError> {
    use crate::metrics::cell::LatencyKind;
    use chart::{cells, partitions, spectrum, sweep, timeseries, ChartFile, ChartKind, Rendered};

    let data = read::load(run_dir)?;
    let model = model::RunModel::build(&data);
    // Read every interval log first, so a bad one fails the command before any chart changes.
    let mut spectra = Vec::new();
    for kind in [LatencyKind::Publish, LatencyKind::EndToEnd] {
        let mut curves = Vec::new();
        for c in &model.cells {
            let h = read::measured_latency(run_dir, &c.id, &c.repeats, kind)?;
            if !h.is_empty() {
                curves.push(spectrum::spectrum_of(&c.id, &c.label(), c.flagged(), &h));
            }
        }
        spectra.push((kind, curves));
    }

    let mut out = Rendered::default();
    if !model.cells.is_empty() {
        let chart = |name: &str, title: &str| ChartFile {
            path: PathBuf::from(crate::rundir::CHARTS).join(name),
            title: title.to_string(),
            kind: ChartKind::Cells,
            cell: None,
        };
        out.add(
            run_dir,
            chart("throughput-by-cell.png", "Acked throughput per cell"),
            |p| cells::throughput(&model, p),
        );
        out.add(
            run_dir,
            chart("latency-by-cell.png", "Latency per cell"),
            |p| cells::latency(&model, p),
        );
        sweep::render(&model, run_dir, &mut out);
        partitions::render(&model, run_dir, &mut out);
        for (kind, curves) in &spectra {
            spectrum::render(&model, *kind, curves, run_dir, &mut out);
        }
        let flags_of = |cell: &str, repeat: u32| {
            data.results
                .iter()
                .find(|r| r.cell == cell && r.repeat == repeat)
                .map(|r| r.flags.clone())
                .unwrap_or_default()
        };
        let faults = |cell: &str, repeat: u32| read::fault_marks(run_dir, cell, repeat);
        timeseries::render(
            &model,
            &data.timeseries,
            &flags_of,
            &faults,
            run_dir,
            &mut out,
        );
    }

    let mut warnings = data.notes.clone();
    warnings.extend(out.failed.iter().cloned());
    let md = summary::markdown(&model, &out.files, &warnings);
    let summary_path = run_dir.join(crate::rundir::SUMMARY);
    crate::rundir::write_atomic(&summary_path, md.as_bytes()).map_err(|e| RunDirError::Io {
        path: summary_path.clone(),
        source: e,
    })?;
    let terminal = summary::terminal(&model, run_dir, out.files.len());
    Ok(RenderOutcome {
        summary: summary_path,
        charts: out.files,
        warnings,
        terminal,
    })
}

/// `kbench report RUN_DIR`. Exit codes: 0 done; 1 some chart could not be drawn (the rest
/// were written); 2 the run directory could not be read (the message names the file).
pub fn report_command(run_dir: &Path, out: &mut impl Write) -> anyhow::Result<i32> {
    match render_run(run_dir) {
        Ok(o) => {
            for w in &o.warnings {
                writeln!(out, "warning: {w}")?;
            }
            write!(out, "{}", o.terminal)?;
            let failed = o.warnings.iter().any(|w| w.contains(": not drawn: "));
            Ok(if failed { 1 } else { 0 })
        }
        // A bad run directory is a usage error (exit 2): see `crate::error`.
        Err(e) => Err(e.into()),
    }
}
