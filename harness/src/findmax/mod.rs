//! Capacity search: `kbench find-max SCENARIO --slo "p99<50ms"`.
//!
//! For each cell of the scenario, step the offered rate (coarse geometric steps, then
//! bisection: [`search`]) and run a short probe at each rate ([`probe`]: an ordinary cell with
//! the rate and timing overridden). The answer per cell is the highest rate whose probe passed
//! the pass rule (every SLO, no validity flag, no errors, no backlog growth: see [`probe`]),
//! with every probe above it failed. Reports ([`report`]): `findmax.csv` (every probe),
//! `findmax-summary.csv` and `summary.md` (the answer per cell), `charts/findmax-<cell>.png`
//! (latency against offered rate with the SLO and the knee), `manifest.json`, and the probes'
//! interval logs under `cells/<cell>/probe-<n>/`.
//!
//! With `--shard I/N` ([`FindMaxOptions::shard`]) N processes search together: every probe is
//! a distributed cell (each shard runs its slice, in step through the control topic), and
//! every shard judges the whole fleet's figures, merged exactly from every shard's
//! ([`shares`]), so all walk the same rates (docs/distributed.md).
pub mod probe;
pub mod report;
pub mod search;
pub mod shares;
pub mod slo;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Context};

use crate::distributed::protocol::cell_key;
use crate::error::UsageError;
use crate::metrics::cell::{Flag, LatencyKind};
use crate::rundir::{self, CellFiles, RunDir};
use crate::runner::{self, CellEnv, CellOutcome, Shard, ShardOptions};
use crate::scenario::{CellSpec, Scenario};
use crate::session::Session;
use probe::{judge, probe_spec, rate_text, ProbeMeasure, ProbeTiming};
use report::{ProbeRow, SummaryRow};
use search::{Search, SearchParams};
use shares::ProbeShare;
use slo::Slo;

/// First rate probed when neither `--start` nor the scenario gives one.
pub const DEFAULT_START: f64 = 1000.0;
/// Probe measurement when neither `--probe-duration` nor the scenario's `[run] duration` says.
pub const DEFAULT_PROBE_DURATION: Duration = Duration::from_secs(10);

/// Everything a search needs beyond the scenario and the cluster.
#[derive(Debug, Clone)]
pub struct FindMaxOptions {
    pub slos: Vec<Slo>,
    /// `--start`; `None`: the cell's own rate, else [`DEFAULT_START`].
    pub start: Option<f64>,
    pub factor: f64,
    pub precision: f64,
    pub max_steps: usize,
    pub max_rate: Option<f64>,
    pub timing: ProbeTiming,
    pub reports_dir: PathBuf,
    pub quiet: bool,
    /// `--shard I/N`: search the whole fleet's capacity together with the other shards.
    pub shard: Option<ShardOptions>,
}

impl FindMaxOptions {
    /// The search parameters for one cell.
    pub fn search_params(&self, cell: &CellSpec) -> SearchParams {
        SearchParams {
            start: self.start.or(cell.producers.rate).unwrap_or(DEFAULT_START),
            factor: self.factor,
            precision: self.precision,
            max_steps: self.max_steps,
            max_rate: self.max_rate,
            min_rate: 1.0,
        }
    }
}

/// Keep only the cells `ids` names (`--cell`); none named: every cell.
pub fn select_cells(scenario: &mut Scenario, ids: &[String]) -> Result<(), UsageError> {
    if ids.is_empty() {
        return Ok(());
    }
    let unknown: Vec<&String> = ids
        .iter()
        .filter(|id| !scenario.cells.iter().any(|c| &c.id == *id))
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = scenario.cells.iter().map(|c| c.id.as_str()).collect();
        return Err(UsageError(format!(
            "no cell {unknown:?} in {} (cells: {})",
            scenario.path.display(),
            known.join(", ")
        )));
    }
    scenario.cells.retain(|c| ids.contains(&c.id));
    Ok(())
}

