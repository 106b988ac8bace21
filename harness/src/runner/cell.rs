//! One cell, from topic creation to teardown: the fleets, the collector, the drain.

use super::progress::Progress;
use super::run_dir::register_topic;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};

use super::faults::{self, FaultOutcome};
use crate::cluster::admin::{Admin, TOPIC_PREFIX};
use crate::fault::{FaultRunner, FaultSetup, Target};
use crate::fleet::consumer::{self, ConsumerPlan, ConsumerShared};
use crate::fleet::keys::KeyGen;
use crate::fleet::payload::PayloadGen;
use crate::fleet::producer::{self, ProducerPlan, ProducerShared};
use crate::metrics::cell::{CellSummary, Interval, Phase};
use crate::metrics::cpu::{CpuSample, CpuUse};
use crate::metrics::delivery::{self, FleetSeqs, GroupAccount, MemberDeliveries};
use crate::metrics::{CellEnd, CellMetrics, ClientStats, Clock};
use crate::scenario::{CellSpec, StartFrom};

const INTERVAL: Duration = Duration::from_secs(1);

/// Everything a finished (or interrupted) cell produced.
pub struct CellOutcome {
    /// The topic's shape as run (an existing topic's may differ from the scenario's).
    pub partitions: i32,
    pub replication_factor: i32,
    pub summary: CellSummary,
    pub metrics: CellMetrics,
    pub topic: String,
    pub consumer_lag: u64,
    pub members: Vec<MemberReport>,
    pub start_unix: f64,
    /// Lost, duplicated, reordered (worst group).
    pub delivery: GroupAccount,
    /// The cell's faults and their impact (empty without `[[fault]]`).
    pub faults: Vec<FaultOutcome>,
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

struct Fleet {
    producers: Vec<Arc<ProducerShared>>,
    producer_threads: Vec<std::thread::JoinHandle<Result<(), String>>>,
    consumers: Vec<(usize, usize, Arc<ConsumerShared>)>,
    consumer_threads: Vec<std::thread::JoinHandle<MemberDeliveries>>,
}

/// What every cell of a run shares.
pub struct CellEnv<'a> {
    pub admin: &'a Admin,
    pub bootstrap: &'a str,
    /// Where created topics are registered (`topics.txt`).
    pub run_dir: &'a Path,
    /// Set on SIGINT / SIGTERM: the running cell ends early, marked interrupted.
    pub interrupted: &'a Arc<AtomicBool>,
    pub quiet: bool,
    /// How to carry out `[[fault]]`s; `None` when the scenario has none.
    pub faults: Option<&'a Target>,
}

/// Run one cell on a topic it creates (and deletes). Errors are setup failures (topic,
/// clients); load problems are counted.
pub async fn run_cell(
    cell: &CellSpec,
    topic: &str,
    env: &CellEnv<'_>,
) -> anyhow::Result<CellOutcome> {
    let admin = env.admin;
    if let Some(existing) = &cell.topic.existing {
        // Someone else's topic: never created, registered or deleted here. Its shape comes
        // from the cluster, and consumers read only what this cell writes.
        let shape =
            tokio::task::block_in_place(|| admin.describe(existing, Duration::from_secs(10)))?
                .ok_or_else(|| {
                    anyhow!("topic.existing: topic {existing} does not exist on the cluster")
                })?;
        let mut on_existing = cell.clone();
        on_existing.topic.partitions = shape.partitions;
        on_existing.topic.replication_factor = shape.replication_factor;
        on_existing.consumers.start_from = StartFrom::Latest;
        return run_cell_on_topic(&on_existing, existing, env).await;
    }
    let partitions = cell.topic.partitions;
    let setup_timeout = Duration::from_secs(30);
    admin
        .create_topic(
            topic,
            partitions,
            cell.topic.replication_factor,
            &cell.topic.configs,
            setup_timeout,
        )
        .await?;
    register_topic(env.run_dir, topic)?;
    let result = run_cell_on_topic(cell, topic, env).await;
    // Delete the topic whatever happened: it is ours (created just above).
    let deleted = admin.delete_topics(&[topic], setup_timeout).await;
    let outcome = result?;
    deleted?;
    Ok(outcome)
}

