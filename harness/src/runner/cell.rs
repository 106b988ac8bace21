//! One cell as a timeline: topic, consumers, load (warm-up, then measurement), drain, account.
//! The clients are a [`Fleet`]; this file only decides when things happen.

use std::time::{Duration, Instant};

use anyhow::anyhow;

use super::progress::Progress;
use crate::cluster::admin::TOPIC_PREFIX;
use crate::fault::outcome::{self as faults, FaultOutcome};
use crate::fault::{FaultEvent, FaultRunner, FaultSetup, Target};
use crate::fleet::{Fleet, FleetPlan, MemberReport, RebalanceReport};
use crate::metrics::cell::{CellSummary, Phase};
use crate::metrics::cpu::{CpuSample, CpuUse};
use crate::metrics::delivery::{DeliveryEvidence, GroupAccount};
use crate::metrics::{CellEnd, CellMetrics, Clock};
use crate::rundir::rows::TopicOrigin;
use crate::rundir::RunDir;
use crate::scenario::{CellSpec, ConsumerAction, ConsumerFault, StartFrom, TopicCreate};
use crate::session::Session;

const INTERVAL: Duration = Duration::from_secs(1);
/// How often a cell with a `messages` budget looks whether its producers are done.
const BUDGET_POLL: Duration = Duration::from_millis(10);
/// How long the first write to a topic that does not exist yet may take to be acked.
const FIRST_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Consumer groups must have every partition assigned within this before the load starts.
const ASSIGNMENT_TIMEOUT: Duration = Duration::from_secs(60);
/// An interrupted cell drains for at most this long.
const INTERRUPTED_DRAIN: Duration = Duration::from_secs(5);

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
    /// What `delivery` was computed from (`cells/<id>/delivery.json`).
    pub evidence: DeliveryEvidence,
    /// The cell's faults and their impact (empty without `[[fault]]`).
    pub faults: Vec<FaultOutcome>,
    /// Who made the topic (and for an auto-created one, the first write's ack time).
    pub origin: TopicOrigin,
    /// A distributed run's shard: what the shards agreed on; `None` in one process.
    pub distributed: Option<DistributedFacts>,
    /// The consumer groups' rebalances during the load.
    pub rebalance: RebalanceReport,
}

/// What a shard of a distributed run knows about a cell beyond its own fleet.
#[derive(Debug, Clone, Default)]
pub struct DistributedFacts {
    /// The bound on the error clock offsets add to a cross-shard end-to-end latency.
    pub e2e_clock_bound_ns: u64,
    /// Shards that never became ready or stopped answering.
    pub shards_lost: Vec<u16>,
}

/// What every cell of a run shares.
pub struct CellEnv<'a> {
    pub session: &'a Session,
    /// Where created topics are registered (`topics.txt`).
    pub run: &'a RunDir,
    pub quiet: bool,
    /// How to carry out `[[fault]]`s; `None` when the scenario has none.
    pub faults: Option<&'a Target>,
    /// Where the cell's clients write librdkafka's statistics when the scenario turns them on
    /// ([`crate::rundir::CellFiles::librdkafka_dir`]); `None`: nowhere.
    pub client_stats: Option<std::path::PathBuf>,
}

/// Run one cell on a topic it creates (and deletes). Errors are setup failures (topic,
/// clients); load problems are counted.
pub fn run_cell(cell: &CellSpec, topic: &str, env: &CellEnv<'_>) -> anyhow::Result<CellOutcome> {
    let session = env.session;
    if let Some(existing) = &cell.topic.existing {
        // Someone else's topic: never created, registered or deleted here. Its shape comes
        // from the cluster, and consumers read only what this cell writes.
        let shape = session.describe(existing)?.ok_or_else(|| {
            anyhow!("topic.existing: topic {existing} does not exist on the cluster")
        })?;
        let mut on_existing = cell.clone();
        on_existing.topic.partitions = shape.partitions;
        on_existing.topic.replication_factor = shape.replication_factor;
        on_existing.consumers.start_from = StartFrom::Latest;
        let mut outcome = run_on_topic(&on_existing, existing, env, None)?;
        outcome.origin = TopicOrigin::Existing;
        return Ok(outcome);
    }
    if cell.topic.create == TopicCreate::Auto {
        return run_auto_created(cell, topic, env);
    }
    let t = &cell.topic;
    session.create_topic(
        env.run,
        topic,
        t.partitions,
        t.replication_factor,
        &t.configs,
    )?;
    let result = run_on_topic(cell, topic, env, None);
    // Delete the topic whatever happened: it is ours (created just above).
    let deleted = session.delete_topics(&[topic]);
    let outcome = result?;
    deleted?;
    Ok(outcome)
}