/// Probe timing: the flags, else the scenario's first cell's `[run]`, else the defaults.
pub fn probe_timing(
    scenario: &Scenario,
    warmup: Option<Duration>,
    duration: Option<Duration>,
) -> Result<ProbeTiming, UsageError> {
    let first = scenario
        .cells
        .first()
        .ok_or_else(|| UsageError("the scenario has no cells".into()))?;
    Ok(ProbeTiming {
        warmup: warmup.unwrap_or(first.run.warmup),
        duration: duration
            .or(first.run.duration)
            .unwrap_or(DEFAULT_PROBE_DURATION),
    })
}

/// The checks that need no cluster: SLOs given, search parameters sane, the scenario
/// something find-max can drive.
pub fn check(scenario: &Scenario, opts: &FindMaxOptions) -> Result<(), String> {
    if opts.slos.is_empty() {
        return Err("give at least one --slo, e.g. --slo \"p99<50ms\"".into());
    }
    if opts.timing.duration < Duration::from_secs(1) {
        return Err("--probe-duration must be at least 1s".into());
    }
    if let Some(axis) = scenario
        .axes
        .iter()
        .find(|a| a.name == "rate" || a.name == "producers.rate")
    {
        return Err(format!(
            "{}: find-max searches the rate itself: remove `{}` from [sweep]",
            scenario.path.display(),
            axis.name
        ));
    }
    if scenario.cells.iter().any(|c| !c.faults.is_empty()) {
        return Err(format!(
            "{}: find-max does not run [[fault]]s (probes are too short for their schedule): use a scenario without them",
            scenario.path.display()
        ));
    }
    let e2e = opts.slos.iter().any(|s| s.kind == LatencyKind::EndToEnd);
    for cell in &scenario.cells {
        if e2e && cell.consumers.groups == 0 {
            return Err(format!(
                "cell {}: an end-to-end SLO needs consumers ([consumers] groups >= 1)",
                cell.id
            ));
        }
        Search::new(opts.search_params(cell))?;
    }
    Ok(())
}

/// The `find_max` section of the manifest: how the search was set up.
#[derive(Debug, serde::Serialize)]
struct ManifestSection {
    slo: Vec<String>,
    start: Option<f64>,
    factor: f64,
    precision: f64,
    max_steps: usize,
    max_rate: Option<f64>,
    probe_warmup: String,
    probe_duration: String,
    min_throughput_share: f64,
}

/// Search every cell of `scenario` in `session`. Returns the exit code: 0, 1 when a shard of
/// a distributed search was lost (the search stopped there), or 130 when interrupted (every
/// finished probe is on disk either way).
pub fn find_max(
    scenario: &Scenario,
    session: &Session,
    opts: &FindMaxOptions,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    crate::scenario::validate_topic_configs_against_cluster(scenario, |pairs| {
        session.refused_topic_configs(pairs)
    })?;
    let skew_ns = match &opts.shard {
        Some(s) => {
            runner::refuse_unsupported(scenario)?;
            runner::check_run_id(&s.run_id).map_err(UsageError)?;
            crate::distributed::clock::test_skew_ns().map_err(UsageError)?
        }
        None => 0,
    };
    let section = ManifestSection {
        slo: opts.slos.iter().map(|s| s.to_string()).collect(),
        start: opts.start,
        factor: opts.factor,
        precision: opts.precision,
        max_steps: opts.max_steps,
        max_rate: opts.max_rate,
        probe_warmup: crate::scenario::units::format_duration(opts.timing.warmup),
        probe_duration: crate::scenario::units::format_duration(opts.timing.duration),
        min_throughput_share: probe::MIN_THROUGHPUT_SHARE,
    };
    let name = match &opts.shard {
        Some(s) => format!("{}-findmax-shard{}", scenario.name, s.shard.index),
        None => format!("{}-findmax", scenario.name),
    };
    let run = session.create_run(
        &opts.reports_dir,
        &name,
        Some(scenario),
        1,
        Some(serde_json::to_value(&section)?),
    )?;
    writeln!(
        out,
        "find-max {}: {} cell{} against {} ({} brokers); SLO {}; probes {} + {} warm-up",
        run.run_id,
        scenario.cells.len(),
        if scenario.cells.len() == 1 { "" } else { "s" },
        session.bootstrap(),
        session.brokers,
        slo::describe(&opts.slos),
        crate::scenario::units::format_duration(opts.timing.duration),
        crate::scenario::units::format_duration(opts.timing.warmup),
    )?;
    writeln!(out, "reports: {}", run.dir.display())?;
    let timing = opts.timing;
    match &opts.shard {
        None => {
            let mut probe = |cell: &CellSpec, n: usize, rate: f64, env: &CellEnv<'_>| {
                local_probe(cell, n, rate, timing, env)
            };
            search_cells(scenario, session, opts, &run, &mut probe, out)
        }
        Some(s) => {
            writeln!(
                out,
                "shard {} of distributed find-max {}: every probe's verdict is the whole fleet's",
                s.shard, s.run_id
            )?;
            let shard = Shard::join(session, s, &run, skew_ns, out)?;
            // Every shard must walk the same rates: the same search over the same cells.
            let settings = serde_json::json!({
                "search": section,
                "cells": scenario.cells.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            });
            if let Err(e) = shard.agree("find-max", &settings) {
                shard.leave(out)?;
                return Err(e);
            }
            let mut probe = |cell: &CellSpec, n: usize, rate: f64, env: &CellEnv<'_>| {
                sharded_probe(&shard, cell, n, rate, timing, env)
            };
            let result = search_cells(scenario, session, opts, &run, &mut probe, out);
            shard.leave(out)?;
            result
        }
    }
}

