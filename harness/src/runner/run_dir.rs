//! The run directory: where each cell's files go, written as each cell finishes.

use super::cell::CellOutcome;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::report::csv::{ResultRow, TimeseriesRow};
use crate::report::{self};

/// Where one run of a cell keeps its own files: `cells/<id>/` for the first pass,
/// `cells/<id>/repeat-<r>/` for later passes.
pub struct CellFiles {
    pub dir: PathBuf,
    /// Appended to the topic name: empty for the first pass, `-r<r>` for later ones.
    pub suffix: String,
}

impl CellFiles {
    pub fn new(run_dir: &Path, cell_id: &str, repeat: u32) -> CellFiles {
        let base = run_dir.join("cells").join(cell_id);
        if repeat <= 1 {
            CellFiles {
                dir: base,
                suffix: String::new(),
            }
        } else {
            CellFiles {
                dir: base.join(format!("repeat-{repeat}")),
                suffix: format!("-r{repeat}"),
            }
        }
    }
}

pub(super) fn write_cell_files(
    run_dir: &Path,
    files: &CellFiles,
    outcome: &CellOutcome,
    rows: &[ResultRow],
    series: &[TimeseriesRow],
) -> anyhow::Result<()> {
    use crate::metrics::cell::LatencyKind;
    report::write_atomic(&run_dir.join("results.csv"), &report::csv::to_csv(rows)?)?;
    report::write_atomic(
        &run_dir.join("timeseries.csv"),
        &report::csv::to_csv(series)?,
    )?;
    let dir = &files.dir;
    for kind in [LatencyKind::Publish, LatencyKind::EndToEnd] {
        let log = report::hlog::render(&outcome.metrics.intervals, kind, outcome.start_unix);
        report::write_atomic(&dir.join(format!("{}.hlog", kind.name())), &log)?;
    }
    let members: Vec<_> = outcome
        .members
        .iter()
        .map(|m| serde_json::json!({"group": m.group, "member": m.member, "partitions": m.partitions, "consumed": m.consumed, "idle": m.idle()}))
        .collect();
    report::write_atomic(
        &dir.join("members.json"),
        &serde_json::to_vec_pretty(&members)?,
    )?;
    Ok(())
}

/// Record a topic kbench is about to create, so cleanup can prove it is ours.
pub(super) fn register_topic(run_dir: &Path, topic: &str) -> anyhow::Result<()> {
    use std::fs::OpenOptions;
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(run_dir.join("topics.txt"))?;
    writeln!(f, "{topic}")?;
    f.sync_all()?;
    Ok(())
}
