//! Running a scenario: its cells in order, each from topic creation to teardown.
//!
//! One cell: create its topic (prefixed, recorded in the run directory's `topics.txt`), wait
//! until every partition has a leader, start the consumers and wait for their assignment, start
//! the producers, warm up, measure, stop the producers, drain until every acked message is
//! consumed by every group (or the drain timeout passes), delete the topic. A collector
//! swaps every client's stats out once per second meanwhile.

mod cell;
mod faults;
mod progress;
mod run_dir;

pub use cell::{run_cell, CellEnv, CellOutcome, MemberReport};
pub use faults::FaultOutcome;
pub use run_dir::{delete_leftover_topics, registered_topics, CellFiles, RunDir};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::cli::{ClusterDirs, RunArgs};
use crate::error::UsageError;
use crate::cluster::admin::{Admin, TOPIC_PREFIX};
use crate::cluster::{LocalCluster, LocalClusterOpts};
use crate::fault::Target;
use crate::metrics::delivery::GroupAccount;
use crate::report::csv::{CellFacts, ResultRow, TimeseriesRow};
use crate::report::{self, manifest};
use crate::scenario::{CellSpec, Scenario};

/// `kbench run`.
pub fn run_command(args: RunArgs, out: &mut impl Write) -> anyhow::Result<i32> {
    let scenario = crate::scenario::load(&args.scenario)?;
    let conn = Connection::open(
        args.bootstrap.as_deref(),
        args.local,
        args.keep_cluster,
        &args.dirs,
        out,
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let opts = RunOptions {
        kafka_version: conn.kafka_version.clone(),
        local: conn.local,
        reports_dir: args.reports.clone(),
        quiet: args.quiet,
        repeat: args.repeat,
        resume: args.resume.clone(),
        state_dir: args.dirs.state_dir(),
        allow_existing_topic: args.allow_existing_topic,
    };
    let result = rt.block_on(run_scenario(&scenario, &conn.bootstrap, &opts, out));
    conn.close(out)?;
    result
}

/// The cluster a command runs against: `--bootstrap`, or a local cluster started (or reused)
/// for `--local N`.
pub struct Connection {
    pub bootstrap: String,
    /// Known when kbench manages the cluster.
    pub kafka_version: Option<String>,
    /// The cluster is kbench's local one.
    pub local: bool,
    /// Started by this command (and not kept): stopped by [`Connection::close`].
    started: Option<LocalCluster>,
}

impl Connection {
    pub fn open(
        bootstrap: Option<&str>,
        local: Option<u32>,
        keep_cluster: bool,
        dirs: &ClusterDirs,
        out: &mut impl Write,
    ) -> anyhow::Result<Connection> {
        match (bootstrap, local) {
            (Some(b), _) => Ok(Connection {
                bootstrap: b.to_string(),
                kafka_version: None,
                local: false,
                started: None,
            }),
            (None, Some(brokers)) => {
                let opts = LocalClusterOpts {
                    brokers,
                    state_dir: dirs.state_dir(),
                    cache_dir: dirs.cache_dir(),
                    ..LocalClusterOpts::default()
                };
                let (cluster, report) = LocalCluster::up(&opts)?;
                writeln!(
                    out,
                    "local cluster: kafka {} x{brokers} at {} ({:.1} s)",
                    cluster.state().kafka_version,
                    report.bootstrap,
                    report.elapsed.as_secs_f64()
                )?;
                let kafka_version = Some(cluster.state().kafka_version.clone());
                let started = (!report.already_running && !keep_cluster).then_some(cluster);
                Ok(Connection {
                    bootstrap: report.bootstrap,
                    kafka_version,
                    local: true,
                    started,
                })
            }
            (None, None) => bail!("no cluster given: pass --bootstrap HOST:PORT (or set KBENCH_BOOTSTRAP), or --local 3 to start one"),
        }
    }

    /// Stop the local cluster if this command started it.
    pub fn close(self, out: &mut impl Write) -> anyhow::Result<()> {
        if let Some(cluster) = self.started {
            cluster.down(false)?;
            writeln!(out, "local cluster stopped")?;
        }
        Ok(())
    }
}

/// An admin client for `scenario`'s cells, and the cluster's broker count, checked against
/// what the scenario needs (replication factors).
pub fn open_admin(scenario: &Scenario, bootstrap: &str) -> anyhow::Result<(Admin, usize)> {
    let admin_props = scenario
        .cells
        .first()
        .map(|c| c.client.admin.clone())
        .unwrap_or_default();
    let admin = Admin::new(bootstrap, &admin_props)?;
    let brokers = tokio::task::block_in_place(|| admin.broker_count(Duration::from_secs(10)))
        .context("is the cluster up? (`kbench cluster up`, or check --bootstrap)")?;
    crate::scenario::parse::validate_against_cluster(scenario, brokers)?;
    Ok((admin, brokers))
}

/// How to run a scenario, beyond the scenario itself.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Recorded in the manifest when known (a local cluster knows its version).
    pub kafka_version: Option<String>,
    /// The cluster was started by kbench on this host.
    pub local: bool,
    /// Run directories are created under this.
    pub reports_dir: PathBuf,
    pub quiet: bool,
    /// Passes over the sweep (each cell runs this many times).
    pub repeat: u32,
    /// Finish this run directory instead of starting a new one.
    pub resume: Option<PathBuf>,
    /// The local cluster's state directory: faults act on it (unless `[fault_commands]`).
    pub state_dir: PathBuf,
    /// Cells may run on `[topic] existing` topics (never created or deleted by kbench).
    pub allow_existing_topic: bool,
}