/// A finished probe, however it ran.
struct Probed {
    /// The figures the verdict is taken on: the whole fleet's.
    measure: ProbeMeasure,
    /// This process's own cell (its interval logs are written under `probe-<n>/`).
    outcome: CellOutcome,
    topic: String,
    /// A shard's own offered and acked messages.
    own: Option<(u64, u64)>,
    /// Shards lost during the probe.
    lost: Vec<u16>,
}

/// One probe in this process alone: an ordinary cell on a topic of its own.
fn local_probe(
    cell: &CellSpec,
    n: usize,
    rate: f64,
    timing: ProbeTiming,
    env: &CellEnv<'_>,
) -> anyhow::Result<Probed> {
    let spec = probe_spec(cell, rate, timing);
    let topic = env
        .session
        .topic_name(&env.run.run_id, &format!("{}-{n}", cell.id));
    let outcome = runner::run_cell(&spec, &topic, env)?;
    let measure =
        ProbeMeasure::of(&outcome, rate, cell.consumers.groups).map_err(|e| anyhow!(e))?;
    Ok(Probed {
        measure,
        outcome,
        topic,
        own: None,
        lost: Vec::new(),
    })
}

/// One probe as a distributed cell: this shard's slice of the probe's rate, in step with the
/// others; the figures are every shard's merged (each publishes its share before `Done`).
fn sharded_probe(
    shard: &Shard<'_>,
    cell: &CellSpec,
    n: usize,
    rate: f64,
    timing: ProbeTiming,
    env: &CellEnv<'_>,
) -> anyhow::Result<Probed> {
    let spec = probe_spec(cell, rate, timing);
    let mine = runner::sliced(&spec, shard.spec());
    // The key carries the rate: shards that disagreed on it would never meet at a barrier
    // (an error naming the cell) instead of measuring different loads.
    let key = cell_key(&spec.id, n as u32);
    let topic = shard.cell_topic(&format!("{}-{n}", cell.id));
    let share = |o: &CellOutcome| {
        serde_json::to_value(ProbeShare::of(o)).unwrap_or(serde_json::Value::Null)
    };
    let done = shard.run_cell(&spec, &mine, &key, &topic, env, Some(&share))?;
    let outcome = done.outcome;
    let mut lost: Vec<u16> = outcome
        .distributed
        .as_ref()
        .map(|d| d.shards_lost.clone())
        .unwrap_or_default();
    // A shard that said done has its share on the topic before it; one without a share did
    // not finish the probe.
    for i in 0..shard.spec().count {
        if !done.shares.contains_key(&i) && !lost.contains(&i) {
            lost.push(i);
        }
    }
    lost.sort_unstable();
    let shares = shares::decode(&done.shares).map_err(|e| anyhow!(e))?;
    let mut measure =
        shares::merge(&shares, rate, cell.consumers.groups).map_err(|e| anyhow!(e))?;
    // What the shards learnt together after the shares left: a lost shard, the clocks'
    // bound (the same `Ready` bounds on every shard).
    let mut late = outcome.summary.flags.clone();
    if !lost.is_empty() {
        late.push(Flag::ShardLost);
    }
    for f in late {
        if matches!(f, Flag::ShardLost | Flag::ClockBound) && !measure.flags.contains(&f) {
            measure.flags.push(f);
        }
    }
    Ok(Probed {
        measure,
        own: Some((outcome.summary.offered, outcome.summary.acked)),
        outcome,
        topic,
        lost,
    })
}

