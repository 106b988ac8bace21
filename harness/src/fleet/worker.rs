//! A cell's clients as one worker (OMB's `Worker`): start the consumer groups, start the load,
//! take each interval's stats, stop the producers, and finish with what every client saw.
//! Callers never touch a client's shared counters: everything goes through [`Fleet`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};

use super::consumer::{self, ConsumerPlan, ConsumerShared};
use super::keys::KeyGen;
use super::payload::stamp::{ProducerId, STAMP_LEN};
use super::payload::PayloadGen;
use super::producer::{self, ProducerPlan, ProducerShared};
use crate::cluster::Access;
use crate::metrics::cell::{Interval, Phase};
use crate::metrics::delivery::{
    self, DeliveryEvidence, FleetSeqs, GroupAccount, MemberDeliveries, MemberEvidence, ProducerLog,
};
use crate::metrics::rebalance::{PartitionPause, PauseSummary, RebalanceLog};
use crate::metrics::{ClientStats, Clock};
use crate::scenario::{CellSpec, StampPlace, StartFrom};

/// Where a fleet runs: its topic, the cluster, the names of its groups.
#[derive(Debug, Clone)]
pub struct FleetPlan {
    pub topic: String,
    /// The topic's partition count as the cluster reports it.
    pub partitions: i32,
    /// The cluster and its connection properties.
    pub access: Access,
    /// Group `g` is `<group_prefix>-g<g>`: unique per cell, so no two cells share a group.
    pub group_prefix: String,
    pub clock: Clock,
    /// The run tag in every stamp of this fleet's producers (`payload::stamp::ProducerId`):
    /// drawn at random for each cell, so consumers can tell the cell's messages from any
    /// others on the topic. A distributed run derives it from the run id and the cell, so
    /// every shard uses the same one.
    pub run_tag: u32,
    /// This process's shard (0 in one process): the stamp's producer id is (run tag, shard,
    /// local index), unique across shards and runs.
    pub shard: u16,
    /// Per shard, the global index of its first producer (`distributed::slice`); `[0]` in
    /// one process.
    pub producer_bases: Arc<Vec<u32>>,
    /// Do this fleet's members make up whole groups? In one process they do, and the fleet
    /// waits until they hold every partition; a shard's members are part of groups that span
    /// shards, so it waits only for their first assignment and the shards check the groups'
    /// cover together.
    pub whole_groups: bool,
    /// Where each client writes librdkafka's statistics when the scenario turns them on
    /// (`cells/<cell>/librdkafka/`); `None`: nowhere (`kbench versus`, warm-up cells).
    pub stats_dir: Option<PathBuf>,
}

impl FleetPlan {
    /// One process's fleet on `topic`.
    pub fn one_process(
        topic: String,
        partitions: i32,
        access: Access,
        group_prefix: String,
        clock: Clock,
        run_tag: u32,
    ) -> FleetPlan {
        FleetPlan {
            topic,
            partitions,
            access,
            group_prefix,
            clock,
            run_tag,
            shard: 0,
            producer_bases: Arc::new(vec![0]),
            whole_groups: true,
            stats_dir: None,
        }
    }
}

/// A consumer group member's share of the cell.
#[derive(Debug, Clone)]
pub struct MemberReport {
    pub group: usize,
    pub member: usize,
    pub partitions: Vec<i32>,
    pub consumed: u64,
    /// From its join (created and subscribed) to its first assignment, ms; `None` if none came.
    pub first_assignment_ms: Option<f64>,
    /// Rebalances it took part in during the load (assignment callbacks after its first).
    pub rebalances: usize,
    /// A member that joined during the load (`[[fault]] action = "join"`): when, seconds since
    /// the producers started.
    pub joined_at_s: Option<f64>,
    /// A member that left during the load (`action = "leave"`): when it was told to.
    pub left_at_s: Option<f64>,
}

impl MemberReport {
    pub fn idle(&self) -> bool {
        self.partitions.is_empty()
    }
}

/// A group's partition pauses (see [`crate::metrics::rebalance`]), for `rebalances.json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GroupPauses {
    pub group: usize,
    /// Pauses that began during the load (the groups' own forming before it is left out).
    pub pauses: Vec<PartitionPause>,
}

