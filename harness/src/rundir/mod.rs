//! The run directory (`reports/<run-id>/`): the one owner of its layout. Every path below is
//! named here, and every file has one writer (and one reader where kbench reads it back);
//! `reports/README.md` is the public description of the same layout.
//!
//! ```text
//! manifest.json          exactly what ran (typed: [`manifest::Manifest`])
//! results.csv            one row per cell run (ResultRow), rewritten whole after each cell
//! timeseries.csv         one row per interval per cell run (TimeseriesRow)
//! topics.txt             every topic kbench created, fsynced before it is written to
//! summary.md, charts/    rendered from the files above (report::render_run)
//! cells/<id>/            publish.hlog, e2e.hlog, members.json, faults.json, rebalances.json,
//!                        delivery.json
//!                        (the delivery evidence, `delivery.rs`), librdkafka/<client>.jsonl
//!                        (librdkafka's statistics, when asked) of pass 1;
//!   repeat-<r>/          the same for later passes (`--repeat`); probe-<n>/ for find-max
//! findmax.csv, findmax-summary.csv                    find-max's probes and answers
//! versus.csv, ratios.csv, cpu-threads.csv, versus.md, versus.png, raw/   kbench versus
//! ```

pub mod delivery;
pub mod hlog;
pub mod manifest;
pub mod read;
pub mod rows;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};

use crate::error::UsageError;

use crate::cluster::admin::TOPIC_PREFIX;
use crate::fault::FaultOutcome;
use crate::fleet::MemberReport;
use crate::metrics::cell::{Flag, IntervalRecord};

use crate::scenario::Scenario;
use rows::{ResultRow, TimeseriesRow};

pub const MANIFEST: &str = "manifest.json";
pub const RESULTS: &str = "results.csv";
pub const TIMESERIES: &str = "timeseries.csv";
pub const TOPICS: &str = "topics.txt";
pub const SUMMARY: &str = "summary.md";
pub const CHARTS: &str = "charts";
pub const FINDMAX: &str = "findmax.csv";
pub const FINDMAX_SUMMARY: &str = "findmax-summary.csv";
pub const VERSUS: &str = "versus.csv";
pub const VERSUS_RATIOS: &str = "ratios.csv";
pub const VERSUS_THREADS: &str = "cpu-threads.csv";
pub const VERSUS_MD: &str = "versus.md";
pub const VERSUS_PNG: &str = "versus.png";
const CELLS: &str = "cells";
pub const MEMBERS: &str = "members.json";
/// Per group, every partition pause during the load (`fleet::GroupPauses`).
pub const REBALANCES: &str = "rebalances.json";
pub const FAULTS: &str = "faults.json";
/// librdkafka's statistics of each client, `<client.id>.jsonl` (when a scenario asks).
const LIBRDKAFKA: &str = "librdkafka";

/// Where one run of a cell keeps its own files: `cells/<id>/` for the first pass,
/// `cells/<id>/repeat-<r>/` for later passes.
pub struct CellFiles {
    pub dir: PathBuf,
    /// Appended to the topic name: empty for the first pass, `-r<r>` for later ones.
    pub suffix: String,
}