type ProbeFn<'p> = dyn FnMut(&CellSpec, usize, f64, &CellEnv<'_>) -> anyhow::Result<Probed> + 'p;

/// The search of every cell, each probe run by `probe`; the exit code.
fn search_cells(
    scenario: &Scenario,
    session: &Session,
    opts: &FindMaxOptions,
    run: &RunDir,
    probe: &mut ProbeFn<'_>,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    let mut env = CellEnv {
        session,
        run,
        quiet: opts.quiet,
        faults: None,
        client_stats: None,
    };
    let mut rows: Vec<ProbeRow> = Vec::new();
    let mut summaries: Vec<SummaryRow> = Vec::new();
    let mut lost_in: Option<(String, Vec<u16>)> = None;
    for cell in &scenario.cells {
        if session.shutdown.is_triggered() || lost_in.is_some() {
            break;
        }
        let mut search = Search::new(opts.search_params(cell)).map_err(UsageError)?;
        let mut cell_rows: Vec<ProbeRow> = Vec::new();
        let mut failures = Vec::new();
        while let Some(step) = search.next_step() {
            if session.shutdown.is_triggered() {
                break;
            }
            let n = cell_rows.len() + 1;
            let files = CellFiles::probe(&run.dir, &cell.id, n);
            env.client_stats = Some(files.librdkafka_dir());
            let p = probe(cell, n, step.rate, &env).with_context(|| {
                format!(
                    "cell {} probe {n} at {} msg/s",
                    cell.id,
                    rate_text(step.rate)
                )
            })?;
            let m = &p.measure;
            let verdict = judge(m, &opts.slos);
            let mut row =
                ProbeRow::new(&cell.id, &cell.params, n, step.phase, m, &verdict, &p.topic);
            if let Some((offered, acked)) = p.own {
                row.shard_offered = Some(offered);
                row.shard_acked = Some(acked);
            }
            writeln!(out, "{}", probe_line(&row))?;
            files.write_hlogs(&p.outcome.metrics.intervals, p.outcome.start_unix)?;
            // An interrupted probe, or one a shard was lost in, says nothing about the rate:
            // it is reported, not judged.
            let cut_short = m.flags.contains(&Flag::Interrupted) || !p.lost.is_empty();
            if !cut_short {
                search.record(step.rate, verdict.pass());
                if !verdict.pass() {
                    failures.push((step.rate, verdict.clone()));
                }
            }
            cell_rows.push(row.clone());
            rows.push(row);
            run.write_table(rundir::FINDMAX, &rows)?;
            if !p.lost.is_empty() {
                lost_in = Some((cell.id.clone(), p.lost));
                break;
            }
        }
        let outcome = search.outcome();
        let limited_by = failures
            .iter()
            .find(|(r, _)| Some(*r) == outcome.first_fail)
            .map(|(_, v)| {
                let mut classes: Vec<&str> = v.reasons.iter().map(|r| r.class()).collect();
                classes.dedup();
                classes.join(";")
            })
            .unwrap_or_default();
        let mut summary = SummaryRow::new(
            &cell.id,
            &cell.params,
            &opts.slos,
            &outcome,
            &cell_rows,
            &limited_by,
        );
        if lost_in.is_some() {
            summary.stop = Flag::ShardLost.name().to_string();
        }
        writeln!(out, "{}", summary.line())?;
        let png = run
            .dir
            .join(rundir::CHARTS)
            .join(report::chart_file_name(&cell.id));
        if let Err(e) = report::knee_chart(&cell.id, &cell_rows, &opts.slos, outcome.max, &png) {
            writeln!(out, "chart not written: {e}")?;
        }
        summaries.push(summary);
        run.write_table(rundir::FINDMAX_SUMMARY, &summaries)?;
        let md = report::summary_markdown(&run.run_id, &opts.slos, &summaries);
        run.write_file(rundir::SUMMARY, md.as_bytes())?;
    }
    writeln!(out, "wrote {}", run.dir.join(rundir::FINDMAX).display())?;
    if let Some((cell, lost)) = lost_in {
        writeln!(
            out,
            "search stopped in cell {cell}: shard(s) {lost:?} lost (probe flagged shard-lost); finished probes are in {}",
            run.dir.display()
        )?;
        return Ok(1);
    }
    if session.shutdown.is_triggered() {
        writeln!(
            out,
            "interrupted: finished probes are in {}",
            run.dir.display()
        )?;
        return Ok(130);
    }
    Ok(0)
}