/// The cell's rebalances, over every group.
#[derive(Debug, Clone, Default)]
pub struct RebalanceReport {
    /// The most rebalances one member of any group took part in during the load.
    pub rebalances: usize,
    /// Partition pauses during the load, every group.
    pub pauses: PauseSummary,
    /// The longest time from a member's join to its first assignment, ms.
    pub first_assignment_max_ms: Option<f64>,
    pub groups: Vec<GroupPauses>,
}

/// What a fleet hands back when it is finished.
pub struct FleetReport {
    /// Lost, duplicated, reordered: the worst group.
    pub delivery: GroupAccount,
    /// What that accounting was computed from, for `cells/<id>/delivery.json` (so shards'
    /// accounts can be recomputed together).
    pub evidence: DeliveryEvidence,
    pub members: Vec<MemberReport>,
    /// Acked messages the slowest group had not read when the consumers stopped.
    pub consumer_lag: u64,
    /// Every producer's acks and failures over time (fault impact).
    pub producer_logs: Vec<ProducerLog>,
    /// The highest share of its wall time a send thread wanted a CPU (the self-check).
    pub busiest_producer: f64,
    /// That thread's share of its wall time spent waiting in the run queue.
    pub busiest_producer_wait: f64,
    /// The last stats, recorded after the final interval was taken.
    pub last_interval: Interval,
    pub rebalance: RebalanceReport,
}

struct Member {
    group: usize,
    member: usize,
    shared: Arc<ConsumerShared>,
    /// Messages this member consumed so far (summed from the intervals taken).
    consumed: u64,
    /// Set to make this member alone leave its group.
    leave: Arc<AtomicBool>,
    /// When it joined during the load / was told to leave (ns on the fleet's clock).
    joined_ns: Option<u64>,
    left_ns: Option<u64>,
}

/// How long [`Fleet::take_interval`] waits for the clients' answers (a member polls every
/// 20 ms, a sleeping producer is woken at once).
const HANDOVER_WAIT: Duration = Duration::from_millis(250);

pub struct Fleet {
    plan: FleetPlan,
    groups: usize,
    producers: Vec<Arc<ProducerShared>>,
    /// Each producer's id in its stamps, in the order of `producers`.
    producer_ids: Vec<ProducerId>,
    producer_threads: Vec<JoinHandle<Result<(), String>>>,
    members: Vec<Member>,
    consumer_threads: Vec<JoinHandle<MemberDeliveries>>,
    stop_producers: Arc<AtomicBool>,
    stop_consumers: Arc<AtomicBool>,
    /// The warm-up boundary (ns on the clock), known once the producers start.
    warmup_end_ns: Arc<AtomicU64>,
    /// Reused by every [`Fleet::take_interval`], so taking stats allocates nothing per client.
    spare: ClientStats,
    /// Per group: its first member's plan (a member joining later is made from it) and its
    /// rebalance log.
    group_plans: Vec<ConsumerPlan>,
    group_logs: Vec<Arc<Mutex<RebalanceLog>>>,
    /// When message 0 was due (ns on the clock); `u64::MAX` before the load.
    load_start_ns: u64,
}

