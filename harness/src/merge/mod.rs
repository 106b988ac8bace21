//! `kbench merge OUT DIR...`: the run directories of a distributed run's shards (each written
//! by `kbench run --shard I/N`) made into one run directory of the usual form, so `kbench
//! report` and `kbench compare` read it unchanged.
//!
//! Why a merge of files rather than shard 0 collecting through the control topic: the files
//! are already complete (each shard writes them cell by cell, so a shard that dies keeps its
//! finished cells), a merge can be re-run or audited from them, and it needs no cluster.
//!
//! Exact by construction: histograms are added ([`hlogs`]), never averaged; counters add up;
//! rates are summed counts over the common measurement window ([`cell`]); interval series
//! align by interval index ([`timeseries`]); delivery (lost, duplicated, reordered) is
//! recomputed from every shard's `delivery.json` with the same function one process uses
//! ([`crate::metrics::delivery::account_shards`]); flags are unioned.
//!
//! Refused (exit 2, before anything is written): directories that are not shards, of
//! different distributed runs or scenarios, two directories of one shard index, an output
//! directory that already holds files. A shard index with no directory is refused too unless
//! `--allow-missing`, which merges the rest and flags every cell `shard-lost`; a cell that
//! only some shards finished (a shard died) is merged from those and flagged `shard-lost`.

pub mod cell;
pub mod hlogs;
pub mod shards;
pub mod timeseries;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::error::UsageError;
use crate::metrics::cell::LatencyKind;
use crate::metrics::delivery::{self as accounting, DeliveryEvidence};
use crate::rundir::hlog::{self, LogInterval};
use crate::rundir::read::{self as rundir_read, RunDirError};
use crate::rundir::rows::{ResultRow, TimeseriesRow};
use crate::rundir::{self, delivery, CellFiles, RunDir};
use shards::{Shard, ShardSet};

/// `kbench merge`'s options.
#[derive(Debug, Clone)]
pub struct MergeOptions {
    /// The merged run directory to create (absent or empty).
    pub out: PathBuf,
    /// The shards' run directories.
    pub dirs: Vec<PathBuf>,
    /// Merge even when some shard index has no directory (its cells are flagged shard-lost).
    pub allow_missing: bool,
}

/// Run `kbench merge`; returns the exit code.
pub fn merge_command(opts: &MergeOptions, out: &mut impl Write) -> anyhow::Result<i32> {
    let set = shards::load(&opts.dirs, opts.allow_missing)?;
    check_out_dir(&opts.out, &opts.dirs)?;
    let merged = merge(&set)?;
    write(&opts.out, &set, &merged)?;
    let hosts: Vec<String> = set
        .shards
        .iter()
        .map(|s| format!("{} ({})", s.info.index, s.info.host.hostname))
        .collect();
    writeln!(
        out,
        "merged {} of {} shards [{}]: {} cell runs -> {}",
        set.shards.len(),
        set.count,
        hosts.join(", "),
        merged.rows.len(),
        opts.out.display()
    )?;
    for (row, lost) in merged.rows.iter().zip(&merged.lost) {
        if !lost.is_empty() {
            writeln!(
                out,
                "  cell {} (pass {}): flagged shard-lost, no figures from shard(s) {}",
                row.cell,
                row.repeat,
                shards::list(lost)
            )?;
        }
    }
    match crate::report::render_run(&opts.out) {
        Ok(r) => {
            for w in &r.warnings {
                writeln!(out, "warning: {w}")?;
            }
            write!(out, "{}", r.terminal)?;
        }
        Err(e) => writeln!(out, "charts not written: {e}")?,
    }
    Ok(0)
}

