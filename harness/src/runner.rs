//! Running a scenario: its cells in order, each from topic creation to teardown.
//!
//! One cell: create its topic (prefixed, recorded in the run directory's `topics.txt`), wait
//! until every partition has a leader, start the consumers and wait for their assignment, start
//! the producers, warm up, measure, stop the producers, drain until every acked message is
//! consumed by every group (or the drain timeout passes), delete the topic. A collector
//! swaps every client's stats out once per second meanwhile.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

use crate::cli::RunArgs;
use crate::cluster::admin::{Admin, TOPIC_PREFIX};
use crate::cluster::{LocalCluster, LocalClusterOpts};
use crate::fleet::consumer::{self, ConsumerPlan, ConsumerShared};
use crate::fleet::keys::KeyGen;
use crate::fleet::payload::PayloadGen;
use crate::fleet::producer::{self, ProducerPlan, ProducerShared};
use crate::metrics::cell::{CellSummary, Interval, Phase};
use crate::metrics::delivery::{self, FleetSeqs, GroupAccount, MemberDeliveries};
use crate::metrics::{CellMetrics, ClientStats, Clock};
use crate::report::csv::{CellFacts, ResultRow, TimeseriesRow};
use crate::report::{self, manifest};
use crate::scenario::{CellSpec, Scenario};

const INTERVAL: Duration = Duration::from_secs(1);

/// Everything a finished (or interrupted) cell produced.
pub struct CellOutcome {
    pub summary: CellSummary,
    pub metrics: CellMetrics,
    pub topic: String,
    pub consumer_lag: u64,
    pub members: Vec<MemberReport>,
    pub start_unix: f64,
    /// Lost, duplicated, reordered (worst group).
    pub delivery: GroupAccount,
}

/// A consumer group member's share of the cell.
#[derive(Debug, Clone)]
pub struct MemberReport {
    pub group: usize,
    pub member: usize,
    pub partitions: Vec<i32>,
    pub consumed: u64,
}

impl MemberReport {
    pub fn idle(&self) -> bool {
        self.partitions.is_empty()
    }
}