impl CellFiles {
    pub fn new(run_dir: &Path, cell_id: &str, repeat: u32) -> CellFiles {
        let base = run_dir.join(CELLS).join(cell_id);
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

impl CellFiles {
    /// The cell's publish and end-to-end interval logs (`publish.hlog`, `e2e.hlog`).
    pub fn write_hlogs(&self, intervals: &[IntervalRecord], start_unix: f64) -> anyhow::Result<()> {
        use crate::metrics::cell::LatencyKind;
        for kind in [LatencyKind::Publish, LatencyKind::EndToEnd] {
            let log = hlog::render(intervals, kind, start_unix);
            write_atomic(&self.dir.join(format!("{}.hlog", kind.name())), &log)?;
        }
        Ok(())
    }

    /// Where the cell's clients write librdkafka's statistics, one file per client
    /// (`fleet::librdkafka_stats`), when the scenario turns them on.
    pub fn librdkafka_dir(&self) -> PathBuf {
        self.dir.join(LIBRDKAFKA)
    }

    /// find-max's probe `n` of a cell: `cells/<id>/probe-<n>/`.
    pub fn probe(run_dir: &Path, cell_id: &str, n: usize) -> CellFiles {
        CellFiles {
            dir: run_dir.join(CELLS).join(cell_id).join(format!("probe-{n}")),
            suffix: format!("-{n}"),
        }
    }
}

/// A run directory being filled: its id and every row written so far. Results are rewritten
/// whole (atomically) after each cell, so the files on disk are always a complete, valid CSV.
pub struct RunDir {
    pub dir: PathBuf,
    pub run_id: String,
    pub rows: Vec<ResultRow>,
    pub series: Vec<TimeseriesRow>,
}

impl RunDir {
    /// A new run directory `<reports>/<scenario>-<YYYYmmdd-HHMMSS>`.
    pub fn create(reports_dir: &Path, scenario: &str) -> anyhow::Result<RunDir> {
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
        let mut run_id = format!("{scenario}-{stamp}");
        // Two runs in the same second get distinct directories.
        let mut n = 1;
        while reports_dir.join(&run_id).exists() {
            n += 1;
            run_id = format!("{scenario}-{stamp}-{n}");
        }
        let dir = reports_dir.join(&run_id);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(RunDir {
            dir,
            run_id,
            rows: Vec::new(),
            series: Vec::new(),
        })
    }

    /// Reopen a run directory to finish it: the scenario must be the one it was started with;
    /// cells marked interrupted are dropped so they run again.
    pub fn resume(dir: &Path, scenario: &Scenario) -> anyhow::Result<(RunDir, u32)> {
        let manifest = read::read_manifest(&dir.join(MANIFEST))?;
        if !manifest
            .scenario
            .same_as(&manifest::ScenarioInfo::of(scenario))
        {
            return Err(UsageError(format!(
                "{}: this run was started with a different scenario than {} (or the file changed since): start a new run instead",
                dir.join(MANIFEST).display(),
                scenario.path.display()
            ))
            .into());
        }
        if manifest.run_id.is_empty() {
            let m = dir.join(MANIFEST);
            return Err(UsageError(format!("{}: no run_id", m.display())).into());
        }
        let run_id = manifest.run_id;
        let repeat = manifest.repeat.max(1);
        let mut rows: Vec<ResultRow> = read_if_there(&dir.join(RESULTS))?;
        let mut series: Vec<TimeseriesRow> = read_if_there(&dir.join(TIMESERIES))?;
        let interrupted: Vec<(String, u32)> = rows
            .iter()
            .filter(|r| r.flags.split(';').any(|f| f == Flag::Interrupted.name()))
            .map(|r| (r.cell.clone(), r.repeat))
            .collect();
        let redo =
            |cell: &str, repeat: u32| interrupted.iter().any(|(c, r)| c == cell && *r == repeat);
        rows.retain(|r| !redo(&r.cell, r.repeat));
        series.retain(|r| !redo(&r.cell, r.repeat));
        Ok((
            RunDir {
                dir: dir.to_path_buf(),
                run_id,
                rows,
                series,
            },
            repeat,
        ))
    }

    /// Write a table of this run (`findmax.csv`, `versus.csv`, ...) atomically.
    pub fn write_table<T: serde::Serialize>(&self, name: &str, rows: &[T]) -> anyhow::Result<()> {
        self.write_file(name, &rows::to_csv(rows)?)
    }

    /// Write a file of this run atomically (`summary.md`, ...).
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        write_atomic(&self.dir.join(name), bytes)?;
        Ok(())
    }

    /// Write `manifest.json`: exactly what ran.
    pub fn write_manifest(&self, m: &manifest::Manifest) -> anyhow::Result<()> {
        write_atomic(&self.dir.join(MANIFEST), &serde_json::to_vec_pretty(m)?)?;
        Ok(())
    }

    /// Record a topic kbench has just created in `topics.txt` (fsynced), so cleanup can prove
    /// it is ours.
    pub fn register_topic(&self, topic: &str) -> anyhow::Result<()> {
        use std::fs::OpenOptions;
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(TOPICS))?;
        writeln!(f, "{topic}")?;
        f.sync_all()?;
        Ok(())
    }

    /// Has this pass of this cell finished already?
    pub fn done(&self, cell: &str, repeat: u32) -> bool {
        self.rows
            .iter()
            .any(|r| r.cell == cell && r.repeat == repeat)
    }

    /// Add a finished cell and write its files, before the next cell starts.
    pub fn record(
        &mut self,
        row: ResultRow,
        series: impl IntoIterator<Item = TimeseriesRow>,
        files: &CellFiles,
        cell: &CellRecord,
    ) -> anyhow::Result<()> {
        // A cell run again (after an interruption) replaces its earlier rows.
        self.rows.push(row);
        self.rows.sort_by_key(|r| (r.repeat, r.index));
        self.series.extend(series);
        write_cell_files(&self.dir, files, cell, &self.rows, &self.series)
    }
}