/// The output directory must not hold anything yet (nothing is overwritten) and must not be
/// one of the shards.
fn check_out_dir(out: &Path, dirs: &[PathBuf]) -> anyhow::Result<()> {
    let same = |d: &PathBuf| match (d.canonicalize(), out.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if dirs.iter().any(same) {
        return Err(UsageError(format!(
            "{}: the output directory is one of the shards' directories",
            out.display()
        ))
        .into());
    }
    if let Ok(mut entries) = std::fs::read_dir(out) {
        if entries.next().is_some() {
            return Err(UsageError(format!(
                "{}: already exists and is not empty (kbench merge writes a new run directory)",
                out.display()
            ))
            .into());
        }
    } else if out.exists() {
        return Err(UsageError(format!("{}: exists and is not a directory", out.display())).into());
    }
    Ok(())
}

/// Everything the merged directory holds, computed before anything is written.
struct Merged {
    rows: Vec<ResultRow>,
    series: Vec<TimeseriesRow>,
    /// Per row: the shards without figures for it.
    lost: Vec<Vec<u16>>,
    cells: Vec<MergedCell>,
}

struct MergedCell {
    cell: String,
    repeat: u32,
    start_unix: f64,
    publish: Vec<LogInterval>,
    e2e: Vec<LogInterval>,
    evidence: DeliveryEvidence,
}

/// Every cell run that any shard finished, in run order (pass, then cell index).
fn cell_runs(set: &ShardSet) -> Vec<(u32, usize, String)> {
    let mut runs: Vec<(u32, usize, String)> = set
        .shards
        .iter()
        .flat_map(|s| s.data.results.iter())
        .map(|r| (r.repeat, r.index, r.cell.clone()))
        .collect();
    runs.sort();
    runs.dedup();
    runs
}

fn merge(set: &ShardSet) -> anyhow::Result<Merged> {
    let mut m = Merged {
        rows: Vec::new(),
        series: Vec::new(),
        lost: Vec::new(),
        cells: Vec::new(),
    };
    for (repeat, _, cell_id) in cell_runs(set) {
        let of = |s: &&Shard| {
            s.data
                .results
                .iter()
                .find(|r| r.cell == cell_id && r.repeat == repeat)
                .is_some()
        };
        let present: Vec<&Shard> = set.shards.iter().filter(of).collect();
        let rows: Vec<&ResultRow> = present
            .iter()
            .filter_map(|s| {
                s.data
                    .results
                    .iter()
                    .find(|r| r.cell == cell_id && r.repeat == repeat)
            })
            .collect();
        let mut lost: Vec<u16> = set.missing.clone();
        lost.extend(
            set.shards
                .iter()
                .filter(|s| !present.iter().any(|p| p.info.index == s.info.index))
                .map(|s| s.info.index),
        );
        lost.sort_unstable();

        let mut logs = Vec::new();
        for kind in [LatencyKind::Publish, LatencyKind::EndToEnd] {
            let mut per_shard = Vec::new();
            for s in &present {
                per_shard.push(read_log(&rundir_read::hlog_path(
                    &s.dir, &cell_id, repeat, kind,
                ))?);
            }
            logs.push(per_shard);
        }
        let start_unix = logs[0]
            .iter()
            .map(|(base, _)| *base)
            .fold(f64::INFINITY, f64::min);
        let publish_parts: Vec<Vec<LogInterval>> = logs[0].drain(..).map(|l| l.1).collect();
        let e2e_parts: Vec<Vec<LogInterval>> = logs[1].drain(..).map(|l| l.1).collect();
        let cell_dir = |s: &Shard| shards::cell_dir(&s.dir, &cell_id, repeat);
        let bad = |s: &Shard, what: &str, e: String| RunDirError::Corrupt {
            path: cell_dir(s).join(format!("{what}.hlog")),
            message: e,
        };
        let publish = hlogs::merge(&publish_parts).map_err(|e| bad(present[0], "publish", e))?;
        let e2e = hlogs::merge(&e2e_parts).map_err(|e| bad(present[0], "e2e", e))?;

        let mut evidence = Vec::new();
        for s in &present {
            evidence.push(delivery::read(&cell_dir(s).join(delivery::DELIVERY))?);
        }
        let (account, lag) = accounting::account_shards(&evidence).map_err(|e| {
            UsageError(format!(
                "cell {cell_id} (pass {repeat}): the shards' delivery.json files do not fit together: {e}"
            ))
        })?;
        let totals = cell::Totals {
            publish: hlogs::total(&publish).map_err(|e| bad(present[0], "publish", e))?,
            e2e: hlogs::total(&e2e).map_err(|e| bad(present[0], "e2e", e))?,
            acked_in_window: publish_parts.iter().map(|l| hlogs::measured_count(l)).sum(),
            consumed_in_window: e2e_parts.iter().map(|l| hlogs::measured_count(l)).sum(),
            delivery: account,
            consumer_lag: lag,
        };
        m.rows.push(cell::merge_row(&rows, &totals, &lost));
        let series: Vec<Vec<&TimeseriesRow>> = present
            .iter()
            .map(|s| {
                s.data
                    .timeseries
                    .iter()
                    .filter(|r| r.cell == cell_id && r.repeat == repeat)
                    .collect()
            })
            .collect();
        m.series
            .extend(timeseries::merge_series(&series, &publish, &e2e));
        m.lost.push(lost);
        m.cells.push(MergedCell {
            cell: cell_id.clone(),
            repeat,
            start_unix: if start_unix.is_finite() {
                start_unix
            } else {
                0.0
            },
            publish,
            e2e,
            evidence: union_evidence(evidence),
        });
    }
    Ok(m)
}

/// All shards' evidence as one file's (the merged directory keeps it like any other):
/// producer ids are global, so the acked sets are disjoint; members are listed one after the
/// other, each group's members of every shard.
fn union_evidence(parts: Vec<DeliveryEvidence>) -> DeliveryEvidence {
    let mut all = DeliveryEvidence {
        shard: 0,
        groups: parts.first().map_or(0, |p| p.groups),
        ..DeliveryEvidence::default()
    };
    for p in parts {
        all.acked.extend(p.acked);
        all.aborted.extend(p.aborted);
        all.members.extend(p.members);
    }
    all
}

fn read_log(path: &Path) -> Result<(f64, Vec<LogInterval>), RunDirError> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => RunDirError::Missing {
            path: path.to_path_buf(),
            hint: " (every finished cell of a shard has its interval logs)",
        },
        _ => RunDirError::Io {
            path: path.to_path_buf(),
            source: e,
        },
    })?;
    hlog::parse(&bytes).map_err(|message| RunDirError::Corrupt {
        path: path.to_path_buf(),
        message,
    })
}