impl Fleet {
    /// Start every member of the cell's consumer groups and wait until each group has every
    /// partition assigned, so no message is produced before someone is there to read it.
    pub fn start_consumers(
        cell: &CellSpec,
        plan: FleetPlan,
        timeout: Duration,
    ) -> anyhow::Result<Fleet> {
        let partitions = plan.partitions as usize;
        let mut fleet = Fleet {
            groups: cell.consumers.groups,
            producers: Vec::new(),
            producer_ids: Vec::new(),
            producer_threads: Vec::new(),
            members: Vec::new(),
            consumer_threads: Vec::new(),
            stop_producers: Arc::new(AtomicBool::new(false)),
            stop_consumers: Arc::new(AtomicBool::new(false)),
            warmup_end_ns: Arc::new(AtomicU64::new(u64::MAX)),
            spare: ClientStats::new(partitions),
            group_plans: Vec::new(),
            group_logs: Vec::new(),
            load_start_ns: u64::MAX,
            plan,
        };
        if cell.consumers.start_from == StartFrom::Latest && cell.consumers.groups > 0 {
            fleet.pin_groups_at_end()?;
        }
        for g in 0..cell.consumers.groups {
            let group_offsets = consumer::group_offsets(partitions);
            let group_log = Arc::new(Mutex::new(RebalanceLog::new(partitions)));
            fleet.group_logs.push(group_log.clone());
            for m in 0..cell.consumers.members {
                let plan = ConsumerPlan {
                    group_index: g,
                    member_index: m,
                    group_id: format!("{}-g{g}", fleet.plan.group_prefix),
                    topic: fleet.plan.topic.clone(),
                    start_from: cell.consumers.start_from,
                    isolation: cell.consumers.isolation,
                    stamp: cell.producers.stamp,
                    run_tag: fleet.plan.run_tag,
                    access: fleet.plan.access.clone(),
                    extra: cell.client.consumer.clone(),
                    clock: fleet.plan.clock,
                    producer_bases: fleet.plan.producer_bases.clone(),
                    warmup_end_ns: fleet.warmup_end_ns.clone(),
                    group_offsets: group_offsets.clone(),
                    assignor: cell.consumers.assignor,
                    group_protocol: cell.consumers.group_protocol,
                    group_log: group_log.clone(),
                    stats_dir: fleet.plan.stats_dir.clone(),
                };
                if m == 0 {
                    fleet.group_plans.push(plan.clone());
                }
                if let Err(e) = fleet.spawn_member(plan, None) {
                    fleet.stop_all();
                    return Err(e);
                }
            }
        }
        if let Err(e) = fleet.wait_for_assignment(timeout) {
            fleet.stop_all();
            return Err(e);
        }
        Ok(fleet)
    }

    /// Transactional cells: find the transaction coordinator before the schedule starts. The
    /// first transactional producer on a cluster makes Kafka create `__transaction_state`
    /// (50 partitions), which can take longer than a warm-up; done here, each producer's own
    /// `init_transactions` at its start is a quick round trip.
    pub fn prepare_transactions(&self, cell: &CellSpec) -> anyhow::Result<()> {
        if cell.producers.transaction_messages == 0 || cell.producers.count == 0 {
            return Ok(());
        }
        super::transaction::prepare(&self.plan.access, &cell.client.producer, self.plan.run_tag)
            .map_err(|e| anyhow!("preparing transactions: {e}"))
    }

    /// Create member `plan.member_index` of group `plan.group_index` and start its thread.
    fn spawn_member(&mut self, plan: ConsumerPlan, joined_ns: Option<u64>) -> anyhow::Result<()> {
        let shared = Arc::new(ConsumerShared::new(self.plan.partitions as usize));
        let (g, m) = (plan.group_index, plan.member_index);
        let leave = Arc::new(AtomicBool::new(false));
        let c = consumer::create(&plan, &shared).map_err(|e| anyhow!("creating consumer: {e}"))?;
        let (s2, stop, l2) = (shared.clone(), self.stop_consumers.clone(), leave.clone());
        let t = std::thread::Builder::new()
            .name(format!("kb-c{g}.{m}"))
            .spawn(move || consumer::run(plan, c, s2, stop, l2))?;
        self.consumer_threads.push(t);
        self.members.push(Member {
            group: g,
            member: m,
            shared,
            consumed: 0,
            leave,
            joined_ns,
            left_ns: None,
        });
        Ok(())
    }

    /// Member `member` of group `group` leaves the group cleanly (its thread stops reading,
    /// hands over its figures and closes): its partitions move to the others. Returns at once.
    pub fn leave_member(&mut self, group: usize, member: usize) -> anyhow::Result<()> {
        let now = self.plan.clock.now_ns();
        let m = self
            .members
            .iter_mut()
            .find(|m| m.group == group && m.member == member)
            .ok_or_else(|| anyhow!("group {group} has no member {member}"))?;
        if m.left_ns.is_some() {
            bail!("member {member} of group {group} has already left");
        }
        m.leave.store(true, Ordering::Relaxed);
        m.left_ns = Some(now);
        Ok(())
    }