/// What a distributed run adds to a cell's timeline (`shard.rs`): the shards start together
/// and drain together. One process passes none.
pub trait Lockstep {
    /// The clock of the cell (the shards' common wall clock).
    fn clock(&self) -> Clock;
    /// This shard's parts of the fleet's plan (run tag, shard, producer bases).
    fn fleet_plan(&self, plan: FleetPlan) -> FleetPlan;
    /// The consumers are up: wait until every shard is ready; returns when message 0 is due.
    fn ready(&self, fleet: &Fleet) -> anyhow::Result<Instant>;
    /// Once per interval (the shard's heartbeat): this shard's progress; while `draining`,
    /// whether every shard's drain is complete.
    fn tick(&self, fleet: &Fleet, draining: bool) -> bool;
}

/// `[topic] create = "auto"`: write to `topic` before it exists, let the broker make it, run
/// the cell on the shape it made, delete it. The name is kbench's own and is registered before
/// the first write, so a topic the broker makes under it is this run's, and cleaned up as such.
fn run_auto_created(
    cell: &CellSpec,
    topic: &str,
    env: &CellEnv<'_>,
) -> anyhow::Result<CellOutcome> {
    let session = env.session;
    if session.describe(topic)?.is_some() {
        // Not this run's (the name has the run id and a random tag: someone made it on
        // purpose): never written to, never deleted.
        return Err(anyhow!(
            "topic.create = \"auto\": topic {topic} exists already, so it would not be auto-created"
        ));
    }
    env.run.register_topic(topic)?;
    let result = first_write_then_run(cell, topic, env);
    // Delete whatever the broker made: the name is ours, registered above.
    let deleted = match session.describe(topic) {
        Ok(Some(_)) => session.delete_topics(&[topic]),
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    let outcome = result?;
    deleted?;
    Ok(outcome)
}

fn first_write_then_run(
    cell: &CellSpec,
    topic: &str,
    env: &CellEnv<'_>,
) -> anyhow::Result<CellOutcome> {
    let session = env.session;
    let first_ack = crate::fleet::first_write::first_write(
        session.access(),
        &cell.client.producer,
        topic,
        FIRST_WRITE_TIMEOUT,
    )
    .map_err(|e| anyhow!("topic.create = \"auto\": {e}"))?;
    let shape = session.describe(topic)?.ok_or_else(|| {
        anyhow!("topic.create = \"auto\": topic {topic} was acked but the cluster does not list it")
    })?;
    let mut on_made = cell.clone();
    on_made.topic.partitions = shape.partitions;
    on_made.topic.replication_factor = shape.replication_factor;
    // The first write is not the cell's load: consumers read only what comes after it.
    on_made.consumers.start_from = StartFrom::Latest;
    let mut outcome = run_on_topic(&on_made, topic, env, None)?;
    outcome.origin = TopicOrigin::Broker { first_ack };
    Ok(outcome)
}

/// The cell's timeline, from an existing topic to its accounted outcome.
pub(super) fn run_on_topic(
    cell: &CellSpec,
    topic: &str,
    env: &CellEnv<'_>,
    lockstep: Option<&dyn Lockstep>,
) -> anyhow::Result<CellOutcome> {
    let session = env.session;
    let partitions = cell.topic.partitions;
    session.wait_for_leaders(topic, partitions, cell.topic.replication_factor)?;
    let clock = lockstep.map_or_else(Clock::new, |l| l.clock());
    let start_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let plan = FleetPlan::one_process(
        topic.to_string(),
        partitions,
        session.access().clone(),
        format!("{TOPIC_PREFIX}{}", topic.trim_start_matches(TOPIC_PREFIX)),
        clock,
        rand::random(),
    );
    let mut plan = match lockstep {
        Some(l) => l.fleet_plan(plan),
        None => plan,
    };
    plan.stats_dir = env.client_stats.clone();
    let mut fleet = Fleet::start_consumers(cell, plan, ASSIGNMENT_TIMEOUT)?;
    fleet.prepare_transactions(cell)?;

    // The load: message 0 is due shortly after the producer threads exist (the shards of a
    // distributed run: when shard 0 says).
    let start = match lockstep {
        Some(l) => l.ready(&fleet)?,
        None => Instant::now() + Duration::from_millis(50),
    };
    let warmup_end = start + cell.run.warmup;
    let measure_end = cell.run.duration.map(|d| warmup_end + d);
    fleet.start_load(cell, start, warmup_end)?;
    // Faults run on their own threads, on the cell's clock (`at` counts from `start`).
    let mut faults = FaultsInFlight::start(cell, env, topic, start);
    // Consumer faults act on the fleet, so this timeline carries them out itself.
    let mut member_moves = MemberMoves::new(&cell.consumer_faults, start);

    let mut metrics = CellMetrics::new(partitions as usize);
    let mut progress = Progress::new(&cell.id, env.quiet);
    let mut last = start;
    let mut drain_deadline: Option<Instant> = None;
    let mut producers_stopped_at = None;
    let mut drain_complete = false;
    let mut interrupted = false;
    // kbench's own CPU over the measurement window (the self-check).
    let (mut cpu_from, mut cpu_to) = (None::<CpuSample>, None::<CpuSample>);
    let budget = cell.run.messages.is_some();
    loop {
        // Each tick ends at the next whole interval, or at the warm-up / measurement end.
        let next = [Some(warmup_end), measure_end]
            .into_iter()
            .flatten()
            .filter(|b| *b > last)
            .fold(last + INTERVAL, Instant::min);
        // With a `messages` budget the producers stop on their own: look every few ms, so
        // that the measurement window ends at the last ack, not at the next whole interval
        // (which would count idle time in every rate).
        let watch_budget = budget && drain_deadline.is_none() && last >= warmup_end;
        let wake = if watch_budget {
            next.min(Instant::now() + BUDGET_POLL)
        } else {
            next
        };
        // A member leaves or joins on time, between interval boundaries.
        let wake = match member_moves.next_due() {
            Some(due) if drain_deadline.is_none() => wake.min(due),
            _ => wake,
        };
        std::thread::sleep(wake.saturating_duration_since(Instant::now()));
        if drain_deadline.is_none() {
            member_moves.carry_out(&mut fleet, Instant::now())?;
        }
        let mut now = Instant::now();
        let budget_spent_early = watch_budget && fleet.producers_done();
        if now < next && !budget_spent_early {
            continue;
        }
        if budget_spent_early {
            if let Some(ack) = fleet.last_ack().filter(|t| *t > last && *t < now) {
                now = ack;
            }
        }
        // An interval belongs to the warm-up when it starts before the warm-up ends (the
        // boundaries include the warm-up end, so only timer lateness makes one straddle it).
        let phase = match (last < warmup_end, drain_deadline) {
            (true, _) => Phase::Warmup,
            (false, None) => Phase::Measure,
            (false, Some(_)) => Phase::Drain,
        };
        let interval = fleet.take_interval(start, last, now, phase);
        progress.tick(&interval, now.duration_since(start));
        metrics.add_interval(interval);
        last = now;
        let shards_drained = lockstep.map(|l| l.tick(&fleet, drain_deadline.is_some()));
        if now >= warmup_end && cpu_from.is_none() {
            cpu_from = Some(CpuSample::now());
        }

        // Stop the load: time is up, the message budget is spent, or a signal came.
        if drain_deadline.is_none() {
            let time_up = measure_end.is_some_and(|e| now >= e);
            let budget_spent = cell.run.messages.is_some() && fleet.producers_done();
            interrupted = session.shutdown.is_triggered();
            if time_up || budget_spent || interrupted {
                fleet.stop_producers();
                cpu_to = Some(CpuSample::now());
                producers_stopped_at = Some(now.saturating_duration_since(start));
                let drain = if interrupted {
                    INTERRUPTED_DRAIN.min(cell.run.drain_timeout)
                } else {
                    cell.run.drain_timeout
                };
                drain_deadline = Some(now + drain);
                // Faults end with the load; a broker still down is brought back meanwhile.
                faults.stop_in_background();
            }
            continue;
        }
        if session.shutdown.is_triggered() && !interrupted {
            interrupted = true;
            drain_deadline = drain_deadline.map(|d| d.min(now + INTERRUPTED_DRAIN));
        }
        // Draining: done when the producers have flushed and every group has read every ack.
        let drained = shards_drained.unwrap_or_else(|| fleet.producers_done() && fleet.lag() == 0);
        if drained {
            drain_complete = true;
            break;
        }
        if drain_deadline.is_some_and(|d| now >= d) {
            break;
        }
    }
    let report = fleet.finish(start, last)?;
    metrics.add_interval(report.last_interval.clone());
    progress.done();

    let until = producers_stopped_at.unwrap_or_else(|| last.saturating_duration_since(start));
    let (timeline, first_failure) = faults::fleet_timeline(&report.producer_logs, until);
    let faults = faults::outcomes(faults.events(), &timeline, first_failure, cell.run.warmup);
    let cpu = match (cpu_from, cpu_to) {
        (Some(a), Some(b)) => a.until(&b),
        _ => CpuUse::default(),
    };
    let summary = metrics.summary(&CellEnd {
        drain_complete,
        interrupted,
        cpu,
        busiest_producer: report.busiest_producer,
        busiest_producer_wait: report.busiest_producer_wait,
    });
    Ok(CellOutcome {
        summary,
        metrics,
        topic: topic.to_string(),
        partitions,
        replication_factor: cell.topic.replication_factor,
        consumer_lag: report.consumer_lag,
        members: report.members,
        start_unix,
        delivery: report.delivery,
        evidence: report.evidence,
        faults,
        distributed: None,
        origin: TopicOrigin::Kbench,
        rebalance: report.rebalance,
    })
}

/// The cell's consumer faults, in the order they fire: a member leaves, a member joins.
struct MemberMoves {
    due: Vec<(Instant, ConsumerFault)>,
}

impl MemberMoves {
    fn new(faults: &[ConsumerFault], start: Instant) -> MemberMoves {
        let mut due: Vec<(Instant, ConsumerFault)> =
            faults.iter().map(|f| (start + f.at, f.clone())).collect();
        // Latest first, so the next one is popped from the end (file order on ties).
        due.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.index.cmp(&a.1.index)));
        MemberMoves { due }
    }

    fn next_due(&self) -> Option<Instant> {
        self.due.last().map(|(t, _)| *t)
    }

    /// Everything due by `now`. A member the scenario names that the fleet does not have is
    /// refused when the scenario is loaded, so an error here is a client that failed to start.
    fn carry_out(&mut self, fleet: &mut Fleet, now: Instant) -> anyhow::Result<()> {
        while self.due.last().is_some_and(|(t, _)| *t <= now) {
            let Some((_, f)) = self.due.pop() else { break };
            match (f.action, f.member) {
                (ConsumerAction::Leave, Some(m)) => fleet.leave_member(f.group, m),
                (ConsumerAction::Join, _) => fleet.join_member(f.group).map(|_| ()),
                (ConsumerAction::Leave, None) => Ok(()),
            }
            .map_err(|e| anyhow!("fault[{}] ({}): {e}", f.index, f.action.name()))?;
        }
        Ok(())
    }
}