/// `kbench run`.
pub fn run_command(args: RunArgs, out: &mut impl Write) -> anyhow::Result<i32> {
    let scenario = crate::scenario::load(&args.scenario)?;
    let mut started_cluster = None;
    let mut kafka_version = None;
    let bootstrap = match (&args.bootstrap, args.local) {
        (Some(b), _) => b.clone(),
        (None, Some(brokers)) => {
            let opts = LocalClusterOpts {
                brokers,
                state_dir: args.dirs.state_dir(),
                cache_dir: args.dirs.cache_dir(),
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
            kafka_version = Some(cluster.state().kafka_version.clone());
            if !report.already_running && !args.keep_cluster {
                started_cluster = Some(cluster);
            }
            report.bootstrap
        }
        (None, None) => bail!("no cluster given: pass --bootstrap HOST:PORT (or set KBENCH_BOOTSTRAP), or --local 3 to start one"),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let opts = RunOptions {
        kafka_version,
        local: started_cluster.is_some() || args.local.is_some(),
        reports_dir: args.reports.clone(),
        quiet: args.quiet,
        repeat: args.repeat,
    };
    let result = rt.block_on(run_scenario(&scenario, &bootstrap, &opts, out));
    if let Some(cluster) = started_cluster {
        cluster.down(false)?;
        writeln!(out, "local cluster stopped")?;
    }
    result
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
}

/// Run every cell of `scenario` against `bootstrap`, writing reports under `opts.reports_dir`.
/// Returns the exit code: 0, or 130 when interrupted (finished cells are on disk either way).
pub async fn run_scenario(
    scenario: &Scenario,
    bootstrap: &str,
    opts: &RunOptions,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    let admin_props = scenario
        .cells
        .first()
        .map(|c| c.client.admin.clone())
        .unwrap_or_default();
    let admin = Admin::new(bootstrap, &admin_props)?;
    let brokers = tokio::task::block_in_place(|| admin.broker_count(Duration::from_secs(10)))
        .context("is the cluster up? (`kbench cluster up`, or check --bootstrap)")?;
    crate::scenario::parse::validate_against_cluster(scenario, brokers)?;

    let started = chrono::Local::now();
    let run_id = format!("{}-{}", scenario.name, started.format("%Y%m%d-%H%M%S"));
    let run_dir = opts.reports_dir.join(&run_id);
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    let manifest = manifest::Manifest {
        run_id: &run_id,
        started_at: started.to_rfc3339(),
        kbench_version: env!("CARGO_PKG_VERSION"),
        librdkafka_version: manifest::librdkafka_version(),
        kafka_version: opts.kafka_version.clone(),
        bootstrap,
        brokers,
        local_cluster: opts.local,
        host: manifest::Host::this(),
        scenario: manifest::redacted_scenario(scenario),
    };
    report::write_atomic(
        &run_dir.join("manifest.json"),
        &serde_json::to_vec_pretty(&manifest)?,
    )?;
    let repeats = if opts.repeat > 1 {
        format!(" x {} passes", opts.repeat)
    } else {
        String::new()
    };
    writeln!(
        out,
        "run {run_id}: {} cells{repeats} against {bootstrap} ({brokers} brokers)",
        scenario.cells.len()
    )?;
    writeln!(out, "reports: {}", run_dir.display())?;

    // Ctrl-C / SIGTERM: finish the running cell early (marked interrupted), run no more cells.
    let interrupted = Arc::new(AtomicBool::new(false));
    spawn_signal_watch(interrupted.clone());

    let mut rows = Vec::new();
    let mut series = Vec::new();
    let mut outcomes = Vec::new();
    let passes = (1..=opts.repeat).flat_map(|r| scenario.cells.iter().map(move |c| (r, c)));
    for (repeat, cell) in passes {
        if interrupted.load(Ordering::Relaxed) {
            break;
        }
        let files = CellFiles::new(&run_dir, &cell.id, repeat);
        let topic = format!("{TOPIC_PREFIX}{}-{}{}", run_id, cell.id, files.suffix);
        let outcome = run_cell(
            cell,
            &admin,
            bootstrap,
            &topic,
            &run_dir,
            &interrupted,
            opts.quiet,
        )
        .await;
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
            repeat,
            consumer_lag: outcome.consumer_lag,
            idle_members: outcome.members.iter().filter(|m| m.idle()).count(),
            delivery: outcome.delivery,
        };
        rows.push(ResultRow::new(cell, &outcome.summary, &facts));
        series.extend(
            outcome
                .metrics
                .intervals
                .iter()
                .map(|i| TimeseriesRow::new(&cell.id, repeat, i)),
        );
        write_cell_files(&run_dir, &files, &outcome, &rows, &series)?;
        writeln!(out, "{}", summary_line(cell, repeat, &outcome))?;
        outcomes.push((cell.clone(), outcome));
    }
    let chart = run_dir.join("charts/latency.png");
    if let Err(e) = report::chart::latency_by_cell(&rows, &chart) {
        writeln!(out, "chart not written: {e}")?;
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

fn spawn_signal_watch(flag: Arc<AtomicBool>) {
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

fn write_cell_files(
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

/// Record a topic kbench is about to create, so cleanup can prove it is ours.
fn register_topic(run_dir: &Path, topic: &str) -> anyhow::Result<()> {
    use std::fs::OpenOptions;
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(run_dir.join("topics.txt"))?;
    writeln!(f, "{topic}")?;
    f.sync_all()?;
    Ok(())
}

struct Fleet {
    producers: Vec<Arc<ProducerShared>>,
    producer_threads: Vec<std::thread::JoinHandle<Result<(), String>>>,
    consumers: Vec<(usize, usize, Arc<ConsumerShared>)>,
    consumer_threads: Vec<std::thread::JoinHandle<MemberDeliveries>>,
}

/// Run one cell. Errors are setup failures (topic, clients); load problems are counted.
pub async fn run_cell(
    cell: &CellSpec,
    admin: &Admin,
    bootstrap: &str,
    topic: &str,
    run_dir: &Path,
    interrupted: &Arc<AtomicBool>,
    quiet: bool,
) -> anyhow::Result<CellOutcome> {
    let partitions = cell.topic.partitions;
    let setup_timeout = Duration::from_secs(30);
    register_topic(run_dir, topic)?;
    admin
        .create_topic(
            topic,
            partitions,
            cell.topic.replication_factor,
            &cell.topic.configs,
            setup_timeout,
        )
        .await?;
    let result = run_cell_on_topic(cell, admin, bootstrap, topic, interrupted, quiet).await;
    // Delete the topic whatever happened: it is ours (created just above).
    let deleted = admin.delete_topics(&[topic], setup_timeout).await;
    let outcome = result?;
    deleted?;
    Ok(outcome)
}

async fn run_cell_on_topic(
    cell: &CellSpec,
    admin: &Admin,
    bootstrap: &str,
    topic: &str,
    interrupted: &Arc<AtomicBool>,
    quiet: bool,
) -> anyhow::Result<CellOutcome> {
    let partitions = cell.topic.partitions;
    admin
        .wait_for_leaders(
            topic,
            partitions,
            cell.topic.replication_factor,
            Duration::from_secs(30),
        )
        .await?;
    let clock = Clock::new();
    let start_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let stop_consumers = Arc::new(AtomicBool::new(false));
    let stop_producers = Arc::new(AtomicBool::new(false));
    let mut fleet = Fleet {
        producers: Vec::new(),
        producer_threads: Vec::new(),
        consumers: Vec::new(),
        consumer_threads: Vec::new(),
    };

    // Consumers first, and wait until each group has every partition assigned, so no message
    // is produced before someone is there to read it.
    // The warm-up boundary is known only once the producers start; consumers read it from here.
    let warmup_end_ns = Arc::new(AtomicU64::new(u64::MAX));
    let run_tag = topic.trim_start_matches(TOPIC_PREFIX);
    for g in 0..cell.consumers.groups {
        let group_offsets = consumer::group_offsets(partitions as usize);
        for m in 0..cell.consumers.members {
            let shared = Arc::new(ConsumerShared::new(partitions as usize));
            let plan = ConsumerPlan {
                group_index: g,
                member_index: m,
                group_id: format!("{TOPIC_PREFIX}{run_tag}-g{g}"),
                topic: topic.to_string(),
                start_from: cell.consumers.start_from,
                bootstrap: bootstrap.to_string(),
                extra: cell.client.consumer.clone(),
                clock,
                warmup_end_ns: warmup_end_ns.clone(),
                group_offsets: group_offsets.clone(),
            };
            let c =
                consumer::create(&plan, &shared).map_err(|e| anyhow!("creating consumer: {e}"))?;
            let (s2, stop) = (shared.clone(), stop_consumers.clone());
            fleet.consumer_threads.push(
                std::thread::Builder::new()
                    .name(format!("kb-c{g}.{m}"))
                    .spawn(move || consumer::run(plan, c, s2, stop))?,
            );
            fleet.consumers.push((g, m, shared));
        }
    }
    let assigned = wait_for_assignment(&fleet, cell, Duration::from_secs(60)).await;
    if let Err(e) = assigned {
        stop_consumers.store(true, Ordering::Relaxed);
        join_consumers(fleet.consumer_threads).await;
        return Err(e);
    }

    // Producers: message 0 is due shortly after the threads exist.
    let start = Instant::now() + Duration::from_millis(50);
    let warmup_end = start + cell.run.warmup;
    warmup_end_ns.store(clock.ns(warmup_end), Ordering::Relaxed);
    let measure_end = cell.run.duration.map(|d| warmup_end + d);
    let budget = cell
        .run
        .messages
        .map(|m| m.div_ceil(cell.producers.count as u64));
    let cell_seed = 0x6b62_656e_6368 ^ (cell.index as u64) << 20;
    let keys = KeyGen::new(&cell.producers.keys, cell_seed)?;
    let payloads = PayloadGen::new(&cell.producers.message_size, cell_seed ^ 0x9e37_79b9)?;
    for i in 0..cell.producers.count {
        let shared = Arc::new(ProducerShared::new(partitions as usize));
        let seed = cell_seed ^ i as u64;
        let plan = ProducerPlan {
            index: i,
            topic: topic.to_string(),
            partitions,
            spec: cell.producers.clone(),
            run: cell.run.clone(),
            bootstrap: bootstrap.to_string(),
            extra: cell.client.producer.clone(),
            clock,
            warmup_end,
            start,
            seed,
            keys: keys.reseeded(seed),
            payloads: payloads.reseeded(seed ^ 0x9e37_79b9),
        };
        let p = producer::create(&plan, &shared).map_err(|e| anyhow!("creating producer: {e}"))?;
        let (s2, stop) = (shared.clone(), stop_producers.clone());
        fleet.producer_threads.push(
            std::thread::Builder::new()
                .name(format!("kb-p{i}"))
                .spawn(move || producer::run(plan, p, s2, stop, budget))?,
        );
        fleet.producers.push(shared);
    }

    // Collect once per interval; the phase follows the clock and the producers.
    let mut metrics = CellMetrics::new(partitions as usize);
    let mut spare = ClientStats::new(partitions as usize);
    let mut member_consumed = vec![0u64; fleet.consumers.len()];
    let mut progress = Progress::new(&cell.id, quiet);
    let mut last = start;
    let mut drain_deadline: Option<Instant> = None;
    let mut drain_complete = false;
    let mut was_interrupted = false;
    loop {
        // Next boundary: the next whole interval, or warm-up / measurement end if sooner.
        let mut next = last + INTERVAL;
        for b in [Some(warmup_end), measure_end].into_iter().flatten() {
            if b > last && b < next {
                next = b;
            }
        }
        tokio::time::sleep_until(next.into()).await;
        let now = Instant::now();
        // An interval belongs to the warm-up when it starts before the warm-up ends (interval
        // boundaries include the warm-up end, so only timer lateness makes one straddle it).
        let phase = if last < warmup_end {
            Phase::Warmup
        } else if drain_deadline.is_none() {
            Phase::Measure
        } else {
            Phase::Drain
        };
        let interval = collect(
            &fleet,
            &mut spare,
            &mut member_consumed,
            partitions as usize,
            start,
            last,
            now,
            phase,
        );
        progress.tick(&interval, now.duration_since(start));
        metrics.add_interval(interval);
        last = now;

        if interrupted.load(Ordering::Relaxed) && !was_interrupted {
            was_interrupted = true;
            stop_producers.store(true, Ordering::Relaxed);
            drain_deadline.get_or_insert(now + Duration::from_secs(5).min(cell.run.drain_timeout));
        }
        let producers_done = fleet.producer_threads.iter().all(|t| t.is_finished());
        if drain_deadline.is_none() {
            let time_up = measure_end.is_some_and(|e| now >= e);
            if time_up || (cell.run.messages.is_some() && producers_done) {
                stop_producers.store(true, Ordering::Relaxed);
                drain_deadline = Some(now + cell.run.drain_timeout);
            }
            continue;
        }
        // Draining: done when the producers have flushed and every group has read every ack.
        let acked: u64 = fleet
            .producers
            .iter()
            .map(|p| p.acked_total.load(Ordering::Relaxed))
            .sum();
        let lag = worst_group_lag(&fleet, cell.consumers.groups, acked);
        if producers_done && lag == 0 {
            drain_complete = true;
            break;
        }
        if drain_deadline.is_some_and(|d| now >= d) {
            break;
        }
    }
    stop_producers.store(true, Ordering::Relaxed);
    for t in fleet.producer_threads.drain(..) {
        let joined = tokio::task::spawn_blocking(move || t.join()).await;
        if let Ok(Ok(Err(e))) = joined {
            stop_consumers.store(true, Ordering::Relaxed);
            bail!("producer: {e}");
        }
    }
    // A last collection for anything recorded since the final tick.
    let now = Instant::now();
    let acked: u64 = fleet
        .producers
        .iter()
        .map(|p| p.acked_total.load(Ordering::Relaxed))
        .sum();
    let consumer_lag = worst_group_lag(&fleet, cell.consumers.groups, acked);
    // Assignments as they stood during the load (leaving the group revokes them).
    let assignments: Vec<Vec<i32>> = fleet
        .consumers
        .iter()
        .map(|(_, _, s)| s.assignment())
        .collect();
    stop_consumers.store(true, Ordering::Relaxed);
    let reads = join_consumers(std::mem::take(&mut fleet.consumer_threads)).await;
    let delivery = account(&fleet, cell.consumers.groups, &reads);
    let final_interval = collect(
        &fleet,
        &mut spare,
        &mut member_consumed,
        partitions as usize,
        start,
        last,
        now,
        Phase::Drain,
    );
    metrics.add_interval(final_interval);
    progress.done();

    let summary = metrics.summary(drain_complete, was_interrupted);
    let members = fleet
        .consumers
        .iter()
        .zip(&member_consumed)
        .zip(assignments)
        .map(|(((g, m, _), consumed), partitions)| MemberReport {
            group: *g,
            member: *m,
            partitions,
            consumed: *consumed,
        })
        .collect();
    Ok(CellOutcome {
        summary,
        metrics,
        topic: topic.to_string(),
        consumer_lag,
        members,
        start_unix,
        delivery,
    })
}

/// Acked messages (warm-up included) that the slowest group has not received yet.
fn worst_group_lag(fleet: &Fleet, groups: usize, acked: u64) -> u64 {
    (0..groups)
        .map(|g| {
            let got: u64 = fleet
                .consumers
                .iter()
                .filter(|(cg, _, _)| *cg == g)
                .map(|(_, _, s)| s.consumed_total.load(Ordering::Relaxed))
                .sum();
            acked.saturating_sub(got)
        })
        .max()
        .unwrap_or(0)
}

async fn wait_for_assignment(
    fleet: &Fleet,
    cell: &CellSpec,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let all: Vec<i32> = (0..cell.topic.partitions).collect();
    loop {
        let complete = (0..cell.consumers.groups).all(|g| {
            let members: Vec<_> = fleet
                .consumers
                .iter()
                .filter(|(cg, _, _)| *cg == g)
                .collect();
            let mut got: Vec<i32> = members
                .iter()
                .flat_map(|(_, _, s)| s.assignment())
                .collect();
            got.sort_unstable();
            members
                .iter()
                .all(|(_, _, s)| s.assigned.load(Ordering::Acquire))
                && got == all
        });
        if complete {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("consumer groups were not assigned every partition within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Join the consumer threads; each returns what it read (in `fleet.consumers` order).
async fn join_consumers(
    threads: Vec<std::thread::JoinHandle<MemberDeliveries>>,
) -> Vec<MemberDeliveries> {
    let mut reads = Vec::with_capacity(threads.len());
    for t in threads {
        let joined = tokio::task::spawn_blocking(move || t.join()).await;
        // A member that panicked read nothing we can vouch for: its share shows as lost.
        reads.push(joined.ok().and_then(|r| r.ok()).unwrap_or_default());
    }
    reads
}

/// Delivery accounting for the cell: every group against the acknowledged messages; the
/// worst group is reported (each group must receive everything).
fn account(fleet: &Fleet, groups: usize, reads: &[MemberDeliveries]) -> GroupAccount {
    let acked = FleetSeqs {
        by_producer: fleet.producers.iter().map(|p| p.acked_seqs()).collect(),
    };
    let per_group: Vec<GroupAccount> = (0..groups)
        .map(|g| {
            let members = fleet
                .consumers
                .iter()
                .zip(reads)
                .filter(|((cg, _, _), _)| *cg == g)
                .map(|(_, r)| r);
            delivery::account_group(&acked, members)
        })
        .collect();
    delivery::worst(&per_group)
}

/// Swap every client's interval stats out and merge them into one [`Interval`].
#[allow(clippy::too_many_arguments)]
fn collect(
    fleet: &Fleet,
    spare: &mut ClientStats,
    member_consumed: &mut [u64],
    partitions: usize,
    start: Instant,
    from: Instant,
    to: Instant,
    phase: Phase,
) -> Interval {
    let mut producers = ClientStats::new(partitions);
    let mut consumers = ClientStats::new(partitions);
    for p in &fleet.producers {
        p.stats.lock().take(spare);
        producers.merge(spare);
    }
    for (i, (_, _, c)) in fleet.consumers.iter().enumerate() {
        c.stats.lock().take(spare);
        member_consumed[i] += spare.counters.consumed;
        consumers.merge(spare);
    }
    Interval {
        start_s: from.saturating_duration_since(start).as_secs_f64(),
        end_s: to.saturating_duration_since(start).as_secs_f64(),
        phase,
        producers,
        consumers,
    }
}

/// Live progress: a line rewritten in place on a terminal, a plain line every 5 s otherwise.
struct Progress {
    cell: String,
    quiet: bool,
    tty: bool,
    last_print: Option<Instant>,
    errors: u64,
    p99_hist: hdrhistogram::Histogram<u64>,
}

impl Progress {
    fn new(cell: &str, quiet: bool) -> Progress {
        Progress {
            cell: cell.to_string(),
            quiet,
            tty: std::io::stderr().is_terminal(),
            last_print: None,
            errors: 0,
            p99_hist: crate::metrics::new_histogram(),
        }
    }

    fn tick(&mut self, i: &Interval, elapsed: Duration) {
        if self.quiet {
            return;
        }
        self.errors += i.producers.counters.failed;
        if i.phase != Phase::Warmup {
            let _ = self.p99_hist.add(&i.producers.publish);
        }
        let due = self.tty
            || self
                .last_print
                .is_none_or(|t| t.elapsed() >= Duration::from_secs(5));
        if !due {
            return;
        }
        self.last_print = Some(Instant::now());
        let c = &i.producers.counters;
        let rate = (c.acked + c.warmup_acked) as f64 / i.secs().max(1e-9);
        let p99 = if self.p99_hist.is_empty() {
            0.0
        } else {
            self.p99_hist.value_at_quantile(0.99) as f64 / 1e3
        };
        let line = format!(
            "  {} {:>6.1}s {:<7} {:>9.0} msg/s  p99 so far {:>8.2} ms  errors {}",
            self.cell,
            elapsed.as_secs_f64(),
            i.phase.name(),
            rate,
            p99,
            self.errors
        );
        if self.tty {
            eprint!("\r\x1b[2K{line}");
        } else {
            eprintln!("{line}");
        }
    }

    fn done(&self) {
        if self.tty && !self.quiet {
            eprint!("\r\x1b[2K");
        }
    }
}