    /// A new member joins group `group` (numbered after its existing members); returns its
    /// number. Returns once it has subscribed, not once it is assigned.
    pub fn join_member(&mut self, group: usize) -> anyhow::Result<usize> {
        let mut plan = self
            .group_plans
            .get(group)
            .cloned()
            .ok_or_else(|| anyhow!("there is no group {group}"))?;
        plan.member_index = self.members.iter().filter(|m| m.group == group).count();
        let member = plan.member_index;
        let now = self.plan.clock.now_ns();
        self.spawn_member(plan, Some(now))?;
        Ok(member)
    }

    /// Start the cell's producers: message 0 is due at `start`, messages intended before
    /// `warmup_end` are warm-up. With a `[run] messages` budget each producer stops after its
    /// share of measured messages.
    pub fn start_load(
        &mut self,
        cell: &CellSpec,
        start: Instant,
        warmup_end: Instant,
    ) -> anyhow::Result<()> {
        let clock = self.plan.clock;
        self.warmup_end_ns
            .store(clock.ns(warmup_end), Ordering::Relaxed);
        self.load_start_ns = clock.ns(start);
        if cell.producers.count == 0 {
            // A shard with no producer of this cell: its members still read.
            return Ok(());
        }
        let budget = cell
            .run
            .messages
            .map(|m| m.div_ceil(cell.producers.count as u64));
        let cell_seed = 0x6b62_656e_6368 ^ (cell.index as u64) << 20;
        let keys = KeyGen::new(&cell.producers.keys, cell_seed)?;
        let payloads = PayloadGen::new(&cell.producers.message_size, cell_seed ^ 0x9e37_79b9)?;
        // Scenarios refuse such sizes when they are loaded; a cell built another way too.
        if cell.producers.stamp == StampPlace::Value && payloads.min_size() < STAMP_LEN {
            bail!(
                "values of {} B cannot carry the {STAMP_LEN}-byte stamp (stamp = \"value\")",
                payloads.min_size()
            );
        }
        for i in 0..cell.producers.count {
            let shared = Arc::new(ProducerShared::new(self.plan.partitions as usize));
            let seed = cell_seed ^ i as u64;
            let plan = ProducerPlan {
                index: i,
                id: ProducerId::new(self.plan.run_tag, self.plan.shard, i as u16),
                topic: self.plan.topic.clone(),
                partitions: self.plan.partitions,
                spec: cell.producers.clone(),
                run: cell.run.clone(),
                access: self.plan.access.clone(),
                extra: cell.client.producer.clone(),
                clock,
                warmup_end,
                start,
                seed,
                keys: keys.reseeded(seed),
                payloads: payloads.reseeded(seed ^ 0x9e37_79b9),
                stats_dir: self.plan.stats_dir.clone(),
            };
            let p =
                producer::create(&plan, &shared).map_err(|e| anyhow!("creating producer: {e}"))?;
            let (s2, stop) = (shared.clone(), self.stop_producers.clone());
            self.producer_ids.push(plan.id);
            self.producer_threads.push(
                std::thread::Builder::new()
                    .name(format!("kb-p{i}"))
                    .spawn(move || producer::run(plan, p, s2, stop, budget))?,
            );
            self.producers.push(shared);
        }
        Ok(())
    }

    /// Swap every client's stats out and merge them into one interval `[from, to)`, times
    /// counted from `start`.
    pub fn take_interval(
        &mut self,
        start: Instant,
        from: Instant,
        to: Instant,
        phase: Phase,
    ) -> Interval {
        let partitions = self.plan.partitions as usize;
        let mut producers = ClientStats::new(partitions);
        let mut consumers = ClientStats::new(partitions);
        // Ask every client first, so they answer in parallel; one that does not answer in
        // time (a thread stuck in a long call) hands its figures to the next interval.
        let tickets: Vec<u64> = self.producers.iter().map(|p| p.ask()).collect();
        let member_tickets: Vec<u64> = self
            .members
            .iter()
            .map(|m| m.shared.handover.ask())
            .collect();
        let deadline = Instant::now() + HANDOVER_WAIT;
        let wait = || deadline.saturating_duration_since(Instant::now());
        for (p, t) in self.producers.iter().zip(tickets) {
            p.handover.collect(t, wait(), &mut self.spare);
            producers.merge(&self.spare);
        }
        for (m, t) in self.members.iter_mut().zip(member_tickets) {
            // A member that left answers no more: take what it handed over last.
            let wait = if m.shared.gone.load(Ordering::Acquire) {
                Duration::ZERO
            } else {
                wait()
            };
            m.shared.handover.collect(t, wait, &mut self.spare);
            m.consumed += self.spare.counters.consumed;
            consumers.merge(&self.spare);
        }
        Interval {
            start_s: from.saturating_duration_since(start).as_secs_f64(),
            end_s: to.saturating_duration_since(start).as_secs_f64(),
            phase,
            producers,
            consumers,
            // Sampled as the interval ends (kbench's own counts: no broker round trip).
            consumer_lag: self.lag(),
        }
    }