/// The cell's `[[fault]]`s: running, being stopped on a thread of their own (bringing a broker
/// back can take as long as a broker start, and the collector must keep ticking), or done.
enum FaultsInFlight {
    None,
    Running(FaultRunner),
    Stopping(std::thread::JoinHandle<Vec<FaultEvent>>),
}

impl FaultsInFlight {
    fn start(cell: &CellSpec, env: &CellEnv<'_>, topic: &str, start: Instant) -> FaultsInFlight {
        match env.faults {
            Some(target) if !cell.faults.is_empty() => {
                let mut setup = FaultSetup::new(
                    cell.faults.to_vec(),
                    target.clone(),
                    Some(env.session.access().clone()),
                    topic,
                    start,
                );
                setup.client_props = cell.client.admin.clone();
                FaultsInFlight::Running(FaultRunner::start(setup))
            }
            _ => FaultsInFlight::None,
        }
    }

    fn stop_in_background(&mut self) {
        if let FaultsInFlight::Running(f) = std::mem::replace(self, FaultsInFlight::None) {
            *self = FaultsInFlight::Stopping(std::thread::spawn(move || f.stop()));
        }
    }

    /// Every fault's event, once all have ended.
    fn events(self) -> Vec<FaultEvent> {
        match self {
            FaultsInFlight::None => Vec::new(),
            FaultsInFlight::Running(f) => f.stop(),
            FaultsInFlight::Stopping(t) => t.join().unwrap_or_default(),
        }
    }
}