/// The progress line of one probe.
fn probe_line(r: &ProbeRow) -> String {
    let verdict = if r.pass {
        "PASS".to_string()
    } else {
        format!("FAIL: {}", r.reason)
    };
    format!(
        "cell {} probe {:>2} {:<6} {:>8} msg/s  acks {:>8.0}/s  publish p50 {:>8.2} ms p99 {:>8.2} ms p99.9 {:>8.2} ms  e2e p99 {:>8.2} ms  host cpu {:>3.0}%  {verdict}",
        r.cell,
        r.probe,
        r.phase,
        rate_text(r.rate),
        r.ack_rate,
        r.publish_p50_us as f64 / 1e3,
        r.publish_p99_us as f64 / 1e3,
        r.publish_p999_us as f64 / 1e3,
        r.e2e_p99_us as f64 / 1e3,
        r.host_cpu_busy * 100.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(slos: &str) -> FindMaxOptions {
        FindMaxOptions {
            slos: slo::parse_list(slos).unwrap(),
            start: None,
            factor: 2.0,
            precision: 0.05,
            max_steps: 10,
            max_rate: None,
            timing: ProbeTiming {
                warmup: Duration::from_secs(1),
                duration: Duration::from_secs(2),
            },
            reports_dir: PathBuf::from("reports"),
            quiet: true,
            shard: None,
        }
    }

    fn scenario(text: &str) -> Scenario {
        crate::scenario::parse_str(text, std::path::Path::new("s.toml")).unwrap()
    }

    #[test]
    fn start_comes_from_the_flag_then_the_scenario_then_the_default() {
        let s = scenario("name = \"x\"\n[producers]\nrate = 3000\n");
        let mut o = opts("p99<50ms");
        assert_eq!(o.search_params(&s.cells[0]).start, 3000.0);
        o.start = Some(500.0);
        assert_eq!(o.search_params(&s.cells[0]).start, 500.0);
        let s = scenario("name = \"x\"\n");
        assert_eq!(
            opts("p99<50ms").search_params(&s.cells[0]).start,
            DEFAULT_START
        );
    }

    #[test]
    fn scenarios_find_max_cannot_drive_are_refused() {
        let swept = scenario("name = \"x\"\n[sweep]\nrate = [100, 200]\n");
        let e = check(&swept, &opts("p99<50ms")).unwrap_err();
        assert!(e.contains("remove `rate`"), "{e}");
        let no_consumers = scenario("name = \"x\"\n[consumers]\ngroups = 0\n");
        let e = check(&no_consumers, &opts("e2e_p99<50ms")).unwrap_err();
        assert!(e.contains("needs consumers"), "{e}");
        assert!(check(&no_consumers, &opts("p99<50ms")).is_ok());
        let mut bad = opts("p99<50ms");
        bad.factor = 0.5;
        assert!(check(&no_consumers, &bad).unwrap_err().contains("--factor"));
        let mut short = opts("p99<50ms");
        short.timing.duration = Duration::from_millis(200);
        assert!(check(&no_consumers, &short).is_err());
    }
}