    /// Per group, the new messages its members here have read so far (warm-up included).
    pub fn consumed_by_group(&self) -> Vec<u64> {
        (0..self.groups)
            .map(|g| {
                self.members
                    .iter()
                    .filter(|m| m.group == g)
                    .map(|m| m.shared.consumed_total.load(Ordering::Relaxed))
                    .sum()
            })
            .collect()
    }

    /// Per group, the partitions its members here hold now (sorted), and whether every
    /// member has had its first assignment.
    pub fn assignments(&self) -> (Vec<Vec<i32>>, bool) {
        let assigned = self
            .members
            .iter()
            .all(|m| m.shared.assigned.load(Ordering::Acquire));
        let by_group = (0..self.groups)
            .map(|g| {
                let mut p: Vec<i32> = self
                    .members
                    .iter()
                    .filter(|m| m.group == g)
                    .flat_map(|m| m.shared.assignment())
                    .collect();
                p.sort_unstable();
                p
            })
            .collect();
        (by_group, assigned)
    }

    /// Successful acks so far, warm-up included.
    pub fn acked(&self) -> u64 {
        self.producers
            .iter()
            .map(|p| p.acked_total.load(Ordering::Relaxed))
            .sum()
    }

    /// When the last ack of any producer came, if one has.
    pub fn last_ack(&self) -> Option<Instant> {
        let ns = self
            .producers
            .iter()
            .map(|p| p.last_ack_ns.load(Ordering::Relaxed))
            .max()?;
        (ns > 0).then(|| self.plan.clock.instant(ns))
    }

    /// Acked messages (warm-up included) that the slowest group has not received yet.
    pub fn lag(&self) -> u64 {
        let acked = self.acked();
        (0..self.groups)
            .map(|g| {
                let got: u64 = self
                    .members
                    .iter()
                    .filter(|m| m.group == g)
                    .map(|m| m.shared.consumed_total.load(Ordering::Relaxed))
                    .sum();
                acked.saturating_sub(got)
            })
            .max()
            .unwrap_or(0)
    }

    /// Have the producers stopped on their own (a `messages` budget met) or been stopped and
    /// flushed?
    pub fn producers_done(&self) -> bool {
        self.producer_threads.iter().all(|t| t.is_finished())
    }

    /// Stop sending; each producer flushes what it has in flight and then ends.
    pub fn stop_producers(&self) {
        self.stop_producers.store(true, Ordering::Relaxed);
    }

    /// Stop every client, join their threads and account for delivery. A producer that failed
    /// (its client broke, not a message) fails the cell.
    pub fn finish(mut self, start: Instant, last: Instant) -> anyhow::Result<FleetReport> {
        self.stop_producers();
        for t in std::mem::take(&mut self.producer_threads) {
            if let Ok(Err(e)) = t.join() {
                self.stop_all();
                bail!("producer: {e}");
            }
        }
        let now = Instant::now();
        let consumer_lag = self.lag();
        // Assignments as they stood during the load (leaving the group revokes them).
        let assignments: Vec<Vec<i32>> =
            self.members.iter().map(|m| m.shared.assignment()).collect();
        self.stop_consumers.store(true, Ordering::Relaxed);
        // A member that panicked read nothing we can vouch for: its share shows as lost.
        let reads: Vec<MemberDeliveries> = std::mem::take(&mut self.consumer_threads)
            .into_iter()
            .map(|t| t.join().unwrap_or_default())
            .collect();
        let delivery = self.account(&reads);
        let evidence = self.evidence(&reads);
        let last_interval = self.take_interval(start, last, now, Phase::Drain);
        let members: Vec<MemberReport> = self
            .members
            .iter()
            .zip(assignments)
            .map(|(m, partitions)| self.member_report(m, partitions, start))
            .collect();
        let rebalance = self.rebalance_report(&members);
        // The thread that wanted a CPU the most, and how much of that was waiting for one.
        let (busiest_producer, busiest_producer_wait) = self
            .producers
            .iter()
            .map(|p| {
                let ppm = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64 / 1e6;
                (ppm(&p.busy_ppm), ppm(&p.wait_ppm))
            })
            .fold((0.0, 0.0), |best, t| if t.0 > best.0 { t } else { best });
        Ok(FleetReport {
            delivery,
            evidence,
            members,
            consumer_lag,
            producer_logs: self.producers.iter().map(|p| p.log()).collect(),
            busiest_producer,
            busiest_producer_wait,
            last_interval,
            rebalance,
        })
    }