/// Run every cell of `scenario` against `bootstrap`, writing reports under `opts.reports_dir`.
/// Returns the exit code: 0, or 130 when interrupted (finished cells are on disk either way).
pub async fn run_scenario(
    scenario: &Scenario,
    bootstrap: &str,
    opts: &RunOptions,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    let (admin, brokers) = open_admin(scenario, bootstrap)?;
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
    let fault_target = if scenario.cells.iter().any(|c| !c.faults.is_empty()) {
        let ids = tokio::task::block_in_place(|| {
            crate::cluster::admin::broker_ids(bootstrap, Duration::from_secs(10))
        })?;
        crate::scenario::validate_faults_against_cluster(scenario, &ids)?;
        let target = Target::for_scenario(scenario.fault_commands.as_ref(), &opts.state_dir)
            .map_err(UsageError)?;
        Some(target)
    } else {
        None
    };

    let (mut run, repeat) = match &opts.resume {
        Some(dir) => {
            let (run, repeat) = RunDir::resume(dir, scenario)?;
            let left = run_dir::delete_leftover_topics(&run.dir, &admin).await?;
            for t in left {
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
            let run = RunDir::create(&opts.reports_dir, &scenario.name)?;
            let manifest = manifest::Manifest {
                run_id: &run.run_id,
                started_at: chrono::Local::now().to_rfc3339(),
                kbench_version: env!("CARGO_PKG_VERSION"),
                librdkafka_version: manifest::librdkafka_version(),
                kafka_version: opts.kafka_version.clone(),
                bootstrap,
                brokers,
                local_cluster: opts.local,
                repeat: opts.repeat,
                host: manifest::Host::this(),
                scenario: manifest::redacted_scenario(scenario),
            };
            report::write_atomic(
                &run.dir.join("manifest.json"),
                &serde_json::to_vec_pretty(&manifest)?,
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
        "run {}: {} cells{passes} against {bootstrap} ({brokers} brokers)",
        run.run_id,
        scenario.cells.len()
    )?;
    writeln!(out, "reports: {}", run.dir.display())?;

    // Ctrl-C / SIGTERM: finish the running cell early (marked interrupted), run no more cells.
    let interrupted = Arc::new(AtomicBool::new(false));
    spawn_signal_watch(interrupted.clone());

    // Two runs of one scenario started in the same second (CI jobs, tests) get the same run id:
    // a random tag keeps their topics apart.
    let topic_tag = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    let todo = (1..=repeat).flat_map(|r| scenario.cells.iter().map(move |c| (r, c)));
    for (repeat, cell) in todo {
        if interrupted.load(Ordering::Relaxed) {
            break;
        }
        if run.done(&cell.id, repeat) {
            continue;
        }
        let files = CellFiles::new(&run.dir, &cell.id, repeat);
        let topic = format!(
            "{TOPIC_PREFIX}{}-{topic_tag}-{}{}",
            run.run_id, cell.id, files.suffix
        );
        let env = CellEnv {
            admin: &admin,
            bootstrap,
            run_dir: &run.dir,
            interrupted: &interrupted,
            quiet: opts.quiet,
            faults: fault_target.as_ref(),
        };
        let outcome = run_cell(cell, &topic, &env).await;
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                writeln!(out, "cell {}: failed: {e:#}", cell.id)?;
                return Err(e.context(format!("cell {}", cell.id)));
            }
        };
        // This cell's files, before the next cell starts.
        let facts = CellFacts {
            topic: &outcome.topic,
            partitions: outcome.partitions,
            replication_factor: outcome.replication_factor,
            repeat,
            consumer_lag: outcome.consumer_lag,
            idle_members: outcome.members.iter().filter(|m| m.idle()).count(),
            delivery: outcome.delivery,
            faults: &outcome.faults,
        };
        let row = ResultRow::new(cell, &outcome.summary, &facts);
        let series = outcome
            .metrics
            .intervals
            .iter()
            .map(|i| TimeseriesRow::new(&cell.id, repeat, i));
        run.record(row, series, &files, &outcome)?;
        writeln!(out, "{}", summary_line(cell, repeat, &outcome))?;
    }
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
    writeln!(out, "wrote {}", run_dir.join("results.csv").display())?;
    if interrupted.load(Ordering::Relaxed) {
        writeln!(
            out,
            "interrupted: finished cells are in {}",
            run_dir.display()
        )?;
        return Ok(130);
    }
    Ok(0)
}

/// `kbench cleanup RUN_DIR`: delete the registered topics of a run that still exist.
pub fn cleanup_command(
    run_dir: &Path,
    bootstrap: &str,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    if !run_dir.join("manifest.json").exists() {
        return Err(UsageError(format!(
            "{}: not a run directory (no manifest.json)",
            run_dir.display()
        ))
        .into());
    }
    let admin = Admin::new(bootstrap, &Default::default())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let deleted = rt.block_on(delete_leftover_topics(run_dir, &admin))?;
    for t in &deleted {
        writeln!(out, "deleted {t}")?;
    }
    writeln!(
        out,
        "{} topic(s) deleted; kbench deletes only topics listed in {}",
        deleted.len(),
        run_dir.join("topics.txt").display()
    )?;
    Ok(0)
}

/// Set `flag` on Ctrl-C or SIGTERM (the running cell then ends early, marked interrupted).
pub fn spawn_signal_watch(flag: Arc<AtomicBool>) {
    tokio::spawn(async move {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!("kbench: interrupted; finishing the current cell's files");
        flag.store(true, Ordering::Relaxed);
    });
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