/// The merged manifest: the first shard's (the scenario, versions and cluster are the same on
/// every shard), with no `shard` record and every shard listed in `shards` with its host.
fn manifest(set: &ShardSet, out: &Path) -> rundir::manifest::Manifest {
    let first = &set.shards[0].data.info;
    let run_id = match set.shards[0].info.distributed_run_id.as_str() {
        "" => out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| first.run_id.clone()),
        id => id.to_string(),
    };
    rundir::manifest::Manifest {
        run_id,
        started_at: set
            .shards
            .iter()
            .map(|s| s.data.info.started_at.clone())
            .min()
            .unwrap_or_default(),
        shard: None,
        shards: set.shards.iter().map(|s| s.info.clone()).collect(),
        ..first.clone()
    }
}

fn write(out: &Path, set: &ShardSet, m: &Merged) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let manifest = manifest(set, out);
    let run = RunDir {
        dir: out.to_path_buf(),
        run_id: manifest.run_id.clone(),
        rows: m.rows.clone(),
        series: m.series.clone(),
    };
    for c in &m.cells {
        let files = CellFiles::new(out, &c.cell, c.repeat);
        for (kind, log) in [
            (LatencyKind::Publish, &c.publish),
            (LatencyKind::EndToEnd, &c.e2e),
        ] {
            let bytes = hlog::render_entries(log.iter().cloned(), kind, c.start_unix);
            rundir::write_atomic(
                &rundir_read::hlog_path(out, &c.cell, c.repeat, kind),
                &bytes,
            )?;
        }
        rundir::write_atomic(
            &files.dir.join(delivery::DELIVERY),
            &delivery::render(&c.evidence),
        )?;
        copy_cell_files(set, &c.cell, c.repeat, &files.dir)?;
    }
    run.write_table(rundir::RESULTS, &run.rows)?;
    run.write_table(rundir::TIMESERIES, &run.series)?;
    // Every topic any shard registered (shard 0 creates them), so `kbench cleanup` works here.
    let mut topics: Vec<String> = Vec::new();
    for s in &set.shards {
        for t in rundir::registered_topics(&s.dir)? {
            if !topics.contains(&t) {
                topics.push(t);
            }
        }
    }
    if !topics.is_empty() {
        run.write_file(
            rundir::TOPICS,
            format!("{}\n", topics.join("\n")).as_bytes(),
        )?;
    }
    // The manifest last: a directory without one is visibly not a finished merge.
    run.write_manifest(&manifest)?;
    Ok(())
}

/// `members.json` of every shard, each member marked with its shard; `faults.json` of the
/// shard that carried the faults out (shard 0).
fn copy_cell_files(set: &ShardSet, cell: &str, repeat: u32, to: &Path) -> anyhow::Result<()> {
    let mut members = Vec::new();
    let mut faults: Option<Vec<u8>> = None;
    for s in &set.shards {
        let dir = shards::cell_dir(&s.dir, cell, repeat);
        if let Ok(bytes) = std::fs::read(dir.join(rundir::MEMBERS)) {
            let list: Vec<serde_json::Value> =
                serde_json::from_slice(&bytes).map_err(|e| RunDirError::Corrupt {
                    path: dir.join(rundir::MEMBERS),
                    message: e.to_string(),
                })?;
            for mut v in list {
                if let Some(o) = v.as_object_mut() {
                    o.insert("shard".into(), s.info.index.into());
                }
                members.push(v);
            }
        }
        if faults.is_none() {
            faults = std::fs::read(dir.join(rundir::FAULTS)).ok();
        }
    }
    rundir::write_atomic(
        &to.join(rundir::MEMBERS),
        &serde_json::to_vec_pretty(&members)?,
    )?;
    if let Some(f) = faults {
        rundir::write_atomic(&to.join(rundir::FAULTS), &f)?;
    }
    Ok(())
}