async fn run_cell_on_topic(
    cell: &CellSpec,
    topic: &str,
    env: &CellEnv<'_>,
) -> anyhow::Result<CellOutcome> {
    let (admin, bootstrap, interrupted) = (env.admin, env.bootstrap, env.interrupted);
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

    // Faults run on their own threads, on the cell's clock (`at` counts from `start`).
    let mut fault_runner = match env.faults {
        Some(target) if !cell.faults.is_empty() => {
            let mut setup = FaultSetup::new(
                cell.faults.clone(),
                target.clone(),
                Some(bootstrap.to_string()),
                topic,
                start,
            );
            setup.client_props = cell.client.admin.clone();
            Some(FaultRunner::start(setup))
        }
        _ => None,
    };
    let mut faults_stopping = None;
    let mut producers_stopped_at = None;

    // Collect once per interval; the phase follows the clock and the producers.
    let mut metrics = CellMetrics::new(partitions as usize);
    let mut spare = ClientStats::new(partitions as usize);
    let mut member_consumed = vec![0u64; fleet.consumers.len()];
    let mut progress = Progress::new(&cell.id, env.quiet);
    let mut last = start;
    let mut drain_deadline: Option<Instant> = None;
    let mut drain_complete = false;
    let mut was_interrupted = false;
    // kbench's own CPU over the measurement window (the self-check).
    let mut cpu_measure_start: Option<CpuSample> = None;
    let mut cpu_measure_end: Option<CpuSample> = None;
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
        if now >= warmup_end && cpu_measure_start.is_none() {
            cpu_measure_start = Some(CpuSample::now());
        }

        if interrupted.load(Ordering::Relaxed) && !was_interrupted {
            was_interrupted = true;
            stop_producers.store(true, Ordering::Relaxed);
            cpu_measure_end.get_or_insert_with(CpuSample::now);
            producers_stopped_at.get_or_insert(now.saturating_duration_since(start));
            drain_deadline.get_or_insert(now + Duration::from_secs(5).min(cell.run.drain_timeout));
        }
        if producers_stopped_at.is_some() {
            // Faults end with the load; a broker still down is brought back meanwhile.
            if let Some(f) = fault_runner.take() {
                faults_stopping = Some(tokio::spawn(f.stop_async()));
            }
        }
        let producers_done = fleet.producer_threads.iter().all(|t| t.is_finished());
        if drain_deadline.is_none() {
            let time_up = measure_end.is_some_and(|e| now >= e);
            if time_up || (cell.run.messages.is_some() && producers_done) {
                stop_producers.store(true, Ordering::Relaxed);
                cpu_measure_end.get_or_insert_with(CpuSample::now);
                producers_stopped_at.get_or_insert(now.saturating_duration_since(start));
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

    let events = match (fault_runner.take(), faults_stopping) {
        (Some(f), _) => f.stop_async().await,
        (None, Some(stopping)) => stopping.await.unwrap_or_default(),
        (None, None) => Vec::new(),
    };
    let logs: Vec<_> = fleet.producers.iter().map(|p| p.log()).collect();
    let until = producers_stopped_at.unwrap_or_else(|| now.saturating_duration_since(start));
    let (timeline, first_failure) = faults::fleet_timeline(&logs, until);
    let faults = faults::outcomes(events, &timeline, first_failure, cell.run.warmup);
    let cpu = match (cpu_measure_start, cpu_measure_end) {
        (Some(a), Some(b)) => a.until(&b),
        _ => CpuUse::default(),
    };
    let busiest_producer = fleet
        .producers
        .iter()
        .map(|p| p.busy_ppm.load(Ordering::Relaxed) as f64 / 1e6)
        .fold(0.0, f64::max);
    let summary = metrics.summary(&CellEnd {
        drain_complete,
        interrupted: was_interrupted,
        cpu,
        busiest_producer,
    });
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
        partitions,
        replication_factor: cell.topic.replication_factor,
        consumer_lag,
        members,
        start_unix,
        delivery,
        faults,
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
        by_producer: fleet.producers.iter().map(|p| p.log().acked).collect(),
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
