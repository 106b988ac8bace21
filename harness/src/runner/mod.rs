//! Running a scenario: its cells in order, each from topic creation to teardown.
//!
//! One cell (`cell.rs`): create its topic (prefixed, recorded in the run directory's
//! `topics.txt`), wait until every partition has a leader, start the consumers and wait for
//! their assignment, start the producers, warm up, measure, stop the producers, drain until
//! every acked message is consumed by every group (or the drain timeout passes), delete the
//! topic. The fleet's stats are taken once per second meanwhile.

mod cell;
mod progress;
mod shard;
mod shard_resume;

pub use cell::{run_cell, CellEnv, CellOutcome, DistributedFacts, Lockstep};
pub use shard::{check_run_id, refuse_unsupported, sliced, Shard, ShardOptions, ShardedCell};
pub use shard_resume::cleanup_control_topics;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::UsageError;
use crate::fault::Target;
use crate::metrics::delivery::GroupAccount;
use crate::report;
use crate::rundir::rows::{CellFacts, ResultRow, TimeseriesRow};
use crate::rundir::{CellFiles, CellRecord, RunDir};
use crate::scenario::{CellSpec, Scenario};
use crate::session::Session;

/// How to run a scenario, beyond the scenario itself.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Run directories are created under this.
    pub reports_dir: PathBuf,
    pub quiet: bool,
    /// Passes over the sweep (each cell runs this many times).
    pub repeat: u32,
    /// Finish this run directory instead of starting a new one.
    pub resume: Option<PathBuf>,
    /// Cells may run on `[topic] existing` topics (never created or deleted by kbench).
    pub allow_existing_topic: bool,
    /// `--shard I/N`: run this shard's slice of every cell, in step with the others.
    pub shard: Option<ShardOptions>,
}

/// Run every cell of `scenario` in `session`, writing reports under `opts.reports_dir`.
/// Returns the exit code: 0, or 130 when interrupted (finished cells are on disk either way).
pub fn run_scenario(
    scenario: &Scenario,
    session: &Session,
    opts: &RunOptions,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    // Topic configs only the cluster can judge (unknown names, bad values): asked without
    // creating anything, before any cell, on every shard alike.
    crate::scenario::validate_topic_configs_against_cluster(scenario, |pairs| {
        session.refused_topic_configs(pairs)
    })?;
    if let Some(shard) = &opts.shard {
        return shard::run_sharded(scenario, session, opts, shard, out);
    }
    if let Some(t) = scenario
        .cells
        .iter()
        .find_map(|c| c.topic.existing.as_ref())
    {
        if !opts.allow_existing_topic {
            return Err(UsageError(format!(
                "{}: topic.existing = {t:?} writes to a topic kbench did not create: pass --allow-existing-topic to allow it (kbench never deletes it)",
                scenario.path.display()
            ))
            .into());
        }
    }
    // Auto-creation needs a cluster that does it; a chosen partition must exist on an
    // existing or auto-created topic too (created topics are checked when the scenario is
    // read). Before the first cell, so no cell runs half a sweep.
    let auto = scenario
        .cells
        .iter()
        .any(|c| c.topic.create == crate::scenario::TopicCreate::Auto);
    let facts = auto.then(|| session.cluster_facts());
    if let Some(f) = facts {
        crate::scenario::validate_auto_create_against_cluster(scenario, f.auto_create_enabled())?;
    }
    crate::scenario::validate_chosen_against_cluster(scenario, |c| match &c.topic.existing {
        Some(t) => Some(session.describe(t).ok()??.partitions),
        None if c.topic.create == crate::scenario::TopicCreate::Auto => {
            facts.and_then(|f| f.auto_create_partitions())
        }
        None => None,
    })?;
    let fault_target = fault_target(scenario, session)?;

    let (mut run, repeat) = match &opts.resume {
        Some(dir) => {
            shard_resume::refuse_shard_dir_without_shard(dir)?;
            let (run, repeat) = RunDir::resume(dir, scenario)?;
            for t in session.delete_leftover_topics(&run.dir)? {
                writeln!(out, "deleted topic {t} left behind by the interrupted run")?;
            }
            writeln!(
                out,
                "resuming {}: {} of {} cell runs already done",
                run.run_id,
                run.rows.len(),
                scenario.cells.len() * repeat as usize
            )?;
            (run, repeat)
        }
        None => {
            let run = session.create_run(
                &opts.reports_dir,
                &scenario.name,
                Some(scenario),
                opts.repeat,
                None,
            )?;
            (run, opts.repeat)
        }
    };
    let passes = if repeat > 1 {
        format!(" x {repeat} passes")
    } else {
        String::new()
    };
    writeln!(
        out,
        "run {}: {} cells{passes} against {} ({} brokers)",
        run.run_id,
        scenario.cells.len(),
        session.bootstrap(),
        session.brokers
    )?;
    writeln!(out, "reports: {}", run.dir.display())?;
    if let Some(w) = session.cluster_facts().auto_create_warning() {
        writeln!(out, "{w}")?;
    }

    if session.conn.fresh && opts.resume.is_none() {
        warm_fresh_cluster(scenario, session, &run, out)?;
    }
    let todo = (1..=repeat).flat_map(|r| scenario.cells.iter().map(move |c| (r, c)));
    for (repeat, cell) in todo {
        if session.shutdown.is_triggered() {
            break;
        }
        if run.done(&cell.id, repeat) {
            continue;
        }
        let files = CellFiles::new(&run.dir, &cell.id, repeat);
        let topic = session.topic_name(&run.run_id, &format!("{}{}", cell.id, files.suffix));
        let env = CellEnv {
            session,
            run: &run,
            quiet: opts.quiet,
            faults: fault_target.as_ref(),
            client_stats: Some(files.librdkafka_dir()),
        };
        let outcome = run_cell(cell, &topic, &env);
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                writeln!(out, "cell {}: failed: {e:#}", cell.id)?;
                return Err(e.context(format!("cell {}", cell.id)));
            }
        };
        record_cell(&mut run, cell, repeat, &files, &outcome, out)?;
    }
    finish_run(&run, session, out)
}