    fn member_report(&self, m: &Member, partitions: Vec<i32>, start: Instant) -> MemberReport {
        let clock = self.plan.clock;
        let since_start = |ns: u64| {
            clock
                .instant(ns)
                .saturating_duration_since(start)
                .as_secs_f64()
        };
        let assigned_at = m
            .shared
            .assigned_at
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default();
        let joined = m.shared.joined_ns.load(Ordering::Relaxed);
        MemberReport {
            group: m.group,
            member: m.member,
            partitions,
            consumed: m.consumed,
            first_assignment_ms: assigned_at
                .first()
                .map(|&a| a.saturating_sub(joined) as f64 / 1e6),
            rebalances: assigned_at
                .iter()
                .skip(1)
                .filter(|&&a| a >= self.load_start_ns)
                .count(),
            joined_at_s: m.joined_ns.map(since_start),
            left_at_s: m.left_ns.map(since_start),
        }
    }

    fn rebalance_report(&self, members: &[MemberReport]) -> RebalanceReport {
        let groups: Vec<GroupPauses> = self
            .group_logs
            .iter()
            .enumerate()
            .map(|(group, log)| GroupPauses {
                group,
                pauses: log
                    .lock()
                    .map(|l| {
                        l.pauses()
                            .iter()
                            .filter(|p| p.revoked_ns >= self.load_start_ns)
                            .copied()
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect();
        RebalanceReport {
            rebalances: members.iter().map(|m| m.rebalances).max().unwrap_or(0),
            pauses: PauseSummary::of(groups.iter().flat_map(|g| &g.pauses), 0),
            first_assignment_max_ms: members
                .iter()
                .filter_map(|m| m.first_assignment_ms)
                .reduce(f64::max),
            groups,
        }
    }

    /// Commit every group's offsets at the topic's current end before any member joins, so
    /// the members start exactly there. `auto.offset.reset=latest` alone resolves the end
    /// only at a member's first fetch, which can come after the first messages of the load
    /// (seen on a busy host: 29 messages of a cell on an existing topic never read).
    fn pin_groups_at_end(&self) -> anyhow::Result<()> {
        use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
        use rdkafka::{Offset, TopicPartitionList};
        let topic = &self.plan.topic;
        let timeout = Duration::from_secs(10);
        let probe: BaseConsumer = self.plan.access.config().set("log_level", "3").create()?;
        let mut ends = TopicPartitionList::new();
        for p in 0..self.plan.partitions {
            let (_, high) = probe
                .fetch_watermarks(topic, p, timeout)
                .map_err(|e| anyhow!("end offset of {topic}/{p}: {e}"))?;
            ends.add_partition_offset(topic, p, Offset::Offset(high))?;
        }
        for g in 0..self.groups {
            let group_id = format!("{}-g{g}", self.plan.group_prefix);
            let c: BaseConsumer = self
                .plan
                .access
                .config()
                .set("group.id", &group_id)
                .set("log_level", "3")
                .create()?;
            // The first group of a fresh cluster finds __consumer_offsets still being made
            // (NotCoordinator, CoordinatorLoadInProgress): those pass within seconds.
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            loop {
                match c.commit(&ends, CommitMode::Sync) {
                    Ok(()) => break,
                    Err(e) if std::time::Instant::now() < deadline && coordinator_not_ready(&e) => {
                        std::thread::sleep(Duration::from_millis(200))
                    }
                    Err(e) => {
                        return Err(anyhow!(
                            "committing the start offsets of group {group_id}: {e}"
                        ))
                    }
                }
            }
        }
        Ok(())
    }

    /// Stop and join everything, after a setup failure.
    fn stop_all(&mut self) {
        self.stop_producers();
        self.stop_consumers.store(true, Ordering::Relaxed);
        for t in std::mem::take(&mut self.producer_threads) {
            let _ = t.join();
        }
        for t in std::mem::take(&mut self.consumer_threads) {
            let _ = t.join();
        }
    }

    fn wait_for_assignment(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let all: Vec<i32> = (0..self.plan.partitions).collect();
        loop {
            let complete = (!self.plan.whole_groups && self.assignments().1)
                || (0..self.groups).all(|g| {
                    let members: Vec<&Member> =
                        self.members.iter().filter(|m| m.group == g).collect();
                    let mut got: Vec<i32> =
                        members.iter().flat_map(|m| m.shared.assignment()).collect();
                    got.sort_unstable();
                    members
                        .iter()
                        .all(|m| m.shared.assigned.load(Ordering::Acquire))
                        && got == all
                });
            if complete {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let kip848 = self
                    .group_plans
                    .first()
                    .is_some_and(|p| p.group_protocol == crate::scenario::GroupProtocol::Consumer);
                bail!(
                    "consumer groups were not assigned every partition within {timeout:?}{}",
                    if kip848 {
                        " (group_protocol = \"consumer\" needs brokers with KIP-848's consumer \
                         group protocol: Kafka 4.0 or later, group.coordinator.rebalance.protocols \
                         including consumer)"
                    } else {
                        ""
                    }
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every group against the acknowledged messages; the worst group is reported (each
    /// group must receive everything).
    fn account(&self, reads: &[MemberDeliveries]) -> GroupAccount {
        let logs: Vec<ProducerLog> = self.producers.iter().map(|p| p.log()).collect();
        let acked = FleetSeqs {
            by_producer: logs.iter().map(|l| l.acked.clone()).collect(),
        };
        let aborted = FleetSeqs {
            by_producer: logs.into_iter().map(|l| l.aborted).collect(),
        };
        let per_group: Vec<GroupAccount> = (0..self.groups)
            .map(|g| {
                let members = self
                    .members
                    .iter()
                    .zip(reads)
                    .filter(|(m, _)| m.group == g)
                    .map(|(_, r)| r);
                delivery::account_group(&acked, &aborted, members)
            })
            .collect();
        delivery::worst(&per_group)
    }

    /// The sets [`Fleet::account`] works on, keyed by global producer id, for the file.
    fn evidence(&self, reads: &[MemberDeliveries]) -> DeliveryEvidence {
        // Keyed as the consumers key what they read: the producer's index in the whole scenario.
        let bases = &self.plan.producer_bases;
        let global = |id: ProducerId| {
            let base = bases.get(usize::from(id.shard())).copied().unwrap_or(0);
            u64::from(base) + u64::from(id.index())
        };
        DeliveryEvidence {
            shard: self.producer_ids.first().map_or(0, |id| id.shard()),
            groups: self.groups,
            acked: self
                .producer_ids
                .iter()
                .zip(&self.producers)
                .map(|(id, p)| (global(*id), p.log().acked))
                .collect(),
            aborted: self
                .producer_ids
                .iter()
                .zip(&self.producers)
                .map(|(id, p)| (global(*id), p.log().aborted))
                .filter(|(_, s)| !s.is_empty())
                .collect(),
            members: self
                .members
                .iter()
                .zip(reads)
                .map(|(m, r)| MemberEvidence::of(m.group, m.member, r))
                .collect(),
        }
    }
}

impl Drop for Fleet {
    /// A fleet dropped on an error path still stops its threads (they hold live clients).
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// A commit refused because the group's coordinator is not ready yet (retriable).
fn coordinator_not_ready(e: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as C;
    matches!(
        e.rdkafka_error_code(),
        Some(C::NotCoordinator | C::CoordinatorLoadInProgress | C::CoordinatorNotAvailable)
    )
}