/// Rows of a CSV file, none if it does not exist yet (a run killed before its first cell ended).
/// Read through the run-directory reader (so an older file's missing columns are tolerated
/// the same way everywhere).
fn read_if_there<T: serde::de::DeserializeOwned>(p: &Path) -> anyhow::Result<Vec<T>> {
    if !p.exists() {
        return Ok(Vec::new());
    }
    Ok(read::read_table(p, "", &mut Vec::new())?)
}

/// The topics recorded in a run directory's `topics.txt`: the only ones kbench may delete.
pub fn registered_topics(run_dir: &Path) -> anyhow::Result<Vec<String>> {
    let p = run_dir.join(TOPICS);
    match std::fs::read_to_string(&p) {
        Ok(t) => Ok(t
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with(TOPIC_PREFIX))
            .map(String::from)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(anyhow!("{}: {e}", p.display())),
    }
}

/// A finished cell's own files: its interval logs, its members, its faults.
pub struct CellRecord<'a> {
    pub intervals: &'a [IntervalRecord],
    /// Wall-clock time of the cell's start (the interval logs' base time).
    pub start_unix: f64,
    pub members: &'a [MemberReport],
    pub faults: &'a [FaultOutcome],
    /// The cell's delivery evidence (`delivery.json`), when it has one.
    pub delivery: Option<&'a crate::metrics::delivery::DeliveryEvidence>,
    /// Each group's partition pauses during the load (`rebalances.json`, written when the
    /// cell had consumer groups).
    pub rebalances: &'a [crate::fleet::GroupPauses],
}

fn write_cell_files(
    run_dir: &Path,
    files: &CellFiles,
    outcome: &CellRecord,
    rows: &[ResultRow],
    series: &[TimeseriesRow],
) -> anyhow::Result<()> {
    write_atomic(&run_dir.join(RESULTS), &rows::to_csv(rows)?)?;
    write_atomic(&run_dir.join(TIMESERIES), &rows::to_csv(series)?)?;
    let dir = &files.dir;
    files.write_hlogs(outcome.intervals, outcome.start_unix)?;
    let members: Vec<_> = outcome
        .members
        .iter()
        .map(|m| serde_json::json!({"group": m.group, "member": m.member, "partitions": m.partitions, "consumed": m.consumed, "idle": m.idle(),
            "first_assignment_ms": m.first_assignment_ms, "rebalances": m.rebalances, "joined_at_s": m.joined_at_s, "left_at_s": m.left_at_s}))
        .collect();
    write_atomic(&dir.join(MEMBERS), &serde_json::to_vec_pretty(&members)?)?;
    if !outcome.rebalances.is_empty() {
        write_atomic(
            &dir.join(REBALANCES),
            &serde_json::to_vec_pretty(outcome.rebalances)?,
        )?;
    }
    if let Some(e) = outcome.delivery {
        write_atomic(&dir.join(delivery::DELIVERY), &delivery::render(e))?;
    }
    if !outcome.faults.is_empty() {
        write_atomic(
            &dir.join(FAULTS),
            &serde_json::to_vec_pretty(&outcome.faults)?,
        )?;
    }
    Ok(())
}

/// Write `bytes` to `path` atomically: temp file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace_atomic(path, "tmp", |tmp| {
        std::fs::File::create(tmp)?.write_all(bytes)
    })
}

/// Put a file in place atomically: `write` creates the temporary file it is given (`.NAME.` +
/// `tmp_ext`, in the same directory so the rename stays on one file system), which is then
/// fsynced and renamed over `path`. On failure the temporary file is removed and an older
/// `path` is left as it was. Charts use this too ([`chart::write_png`]).
pub(crate) fn replace_atomic<E: From<std::io::Error>>(
    path: &Path,
    tmp_ext: &str,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.{tmp_ext}"));
    let written = write(&tmp).and_then(|()| Ok(std::fs::File::open(&tmp)?.sync_all()?));
    match written {
        Ok(()) => Ok(std::fs::rename(&tmp, path)?),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/results.csv");
        super::write_atomic(&p, b"a\n").unwrap();
        super::write_atomic(&p, b"b\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "b\n");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }
}