/// How to carry out the scenario's `[[fault]]`s; `None` when it has none.
fn fault_target(scenario: &Scenario, session: &Session) -> anyhow::Result<Option<Target>> {
    if scenario.cells.iter().all(|c| c.faults.is_empty()) {
        return Ok(None);
    }
    let ids =
        crate::cluster::admin::broker_ids(session.access(), std::time::Duration::from_secs(10))?;
    crate::scenario::validate_faults_against_cluster(scenario, &ids)?;
    let target = Target::for_scenario(scenario.fault_commands.as_ref(), &session.conn.state_dir)
        .map_err(UsageError)?;
    Ok(Some(target))
}

/// Charts and summary.md once the cells are done; the exit code (130 when interrupted).
fn finish_run(run: &RunDir, session: &Session, out: &mut impl Write) -> anyhow::Result<i32> {
    let run_dir = run.dir.clone();
    // Charts and summary.md from the files alone (what `kbench report` does too). A chart
    // that fails is a warning: the CSV and logs are already safe on disk.
    match report::render_run(&run_dir) {
        Ok(r) => {
            for w in &r.warnings {
                writeln!(out, "warning: {w}")?;
            }
            write!(out, "{}", r.terminal)?;
        }
        Err(e) => writeln!(out, "charts not written: {e}")?,
    }
    writeln!(
        out,
        "wrote {}",
        run_dir.join(crate::rundir::RESULTS).display()
    )?;
    if session.shutdown.is_triggered() {
        writeln!(
            out,
            "interrupted: finished cells are in {}",
            run_dir.display()
        )?;
        return Ok(130);
    }
    Ok(0)
}

/// Write a finished cell's files (before the next cell starts) and its line on `out`.
fn record_cell(
    run: &mut RunDir,
    cell: &CellSpec,
    repeat: u32,
    files: &CellFiles,
    outcome: &CellOutcome,
    out: &mut impl Write,
) -> anyhow::Result<ResultRow> {
    let facts = CellFacts {
        topic: &outcome.topic,
        partitions: outcome.partitions,
        replication_factor: outcome.replication_factor,
        repeat,
        consumer_lag: outcome.consumer_lag,
        idle_members: outcome.members.iter().filter(|m| m.idle()).count(),
        delivery: outcome.delivery,
        faults: &outcome.faults,
        origin: outcome.origin,
        rebalance: &outcome.rebalance,
    };
    let mut row = ResultRow::new(cell, &outcome.summary, &facts);
    if let Some(d) = &outcome.distributed {
        row.e2e_clock_bound_us = Some(d.e2e_clock_bound_ns.div_ceil(1000));
        row.shards_lost = d
            .shards_lost
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(";");
    }
    let series = outcome
        .metrics
        .intervals
        .iter()
        .map(|i| TimeseriesRow::new(&cell.id, repeat, i));
    let record = CellRecord {
        intervals: &outcome.metrics.intervals,
        start_unix: outcome.start_unix,
        members: &outcome.members,
        faults: &outcome.faults,
        delivery: Some(&outcome.evidence),
        rebalances: &outcome.rebalance.groups,
    };
    let behind = report::model::cluster_fell_behind(&row)
        .map(|share| report::model::fell_behind_text(&row, share));
    run.record(row.clone(), series, files, &record)?;
    writeln!(out, "{}", summary_line(cell, repeat, outcome))?;
    if let Some(finding) = behind {
        writeln!(out, "  cell {}: {finding}", cell.id)?;
    }
    Ok(row)
}

/// How long a freshly started local cluster is loaded before the first measured cell.
const FRESH_CLUSTER_WARMUP: std::time::Duration = std::time::Duration::from_secs(20);

/// A local cluster this command has just started runs its JVMs' compilers for a minute or
/// more under the first load (measured: the host 97-100 % busy in the first cells of a
/// 500 msg/s sweep, 65-72 % in the last, kbench at 0.1 core), so the first cells would measure
/// the compiler. Run the first cell's load for a bounded time on a topic of its own, reported
/// and never recorded as a result.
fn warm_fresh_cluster(
    scenario: &Scenario,
    session: &Session,
    run: &RunDir,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let Some(first) = scenario.cells.iter().find(|c| c.topic.existing.is_none()) else {
        return Ok(());
    };
    let mut warm = first.clone();
    warm.faults = Arc::new([]);
    warm.consumer_faults = Arc::new([]);
    warm.run.warmup = std::time::Duration::ZERO;
    warm.run.duration = Some(FRESH_CLUSTER_WARMUP);
    warm.run.messages = None;
    let env = CellEnv {
        session,
        run,
        quiet: true,
        faults: None,
        client_stats: None,
    };
    let topic = session.topic_name(&run.run_id, "warmup");
    writeln!(
        out,
        "warming the freshly started local cluster: {} s of cell {}'s load, not measured",
        FRESH_CLUSTER_WARMUP.as_secs(),
        first.id
    )?;
    let o = run_cell(&warm, &topic, &env)?;
    writeln!(
        out,
        "warm-up done: acked {:.0} msg/s, publish p99 {:.1} ms, host CPU {:.0} %",
        o.summary.acked_per_sec,
        o.summary.publish.p99 as f64 / 1e3,
        o.summary.cpu.host_busy.unwrap_or(0.0) * 100.0
    )?;
    Ok(())
}

fn summary_line(cell: &CellSpec, repeat: u32, o: &CellOutcome) -> String {
    let s = &o.summary;
    let flags = if s.flags.is_empty() {
        String::new()
    } else {
        format!(
            "  FLAGGED: {}",
            s.flags
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let id = if repeat > 1 {
        format!("{} (pass {repeat})", cell.id)
    } else {
        cell.id.clone()
    };
    format!(
        "cell {:<28} acked {:>9.0} msg/s {:>7.2} MB/s  publish p50 {:>8.2} ms p99 {:>8.2} ms p99.9 {:>8.2} ms  e2e p99 {:>8.2} ms  lag {}{}{}",
        id,
        s.acked_per_sec,
        s.acked_mb_per_sec,
        s.publish.p50 as f64 / 1e3,
        s.publish.p99 as f64 / 1e3,
        s.publish.p999 as f64 / 1e3,
        s.e2e.p99 as f64 / 1e3,
        o.consumer_lag,
        delivery_text(&o.delivery),
        flags
    )
}

/// Lost / duplicated / reordered, shown only when there is something to say.
fn delivery_text(d: &GroupAccount) -> String {
    if (d.lost, d.duplicated, d.reordered) == (0, 0, 0) {
        return String::new();
    }
    format!(
        "  lost {} duplicated {} reordered {}",
        d.lost, d.duplicated, d.reordered
    )
}
